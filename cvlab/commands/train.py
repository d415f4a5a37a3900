"""``python -m cvlab train``: the training engine from a terminal, with the same run folder as the page."""

from __future__ import annotations

import argparse
import getpass
import json
from dataclasses import fields

from cvlab.commands import COMMANDS, Command
from cvlab.training.config import TrainConfig

_HELP = {
    "data": "shapes, digits, cifar10, a .zip or a folder (ImageFolder layout)",
    "model": "lecture-vgg, lecture-residual, resnet18, efficientnet_b0, any registry name, or timm:<name>",
    "optimizer": "sgd, adam or adamw",
    "scheduler": "constant, step, cosine, onecycle, plateau or warmup_cosine",
}


def _configure(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        option = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            parser.add_argument(option, action=argparse.BooleanOptionalAction, default=None,
                                help=f"default {default}")
        else:
            parser.add_argument(option, type=type(default), default=None, metavar=f.name.upper(),
                                help=f"{_HELP.get(f.name, '')} (default {default})".strip())
    parser.add_argument("--owner", default=None, help="whose run this is (default: your login name)")
    parser.add_argument("--queue", action="store_true",
                        help="submit to the job queue and return at once instead of training here")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    return TrainConfig.from_dict(given)


def _run(args: argparse.Namespace) -> dict:
    from cvlab.training import runs
    from cvlab.training.engine import train_run

    config = config_from_args(args)
    store = runs.RunStore()
    run_dir = store.create(config, owner=args.owner or getpass.getuser())
    if args.queue:
        from cvlab.training.queue import queue_position, submit

        submit(run_dir.name)
        return {"run_dir": str(run_dir), "status": "queued", "queue_position": queue_position(run_dir.name)}

    def show(record: dict) -> None:  # each finished epoch as it happens
        if record["kind"] != "epoch":
            return
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            print(f"epoch {record['epoch']:>3}  train loss {record['train_loss']:.4f}  "
                  f"val loss {record['val_loss']:.4f}  val acc {record['val_accuracy']:.2%}  "
                  f"{record['images_per_second']:.0f} img/s", flush=True)

    return train_run(run_dir, on_record=show)


def _render(result: dict) -> str:
    if result.get("status") == "queued":
        return f"queued {result['run_dir']} (position {result['queue_position']})"
    lines = [f"{result['status']}: {result['run_dir']}"]
    if result.get("val_accuracy") is not None:
        lines.append(f"validation accuracy {result['val_accuracy']:.2%}, {result['images_per_second']:.0f} images/s")
    if result.get("reason"):
        lines.append(result["reason"])
    return "\n".join(lines)


COMMANDS.register("train", Command(
    "train", "train a classifier with the lab's engine (same run folder as the Training page)",
    _configure, _run, _render))
