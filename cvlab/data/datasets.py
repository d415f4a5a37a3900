"""Classification datasets held in memory as uint8 tensors: shapes, digits, CIFAR-10, or your own folder or zip.

Everything becomes one resolution of (N, 3, H, W) uint8, so a trainer can move the
whole dataset to the GPU once and augment there: no DataLoader workers, no decoding
per epoch. uint8 is a quarter of float32's memory; a dataset whose tensors would pass
MAX_DATASET_BYTES is refused up front with the sizes that would fit.

Usage::

    data = load_dataset("digits", image_size=32, seed=0)   # LabelledImages
    data = load_dataset("/path/to/pets.zip", limit=500)    # ImageFolder layout inside
"""

from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from cvlab.data.arrays import (  # noqa: F401  (re-exported: callers load and size datasets from here)
    MAX_DATASET_BYTES, DatasetTooLarge, LabelledImages, check_memory, from_arrays, nhwc_to_tensor, resize_uint8,
)
from cvlab.errors import InvalidInput, UnknownName
from cvlab.registry import Registry
from cvlab.settings import Settings, get_settings

if TYPE_CHECKING:
    import torch

PREVIEW_SIZE = 64  # px: what a page decodes a dataset at to show it; the run's worker builds it at full size
SHAPES_COUNT = 5000  # images in the default shapes dataset (1,000 per class)


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    description: str  # one or two sentences for the page
    default_image_size: int  # px per side when image_size is None
    images: str  # how many, in words
    loader: Callable[..., LabelledImages]  # (image_size, seed, val_fraction, limit, settings)
    mean: tuple[float, float, float] | None = None  # published channel means in [0, 1], when there are some
    std: tuple[float, float, float] | None = None
    # For a page's preview of a generated set: its split from the labels alone, images drawn on demand
    # (image_size, seed, val_fraction, limit) -> PreviewSplit. Without it, the preview loads the set.
    split_only: Callable[..., "PreviewSplit"] | None = None


DATASETS: Registry[DatasetInfo] = Registry("dataset")
FOLDER_IMAGE_SIZE = 64  # px: your own photos, shrunk so a few thousand fit in memory


PREVIEW_TILES = 8  # training images a page shows of a dataset


@dataclass(frozen=True, eq=False)
class DatasetPreview:
    """What a page shows of a dataset before a run: the run's split, counted, and a few of its training images
    (every class in turn) drawn small."""

    name: str
    class_names: tuple[str, ...]
    train_labels: "torch.Tensor"  # int64: the run's training split, in its order
    val_labels: "torch.Tensor"
    tiles: "torch.Tensor"  # uint8 (n, 3, s, s) at shown_size px: training images, each class in turn
    tile_labels: "torch.Tensor"  # int64 (n,)
    shown_size: int  # min(image_size, PREVIEW_SIZE)
    image_size: int  # px the run will train at
    nbytes: int  # what the run's uint8 tensors will take at that size
    note: str

    @functools.cached_property  # the preview is shared by every session and never changed: counted once
    def _counts(self) -> dict[str, dict[str, int]]:
        return {part: {name: int((y == i).sum()) for i, name in enumerate(self.class_names)}
                for part, y in (("train", self.train_labels), ("val", self.val_labels))}

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per class in each part: {"train": {"circle": 800, ...}, "val": {...}}."""
        return {part: dict(per_class) for part, per_class in self._counts.items()}


def preview_dataset(source: str, *, image_size: int | None = None, seed: int = 0, val_fraction: float = 0.2,
                    limit: int | None = None, settings: Settings | None = None) -> DatasetPreview:
    """The run's dataset as a page shows it: its split and PREVIEW_TILES training images at no more than
    PREVIEW_SIZE px (the counts, classes and split do not depend on the size), with the full-size memory check:
    a page never holds 2,700 images of 512 px to draw eight of them. A generated set with ``split_only`` (the
    shapes) is counted from its labels and only the images shown are drawn (all 5,000 took a second and a half)."""
    import torch

    from cvlab.data.splits import preview_indices

    name = str(source).strip()
    info = DATASETS.get(name) if name in DATASETS else None
    size = image_size or (info.default_image_size if info else FOLDER_IMAGE_SIZE)
    shown = min(size, PREVIEW_SIZE)
    if info is not None and info.split_only is not None:
        data = info.split_only(shown, seed, val_fraction, limit)
    else:
        loaded = load_dataset(source, image_size=shown, seed=seed, val_fraction=val_fraction, limit=limit,
                              settings=settings)
        data = PreviewSplit(loaded.name, loaded.class_names, loaded.train_y, loaded.val_y, loaded.note,
                            lambda picked: loaded.train_x[picked].contiguous())
    picked = torch.as_tensor(preview_indices(data.train_y, PREVIEW_TILES), dtype=torch.int64)
    count = len(data.train_y) + len(data.val_y)
    check_memory(count, size, data.name)
    note = data.note.replace(f"{shown} px", f"{size} px")  # the loaders' notes give the size they drew at
    return DatasetPreview(data.name, data.class_names, data.train_y, data.val_y, data.draw(picked),
                          data.train_y[picked], shown, size, count * 3 * size * size, note)


@dataclass(frozen=True)
class PreviewSplit:
    """A dataset's split and a way to get some of its training images: what a preview needs of it."""

    name: str
    class_names: tuple[str, ...]
    train_y: "torch.Tensor"
    val_y: "torch.Tensor"
    note: str
    draw: Callable[["torch.Tensor"], "torch.Tensor"]  # positions in the training split -> uint8 (n, 3, s, s)


def _shapes_labels_only(image_size: int, seed: int, val_fraction: float, limit: int | None) -> PreviewSplit:
    """The split ``_load_shapes`` makes, from the labels alone (image i shows class i % 5)."""
    import numpy as np
    import torch

    from cvlab.data.shapes import SHAPE_CLASSES, shape_labels, shapes_classification
    from cvlab.data.splits import stratified_split

    n = limit or SHAPES_COUNT
    shapes_classification(n, seed, size=image_size, only=[])  # its checks of n, seed and size; draws nothing
    labels = shape_labels(n)
    train, val = stratified_split(labels, val_fraction, seed)
    as_labels = lambda idx: torch.from_numpy(labels[np.asarray(idx, np.int64)])
    train_index = np.asarray(train, np.int64)  # each training image's position in the generated set

    def draw(picked: "torch.Tensor") -> "torch.Tensor":
        images, _, _ = shapes_classification(n, seed, size=image_size, only=train_index[picked.numpy()])
        return nhwc_to_tensor(images)

    return PreviewSplit("shapes", SHAPE_CLASSES, as_labels(train), as_labels(val), _shapes_note(n, seed, image_size),
                        draw)


def _shapes_note(n: int, seed: int, image_size: int) -> str:
    return f"{n:,} synthetic shapes drawn with seed {seed} at {image_size} px"


def _load_shapes(image_size: int, seed: int, val_fraction: float, limit: int | None, settings: Settings):
    from cvlab.data.shapes import shapes_classification
    from cvlab.data.splits import stratified_split

    n = limit or SHAPES_COUNT
    check_memory(n, image_size, "shapes")
    images, labels, classes = shapes_classification(n, seed, size=image_size)
    train, val = stratified_split(labels, val_fraction, seed)
    return from_arrays("shapes", classes, nhwc_to_tensor(images), labels, train, val,
                       _shapes_note(n, seed, image_size))


def _load_digits(image_size, seed, val_fraction, limit, settings):
    from cvlab.data.digits import load_digits_dataset

    return load_digits_dataset(image_size, seed=seed, val_fraction=val_fraction, limit=limit)


def _load_cifar10(image_size, seed, val_fraction, limit, settings):
    from cvlab.data.cifar import load_cifar10

    return load_cifar10(image_size, seed=seed, val_fraction=val_fraction, limit=limit, settings=settings)


DATASETS.register("shapes", DatasetInfo(
    "shapes", "Synthetic shapes", "Circles, squares, triangles, stars and crosses in random colours, sizes, "
    "places and angles on noisy backgrounds; drawn from a seed, so always available offline.",
    32, f"{SHAPES_COUNT:,} drawn (5 classes)", _load_shapes, split_only=_shapes_labels_only))
DATASETS.register("digits", DatasetInfo(
    "digits", "Handwritten digits", "scikit-learn's 1,797 real 8×8 scans of handwritten digits 0-9 "
    "(UCI), enlarged and copied to three channels; ships with scikit-learn, so it works offline.",
    32, "1,797 scans (10 classes)", _load_digits))
DATASETS.register("cifar10", DatasetInfo(
    "cifar10", "CIFAR-10", "60,000 photos of 32×32 px in 10 classes (Krizhevsky 2009): the lecture's "
    "benchmark. Downloaded by torchvision when online, or read from a copy in the data folder.",
    32, "50,000 train + 10,000 test (10 classes)", _load_cifar10,
    mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616)))


def load_dataset(source: str, *, image_size: int | None = None, seed: int = 0, val_fraction: float = 0.2,
                 limit: int | None = None, settings: Settings | None = None) -> LabelledImages:
    """A dataset by name (see DATASETS), or a folder or .zip in ImageFolder layout, as uint8 tensors."""
    from cvlab.data.splits import check_val_fraction

    settings = settings or get_settings()
    check_val_fraction(val_fraction)
    if limit is not None and limit < 1:
        raise InvalidInput(f"limit={limit} must be a positive number of images (or left out for all).")
    if image_size is not None and not 8 <= image_size <= 1024:
        raise InvalidInput(f"Image size {image_size} px is out of range: use 8 to 1024 px.")
    if not isinstance(seed, int) or seed < 0:
        raise InvalidInput(f"The seed must be a whole number 0 or above, got {seed!r}.")
    source = str(source).strip()
    if source in DATASETS:
        info = DATASETS.get(source)
        return info.loader(image_size or info.default_image_size, seed, val_fraction, limit, settings)
    return _load_path(Path(source).expanduser(), image_size or FOLDER_IMAGE_SIZE, seed, val_fraction, limit,
                      settings)


def _load_path(path: Path, image_size: int, seed: int, val_fraction: float, limit: int | None,
               settings: Settings) -> LabelledImages:
    """A folder or zip; one in the upload store is named as the user uploaded it and unpacked into the store
    (once, counted in the uploader's quota)."""
    from cvlab.data.image_folder import load_image_folder
    from cvlab.data.uploads import UploadStore, missing_source

    store = UploadStore(settings)
    shown = store.display_name(path) if store.locate(path) else path.name
    store.mark_used(path)
    if path.is_dir():
        return load_image_folder(path, image_size, seed=seed, val_fraction=val_fraction, limit=limit,
                                 settings=settings, name=shown.rstrip("/") if store.locate(path) else None)
    if path.is_file() and zipfile.is_zipfile(path):
        folder = store.unpacked(path)
        return load_image_folder(folder, image_size, seed=seed, val_fraction=val_fraction, limit=limit,
                                 settings=settings, name=Path(shown).stem)
    if path.exists():
        raise InvalidInput(f"'{shown}' is neither a folder nor a .zip archive. Give a folder in ImageFolder "
                           "layout (dataset/<class name>/<images>) or a .zip of one.")
    if store.locate(path):
        raise InvalidInput(missing_source(str(path), "a folder nor a .zip archive"))
    raise UnknownName(f"Unknown dataset {str(path)!r}: it is none of {', '.join(DATASETS.names())}, and no "
                      "such folder or .zip exists. Check the path, or pick one of the built-in datasets.")
