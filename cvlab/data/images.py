"""Images for every page: sample photos shipped inside installed packages, uploads, and conversions.

The samples are real photos that pip already put on disk (scikit-image's
``skimage/data``, scikit-learn's ``sklearn/datasets/images``, ultralytics'
``ultralytics/assets``), so they work on an air-gapped lab machine. Their files
are found with ``importlib.util.find_spec`` and read directly: nothing is
imported (ultralytics writes settings files on import, scikit-learn takes a
second), nothing downloads, and a sample goes through the same ``decode_image``
as an upload. A sample whose package is missing stays listed in SAMPLE_IMAGES
but is not ``available``; loading it says which package to install.

Usage::

    image = load_sample("chelsea", max_side=512)  # LoadedImage, pixels (H, W, 3) uint8
    image = decode_image(uploaded_bytes, "photo.jpg", max_side=1024)  # or BadImage
    gray = to_grayscale(image.pixels)  # (H, W) float32 in [0, 1]
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cvlab.data.image_decoding import (
    ALLOWED_FORMATS,
    MAX_IMAGE_BYTES,
    MIN_IMAGE_SIDE,
    UPLOAD_TYPES,
    BadImage,
    LoadedImage,
    decode_image,
    pixels_hash,
)
from cvlab.errors import CvlabError, InvalidInput
from cvlab.registry import Registry
from cvlab.settings import Settings

__all__ = [  # this module is the public face; the decoding itself lives in image_decoding.py
    "ALLOWED_FORMATS", "MAX_IMAGE_BYTES", "MIN_IMAGE_SIDE", "UPLOAD_TYPES", "BadImage", "LoadedImage",
    "decode_image", "SampleImage", "SampleUnavailable", "SAMPLE_IMAGES", "DEFAULT_SAMPLE",
    "available_samples", "load_sample", "LUMA_BT601", "to_float", "to_grayscale", "pixels_hash",
]


class SampleUnavailable(CvlabError, LookupError):
    """A registered sample whose package (and so its file) is not installed here."""


@dataclass(frozen=True)
class SampleImage:
    """One photo shipped inside an installed package, with where it came from."""

    name: str  # registry key, also the ?img= value in the address bar
    title: str  # what the photo shows, for captions
    package: str  # the pip distribution that ships the file
    module: str  # its import name; located with find_spec, never imported
    path: str  # the file, relative to the module's folder
    credit: str  # licence and author as the package documents them

    @property
    def file(self) -> Path | None:
        """The photo on disk, or None when its package (or the file) is missing."""
        folder = _package_folder(self.module)
        found = folder / self.path if folder else None
        return found if found and found.is_file() else None

    @property
    def available(self) -> bool:
        return self.file is not None

    def load(self, *, max_side: int | None = None, settings: Settings | None = None) -> LoadedImage:
        """Decode the photo, through the same checks as an upload."""
        file = self.file
        if file is None:
            raise SampleUnavailable(
                f"Sample photo {self.name!r} ships with the {self.package} package, which is not "
                f"installed here: run `pip install {self.package}`, or choose another sample "
                f"({', '.join(available_samples())})."
            )
        image = decode_image(
            file.read_bytes(), self.name, settings=settings, max_side=max_side, source=self.package
        )
        return dataclasses.replace(image, title=self.title, credit=self.credit)


@functools.lru_cache(maxsize=None)
def _package_folder(module: str) -> Path | None:
    """Where a top-level package is installed, without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


SAMPLE_IMAGES: Registry[SampleImage] = Registry("sample photo")


def _register(name: str, title: str, package: str, module: str, path: str, credit: str) -> None:
    SAMPLE_IMAGES.register(name, SampleImage(name, title, package, module, path, credit))


# scikit-image: only the files bundled in its wheel (the rest of skimage.data needs pooch and a network).
_SKIMAGE = ("scikit-image", "skimage")
_register("chelsea", "Chelsea the cat", *_SKIMAGE, "data/chelsea.png", "CC0, Stefan van der Walt")
_register("coffee", "Coffee cup", *_SKIMAGE, "data/coffee.png", "CC0, Rachel Michetti")
_register("astronaut", "Astronaut Eileen Collins", *_SKIMAGE, "data/astronaut.png", "public domain, NASA")
_register("camera", "Cameraman (grayscale)", *_SKIMAGE, "data/camera.png", "CC0, Lav Varshney")
_register("rocket", "Falcon 9 launch", *_SKIMAGE, "data/rocket.jpg", "public domain, SpaceX")
_register("motorcycle", "Motorcycle (stereo left view)", *_SKIMAGE, "data/motorcycle_left.png",
          "Middlebury 2014 stereo dataset, Scharstein et al.")
_register("coins", "Greek coins from Pompeii (grayscale)", *_SKIMAGE, "data/coins.png",
          "no known copyright restrictions, Brooklyn Museum")
_register("moon", "Surface of the moon (grayscale)", *_SKIMAGE, "data/moon.png", "scikit-image sample data")
_register("hubble", "Hubble eXtreme Deep Field", *_SKIMAGE, "data/hubble_deep_field.jpg",
          "public domain, NASA")
_register("retina", "Human retina (fundus photograph)", *_SKIMAGE, "data/retina.jpg",
          "CC0, Mikael Häggström")
_register("ihc", "Immunohistochemistry stain", *_SKIMAGE, "data/ihc.png",
          "no known copyright restrictions, CMMI")
_register("brick", "Brick wall (grayscale texture)", *_SKIMAGE, "data/brick.png", "CC0, CC0Textures")
_register("grass", "Grass (grayscale texture)", *_SKIMAGE, "data/grass.png", "CC0, linolafett")
_register("gravel", "Gravel (grayscale texture)", *_SKIMAGE, "data/gravel.png", "CC0, CC0Textures")
_register("clock", "Motion-blurred clock (grayscale)", *_SKIMAGE, "data/clock_motion.png",
          "public domain, Stefan van der Walt")
# scikit-learn's two sample photos (what load_sample_image reads, without importing sklearn).
_register("china", "Chinese temple", "scikit-learn", "sklearn", "datasets/images/china.jpg",
          "CC BY 2.0, danielbuechele on Flickr")
_register("flower", "Flower", "scikit-learn", "sklearn", "datasets/images/flower.jpg",
          "CC BY 2.0, vultilion on Flickr")
# ultralytics' two demo photos, the ones its YOLO examples detect people and a bus in.
_register("bus", "Bus and pedestrians", "ultralytics", "ultralytics", "assets/bus.jpg",
          "Ultralytics demo image (licence not stated)")
_register("zidane", "Zidane and a colleague", "ultralytics", "ultralytics", "assets/zidane.jpg",
          "Ultralytics demo image (licence not stated)")

DEFAULT_SAMPLE = "chelsea"  # small (451x300), colourful, and an ImageNet class (tabby cat)


def available_samples() -> list[str]:
    """Names of the samples whose files are on this machine, in registry order."""
    return [name for name, sample in SAMPLE_IMAGES.items() if sample.available]


def load_sample(name: str, max_side: int | None = None, *, settings: Settings | None = None) -> LoadedImage:
    """A sample photo by name, as a LoadedImage; UnknownName lists every sample."""
    return SAMPLE_IMAGES.get(name).load(max_side=max_side, settings=settings)


# ITU-R BT.601 luma weights (as Pillow's convert("L") and most CV textbooks use)
LUMA_BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 0..1, same shape; float input is taken as already 0..1."""
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / np.float32(255)
    if np.issubdtype(pixels.dtype, np.floating):
        return pixels.astype(np.float32)
    raise InvalidInput(
        f"Expected uint8 (0-255) or float (0-1) pixels, got {pixels.dtype}: "
        "decode the image with cvlab.data.images.decode_image first."
    )


def to_grayscale(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB or (H, W) gray -> (H, W) float32 luma in [0, 1] (ITU-R BT.601 weights)."""
    values = to_float(pixels)
    if values.ndim == 2:
        return values
    if values.ndim == 3 and values.shape[2] == 3:
        return values @ LUMA_BT601  # (H, W, 3) @ (3,) -> (H, W)
    raise InvalidInput(
        f"Expected an (H, W, 3) RGB or (H, W) gray image, got shape {tuple(values.shape)}."
    )
