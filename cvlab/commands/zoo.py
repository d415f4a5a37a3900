"""``python -m cvlab zoo``: the architecture table: counted params, MACs and FLOPs beside published accuracy.

``latency_ms`` comes from this machine's measurement cache (cvlab.zoo_measure); it is
null for a network not measured yet, and ``--measure`` measures those first.
"""

from __future__ import annotations

import argparse

from cvlab.commands import COMMANDS, Command, text_table


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", default=None, help="only this family, e.g. ResNet, EfficientNet, ViT, Swin")
    parser.add_argument("--measure", action="store_true",
                        help="measure latency here for the networks not measured yet (minutes when cold)")


def _run(args: argparse.Namespace) -> list:
    from cvlab.errors import UnknownName
    from cvlab.models import ARCHITECTURES
    from cvlab.zoo import zoo_table

    names = ARCHITECTURES.names()
    if args.family:
        families = sorted({ARCHITECTURES.get(n).family for n in names})
        wanted = args.family.lower()
        names = [n for n in names if ARCHITECTURES.get(n).family.lower() == wanted]
        if not names:
            raise UnknownName(f"Unknown family {args.family!r}. Choose one of: {', '.join(families)}.")
    import dataclasses
    import sys

    from cvlab.zoo_measure import cached_measurements, measure_all

    if args.measure:
        measure_all(names, progress=lambda done, total, name: name and print(
            f"measuring {name} ({done + 1}/{total})", file=sys.stderr))
    measured = cached_measurements()
    return [dataclasses.replace(f, latency_ms=measured[f.name].latency_ms) if f.name in measured else f
            for f in zoo_table(names)]


def _number(value: float | None, scale: float, digits: int) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def _render(table: list) -> str:
    rows = [{"name": f.name, "family": f.family, "px": f.input_size, "params (M)": _number(f.params, 1e6, 2),
             "GMACs": _number(f.macs, 1e9, 3), "GFLOPs": _number(f.flops, 1e9, 3), "top-1 %": _number(f.top1, 1, 1),
             "top-5 %": _number(f.top5, 1, 1), "file MB": _number(f.file_size_mb, 1, 1),
             "latency ms": _number(f.latency_ms, 1, 1), "weights": f.weights or "-"}
            for f in table]
    return (text_table(rows) + "\n\nparams, MACs and FLOPs counted here (FLOPs = 2 x MACs); accuracy and file size "
            "as published with the weights named; latency at batch 1 measured on this machine (--measure fills the gaps).")


COMMANDS.register("zoo", Command("zoo", "architecture facts: counted params/MACs/FLOPs, published accuracy",
                                 _configure, _run, _render))
