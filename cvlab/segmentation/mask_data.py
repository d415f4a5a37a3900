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
from PIL import Image

from cvlab.data.archives import safe_extract
from cvlab.data.image_decoding import BadImage, decode_image
from cvlab.errors import InvalidInput
from cvlab.settings import get_settings

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".gif")  # lossless only: JPEG blurs class ids
MAX_PAIRS = 5000
MAX_TOTAL_PIXELS = 80_000_000  # all images together (240 MB as uint8 RGB): resize with ``size`` above it
MAX_PROBLEMS_SHOWN = 8


class InvalidMaskDataset(InvalidInput):
    """A mask dataset with problems; the message lists them and the expected layout."""


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
           names: tuple[str, ...], notes: list[str], skipped: tuple[str, ...] = ()) -> MaskDataset:
    """(N, H, W, 3) and (N, H, W) arrays -> a seeded train/val split as tensors."""
    if not 0 < val_fraction < 1:
        raise InvalidInput(f"val_fraction={val_fraction:g} must lie between 0 and 1 (0.2 keeps a fifth aside).")
    n = len(images)
    if n < 2:
        raise InvalidMaskDataset(f"{source} has {n} image/mask pair(s); at least 2 are needed (one to train on, "
                                 "one to validate with).")
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    val, train = order[:n_val], order[n_val:]
    as_images = lambda idx: torch.from_numpy(np.ascontiguousarray(images[idx].transpose(0, 3, 1, 2)))
    as_masks = lambda idx: torch.from_numpy(np.ascontiguousarray(masks[idx]))
    report = MaskDatasetReport(source, n, masks.shape[1:], names, _pixel_share(masks, names), len(train), n_val,
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


def _by_stem(folder: Path, suffixes: tuple[str, ...], kind: str, problems: list[str], skipped: list[str]):
    found: dict[str, Path] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if kind == "mask" and suffix in (".jpg", ".jpeg"):
            problems.append(f"mask {path.name} is a JPEG, whose compression changes class ids; save masks as PNG")
            continue
        if suffix not in suffixes:
            skipped.append(str(path.relative_to(folder.parent)))
            continue
        if path.stem in found:
            problems.append(f"two {kind}s are named {path.stem}: {found[path.stem].name} and {path.name}")
        found[path.stem] = path
    return found


def _read_mask(path: Path, max_pixels: int) -> np.ndarray:
    with Image.open(path) as mask:
        if mask.width * mask.height > max_pixels:
            raise InvalidInput(f"mask {path.name} is {mask.width}x{mask.height} px, above the pixel limit")
        values = np.asarray(mask.convert("L") if mask.mode in ("1", "LA") else mask)
    if values.ndim == 3:
        if not (values[..., :3] == values[..., :1]).all():
            raise InvalidInput(f"mask {path.name} is a colour image; save class ids as a grayscale (L) PNG")
        values = values[..., 0]
    if values.dtype.kind == "f" or values.max(initial=0) > 255:
        raise InvalidInput(f"mask {path.name} holds values above 255 or fractions; class ids are 0..255")
    return values.astype(np.uint8)


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


def _mask_values(pairs) -> set[int]:
    """Every value any mask holds."""
    seen = np.zeros(256, bool)
    for _, _, mask in pairs:
        seen |= np.bincount(mask.reshape(-1), minlength=256).astype(bool)
    return set(np.flatnonzero(seen).tolist())


def _black_and_white(pairs, values: set[int], declared: int | None, notes: list[str]):
    """Masks of only 0 and 255 are what most tools save for one object class (white object on black):
    they read as background and class 1, unless more classes are declared (then 255 is a mistake)."""
    if not (255 in values and values <= {0, 255} and declared in (None, 2)):
        return pairs
    notes.append("the masks are black and white (only 0 and 255): read as background (0) and one object "
                 "class (255 -> class 1)")
    return [(stem, image, (mask == 255).astype(np.uint8)) for stem, image, mask in pairs]


def _read_pairs(root: Path, problems: list[str], skipped: list[str]):
    images = _by_stem(root / "images", IMAGE_SUFFIXES, "image", problems, skipped)
    masks = _by_stem(root / "masks", MASK_SUFFIXES, "mask", problems, skipped)
    for stem in sorted(images.keys() - masks.keys()):
        problems.append(f"image {images[stem].name} has no mask (expected masks/{stem}.png)")
    for stem in sorted(masks.keys() - images.keys()):
        problems.append(f"mask {masks[stem].name} has no image (expected images/{stem}.png or .jpg)")
    stems = sorted(images.keys() & masks.keys())
    if len(stems) > MAX_PAIRS:
        raise InvalidMaskDataset(f"{len(stems)} pairs is more than {MAX_PAIRS}; upload a smaller sample.")
    settings, pairs = get_settings(), []
    for stem in stems:
        try:
            image = decode_image(images[stem].read_bytes(), images[stem].name, settings=settings).pixels
            mask = _read_mask(masks[stem], settings.max_image_pixels)
        except (BadImage, InvalidInput, OSError) as err:
            problems.append(str(err).split(". ")[0])
            continue
        if image.shape[:2] != mask.shape:
            problems.append(f"{stem}: image is {image.shape[1]}x{image.shape[0]} px but its mask is "
                            f"{mask.shape[1]}x{mask.shape[0]} px")
            continue
        pairs.append((stem, image, mask))
    return pairs


def _common_size(pairs, size: int | None, notes: list[str]) -> tuple[int, int]:
    sizes = {image.shape[:2] for _, image, _ in pairs}
    if size is not None:
        if sizes != {(size, size)}:
            notes.append(f"resized to {size}x{size} px (images bilinear, masks nearest, so ids stay ids)")
        return size, size
    if len(sizes) > 1:
        listed = ", ".join(f"{w}x{h}" for h, w in sorted(sizes)[:4])
        raise InvalidMaskDataset(f"The images come in {len(sizes)} sizes ({listed}...); choose one size to "
                                 "resize them all to.")
    return next(iter(sizes))


def _stack(pairs, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    if len(pairs) * height * width > MAX_TOTAL_PIXELS:
        raise InvalidMaskDataset(f"{len(pairs)} images of {width}x{height} px do not fit in memory here; "
                                 f"choose a smaller size (at most {MAX_TOTAL_PIXELS:,} pixels in all).")
    images = np.empty((len(pairs), height, width, 3), np.uint8)
    masks = np.empty((len(pairs), height, width), np.uint8)
    for index, (_, image, mask) in enumerate(pairs):
        if image.shape[:2] != (height, width):
            image = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))
            mask = np.asarray(Image.fromarray(mask).resize((width, height), Image.Resampling.NEAREST))
        images[index], masks[index] = image, mask
    return images, masks


def _raise_problems(problems: list[str], source: str) -> None:
    shown = "\n".join(f"- {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
    more = f"\n- ... and {len(problems) - MAX_PROBLEMS_SHOWN} more" if len(problems) > MAX_PROBLEMS_SHOWN else ""
    raise InvalidMaskDataset(f"{source} has {len(problems)} problem(s); fix them and upload it again:\n{shown}{more}")


def read_mask_folder(folder: Path, *, classes: int | None = None, size: int | None = None,
                     val_fraction: float = 0.2, seed: int = 0, source: str | None = None) -> MaskDataset:
    """Images and masks from a folder (see the module's docstring for the layout), checked and split."""
    root = _find_root(Path(folder))
    source = source or root.name
    problems: list[str] = []
    skipped: list[str] = []
    pairs = _read_pairs(root, problems, skipped)
    if not pairs and not problems:
        problems.append("images/ and masks/ hold no pairs with matching names")
    listed, notes = _listed_names(root), []
    values = _mask_values(pairs)
    pairs = _black_and_white(pairs, values, len(listed) if listed is not None else classes, notes)
    highest = max((int(mask.max()) for _, _, mask in pairs), default=0)
    if listed is None and classes is None and 255 in values and not values <= {0, 255}:
        problems.append(f"the masks hold class ids {sorted(values - {0, 255})[:5]} and also 255, which Pascal VOC "
                        "uses for 'ignore' pixels: set those pixels to a class id, or list every class in "
                        "classes.json")
    names = _class_names(listed, highest, classes)
    for stem, _, mask in pairs:
        if mask.max() >= len(names):
            found = np.unique(mask)
            hint = " (0/255 looks like a black-and-white mask: save the object as 1)" if set(found) <= {0, 255} else ""
            problems.append(f"mask {stem} holds values {found[found >= len(names)][:5].tolist()} but there are "
                            f"{len(names)} classes (ids 0..{len(names) - 1}){hint}")
    if problems:
        _raise_problems(problems, source)
    height, width = _common_size(pairs, size, notes)
    images, masks = _stack(pairs, height, width)
    return _split(images, masks, val_fraction, seed, source, names, notes, tuple(skipped))


def load_mask_archive(archive: Path | str | bytes | BinaryIO, *, name: str = "the archive", **options) -> MaskDataset:
    """A zip of images/ and masks/ unpacked safely (safe_extract) into a temporary folder, then read."""
    with tempfile.TemporaryDirectory(prefix="cvlab-masks-") as scratch:
        safe_extract(archive, Path(scratch) / "data")
        return read_mask_folder(Path(scratch) / "data", source=name, **options)


def load_mask_dataset(source: str = "shapes", **options) -> MaskDataset:
    """``"shapes"`` (the generator), a ``.zip`` path or a folder path."""
    if source == "shapes":
        return shapes_mask_dataset(**options)
    path = Path(source).expanduser()
    if path.is_file() and path.suffix.lower() == ".zip":
        return load_mask_archive(path, name=path.name, **options)
    if path.is_dir():
        return read_mask_folder(path, **options)
    raise InvalidInput(f"{source!r} is neither 'shapes', a .zip file nor a folder of images/ and masks/.")
