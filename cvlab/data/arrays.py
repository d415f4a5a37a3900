"""A classification dataset as uint8 tensors, and the helpers every loader shares to build one.

The loaders (``shapes`` in ``datasets``, ``digits``, ``cifar``, ``image_folder``) and the dispatching
``datasets`` module all import from here, so none of them imports another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cvlab.errors import InvalidInput

if TYPE_CHECKING:
    import torch

MAX_DATASET_BYTES = 2 * 2**30  # 2 GiB of uint8 pixels: fits a 16 GB GPU with room for the model


class DatasetTooLarge(InvalidInput):
    """The pixels would not fit in memory at the requested image size."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors has no single truth value
class LabelledImages:
    """A whole classification dataset held in memory."""

    name: str  # "shapes", "digits", "cifar10", or the folder/zip name
    class_names: tuple[str, ...]
    train_x: torch.Tensor  # uint8 (N, 3, H, W)
    train_y: torch.Tensor  # int64 (N,)
    val_x: torch.Tensor  # uint8 (M, 3, H, W)
    val_y: torch.Tensor  # int64 (M,)
    note: str = ""  # where it came from / what was skipped, shown to the user

    @property
    def image_size(self) -> int:
        return int(self.train_x.shape[-1])

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per class in each part: {"train": {"circle": 800, ...}, "val": {...}}."""
        return {part: {name: int((y == i).sum()) for i, name in enumerate(self.class_names)}
                for part, y in (("train", self.train_y), ("val", self.val_y))}


def check_memory(n_images: int, image_size: int, what: str) -> None:
    """Refuse before decoding when (n, 3, size, size) uint8 would pass MAX_DATASET_BYTES."""
    needed = n_images * 3 * image_size * image_size
    if needed > MAX_DATASET_BYTES:
        fits_size = int((MAX_DATASET_BYTES / (3 * max(n_images, 1))) ** 0.5)
        fits_count = MAX_DATASET_BYTES // (3 * image_size * image_size)
        raise DatasetTooLarge(
            f"{what}: {n_images:,} images at {image_size}×{image_size} px need {needed / 2**30:.1f} GiB, "
            f"above the {MAX_DATASET_BYTES / 2**30:.0f} GiB limit. Lower the image size to {fits_size} px or "
            f"less, or set a limit of {fits_count:,} images or fewer."
        )


def nhwc_to_tensor(images: np.ndarray):
    """(N, H, W, 3) uint8 numpy -> (N, 3, H, W) uint8 contiguous torch tensor."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


def resize_uint8(x, image_size: int, chunk: int = 1024):
    """(N, C, H, W) uint8 -> (N, C, size, size) uint8, bilinear (antialiased when shrinking).

    Works in chunks so the float copy stays small (60,000 CIFAR images as float would be 2.9 GiB at 64 px).
    """
    import torch
    import torch.nn.functional as F

    if x.shape[-2:] == (image_size, image_size):
        return x
    shrinking = image_size < min(x.shape[-2:])
    parts = [F.interpolate(part.float(), size=(image_size, image_size), mode="bilinear", align_corners=False,
                           antialias=shrinking).round_().clamp_(0, 255).to(torch.uint8)
             for part in x.split(chunk)]
    return torch.cat(parts) if parts else x.new_zeros((0, x.shape[1], image_size, image_size))


def from_arrays(name: str, classes: tuple[str, ...], x, y: np.ndarray, train: np.ndarray, val: np.ndarray,
                note: str) -> LabelledImages:
    """Index a (N, 3, H, W) uint8 tensor and labels into a LabelledImages."""
    import torch

    labels = torch.from_numpy(np.asarray(y, np.int64))
    as_index = lambda idx: torch.from_numpy(np.asarray(idx, np.int64))
    return LabelledImages(name, tuple(classes), x[as_index(train)].contiguous(), labels[as_index(train)],
                          x[as_index(val)].contiguous(), labels[as_index(val)], note)
