"""``python -m cvlab train``: the training engine from a terminal, with the same run folder as the page.

    python -m cvlab train --data shapes --model lecture-vgg --epochs 3 --json
    python -m cvlab train --task segment --data shapes --arch unet --encoder resnet18 --json
    python -m cvlab train --task detect --data shapes --model yolov8n --epochs 10 --json

Each task starts from its own recipe (cvlab.training.tasks); flags change it. With
``--json`` every finished epoch is one JSON line and the last line is the run's summary
(``run_dir``, ``status`` and the validation figures: ``val_accuracy``; ``val_iou`` and
``val_dice``; ``val_map50`` and ``val_map50_95``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import fields

from cvlab.commands import COMMANDS, Command, result_stream
from cvlab.errors import CvlabError
from cvlab.jobs.status import RunStatus
from cvlab.training.config import TrainConfig


class RunFailed(CvlabError):
    """A run that ended as failed; the message is its reason and where its folder is."""

_HELP = {
    "task": "classify, segment or detect",
    "data": "shapes (every task), digits or cifar10 (classify), or a .zip or folder: ImageFolder (classify), "
            "images/ + masks/ (segment), YOLO with data.yaml (detect)",
    "model": "classify: lecture-vgg, lecture-residual, resnet18, efficientnet_b0, any registry name or timm:<name>; "
             "segment: unet, unetplusplus, fpn, deeplabv3plus...; detect: yolov8n, yolo11n, shapes-yolo...",
    "encoder": "segment: the smp encoder (resnet18, resnet34, mobilenet_v2, efficientnet-b0...)",
    "loss": "segment: the mask loss, e.g. 0.5*bce+0.5*dice, focal, ce",
    "binary_masks": "segment: object vs background (else one class per mask value)",
    "optimizer": "sgd, adam or adamw",
    "scheduler": "constant, step, cosine, onecycle, plateau or warmup_cosine",
}


def _configure(parser: argparse.ArgumentParser) -> None:
    from cvlab.training.tasks import TASKS

    defaults = TrainConfig()
    for f in fields(TrainConfig):
        options = ["--" + f.name.replace("_", "-")] + (["--arch"] if f.name == "model" else [])
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            parser.add_argument(*options, action=argparse.BooleanOptionalAction, default=None,
                                help=f"{_HELP.get(f.name, '')} (classify's default {default})".strip())
        else:
            parser.add_argument(*options, type=type(default), default=None, metavar=f.name.upper(),
                                choices=list(TASKS) if f.name == "task" else None,
                                help=f"{_HELP.get(f.name, '')} (classify's default {default})".strip())
    parser.add_argument("--owner", default=None, help="whose run this is (default: your login name)")
    parser.add_argument("--queue", action="store_true",
                        help="submit to the job queue and return at once instead of training here")
    parser.add_argument("--exercise", default="",
                        help="the lab exercise this run answers, for its class board (python -m cvlab board --list)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    return TrainConfig.from_dict(given)


def _run(args: argparse.Namespace) -> dict:
    from cvlab.training import lifecycle, runs
    from cvlab.training.engine import train_run

    config = config_from_args(args)
    owner = args.owner or getpass.getuser()
    if args.exercise:
        from cvlab.board import LAB_EXERCISES

        LAB_EXERCISES.get(args.exercise)  # an unknown tag stops here, with the list of exercises
    if args.queue:  # as the pages start one: the same checks, the owner's limits, and a worker to take it
        return lifecycle.start(config, owner, exercise=args.exercise)
    config = lifecycle.check_can_start(config)  # refused here, before a run folder exists
    run_dir = runs.RunStore().create(config, owner=owner, exercise=args.exercise)

    stdout = result_stream()  # the real stdout: under --json, library output goes to stderr meanwhile

    def show(record: dict) -> None:  # each finished epoch as it happens
        if record["kind"] != "epoch":
            return
        if args.json:
            print(json.dumps(record), file=stdout, flush=True)
        else:
            print(f"epoch {record['epoch']:>3}  train loss {record['train_loss']:.4f}  "
                  f"val loss {_number(record.get('val_loss'))}  {_scores(record)}  "
                  f"{record['images_per_second']:.0f} img/s", file=stdout, flush=True)

    from cvlab.jobs.queue import release

    summary = train_run(run_dir, on_record=show, release=release)
    if summary["status"] == RunStatus.FAILED:  # exit status 2 and the reason on stderr, as for every error
        failure = RunFailed(f"The run failed: {summary.get('reason') or 'no reason was recorded'} "
                            f"(run folder {summary['run_dir']}).")
        if args.json:  # stdout's last line is then the error as JSON; people read stderr
            print(f"error: {failure}", file=sys.stderr, flush=True)
        raise failure
    return summary


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _scores(record: dict) -> str:
    """The validation figures of an epoch record or a summary: 'val iou 0.930  val dice 0.964'."""
    return "  ".join(f"{key.replace('_', ' ')} {value:.3f}" for key, value in record.items()
                     if key.startswith("val_") and key != "val_loss" and isinstance(value, (int, float)))


def _render(result: dict) -> str:
    if result.get("status") == RunStatus.QUEUED:
        return f"queued {result['run_dir']} (position {result['queue_position']})"
    lines = [f"{result['status']}: {result['run_dir']}"]
    if result.get("images_per_second") is not None:
        lines.append(f"{_scores(result)}, {result['images_per_second']:.0f} images/s")
    if result.get("reason"):
        lines.append(result["reason"])
    return "\n".join(lines)


COMMANDS.register("train", Command(
    "train", "train a classifier, a segmentation model or a detector (same run folder as the Training page)",
    _configure, _run, _render))
