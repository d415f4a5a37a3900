"""Write synthetic shapes to disk in the formats other tools read: ImageFolder, YOLO, and image + mask pairs.

- ImageFolder (torchvision): ``out/train/<class>/*.png`` and ``out/val/<class>/*.png``.
- YOLO (ultralytics): ``images/{train,val}/*.png``, ``labels/{train,val}/*.txt`` with one
  ``class cx cy w h`` line per object (centre and size as fractions of the image), and
  ``data.yaml`` with the absolute ``path``, ``train``, ``val`` and ``names``.
- Masks: ``images/*.png`` and ``masks/*.png`` with the same stems, a mask pixel holding its
  class id (0 background), and ``classes.json`` naming the ids.

``dataset_summary`` reads any of the three back and counts what is there, so a summary
always describes the files, not what was meant to be written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cvlab.data.shapes import SHAPE_CLASSES, shapes_classification, shapes_detection, shapes_segmentation
from cvlab.data.splits import stratified_split, val_count
from cvlab.errors import InvalidInput

TASKS = ("classify", "detect", "segment")
DEFAULT_SIZES = {"classify": 32, "detect": 128, "segment": 128}  # px


@dataclass(frozen=True)
class DatasetSummary:
    out: Path
    task: str  # one of TASKS
    n: int  # images found
    classes: tuple[str, ...]
    counts: dict[str, dict[str, int]]  # part -> class -> images (classify, segment) or objects (detect)
    files: int  # files under out


def _check_out(out: Path, n: int, val_fraction: float) -> Path:
    """The resolved output folder, checked but not created: a refused request leaves nothing behind."""
    if n < 1:
        raise InvalidInput(f"n={n}: write at least one image.")
    if not 0 <= val_fraction < 1:
        raise InvalidInput(f"val_fraction={val_fraction} must be at least 0 and below 1.")
    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} already exists and is not an empty folder; choose a new output folder.")
    return out


def _save_png(pixels: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, optimize=False, compress_level=1)  # fast; the shapes are synthetic


def _split_parts(n: int, val_fraction: float, seed: int, labels: np.ndarray | None = None) -> np.ndarray:
    """(n,) array of "train" / "val": stratified when labels are given, else a seeded random share."""
    parts = np.full(n, "train", dtype=object)
    if val_fraction == 0 or n < 2:
        return parts
    if labels is not None:
        parts[stratified_split(labels, val_fraction, seed)[1]] = "val"
    else:
        rng = np.random.default_rng([seed, 13])
        parts[rng.permutation(n)[:val_count(n, val_fraction)]] = "val"
    return parts


def write_imagefolder(out: Path, n: int, seed: int, size: int = 32, *, val_fraction: float = 0.2) -> Path:
    """Shapes as ImageFolder: out/train/<class>/*.png and out/val/<class>/*.png
    (flat out/<class>/ if val_fraction=0)."""
    out = _check_out(out, n, val_fraction)
    images, labels, classes = shapes_classification(n, seed, size=size)
    out.mkdir(parents=True, exist_ok=True)
    parts = _split_parts(n, val_fraction, seed, labels)
    for index, (pixels, label, part) in enumerate(zip(images, labels, parts)):
        folder = out / part if val_fraction else out
        _save_png(pixels, folder / classes[label] / f"{index:06d}.png")
    return out


def yolo_lines(boxes_xyxy: np.ndarray, classes: np.ndarray, width: int, height: int) -> list[str]:
    """YOLO label lines: ``class cx cy w h``, the box centre and size as fractions of the image."""
    lines = []
    for (x1, y1, x2, y2), cls in zip(np.asarray(boxes_xyxy, np.float64), classes):
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        lines.append(f"{int(cls)} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return lines


def write_yolo_dataset(out: Path, n: int, seed: int, size: int = 128, val_fraction: float = 0.2,
                       max_objects: int = 4, *, look: str = "varied") -> Path:
    """Shapes scenes in ultralytics' YOLO format; returns the data.yaml to pass to ``YOLO.train(data=...)``.

    ``look`` is the generator's (``cvlab.data.shapes.LOOKS``): "varied" paints the shapes many ways."""
    import yaml

    out = _check_out(out, n, val_fraction)
    samples = shapes_detection(n, seed, size=size, max_objects=max_objects, look=look)
    parts = _split_parts(n, val_fraction, seed)
    for part in ("train", "val"):  # both folders exist even when empty: ultralytics looks for them
        (out / "images" / part).mkdir(parents=True, exist_ok=True)
        (out / "labels" / part).mkdir(parents=True, exist_ok=True)
    for index, (sample, part) in enumerate(zip(samples, parts)):
        stem = f"{index:06d}"
        _save_png(sample.image, out / "images" / part / f"{stem}.png")
        lines = yolo_lines(sample.boxes_xyxy, sample.classes, size, size)
        (out / "labels" / part / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    # No `path`: ultralytics then takes the folder of data.yaml, so the dataset still works moved or zipped.
    config = {"train": "images/train", "val": "images/val", "names": dict(enumerate(SHAPE_CLASSES))}
    data_yaml = out / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(config, sort_keys=False))
    return data_yaml


def write_mask_dataset(out: Path, n: int, seed: int, size: int = 128, max_objects: int = 3) -> Path:
    """Shapes scenes as images/*.png + masks/*.png (pixel = class id, 0 background) + classes.json."""
    out = _check_out(out, n, 0.0)
    images, masks = shapes_segmentation(n, seed, size=size, max_objects=max_objects)
    out.mkdir(parents=True, exist_ok=True)
    for index, (image, mask) in enumerate(zip(images, masks)):
        _save_png(image, out / "images" / f"{index:06d}.png")
        _save_png(mask, out / "masks" / f"{index:06d}.png")  # mode "L": one byte per pixel, the class id
    classes = {"classes": ["background", *SHAPE_CLASSES],
               "note": "mask pixel value = index in classes; 0 is background"}
    (out / "classes.json").write_text(json.dumps(classes, indent=2))
    return out


def write_shapes_dataset(task: str, out: Path, n: int, seed: int, size: int | None = None) -> Path:
    """One entry point for the three writers; ``size`` None takes the task's default."""
    if task not in TASKS:
        raise InvalidInput(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    size = size or DEFAULT_SIZES[task]
    writer = {"classify": write_imagefolder, "detect": write_yolo_dataset, "segment": write_mask_dataset}[task]
    return writer(out, n, seed, size)


def _count_classify(out: Path):
    parts = [p for p in ("train", "val") if (out / p).is_dir()] or ["."]
    counts = {("all" if p == "." else p): {c.name: sum(1 for _ in c.glob("*.png"))
                                           for c in sorted((out / p).iterdir()) if c.is_dir()} for p in parts}
    classes = tuple(sorted({c for part in counts.values() for c in part}))
    return classes, counts, sum(sum(part.values()) for part in counts.values())


def _count_detect(out: Path):
    counts, n = {}, 0  # objects per class in each part
    for part in ("train", "val"):
        per_class = dict.fromkeys(SHAPE_CLASSES, 0)
        for label in sorted((out / "labels" / part).glob("*.txt")):
            n += 1
            for line in label.read_text().splitlines():
                if line.strip():
                    per_class[SHAPE_CLASSES[int(line.split()[0])]] += 1
        counts[part] = per_class
    return SHAPE_CLASSES, counts, n


def _count_segment(out: Path):
    classes = tuple(json.loads((out / "classes.json").read_text())["classes"][1:])
    per_class = dict.fromkeys(classes, 0)  # images in which each class appears
    masks = sorted((out / "masks").glob("*.png"))
    for path in masks:
        try:  # PNG only: a file named .png may hold any format Pillow knows (EPS runs Ghostscript)
            with Image.open(path, formats=["PNG"]) as mask:
                values = np.unique(np.asarray(mask))
        except (OSError, Image.DecompressionBombError) as err:
            raise InvalidInput(f"mask {path.name} is not a PNG image Pillow can read ({err}); save class ids as "
                               "a grayscale (L) PNG.") from err
        for value in values:
            if value:
                per_class[classes[value - 1]] += 1
    return classes, {"all": per_class}, len(masks)


def dataset_summary(out: Path, task: str) -> DatasetSummary:
    """Count what a written dataset holds, read back from its files: images per class (objects for detect)."""
    if task not in TASKS:
        raise InvalidInput(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    out = Path(out)
    counter = {"classify": _count_classify, "detect": _count_detect, "segment": _count_segment}[task]
    classes, counts, n = counter(out)
    files = sum(1 for p in out.rglob("*") if p.is_file())
    return DatasetSummary(out, task, n, classes, counts, files)
