"""A folder of images/ and masks/ read file by file: every pair checked from its headers, then decoded one
pair at a time straight into arrays of the final size.

Nothing here holds more than one file at its own size: the headers give each file's
format (a mask opens only as the format its name says: a JPEG named .png would blur
class ids, and EPS, PCX or SGI are decoders nobody needs here), its pixel count and
whether image and mask agree, so ``mask_data`` can refuse a set that would not fit in
memory before a pixel is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cvlab.data.image_decoding import SUFFIX_FORMATS, BadImage, decode_image, image_header
from cvlab.errors import InvalidInput

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".gif")  # lossless only: JPEG blurs class ids
MAX_PAIRS = 5000


class InvalidMaskDataset(InvalidInput):
    """A mask dataset with problems; the message lists them and the expected layout."""


def _by_stem(folder: Path, suffixes: tuple[str, ...], kind: str, problems: list[str], skipped: list[str]):
    found: dict[str, Path] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
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


@dataclass(frozen=True)
class Pair:
    stem: str
    image: Path
    mask: Path
    size: tuple[int, int]  # (width, height) from the headers; image and mask agree


def _first_sentence(err: Exception) -> str:
    return str(err).split(". ")[0]


def plan_pairs(root: Path, problems: list[str], skipped: list[str], settings) -> list[Pair]:
    """Every pair checked from its files' headers (format, pixels, matching sizes); nothing is decoded."""
    images = _by_stem(root / "images", IMAGE_SUFFIXES, "image", problems, skipped)
    masks = _by_stem(root / "masks", MASK_SUFFIXES, "mask", problems, skipped)
    for stem in sorted(images.keys() - masks.keys()):
        problems.append(f"image {images[stem].name} has no mask (expected masks/{stem}.png)")
    for stem in sorted(masks.keys() - images.keys()):
        problems.append(f"mask {masks[stem].name} has no image (expected images/{stem}.png or .jpg)")
    stems = sorted(images.keys() & masks.keys())
    if len(stems) > MAX_PAIRS:
        raise InvalidMaskDataset(f"{len(stems)} pairs is more than {MAX_PAIRS}; upload a smaller sample.")
    pairs = []
    for stem in stems:
        image, mask = images[stem], masks[stem]
        try:
            _, image_size = image_header(image, image.name, settings=settings)
            _, mask_size = image_header(mask, f"mask {mask.name}", settings=settings,
                                        formats=SUFFIX_FORMATS[mask.suffix.lower()])
        except (BadImage, OSError) as err:
            problems.append(_first_sentence(err).replace("''mask ", "'mask "))
            continue
        if image_size != mask_size:
            problems.append(f"{stem}: image is {image_size[0]}x{image_size[1]} px but its mask is "
                            f"{mask_size[0]}x{mask_size[1]} px")
            continue
        pairs.append(Pair(stem, image, mask, image_size))
    return pairs


def _read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A mask's class ids as (H, W) uint8 at ``size`` (width, height), nearest-neighbour so ids stay ids."""
    with Image.open(path, formats=SUFFIX_FORMATS[path.suffix.lower()]) as mask:
        values = np.asarray(mask.convert("L") if mask.mode in ("1", "LA") else mask)
    if values.ndim == 3:
        if not (values[..., :3] == values[..., :1]).all():
            raise InvalidInput(f"mask {path.name} is a colour image; save class ids as a grayscale (L) PNG")
        values = values[..., 0]
    if values.dtype.kind == "f" or values.max(initial=0) > 255 or values.min(initial=0) < 0:
        raise InvalidInput(f"mask {path.name} holds values above 255 or fractions; class ids are 0..255")
    values = values.astype(np.uint8)
    if values.shape[::-1] != size:
        values = np.asarray(Image.fromarray(values).resize(size, Image.Resampling.NEAREST))
    return values


def _read_image(pair: Pair, size: tuple[int, int], settings) -> np.ndarray:
    """(H, W, 3) uint8 at ``size`` (width, height); a JPEG is decoded no larger than it needs to be."""
    pixels = decode_image(pair.image.read_bytes(), pair.image.name, settings=settings, draft=size).pixels
    if (pixels.shape[1] >= pixels.shape[0]) != (pair.size[0] >= pair.size[1]) and pair.size[0] != pair.size[1]:
        raise InvalidInput(f"{pair.stem}: the image is turned by its EXIF orientation but its mask is not; save "
                           "the image upright without the orientation tag")
    if pixels.shape[1::-1] != size:
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
    return pixels


def decode_into(pairs: list[Pair], height: int, width: int, problems: list[str], settings):
    """Decode pair after pair straight into (N, H, W, 3) and (N, H, W) uint8 arrays sized up front: at most
    one file is ever held at its own size."""
    images = np.empty((len(pairs), height, width, 3), np.uint8)
    masks = np.empty((len(pairs), height, width), np.uint8)
    for index, pair in enumerate(pairs):
        try:
            images[index] = _read_image(pair, (width, height), settings)
            masks[index] = _read_mask(pair.mask, (width, height))
        except (BadImage, InvalidInput, OSError) as err:
            problems.append(_first_sentence(err))
            masks[index] = 0  # counts as background in the checks that follow, which still run
    return images, masks
