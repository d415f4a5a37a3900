"""Mask datasets for training: the shapes masks offline, or a zip of images and masks, checked and split.

The layout is the one ``python -m cvlab data shapes --task segment`` writes (and most
segmentation sets use): ``images/<stem>.png|jpg`` and ``masks/<stem>.png`` side by side,
anywhere in the archive, a mask pixel holding its class id (0 = background; black-and-white
0/255 masks read as background and class 1), and an optional
``classes.json`` (``{"classes": ["background", "cat", ...]}``). Every problem found is
listed in one InvalidMaskDataset message, so a student fixes them all in one go. What comes
out lives in memory as uint8 tensors: images (N, 3, H, W), masks (N, H, W).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from cvlab.data.archives import safe_extract
from cvlab.data.splits import val_count
from cvlab.errors import InvalidInput
from cvlab.segmentation.mask_files import (  # noqa: F401 - IMAGE_SUFFIXES, MASK_SUFFIXES, MAX_PAIRS: public here too
    IMAGE_SUFFIXES, MASK_SUFFIXES, MAX_PAIRS, InvalidMaskDataset, Pair, decode_into, plan_pairs)
from cvlab.settings import get_settings

MAX_TOTAL_PIXELS = 80_000_000  # all images together (240 MB as uint8 RGB): resize with ``size`` above it
PREVIEW_ALL_PIXELS = 20_000_000  # a preview (``sample``) decodes whole a set whose files hold this few pixels
MAX_PROBLEMS_SHOWN = 8


@dataclass(frozen=True)
class MaskDatasetReport:
    source: str  # "shapes (seed 0)" or the archive's name
    pairs: int
    image_size: tuple[int, int]  # (H, W) in px, after any resize
    class_names: tuple[str, ...]  # index = class id; "background" first
    pixel_share: dict[str, float]  # class name -> share of all mask pixels, 0..1
    train: int
    val: int
    notes: tuple[str, ...] = ()  # changes made on the way (resized, grayscale masks...)
    skipped: tuple[str, ...] = ()  # files that are neither an image nor a mask

    @property
    def classes(self) -> int:
        return len(self.class_names)

    def text(self) -> str:
        shares = ", ".join(f"{name} {share:.1%}" for name, share in self.pixel_share.items())
        lines = [f"{self.source}: {self.pairs} image/mask pairs at {self.image_size[1]}x{self.image_size[0]} px, "
                 f"{self.train} for training and {self.val} for validation.",
                 f"{self.classes} classes (mask values 0..{self.classes - 1}); pixels: {shares}."]
        lines += [f"Note: {note}" for note in self.notes]
        if self.skipped:
            lines.append(f"Ignored {len(self.skipped)} other file(s): {', '.join(self.skipped[:5])}")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)  # tensors inside
class MaskDataset:
    train_images: torch.Tensor  # (N, 3, H, W) uint8
    train_masks: torch.Tensor  # (N, H, W) uint8 class ids
    val_images: torch.Tensor
    val_masks: torch.Tensor
    report: MaskDatasetReport

    @property
    def classes(self) -> int:
        return self.report.classes


def _pixel_share(masks: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    counts = np.bincount(masks.reshape(-1), minlength=len(names))[: len(names)]
    return {name: float(c) / max(masks.size, 1) for name, c in zip(names, counts)}


def _split(images: np.ndarray, masks: np.ndarray, val_fraction: float, seed: int, source: str,
           names: tuple[str, ...], notes: list[str], skipped: tuple[str, ...] = (),
           total: int | None = None) -> MaskDataset:
    """(N, H, W, 3) and (N, H, W) arrays -> a seeded train/val split as tensors.

    ``total`` (a preview of the first N of more pairs) makes the report count the whole set.
    """
    if not 0 < val_fraction < 1:
        raise InvalidInput(f"val_fraction={val_fraction:g} must lie between 0 and 1 (0.2 keeps a fifth aside).")
    n = total or len(images)
    if n < 2:
        raise InvalidMaskDataset(f"{source} has {n} image/mask pair(s); at least 2 are needed (one to train on, "
                                 "one to validate with).")
    n_val = val_count(n, val_fraction)
    if len(images) < n:  # a preview: every pair it holds is shown as a training pair
        order, n_shown_val = np.arange(len(images)), 0
    else:
        order, n_shown_val = np.random.default_rng(seed).permutation(n), n_val
    val, train = order[:n_shown_val], order[n_shown_val:]
    as_images = lambda idx: torch.from_numpy(np.ascontiguousarray(images[idx].transpose(0, 3, 1, 2)))
    as_masks = lambda idx: torch.from_numpy(np.ascontiguousarray(masks[idx]))
    report = MaskDatasetReport(source, n, masks.shape[1:], names, _pixel_share(masks, names), n - n_val, n_val,
                               tuple(notes), skipped)
    return MaskDataset(as_images(train), as_masks(train), as_images(val), as_masks(val), report)


def shapes_mask_dataset(n: int = 640, seed: int = 0, size: int = 128, *, binary: bool = False,
                        val_fraction: float = 0.2, max_objects: int = 3) -> MaskDataset:
    """The shapes generator's scenes; ``binary`` maps every shape to class 1 (object vs background)."""
    from cvlab.data.shapes import SHAPE_CLASSES, shapes_segmentation

    images, masks = shapes_segmentation(n, seed, size=size, max_objects=max_objects)
    names = ("background", "object") if binary else ("background", *SHAPE_CLASSES)
    masks = (masks > 0).astype(np.uint8) if binary else masks
    return _split(images, masks, val_fraction, seed, f"shapes (seed {seed})", names, [])


def _find_root(folder: Path) -> Path:
    """The folder holding images/ and masks/: the top, or a folder inside (zipping a folder nests it)."""
    for candidate in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
        if len(candidate.relative_to(folder).parts) <= 3 and (candidate / "images").is_dir() \
                and (candidate / "masks").is_dir():
            return candidate
    raise InvalidMaskDataset("No images/ and masks/ folders side by side were found. Expected layout: "
                             "images/<name>.png (or .jpg) and masks/<name>.png with the same names, a mask "
                             "pixel holding its class id (0 = background), and optionally classes.json.")


def _listed_names(root: Path) -> tuple[str, ...] | None:
    """The names in classes.json, or None without one."""
    file = root / "classes.json"
    if not file.is_file():
        return None
    try:
        return tuple(str(n) for n in json.loads(file.read_text())["classes"])
    except (ValueError, KeyError, TypeError):
        raise InvalidMaskDataset('classes.json must look like {"classes": ["background", "cat", ...]}.') from None


def _class_names(listed: tuple[str, ...] | None, highest: int, classes: int | None) -> tuple[str, ...]:
    if listed is not None:
        names = listed
    else:
        count = classes or max(highest + 1, 2)
        names = ("background", *(f"class {i}" for i in range(1, count)))
    if classes is not None and classes != len(names):
        raise InvalidMaskDataset(f"classes.json names {len(names)} classes but {classes} were asked for.")
    return names


def _black_and_white(masks: np.ndarray, values: set[int], declared: int | None, notes: list[str]) -> None:
    """Masks of only 0 and 255 are what most tools save for one object class (white object on black):
    they read as background and class 1 (in place), unless more classes are declared (then 255 is a mistake)."""
    if not (255 in values and values <= {0, 255} and declared in (None, 2)):
        return
    notes.append("the masks are black and white (only 0 and 255): read as background (0) and one object "
                 "class (255 -> class 1)")
    masks //= 255


def _common_size(pairs: list[Pair], size: int | None, notes: list[str]) -> tuple[int, int]:
    """(height, width) every pair is read at."""
    sizes = {pair.size for pair in pairs}
    if size is not None:
        if sizes != {(size, size)}:
            notes.append(f"resized to {size}x{size} px (images bilinear, masks nearest, so ids stay ids)")
        return size, size
    if len(sizes) > 1:
        listed = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:4])
        raise InvalidMaskDataset(f"The images come in {len(sizes)} sizes ({listed}...); choose one size to "
                                 "resize them all to.")
    width, height = next(iter(sizes))
    return height, width


def _check_total(pairs: int, height: int, width: int) -> None:
    """Refuse, before anything is decoded, a dataset whose arrays would not fit in memory."""
    if pairs * height * width > MAX_TOTAL_PIXELS:
        raise InvalidMaskDataset(f"{pairs} images of {width}x{height} px do not fit in memory here; "
                                 f"choose a smaller size (at most {MAX_TOTAL_PIXELS:,} pixels in all).")


def _class_problems(masks: np.ndarray, stems: list[str], names: tuple[str, ...], problems: list[str]) -> None:
    for stem, mask in zip(stems, masks):
        if mask.max() >= len(names):
            found = np.unique(mask)
            hint = " (0/255 looks like a black-and-white mask: save the object as 1)" if set(found) <= {0, 255} else ""
            problems.append(f"mask {stem} holds values {found[found >= len(names)][:5].tolist()} but there are "
                            f"{len(names)} classes (ids 0..{len(names) - 1}){hint}")


def _raise_problems(problems: list[str], source: str) -> None:
    shown = "\n".join(f"- {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
    more = f"\n- ... and {len(problems) - MAX_PROBLEMS_SHOWN} more" if len(problems) > MAX_PROBLEMS_SHOWN else ""
    raise InvalidMaskDataset(f"{source} has {len(problems)} problem(s); fix them and upload it again:\n{shown}{more}")


def read_mask_folder(folder: Path, *, classes: int | None = None, size: int | None = None,
                     val_fraction: float = 0.2, seed: int = 0, source: str | None = None,
                     sample: int | None = None) -> MaskDataset:
    """Images and masks from a folder (see the module's docstring for the layout), checked and split.

    Every file is checked from its header and the total size against the memory limit
    before any pixel is decoded. ``sample`` (a page's preview) decodes only that many pairs
    of a set whose files hold more than PREVIEW_ALL_PIXELS: the report still counts every
    pair, and the run reads and checks them all.
    """
    root = _find_root(Path(folder))
    source = source or root.name
    problems: list[str] = []
    skipped: list[str] = []
    settings = get_settings()
    pairs = plan_pairs(root, problems, skipped, settings)
    if not pairs:
        _raise_problems(problems or ["images/ and masks/ hold no pairs with matching names"], source)
    notes: list[str] = []
    try:
        height, width = _common_size(pairs, size, notes)
    except InvalidMaskDataset:
        if problems:  # the files' own problems first: fixing them may leave one size
            _raise_problems(problems, source)
        raise
    _check_total(len(pairs), height, width)
    total = len(pairs)
    if sample and sum(pair.size[0] * pair.size[1] for pair in pairs) > PREVIEW_ALL_PIXELS:
        pairs = pairs[:sample]  # decoding is the cost: a page decodes few; the run's worker decodes them all
    images, masks = decode_into(pairs, height, width, problems, settings)
    listed = _listed_names(root)
    values = set(np.flatnonzero(np.bincount(masks.reshape(-1), minlength=256)).tolist())
    _black_and_white(masks, values, len(listed) if listed is not None else classes, notes)
    if listed is None and classes is None and 255 in values and not values <= {0, 255}:
        problems.append(f"the masks hold class ids {sorted(values - {0, 255})[:5]} and also 255, which Pascal VOC "
                        "uses for 'ignore' pixels: set those pixels to a class id, or list every class in "
                        "classes.json")
    names = _class_names(listed, int(masks.max(initial=0)), classes)
    _class_problems(masks, [pair.stem for pair in pairs], names, problems)
    if problems:
        _raise_problems(problems, source)
    if len(pairs) < total:
        notes.append(f"{len(pairs)} of the {total} pairs read here to preview; the run reads and checks them all")
    return _split(images, masks, val_fraction, seed, source, names, notes, tuple(skipped), total=total)


def load_mask_archive(archive: Path | str | bytes | BinaryIO, *, name: str = "the archive", **options) -> MaskDataset:
    """A zip of images/ and masks/, unpacked safely, then read. A zip on disk is unpacked once into the upload
    store (counted in its uploader's quota) and reused; bytes or a file object go to a scratch folder under
    the data home (not /tmp, which may be memory)."""
    from cvlab.data.uploads import UploadStore

    if isinstance(archive, (str, Path)):
        return read_mask_folder(UploadStore().unpacked(Path(archive)), source=name, **options)
    scratch_root = get_settings().data_home / "scratch"
    scratch_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="masks-", dir=scratch_root) as scratch:
        safe_extract(archive, Path(scratch) / "data")
        return read_mask_folder(Path(scratch) / "data", source=name, **options)


def load_mask_dataset(source: str = "shapes", **options) -> MaskDataset:
    """``"shapes"`` (the generator), a ``.zip`` path or a folder path; an upload is named as the user named it."""
    from cvlab.data.uploads import UploadStore, missing_source

    if source == "shapes":
        return shapes_mask_dataset(**options)
    path = Path(source).expanduser()
    store = UploadStore()
    shown = store.display_name(path) if store.locate(path) else path.name
    store.mark_used(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        return load_mask_archive(path, name=shown, **options)
    if path.is_dir():
        return read_mask_folder(path, source=shown, **options)
    raise InvalidInput(missing_source(source, "'shapes', a .zip file nor a folder of images/ and masks/"))
