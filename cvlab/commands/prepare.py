"""``python -m cvlab prepare``: fetch and check the weights and data a classroom without internet needs."""

from __future__ import annotations

import argparse
import sys

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.errors import CvlabError, InvalidInput

DEFAULT_SAM = "mobile_sam"  # the one fast enough on a CPU
DEFAULT_YOLO = "yolov8n,yolo11n,yolo26n"  # the smallest of the generations the lecture compares


class FilesMissing(CvlabError):
    """Some files asked for are still missing; the message lists where each goes and where it comes from."""


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default="", metavar="NAMES",
                        help="registry models whose pretrained weights to fetch, comma-separated "
                             "(e.g. resnet18,efficientnet_b0; any timm model name works too)")
    parser.add_argument("--cifar10", action="store_true", help="CIFAR-10 (163 MiB), unpacked where training finds it")
    parser.add_argument("--sam", nargs="?", const=DEFAULT_SAM, default="", metavar="NAMES",
                        help=f"SAM checkpoints (default {DEFAULT_SAM}; mobile_sam,sam_b,sam2_t)")
    parser.add_argument("--yolo", nargs="?", const=DEFAULT_YOLO, default="", metavar="NAMES",
                        help=f"YOLO COCO weights (default {DEFAULT_YOLO})")
    parser.add_argument("--all", action="store_true", help="everything the pages can use (several GB)")
    parser.add_argument("--list", action="store_true",
                        help="only show what is present and what is missing (what it does with nothing chosen)")
    parser.add_argument("--mirror", default=None, metavar="FOLDER_OR_URL",
                        help="take the files from this folder (copied in from a machine with internet) or "
                             "http(s) address instead of their publishers")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="seconds to wait for a server to connect or to send more")


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _selection(args: argparse.Namespace):
    from cvlab.weights_manifest import Selection, everything

    if args.all:
        return everything()
    return Selection(_names(args.models), args.cifar10, _names(args.sam), _names(args.yolo))


def _selection_args(args: argparse.Namespace) -> str:
    """The choice typed, to repeat in the copy-in instruction."""
    words = ["--all"] if args.all else []
    words += [f"--models {args.models}"] if args.models and not args.all else []
    words += ["--cifar10"] if args.cifar10 and not args.all else []
    words += [f"--sam {args.sam}"] if args.sam and not args.all else []
    words += [f"--yolo {args.yolo}"] if args.yolo and not args.all else []
    return "".join(word + " " for word in words)


def _print_progress(outcome) -> None:
    if outcome.status in ("downloaded", "copied", "failed"):
        print(f"{outcome.status:10s} {outcome.name}: {outcome.message or outcome.destination}", file=sys.stderr)


def run(args: argparse.Namespace) -> dict:
    from cvlab.detection.ultralytics_env import library_weights_dir
    from cvlab.prepare import copy_in_instructions, prepare
    from cvlab.settings import get_settings
    from cvlab.weights_manifest import manifest

    if not 0 < args.timeout <= 120:
        raise InvalidInput(f"--timeout {args.timeout:g}: give between 0 and 120 seconds (10 is the default).")
    settings = get_settings()
    selection = _selection(args)
    fetch = not (args.list or selection.empty)
    sources = manifest(selection, settings, ultralytics_dir=library_weights_dir(settings))
    report = prepare(sources, settings, mirror=args.mirror, fetch=fetch, timeout_s=args.timeout,
                     on_outcome=_print_progress)
    instructions = copy_in_instructions(report, _selection_args(args))
    if fetch and report.missing:
        raise FilesMissing(f"{_table(report.outcomes)}\n\n{instructions}")
    return {"present": report.present_count, "total": len(report.outcomes), "outcomes": report.outcomes,
            "weights_dir": str(settings.weights_dir), "instructions": instructions}


def _table(outcomes) -> str:
    return text_table([{"name": o.name, "kind": o.kind, "status": o.status, "where": o.destination}
                       for o in outcomes])


def _render(result: dict) -> str:
    summary = f"{result['present']} of {result['total']} files present (weights folder: {result['weights_dir']})"
    return "\n".join(part for part in (_table(result["outcomes"]), summary, result["instructions"]) if part)


COMMANDS.register(
    "prepare",
    Command(
        name="prepare",
        help="download and check pretrained weights, CIFAR-10, SAM and YOLO files for a classroom without "
             "internet; with nothing chosen, list what is present and what is missing",
        configure=_configure,
        run=run,
        render=_render,
    ),
)
