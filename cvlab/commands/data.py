"""``python -m cvlab data``: write synthetic datasets, check a dataset folder or zip, load a dataset, list them.

torch and the data modules are imported inside run(), never when the command line starts.
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.errors import InvalidInput

EXAMPLES = """examples:
  python -m cvlab data shapes --task classify --n 500 --seed 0 --out /tmp/shapes-cls
  python -m cvlab data shapes --task detect --n 200 --out /tmp/shapes-yolo --size 160 --json
  python -m cvlab data shapes --task segment --n 100 --out /tmp/shapes-masks
  python -m cvlab data inspect ~/Downloads/pets.zip
  python -m cvlab data load digits --image-size 32 --json
  python -m cvlab data list"""


@dataclass(frozen=True)
class WrittenShapes:
    out: Path  # the dataset folder
    task: str
    n: int  # images written
    seed: int
    size: int  # px per side
    classes: tuple[str, ...]
    counts: dict[str, dict[str, int]]  # part -> class -> images (objects for detect), read back from disk
    files: int  # files written
    data_yaml: Path | None  # detect: what YOLO.train(data=...) takes


@dataclass(frozen=True)
class Inspection:
    path: Path
    kind: str  # "folder" or "zip"
    extracted_files: int | None  # zip only: files unpacked for the check
    report: Any  # cvlab.data.image_folder.FolderReport


@dataclass(frozen=True)
class LoadedSummary:
    name: str
    classes: tuple[str, ...]
    image_size: int
    train: int
    val: int
    counts: dict[str, dict[str, int]]
    megabytes: float  # memory the uint8 tensors take
    note: str


def _json_flag(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: "--json" before the action is kept; given after it, it is set here
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON")


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog, parser.formatter_class = EXAMPLES, argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    shapes = actions.add_parser("shapes", help="write a synthetic shapes dataset (ImageFolder, YOLO or masks)")
    shapes.add_argument("--task", choices=("classify", "detect", "segment"), default="classify")
    shapes.add_argument("--n", type=int, default=500, help="images to write (default 500)")
    shapes.add_argument("--seed", type=int, default=0)
    shapes.add_argument("--out", required=True, help="a new or empty folder")
    shapes.add_argument("--size", type=int, help="px per side (default 32 for classify, 128 otherwise)")
    inspect = actions.add_parser("inspect", help="check a folder or .zip in ImageFolder layout")
    inspect.add_argument("path")
    load = actions.add_parser("load", help="load a dataset as the trainer does and summarise it")
    load.add_argument("source", help="shapes, digits, cifar10, a folder or a .zip")
    load.add_argument("--image-size", type=int)
    load.add_argument("--seed", type=int, default=0)
    load.add_argument("--val-fraction", type=float, default=0.2)
    load.add_argument("--limit", type=int)
    listing = actions.add_parser("list", help="the built-in datasets and augmentation presets")
    for sub in (shapes, inspect, load, listing):
        _json_flag(sub)


def _write_shapes(args: argparse.Namespace) -> WrittenShapes:
    from cvlab.data.writers import DEFAULT_SIZES, dataset_summary, write_shapes_dataset

    if not 1 <= args.n <= 100_000:
        raise InvalidInput(f"--n {args.n} is out of range: write 1 to 100,000 images.")
    size = args.size or DEFAULT_SIZES[args.task]
    written = write_shapes_dataset(args.task, Path(args.out), args.n, args.seed, size)
    folder = written.parent if written.suffix == ".yaml" else written
    summary = dataset_summary(folder, args.task)
    return WrittenShapes(folder, args.task, summary.n, args.seed, size, summary.classes, summary.counts,
                         summary.files, written if written.suffix == ".yaml" else None)


def _inspect(args: argparse.Namespace) -> Inspection:
    from cvlab.data.archives import safe_extract
    from cvlab.data.image_folder import scan_image_folder

    path = Path(args.path).expanduser()
    if path.is_dir():
        return Inspection(path, "folder", None, scan_image_folder(path))
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist. Give a dataset folder or a .zip of one.")
    if not zipfile.is_zipfile(path):
        raise InvalidInput(f"{path} is neither a folder nor a .zip archive.")
    with tempfile.TemporaryDirectory(prefix="cvlab-inspect-") as scratch:
        extracted = safe_extract(path, Path(scratch) / "dataset")
        report = scan_image_folder(extracted.dest)
    # the scratch folder is gone: name the archive (plus any top folder) as the root
    return Inspection(path, "zip", extracted.files, replace(report, root=path / report.wrapper))


def _load(args: argparse.Namespace) -> LoadedSummary:
    from cvlab.data.datasets import load_dataset

    data = load_dataset(args.source, image_size=args.image_size, seed=args.seed, val_fraction=args.val_fraction,
                        limit=args.limit)
    megabytes = (data.train_x.numel() + data.val_x.numel()) / 2**20
    return LoadedSummary(data.name, data.class_names, data.image_size, len(data.train_y), len(data.val_y),
                         data.counts(), round(megabytes, 2), data.note)


def _list(args: argparse.Namespace) -> dict:
    from cvlab.data.augment import AUGMENTATIONS
    from cvlab.data.datasets import DATASETS

    datasets = [{"name": i.name, "title": i.title, "images": i.images, "default_image_size": i.default_image_size,
                 "description": i.description} for _, i in DATASETS.items()]
    presets = [{"name": name, "title": a.title, "crop_padding": a.crop_padding, "hflip": a.hflip,
                "color_jitter": a.color_jitter, "cutout": a.cutout, "description": a.description}
               for name, a in AUGMENTATIONS.items()]
    return {"datasets": datasets, "augmentations": presets}


def _run(args: argparse.Namespace) -> Any:
    return {"shapes": _write_shapes, "inspect": _inspect, "load": _load, "list": _list}[args.action](args)


def _counts_table(counts: dict[str, dict[str, int]]) -> str:
    classes = list(dict.fromkeys(c for part in counts.values() for c in part))
    rows = [{"class": c, **{part: counts[part].get(c, 0) for part in counts}} for c in classes]
    return text_table(rows)


def _render(result: Any) -> str:
    if isinstance(result, WrittenShapes):
        from cvlab.training.tasks import task_spec

        unit = task_spec(result.task).counted
        head = [f"wrote {result.n} {result.task} images of {result.size} px (seed {result.seed}) to {result.out}",
                f"{result.files} files" + (f"; data.yaml: {result.data_yaml}" if result.data_yaml else ""),
                f"{unit} per class:"]
        return "\n".join(head + [_counts_table(result.counts)])
    if isinstance(result, Inspection):
        return _render_inspection(result)
    if isinstance(result, LoadedSummary):
        return "\n".join([f"{result.name}: {result.train} train + {result.val} val images of {result.image_size} px, "
                          f"{len(result.classes)} classes, {result.megabytes} MiB", result.note,
                          _counts_table(result.counts)])
    return "\n\n".join([text_table(result["datasets"], ["name", "images", "default_image_size", "title"]),
                        text_table(result["augmentations"],
                                   ["name", "crop_padding", "hflip", "color_jitter", "cutout"])])


def _render_inspection(result: Inspection) -> str:
    report = result.report
    lines = [f"{result.path} ({result.kind}" + (f", {result.extracted_files} files unpacked" if result.kind == "zip"
                                                 else "") + ")"]
    if report.wrapper:
        lines.append(f"classes found inside the top folder '{report.wrapper}'")
    lines.append(f"{len(report.classes)} classes, {report.images} usable images"
                 + (", own train/val split" if report.split else ", no split folders: a stratified split is made"))
    lines.append(_counts_table(report.split or {"images": report.counts}))
    if report.bad_files:
        lines.append(f"{len(report.bad_files)} files skipped:")
        lines += [f"  {path}: {why}" for path, why in report.bad_files[:20]]
        lines += [f"  ... and {len(report.bad_files) - 20} more"] if len(report.bad_files) > 20 else []
    return "\n".join(lines)


COMMANDS.register("data", Command(
    name="data",
    help="datasets: write synthetic shapes (classify/detect/segment), inspect a folder or zip, load, list",
    configure=_configure,
    run=_run,
    render=_render,
))
