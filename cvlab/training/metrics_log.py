"""A run's metrics.jsonl: one JSON record per line, appended and flushed by the worker as it trains.

``kind`` is "step" (running figures every few batches), "epoch" (the epoch's training and
validation figures) or "event" (pause, resume, a new rate: the markers on the curves).
Readers take every complete line and skip anything else, so a line being written, or
one a crash left behind, breaks no page.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from cvlab.data.in_place import write_atomically


class MetricsWriter:
    """Appends records to metrics.jsonl, flushing each so a reader (or a crash) sees every finished line."""

    def __init__(self, run_dir: Path, on_record: Callable[[dict], None] | None = None):
        self._file = open(run_dir / "metrics.jsonl", "a", buffering=1)
        self._on_record = on_record  # e.g. the CLI printing each epoch as it ends

    def write(self, kind: str, **values: Any) -> None:
        record = {"kind": kind, "time": time.time(), **values}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._on_record is not None:
            self._on_record(record)

    def close(self) -> None:
        self._file.close()


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete line of metrics.jsonl; a line still being written is left for the next read."""
    records = []
    try:
        text = (run_dir / "metrics.jsonl").read_text(errors="replace")
    except FileNotFoundError:
        return records
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("kind"), str):  # a stray line breaks no reader
            records.append(record)
    return records


def truncate_metrics_after(run_dir: Path, epochs_kept: int, steps_kept: int | None = None) -> None:
    """On resume: drop the records of the epoch that was cut short, keep finished epochs and markers (and the
    step records up to global step ``steps_kept``, when the run goes on from the middle of an epoch)."""
    def finished(record: dict) -> bool:  # step records count epochs from 0, epoch records from 1
        epoch = int(record.get("epoch", 0))
        if record.get("kind") == "epoch":
            return epoch <= epochs_kept
        return epoch < epochs_kept or (steps_kept is not None and int(record.get("step", 0)) <= steps_kept)

    kept = [r for r in read_metrics(run_dir) if r.get("kind") == "event" or finished(r)]
    _atomic_lines(run_dir / "metrics.jsonl", kept)


def _atomic_lines(path: Path, records: list[dict]) -> None:
    write_atomically(path, "".join(json.dumps(r) + "\n" for r in records))
