"""Where an interrupted detection run goes on from: ultralytics' checkpoints checked, and the metrics made whole.

ultralytics writes ``last.pt`` (and ``best.pt`` when the epoch is the best so far) with
a plain ``write_bytes`` at the end of every epoch, after appending the epoch to its
``results.csv`` and before the callback that writes the run's own epoch line. So a
worker killed at the wrong moment leaves
- a ``last.pt`` cut off mid-write: the run goes on from ``best.pt`` when that one is
  whole (it holds the optimizer too), and says so; with neither it starts again;
- a checkpoint without its line in ``metrics.jsonl``: the line is written again from
  ``results.csv``, so the curves have no hole where that epoch was.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

from cvlab.errors import InvalidInput
from cvlab.data.in_place import write_atomically
from cvlab.training import runs


@dataclass(frozen=True)
class ResumePoint:
    epochs: int  # finished epochs the run goes on after (0: from the start)
    source: str  # "last.pt", "best.pt" or "" for a fresh start
    note: str  # what happened to a damaged checkpoint, in words ("" when nothing did)


def weights_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "ultralytics" / "weights"


def finished_epochs(checkpoint: Path) -> int | None:
    """Epochs a resumable ultralytics checkpoint holds: 0 for an end-of-training one (its optimizer stripped,
    so it cannot go on), None when it is missing, cut off or unreadable."""
    import torch

    try:  # the run's own file, written by this lab's worker: ultralytics pickles its model classes
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - a truncated zip, a bad pickle: any failure means "not resumable"
        return None
    if not isinstance(saved, dict):
        return None
    epoch = int(saved.get("epoch", -1))
    return epoch + 1 if epoch >= 0 and saved.get("optimizer") is not None else 0


def resume_point(run_dir: Path) -> ResumePoint:
    """Where the run continues: its ``last.pt``, else a whole ``best.pt`` put in its place, else the start."""
    folder = weights_dir(run_dir)
    last, best = folder / "last.pt", folder / "best.pt"
    if not last.is_file():
        return ResumePoint(0, "", "")
    done = finished_epochs(last)
    if done == 0:
        raise InvalidInput("This detection run ended for good (ultralytics closes a stopped or finished run's "
                           "checkpoints), so it cannot go on. Start a new run; its detector is listed as "
                           f"trained-{Path(run_dir).name} on the Detection page.")
    if done:
        return ResumePoint(done, "last.pt", "")
    best_done = finished_epochs(best) if best.is_file() else None
    if best_done:
        # ultralytics resumes from last.pt: the whole best.pt takes its place
        write_atomically(last, lambda copy: shutil.copyfile(best, copy))
        return ResumePoint(best_done, "best.pt", f"last.pt was cut off mid-write, so the run went on from best.pt "
                                                 f"(after epoch {best_done}); later epochs were trained again.")
    for path in (last, best):
        path.unlink(missing_ok=True)
    return ResumePoint(0, "", "last.pt was cut off mid-write and there was no whole best.pt, so the run "
                              "started again from epoch 1.")


def lost_epoch_reports(run_dir: Path, done: int) -> list[dict]:
    """``train_yolo``-style epoch reports (see cvlab.detection.train) of finished epochs up to ``done`` that have a
    checkpoint but no line in metrics.jsonl, rebuilt from ultralytics' results.csv."""
    from cvlab.detection.train import _METRIC_NAMES

    have = {int(r["epoch"]) for r in runs.read_metrics(run_dir) if r.get("kind") == "epoch"}
    missing = [epoch for epoch in range(1, done + 1) if epoch not in have]
    if not missing:
        return []
    rows = {}
    try:
        with open(Path(run_dir) / "ultralytics" / "results.csv", newline="") as table:
            for row in csv.DictReader(table):
                row = {key.strip(): value for key, value in row.items() if key}
                rows[int(float(row["epoch"]))] = row  # a repeated epoch (trained again after a resume): the last
    except (OSError, KeyError, ValueError):
        return []
    reports = []
    for epoch in missing:
        row = rows.get(epoch)
        if row is None:
            continue
        report: dict = {"epoch": epoch, "final": False, "lr": _number(row.get("lr/pg0"))}
        for key, value in row.items():
            if key.startswith("train/"):
                report[key.removeprefix("train/")] = _number(value)
            elif key in _METRIC_NAMES:
                report[_METRIC_NAMES[key]] = _number(value)
        reports.append(report)
    return reports


def _number(text) -> float | None:
    try:
        return round(float(text), 5)
    except (TypeError, ValueError):
        return None
