"""``python -m cvlab zoo``: the architecture tables: counted params, MACs and FLOPs beside published and measured facts.

``--suite classification`` (the default) prints one object per registered network;
``--suite yolo`` every YOLO generation and size built from its config, ``--suite
segmentation`` the smp U-Nets and relatives. The measured fields come from this
machine's measurement cache (cvlab.zoo.measure): ``latency_ms`` (batch 1),
``throughput_ips`` at ``throughput_batch`` images per batch, ``peak_memory_mb``
(``memory_source`` says how: on a CPU it is an estimate). They are null for a
model not measured yet, and ``--measure`` measures those first (at ``--size``
pixels for YOLO: 640 by default, 320 for a quicker pass). Classification rows
also carry ``block``, the building block the network repeats.

``zoo choose``, ``zoo scaling``, ``zoo tokens`` and ``zoo claims`` are the page's other lessons
(cvlab.commands.zoo_topics).
"""

from __future__ import annotations

import argparse
import sys

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.commands.zoo_topics import RENDERS, RUNS, TOPIC_EXAMPLES, TokenReport, configure_topics

def _configure(parser: argparse.ArgumentParser) -> None:
    from cvlab.zoo.measure import SUITES

    parser.epilog, parser.formatter_class = TOPIC_EXAMPLES, argparse.RawDescriptionHelpFormatter
    parser.add_argument("--suite", choices=SUITES.names(), default="classification",
                        help="which table (default: classification)")
    parser.add_argument("--family", default=None,
                        help="only this family (ResNet, ViT...), YOLO generation (YOLOv8...) or decoder (Unet...)")
    parser.add_argument("--size", type=int, default=None,
                        help="pixels per side of the measured latency (YOLO: 640 by default, e.g. 320)")
    parser.add_argument("--measure", action="store_true",
                        help="measure latency here for the models not measured yet (minutes when cold)")
    configure_topics(parser)


def _names(args: argparse.Namespace) -> list[str]:
    """The suite's model names, narrowed to ``--family`` when given (an unknown one lists the choices)."""
    from cvlab.errors import InvalidInput, UnknownName
    from cvlab.zoo.measure import SUITES as MEASURED

    if args.size is not None and not 32 <= args.size <= 2048:
        raise InvalidInput(f"--size is pixels per side between 32 and 2048, got {args.size}.")
    names = MEASURED.get(args.suite).names()
    if not args.family:
        return names
    groups = {name: MEASURED.get(args.suite).family(name) for name in names}
    chosen = [n for n in names if groups[n].lower() == args.family.lower()]
    if not chosen:
        raise UnknownName(f"Unknown family {args.family!r}. Choose one of: "
                          f"{', '.join(sorted(set(groups.values())))}.")
    return chosen


def _run(args: argparse.Namespace):
    if getattr(args, "topic", None):
        return RUNS[args.topic](args)
    return _table(args)


def _table(args: argparse.Namespace) -> list:
    from cvlab.zoo.measure import SUITES as MEASURED
    from cvlab.zoo.measure import cached_measurements, measure_all

    names = _names(args)
    if args.measure:
        measure_all(names, suite=args.suite, input_size=args.size, progress=lambda done, total, name: name and print(
            f"measuring {name} ({done + 1}/{total})", file=sys.stderr))
    measured = cached_measurements(suite=args.suite, input_size=args.size)
    return MEASURED.get(args.suite).table(names, measured, args.size)


def _number(value: float | None, scale: float, digits: int) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def _render(result) -> str:
    from cvlab.zoo.chooser import Recommendation

    if isinstance(result, Recommendation):
        return RENDERS["choose"](result)
    if isinstance(result, TokenReport):
        return RENDERS["tokens"](result)
    if isinstance(result, dict):
        return RENDERS["scaling"](result)
    if isinstance(result, tuple):
        return RENDERS["claims"](result)
    return _render_table(result)


def _render_table(table: list) -> str:
    if table and isinstance(table[0], dict):  # YOLO or segmentation rows
        rows = [{"name": r["name"], "group": r.get("generation") or r.get("architecture"),
                 "px": r["input_size"], "params (M)": _number(r["params"], 1e6, 2),
                 "GMACs": _number(r["macs"], 1e9, 2), "GFLOPs": _number(r["flops"], 1e9, 2),
                 "latency ms": _number(r["latency_ms"], 1, 1), "img/s": _number(r["throughput_ips"], 1, 1),
                 "latency px": r["latency_input_size"] or "-"} for r in table]
        return text_table(rows) + ("\n\nparams, MACs and FLOPs counted here (FLOPs = 2 x MACs) at px; latency at "
                                   "batch 1 measured on this machine at 'latency px' (--measure fills the gaps).")
    rows = [{"name": f.name, "family": f.family, "px": f.input_size, "params (M)": _number(f.params, 1e6, 2),
             "GMACs": _number(f.macs, 1e9, 3), "GFLOPs": _number(f.flops, 1e9, 3), "top-1 %": _number(f.top1, 1, 1),
             "top-5 %": _number(f.top5, 1, 1), "file MB": _number(f.file_size_mb, 1, 1),
             "latency ms": _number(f.latency_ms, 1, 1), "img/s": _number(f.throughput_ips, 1, 1),
             "peak MB": _number(f.peak_memory_mb, 1, 0), "weights": f.weights or "-"}
            for f in table]
    return (text_table(rows) + "\n\nparams, MACs and FLOPs counted here (FLOPs = 2 x MACs); accuracy and file size "
            "as published with the weights named; latency at batch 1, throughput (img/s) at the largest batch that "
            "fitted and peak memory (an estimate on CPU) measured on this machine (--measure fills the gaps).")


COMMANDS.register("zoo", Command("zoo", "architecture tables: counted params/MACs/FLOPs, published accuracy, "
                                 "measured latency (classification, yolo, segmentation)", _configure, _run, _render))
