"""The subcommands of ``python -m cvlab``: one module each, all in one registry.

A command module registers a ``Command``: ``configure`` adds its arguments,
``run`` calls cvlab and returns plain data (dataclasses are fine), and ``render``
turns that data into text for a terminal. ``--json`` prints the data instead,
so scripts, tests and pages all see the same result.

Under ``--json`` stdout carries JSON only: while a command runs, anything a library
prints (ultralytics announcing its settings file on a fresh machine, a progress bar)
goes to stderr, at the file-descriptor level too. A command that streams results as
it goes (``train``'s epoch lines) writes them to ``result_stream()``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence, TextIO

from cvlab.registry import Registry


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], Any]
    render: Callable[[Any], str]
    aliases: tuple[str, ...] = ()  # older names that still work (``shapes`` for ``sizes``)


COMMANDS: Registry[Command] = Registry("command")

# Imported lazily by load_commands(); each module must stay cheap to import.
COMMAND_MODULES = ("info", "sizes", "stages", "activations", "convolve", "network", "zoo", "data", "train", "runs",
                   "bench", "detect", "track", "segment", "sam_video", "serve", "prepare",
                   "exercises", "board")


def load_commands() -> Registry[Command]:
    for module in COMMAND_MODULES:
        importlib.import_module(f"cvlab.commands.{module}")
    return COMMANDS


def text_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A plain fixed-width table for terminals: header, rule, one line per row."""
    if not rows:
        return "(empty)"
    columns = list(columns or rows[0].keys())
    cells = [[str(row.get(col, "")) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()
    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


_results: TextIO | None = None  # the real stdout while library output goes to stderr


def result_stream() -> TextIO:
    """Where a command writes results as it goes: stdout, even while library output is sent to stderr."""
    return _results or sys.stdout


def _stdout_fd() -> int | None:
    try:
        return sys.stdout.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):  # a capture object in tests, an embedding
        return None


@contextlib.contextmanager
def library_output_to_stderr() -> Iterator[TextIO]:
    """Send everything printed inside the block to stderr, Python's ``print`` and writes to file
    descriptor 1 alike (native code, child processes); yields the real stdout for results."""
    global _results
    sys.stdout.flush()
    sys.stderr.flush()
    real_fd = _stdout_fd() == 1
    saved = os.dup(1) if real_fd else None
    if saved is not None:
        os.dup2(2, 1)
        results: TextIO = open(saved, "w", encoding=sys.stdout.encoding or "utf-8", closefd=False)
    else:
        results = sys.stdout
    previous, _results = _results, results
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield results
    finally:
        _results = previous
        results.flush()
        sys.stderr.flush()
        if saved is not None:
            results.close()
            os.dup2(saved, 1)
            os.close(saved)
