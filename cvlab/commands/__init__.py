"""The subcommands of ``python -m cvlab``: one module each, all in one registry.

A command module registers a ``Command``: ``configure`` adds its arguments,
``run`` calls cvlab and returns plain data (dataclasses are fine), and ``render``
turns that data into text for a terminal. ``--json`` prints the data instead,
so scripts, tests and pages all see the same result.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from cvlab.registry import Registry


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], Any]
    render: Callable[[Any], str]


COMMANDS: Registry[Command] = Registry("command")

# Imported lazily by load_commands(); each module must stay cheap to import.
COMMAND_MODULES = ("info", "shapes", "activations", "convolve", "network", "zoo", "data", "train", "runs", "bench", "detect", "segment")


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
