"""Turn untrusted image bytes into an 8-bit RGB array, or a BadImage that says what to do.

Every image in the lab, sample or upload, goes through ``decode_image``. The order
of the checks is the point: the byte size, then the header (format, width,
height) read without decoding a pixel, then the pixel limit, and only then the
decode. A 50 kB PNG can claim 20000 x 20000 pixels (1.2 GB once decoded); it is
refused from its header. Pillow's own DecompressionBombError fires only above
twice ``Image.MAX_IMAGE_PIXELS`` (about 179 million), so we set our own limit
(``Settings.max_image_pixels``).

What comes out is always (H, W, 3) uint8 RGB, upright (EXIF orientation
applied), with a note for every change made on the way: 16-bit or float scaled
to 8 bits, transparency flattened on white, CMYK or grayscale converted, the
first frame of an animation taken, a resize to fit ``max_side``.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from cvlab.errors import InvalidInput
from cvlab.settings import Settings, get_settings

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # 20 MB: a 48-megapixel phone JPEG is about 12 MB
MIN_IMAGE_SIDE = 8  # px: a 3x3 kernel, a stride and a pooling step need something to work on
# Pillow's format names (JPEG includes phones' multi-picture MPO); no EPS (it runs
# Ghostscript), PSD, ICO or the rest of Pillow's zoo.
ALLOWED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
UPLOAD_TYPES = ("png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp")  # file name endings
# What a file's name promises: datasets read by other decoders (OpenCV in ultralytics) or kept lossless
# (masks) open a file only as the format its ending names, never as whatever its bytes turn out to be.
SUFFIX_FORMATS = {".png": ("PNG",), ".jpg": ("JPEG",), ".jpeg": ("JPEG",), ".bmp": ("BMP",), ".gif": ("GIF",),
                  ".tif": ("TIFF",), ".tiff": ("TIFF",), ".webp": ("WEBP",)}
_FORMATS_IN_WORDS = "PNG, JPEG, BMP, GIF, TIFF or WebP"
_ORIENTATION_TAG = 0x0112  # EXIF: 1 is upright, 2-8 mirror and/or rotate


class BadImage(InvalidInput):
    """An image that cannot be used; the message names the file, the problem and the fix."""


def pixels_hash(pixels: np.ndarray) -> str:
    """A short content hash of an array: its bytes, shape and dtype (the same bytes as 2x6 and 3x4 differ).

    Caches key on it rather than on the array object; a LoadedImage carries its own as ``content_hash``.
    """
    data = np.ascontiguousarray(pixels)
    digest = hashlib.sha256(f"{data.shape}{data.dtype.str}".encode())
    digest.update(memoryview(data).cast("B"))  # no copy; SHA-256 runs on the CPU's SHA instructions: 1.6 ms for
    return digest.hexdigest()[:24]  # a 1080x810 photo, where BLAKE2b over a copy of its bytes took 4


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == has no single truth value
class LoadedImage:
    """A decoded image and how it got that way; plain data, no live PIL object."""

    pixels: np.ndarray  # (H, W, 3) uint8 RGB, read-only: copy it before changing it in place
    name: str  # the sample's name or the uploaded file's name
    source: str  # the package that ships a sample ("scikit-image"), or "upload" / "camera"
    original_size: tuple[int, int]  # (width, height) in px as stored in the file
    original_mode: str  # Pillow's mode in the file: "RGB", "L", "I;16", "CMYK", "RGBA", "P"...
    original_format: str  # "PNG", "JPEG"...
    notes: tuple[str, ...] = ()  # every change made on the way, in words
    title: str = ""  # a sample's human title; empty for uploads
    credit: str = ""  # licence or credit line of a sample
    content_hash: str = field(init=False)  # pixels_hash(pixels), computed once: caches key on it every rerun

    def __post_init__(self) -> None:
        object.__setattr__(self, "content_hash", pixels_hash(self.pixels))

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def caption(self) -> str:
        """One line for under a picker: what, where from, size, credit, notes."""
        parts = [self.title or self.name, self.source, f"{self.width}×{self.height} px"]
        parts += [self.credit] if self.credit else []
        return " · ".join(parts + list(self.notes))


def decode_image(
    data: bytes,
    name: str,
    *,
    settings: Settings | None = None,
    max_side: int | None = None,
    source: str = "upload",
    draft: tuple[int, int] | None = None,
) -> LoadedImage:
    """Decode image file bytes safely into a LoadedImage; raise BadImage for anything unusable.

    ``max_side`` (px) shrinks the image, keeping its aspect, until its longest side fits.
    ``draft`` (width, height) lets a JPEG decode at the smallest 1/2, 1/4 or 1/8 scale that
    still covers that size, for a caller that resizes it there itself.
    """
    if max_side is not None and max_side < MIN_IMAGE_SIDE:
        raise InvalidInput(f"max_side={max_side} px is below the smallest usable side, {MIN_IMAGE_SIDE} px.")
    settings = settings or get_settings()
    shown = _short(name)
    _check_bytes(len(data), shown)
    image = _open_header(data, shown)
    stored, mode = image.size, image.mode  # as the file has them; a JPEG draft may decode it smaller
    _check_dimensions(stored, shown, settings.max_image_pixels)
    notes: list[str] = []
    if getattr(image, "is_animated", False):  # is_animated stops at frame 2; n_frames would scan all
        kind = "multi-picture JPEG" if image.format == "MPO" else "animated or multi-page"
        notes.append(f"{kind}: the first frame is used")
    if _has_16_bit_colour(image):  # Pillow keeps the 8 high bits of each channel as it decodes
        notes.append("16-bit colour: each channel kept to its 8 high bits")
    if max_side is not None or draft is not None:  # a JPEG decodes at 1/2, 1/4 or 1/8 scale if that covers it
        image.draft(None, draft or (max_side, max_side))
    _decode_pixels(image, shown)
    target = draft or ((max_side, max_side) if max_side is not None else None)
    image = _reduce_early(image, target)
    upright = _apply_orientation(image, notes)
    rgb = _to_rgb(upright, notes)
    rgb = _fit(rgb, max_side, notes, stored)
    pixels = np.array(rgb, dtype=np.uint8)  # a fresh (H, W, 3) copy owned by us
    pixels.flags.writeable = False  # cached and shared between reruns: nobody may edit it
    return LoadedImage(pixels, name, source, stored, mode, image.format or "?", tuple(notes))


def image_header(path: Path, shown: str | None = None, *, settings: Settings | None = None,
                 formats: tuple[str, ...] = ALLOWED_FORMATS) -> tuple[str, tuple[int, int]]:
    """(format, (width, height)) of an image file from its header alone, under ``decode_image``'s limits
    (bytes, format, pixels), so a whole dataset can be checked before any of it is decoded."""
    settings = settings or get_settings()
    shown = _short(shown or Path(path).name)
    _check_bytes(Path(path).stat().st_size, shown)
    try:
        with Image.open(path, formats=formats) as image:
            found, size = image.format or "?", image.size
    except Image.DecompressionBombError as err:
        raise _bomb(err, shown) from None
    except Exception:  # UnidentifiedImageError, or OSError / SyntaxError from a broken header
        with open(path, "rb") as handle:
            head = handle.read(4096)
        raise BadImage(f"'{shown}' is not a {_in_words(formats)} image ({_looks_like(head)}). "
                       f"Save it as {_in_words(formats)} and upload it again.") from None
    _check_dimensions(size, shown, settings.max_image_pixels)
    return found, size


def _in_words(formats: tuple[str, ...]) -> str:
    names = [{"WEBP": "WebP"}.get(f, f) for f in formats]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _short(name: str) -> str:
    name = str(name) or "the file"
    return name if len(name) <= 60 else name[:57] + "..."


def _check_bytes(count: int, shown: str) -> None:
    if not count:
        raise BadImage(f"'{shown}' is empty (0 bytes). Choose the file again, or pick a sample photo.")
    if count > MAX_IMAGE_BYTES:
        raise BadImage(
            f"'{shown}' is {count / 2**20:.1f} MB; the limit is {MAX_IMAGE_BYTES // 2**20} MB. "
            "Save a smaller copy (a JPEG of a few megapixels is plenty) and upload that."
        )


def _open_header(data: bytes, shown: str) -> Image.Image:
    """Read format, size and mode from the header only; no pixel is decoded here."""
    try:
        return Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as err:  # Pillow's own, far higher limit
        raise _bomb(err, shown) from None
    except Exception:  # UnidentifiedImageError, or OSError / SyntaxError from a broken header
        raise BadImage(
            f"'{shown}' is not a {_FORMATS_IN_WORDS} image ({_looks_like(data)}). "
            "Upload a photo in one of those formats, or pick a sample photo."
        ) from None


def _bomb(err: Exception, shown: str) -> BadImage:
    found = re.search(r"\((\d+) pixels\)", str(err))
    count = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    return BadImage(f"'{shown}' claims {count}, far beyond what this lab decodes. "
                    "Shrink it to a few megapixels and upload it again.")


def _looks_like(data: bytes) -> str:
    """A guess at what a non-image upload is, so the message can say so."""
    head = data[:4096]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "it looks like a ZIP archive"
    if head.startswith(b"%PDF"):
        return "it looks like a PDF document"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "it looks like a HEIC/AVIF photo: export it as JPEG first"
    if head.lstrip().startswith((b"<?xml", b"<svg")):
        return "it looks like SVG/XML: export a PNG instead"
    if head.startswith((b"\xff\xd8", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")):
        return "its header is damaged or cut short"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "it looks like text"
        except UnicodeDecodeError:
            pass
    return "its format is none of these"


def _check_dimensions(size: tuple[int, int], shown: str, max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise BadImage(
            f"'{shown}' is {width}×{height} = {width * height:,} pixels; the limit is "
            f"{max_pixels:,} pixels (CVLAB_MAX_IMAGE_PIXELS). Shrink it below that and upload it again."
        )
    if min(width, height) < MIN_IMAGE_SIDE:
        raise BadImage(
            f"'{shown}' is only {width}×{height} px; a convolution needs at least "
            f"{MIN_IMAGE_SIDE} px on each side. Upload a bigger image, or pick a sample photo."
        )


def _decode_pixels(image: Image.Image, shown: str) -> None:
    """Decode now, inside a try: a cut-off file fails here, not later on a page."""
    try:
        image.load()
    except Exception as err:  # OSError "image file is truncated", zlib/struct errors, EOFError...
        raise BadImage(
            f"'{shown}' is damaged or cut short ({type(err).__name__}: {err}). "
            "Download or export it again and upload the complete file."
        ) from None


_REDUCIBLE = ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK")  # the modes Pillow's box reduce takes


def _reduce_early(image: Image.Image, target: tuple[int, int] | None) -> Image.Image:
    """A box-reduced copy by the whole factor that still leaves 3x the target (in either orientation), taken
    before colour conversion: a 36-megapixel grayscale PNG read for 64 px is never widened to RGB at full
    size. Pillow's own ``resize(reducing_gap=3)`` takes the same step, only after the conversion."""
    if target is None or image.mode not in _REDUCIBLE:
        return image
    width, height = image.size
    factor = int(min(width / target[0], height / target[1], width / target[1], height / target[0]) / 3)
    return image.reduce(factor) if factor >= 2 else image


def _has_16_bit_colour(image: Image.Image) -> bool:
    """A 48- or 64-bit colour file, which Pillow opens as 8-bit RGB(A): its decoder's raw mode tells."""
    return image.mode in ("RGB", "RGBA") and any(";16" in str(tile.args) for tile in image.tile or ())


def _apply_orientation(image: Image.Image, notes: list[str]) -> Image.Image:
    """Rotate as the camera meant (phones store sideways pixels plus an EXIF tag)."""
    try:
        orientation = image.getexif().get(_ORIENTATION_TAG, 1)
        upright = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block is no reason to refuse the pixels
        notes.append("EXIF orientation unreadable: shown as stored")
        return image
    if orientation not in (1, None):
        notes.append(f"turned upright from EXIF orientation {orientation}")
    return upright


_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _to_rgb(image: Image.Image, notes: list[str]) -> Image.Image:
    """Any Pillow mode to 8-bit RGB, with a note for every change that alters the pixels."""
    mode = image.mode
    if mode in _WIDE_MODES:
        image = _wide_to_8bit(image, notes)  # now mode "L"
    if image.has_transparency_data:
        return _flatten_on_white(image, mode, notes)
    if image.mode == "RGB":
        return image
    if image.mode == "L" and mode not in _WIDE_MODES:
        notes.append("grayscale: copied to 3 channels")
    elif mode == "CMYK":
        notes.append("CMYK converted to RGB (approximate colours: no colour profile applied)")
    elif mode == "P":
        notes.append("palette colours expanded to RGB")
    elif mode not in _WIDE_MODES:
        notes.append(f"converted from {mode} to RGB")
    try:
        return image.convert("RGB")
    except ValueError:  # a mode Pillow cannot convert, e.g. LAB
        raise BadImage(
            f"Colour mode {mode} cannot be converted to RGB here. Save the image as an RGB PNG or JPEG."
        ) from None


def _wide_to_8bit(image: Image.Image, notes: list[str]) -> Image.Image:
    """16-bit, 32-bit integer or float grayscale to 8 bits, scaling the range (not clipping it).

    float32 and in place: 4 bytes a pixel beside the source, not the five float64
    temporaries (~34 bytes a pixel) of the straightforward expression.
    """
    values = np.array(image, dtype=np.float32)  # (H, W), our own writable copy
    np.nan_to_num(values, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if image.mode.startswith("I;16") or (image.mode == "I" and 255 < high <= 65535 and low >= 0):
        values /= 257.0  # 65535 / 257 = 255 exactly
        how = "scaled 0-65535 to 0-255"
    elif image.mode == "I" and 0 <= low and high <= 255:
        how = "values already 0-255"
    elif image.mode == "F" and 0 <= low and high <= 1:
        values *= 255.0
        how = "scaled 0-1 to 0-255"
    else:
        values -= low
        values *= 255.0 / (high - low or 1.0)  # a flat image stays flat instead of dividing by zero
        how = f"stretched {low:g}..{high:g} to 0-255"
    notes.append(f"{_describe_wide(image.mode)} converted to 8 bits ({how})")
    np.rint(values, out=values)
    np.clip(values, 0, 255, out=values)
    return Image.fromarray(values.astype(np.uint8))


def _describe_wide(mode: str) -> str:
    if mode.startswith("I;16"):
        return f"16-bit grayscale ({mode})"
    return "32-bit integer grayscale (I)" if mode == "I" else "floating-point grayscale (F)"


def _flatten_on_white(image: Image.Image, mode: str, notes: list[str]) -> Image.Image:
    """Composite onto white: a model sees no alpha, and black behind a logo hides it."""
    rgba = image.convert("RGBA")
    if rgba.getextrema()[3][0] == 255:
        notes.append(f"{mode}: alpha channel fully opaque, dropped")
        return rgba.convert("RGB")
    notes.append(f"converted from {mode}: transparency flattened on white")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _fit(image: Image.Image, max_side: int | None, notes: list[str], stored: tuple[int, int]) -> Image.Image:
    """Shrink (never enlarge) so the longest side is at most ``max_side`` px, keeping the aspect.

    The note gives the size stored in the file, also where the JPEG decoder already shrank it.
    """
    if max_side is None:
        return image
    drawn = _turned(image.size, stored)
    width, height = image.size
    if max(width, height) > max_side:
        scale = max_side / max(width, height)
        new_size = (max(MIN_IMAGE_SIDE, round(width * scale)), max(MIN_IMAGE_SIDE, round(height * scale)))
        # reducing_gap: a fast box-reduce first, then Lanczos on the last factor of ~3
        image = image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if image.size != drawn:
        notes.append(f"resized from {drawn[0]}×{drawn[1]} to {image.size[0]}×{image.size[1]} to fit {max_side} px")
    return image


def _turned(size: tuple[int, int], stored: tuple[int, int]) -> tuple[int, int]:
    """The stored (width, height) in the orientation of ``size`` (EXIF may have turned the image)."""
    same = (size[0] >= size[1]) == (stored[0] >= stored[1])
    return stored if same else (stored[1], stored[0])
