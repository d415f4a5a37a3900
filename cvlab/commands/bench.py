"""``python -m cvlab bench train``: training throughput against a hand-written loop, and the presets' accuracy."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from cvlab.commands import COMMANDS, Command


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=["train"], help="what to benchmark")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=2560, help="images (train + validation) for the throughput part")
    parser.add_argument("--epochs", type=int, default=2, help="the last one is timed; the first warms up")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-accuracy", action="store_true", help="skip the shapes and digits accuracy runs")


def _run(args: argparse.Namespace) -> dict:
    from cvlab.training.bench import bench_train
    from cvlab.training.config import TrainConfig

    config = TrainConfig(model=args.model, data=args.data, batch_size=args.batch_size, image_size=args.image_size,
                         limit=args.limit, epochs=args.epochs, device=args.device, augmentation="none",
                         scheduler="constant", optimizer="sgd", lr=0.01)
    with tempfile.TemporaryDirectory(prefix="cvlab-bench-") as root:
        say = (lambda line: None) if args.json else (lambda line: print(line, flush=True))
        return bench_train(config, Path(root), accuracy_runs=not args.no_accuracy, say=say)


COMMANDS.register("bench", Command(
    "bench", "benchmarks that print ratios against a reference measured in the same run",
    _configure, _run, lambda result: json.dumps(result)))
