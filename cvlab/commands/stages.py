"""``python -m cvlab stages``: a network's real stage shapes checked against the output-size calculator.

The network runs once on a photo (random weights unless ``--pretrained``: shapes do not depend on
them); where the architecture has a calculator preset with the same layers (``overview``, the
lecture's CNN), every stage carries the calculator's prediction and whether the two agree.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.commands._image_arg import add_image_argument, load_image_argument


@dataclass(frozen=True)
class StagesReport:
    arch: str
    preset: str | None  # the calculator preset compared with, None when the architecture has none
    stages: list  # cvlab.cnn.stage_check.StageCheck per stage
    all_same: bool | None  # every compared stage agrees; None when nothing was compared


def _configure(parser: argparse.ArgumentParser) -> None:
    add_image_argument(parser)
    parser.add_argument("--arch", default="overview", help="an architecture name (default: overview, the lecture's "
                                                           "CNN, which has a calculator preset)")
    parser.add_argument("--pretrained", action="store_true", help="load published weights (shapes are the same)")


def _run(args: argparse.Namespace) -> StagesReport:
    from cvlab.cnn.inside_network import load_network, trace
    from cvlab.cnn.stage_check import check_stages

    net = load_network(args.arch, pretrained=args.pretrained)
    checks = check_stages(net.architecture, trace(net, load_image_argument(args).pixels))
    compared = [c.same for c in checks if c.same is not None]
    return StagesReport(args.arch, net.architecture.chain_preset, checks, all(compared) if compared else None)


def _render(report: StagesReport) -> str:
    table = text_table([c.row() for c in report.stages])
    if report.preset is None:
        verdict = f"{report.arch} has no output-size calculator preset: real shapes only (try --arch overview)."
    else:
        same = sum(bool(c.same) for c in report.stages)
        verdict = (f"calculator preset {report.preset!r}: {same} of {len(report.stages)} stages have the shape "
                   "it predicts")
    return f"{table}\n\n{verdict}"


COMMANDS.register("stages", Command("stages", "a network's real stage shapes checked against the output-size "
                                              "calculator", _configure, _run, _render))
