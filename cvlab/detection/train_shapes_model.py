"""Reproduce the shipped ``shapes-yolo`` model: python -m cvlab.detection.train_shapes_model --out DIR [options]

It writes a shapes dataset in YOLO format (``cvlab.data.writers.write_yolo_dataset``,
seed 0), trains YOLOv8n on it on the CPU with ``train_yolo``, and copies the exported
safetensors + YAML into ``--out`` with the recipe as ``recipe.json`` (the README beside
them is written by hand). The shipped model took two stages (see its README):

1. from random weights, 30 epochs on 1,000 scenes in the generator's "plain" look
   (``--start random --look plain --epochs 30 --val-fraction 0.15 --close-mosaic 5``),
   about 20 minutes on two CPU cores;
2. that model fine-tuned 12 epochs on 1,000 scenes in the "varied" look (flat,
   gradient and blotchy backgrounds, filled shapes and outlines, hard and soft edges,
   any colour or grey): the defaults, with ``--start`` naming stage 1's weights file;
   about 16 minutes on a shared two-core machine.

``benchmarks/shapes_heldout.py`` measures its mAP@0.5 on shapes drawn by OpenCV and
Pillow primitives instead of the generator.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ShapesRecipe:
    model: str = "yolov8n"  # 3.0 M parameters: 6 MB of float16 safetensors
    start: str = "random"  # "random" weights, a detector to fine-tune (shapes-yolo) or a CV Lab .safetensors file
    images: int = 1000  # scenes written; val_fraction of them for validation
    seed: int = 0  # the dataset's seed; evaluation uses others
    look: str = "varied"  # the generator's look (cvlab.data.shapes.LOOKS): many ways of drawing each shape
    size: int = 192  # px per side of each scene, and the training image size
    epochs: int = 12
    batch: int = 16
    val_fraction: float = 0.1
    mosaic: float = 0.5  # ultralytics' default 1.0 tiles four scenes: fine for photos, too busy at 192 px
    close_mosaic: int = 3  # last epochs without mosaic, as ultralytics recommends


def train_shapes_model(out: Path, recipe: ShapesRecipe = ShapesRecipe(), *, workdir: Path | None = None,
                       device: str = "cpu") -> Path:
    """Train and store the shapes model in ``out``; returns its weights.safetensors."""
    from cvlab.data.writers import write_yolo_dataset
    from cvlab.detection.train import train_yolo

    with tempfile.TemporaryDirectory(prefix="shapes-yolo-") as scratch:
        work = Path(workdir or scratch)
        data_yaml = write_yolo_dataset(work / "data", recipe.images, recipe.seed, size=recipe.size,
                                       val_fraction=recipe.val_fraction, look=recipe.look)

        def show(report: dict) -> None:
            keys = ("epoch", "box_loss", "cls_loss", "mAP50", "mAP50-95", "seconds", "final")
            print(json.dumps({k: report.get(k) for k in keys}), flush=True)

        start = _start_model(recipe)
        weights = train_yolo(data_yaml, model=start, epochs=recipe.epochs, imgsz=recipe.size,
                             batch=recipe.batch, run_dir=work / "run", device=device, on_epoch=show,
                             mosaic=recipe.mosaic, close_mosaic=recipe.close_mosaic, half=True)
        out.mkdir(parents=True, exist_ok=True)
        target = out / "weights.safetensors"
        shutil.copyfile(weights, target)
        for config in weights.parent.glob("*.yaml"):
            if config.name != "data.yaml":
                shutil.copyfile(config, out / config.name)
    (out / "recipe.json").write_text(json.dumps(asdict(recipe), indent=2) + "\n")
    return target


def _start_model(recipe: ShapesRecipe) -> str:
    """The detector name train_yolo starts from: the architecture (random weights), a listed detector, or a file."""
    if recipe.start == "random":
        return recipe.model
    if recipe.start.endswith(".safetensors"):
        from cvlab.detection.catalogue import register_trained_model

        return register_trained_model("shapes-start", Path(recipe.start)).name
    return recipe.start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("assets/models/shapes-yolo"))
    parser.add_argument("--epochs", type=int, default=ShapesRecipe.epochs)
    parser.add_argument("--images", type=int, default=ShapesRecipe.images)
    parser.add_argument("--start", default=ShapesRecipe.start,
                        help="random, a detector to fine-tune (shapes-yolo: the shipped one) or a .safetensors file")
    parser.add_argument("--look", default=ShapesRecipe.look, help="the generator's look: varied or plain")
    parser.add_argument("--val-fraction", type=float, default=ShapesRecipe.val_fraction)
    parser.add_argument("--close-mosaic", type=int, default=ShapesRecipe.close_mosaic)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the dataset and run here (default: a temp dir)")
    args = parser.parse_args(argv)
    recipe = ShapesRecipe(epochs=args.epochs, images=args.images, start=args.start, look=args.look,
                          val_fraction=args.val_fraction, close_mosaic=args.close_mosaic)
    print(train_shapes_model(args.out, recipe, workdir=args.workdir, device=args.device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
