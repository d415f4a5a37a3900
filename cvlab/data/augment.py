"""Data augmentation on whole batches, on whatever device the batch is on, with no per-image Python loop.

A DataLoader augments image by image on CPU workers; here the dataset already sits on the
GPU as uint8, so each transform is a few tensor operations over the batch with one random
draw per sample: random crop after padding (Krizhevsky 2012; the CIFAR ResNet recipe of
He et al. 2016 pads 4 px), horizontal flip, colour jitter (brightness, contrast,
saturation) and cutout (DeVries & Taylor 2017). All draws go through one
``torch.Generator``, so a seeded run sees the same augmented batches again.

Usage::

    aug = get_augmentation("standard")
    x = augment_batch(to_float(x_uint8), aug, generator)  # (B, 3, H, W) float in [0, 1]
    x = normalize(x, mean, std)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cvlab.errors import InvalidInput
from cvlab.registry import Registry

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights, as torchvision's rgb_to_grayscale
PAD_MODES = ("reflect", "zeros")


@dataclass(frozen=True)
class Augmentation:
    crop_padding: int = 4  # px added on each side before a random crop back to the original size; 0 = off
    pad_mode: str = "reflect"  # "reflect" mirrors the edge; "zeros" pads black, as torchvision's RandomCrop
    hflip: bool = True  # mirror left-right with probability 1/2 (wrong for digits or text, fine for objects)
    vflip: bool = False  # mirror top-bottom with probability 1/2 (aerial or microscope images)
    color_jitter: float = 0.0  # 0..1: brightness, contrast and saturation each scaled by U(1-s, 1+s)
    cutout: float = 0.0  # 0..1: side of a square erased to zero, as a fraction of the image side
    title: str = ""  # for menus
    description: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.crop_padding <= 64:
            raise InvalidInput(f"crop_padding={self.crop_padding} px is out of range: use 0 to 64 px.")
        if self.pad_mode not in PAD_MODES:
            raise InvalidInput(f"pad_mode={self.pad_mode!r} is unknown; use one of {', '.join(PAD_MODES)}.")
        if not 0 <= self.color_jitter <= 1:
            raise InvalidInput(f"color_jitter={self.color_jitter} must be between 0 (off) and 1 (strongest).")
        if not 0 <= self.cutout < 1:
            raise InvalidInput(f"cutout={self.cutout} must be a fraction of the image side from 0 (off) to below 1.")

    @property
    def is_identity(self) -> bool:
        return not (self.crop_padding or self.hflip or self.vflip or self.color_jitter or self.cutout)


AUGMENTATIONS: Registry[Augmentation] = Registry("augmentation")
AUGMENTATIONS.register("none", Augmentation(crop_padding=0, hflip=False, title="None",
                                            description="The images as they are: the baseline that overfits first."))
AUGMENTATIONS.register("standard", Augmentation(title="Standard (crop + flip)",
                                                description="Pad 4 px, crop back at a random offset, flip half the "
                                                            "images: the classic CIFAR recipe."))
AUGMENTATIONS.register("strong", Augmentation(color_jitter=0.4, cutout=0.25, title="Strong (+ colour, cutout)",
                                              description="Standard plus colour jitter of ±40 % and a random square "
                                                          "a quarter of the side erased."))


def get_augmentation(name: str) -> Augmentation:
    return AUGMENTATIONS.get(name)


def to_float(x_uint8):
    """uint8 images -> float32 in [0, 1], same shape and device."""
    return x_uint8.float().div_(255)


def normalize(x, mean: Sequence[float], std: Sequence[float]):
    """(x - mean) / std per channel of a (B, C, H, W) batch; mean and std hold C values in [0, 1] units."""
    import torch

    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean_t) / std_t


def channel_stats(x_uint8) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std in [0, 1] units of a (N, C, H, W) uint8 dataset (at most 4,096 images)."""
    sample = to_float(x_uint8[:4096])
    return (tuple(sample.mean(dim=(0, 2, 3)).tolist()),
            tuple(sample.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()))


def dataset_mean_std(data) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The channel mean and std to normalise a LabelledImages with: published ones (CIFAR-10) or measured."""
    from cvlab.data.datasets import DATASETS

    info = DATASETS.get(data.name) if data.name in DATASETS else None
    if info is not None and info.mean is not None and info.std is not None:
        return info.mean, info.std
    return channel_stats(data.train_x)


def _uniform(batch: int, x, generator, low: float = 0.0, high: float = 1.0):
    """(B,) draws from U(low, high) on x's device, through the generator."""
    import torch

    return low + (high - low) * torch.rand(batch, generator=generator, device=x.device, dtype=torch.float32)


def random_crop(x, padding: int, pad_mode: str, generator=None):
    """Pad every side by ``padding`` px, then cut each sample at its own random offset."""
    import torch
    import torch.nn.functional as F

    batch, _, height, width = x.shape
    mode = "reflect" if pad_mode == "reflect" and padding < min(height, width) else "constant"
    padded = F.pad(x, (padding,) * 4, mode=mode)
    top = (_uniform(batch, x, generator) * (2 * padding + 1)).long().clamp_(max=2 * padding)  # (B,)
    left = (_uniform(batch, x, generator) * (2 * padding + 1)).long().clamp_(max=2 * padding)
    rows = (top[:, None] + torch.arange(height, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = (left[:, None] + torch.arange(width, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
    samples = torch.arange(batch, device=x.device)[:, None, None, None]
    channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[samples, channels, rows, cols]  # (B, C, H, W)


def random_flip(x, dim: int, generator=None):
    """Mirror along ``dim`` (3: left-right, 2: top-bottom) for a random half of the batch."""
    import torch

    flip = (_uniform(x.shape[0], x, generator) < 0.5).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(dim), x)


def color_jitter(x, strength: float, generator=None):
    """Scale brightness, contrast and saturation by per-sample factors in [1 - s, 1 + s]; clamp to [0, 1].

    Contrast scales around the image's mean grey and saturation around each pixel's grey,
    as torchvision's ColorJitter (which also shuffles the order; we keep this one).
    """
    batch = x.shape[0]
    factor = lambda: _uniform(batch, x, generator, 1 - strength, 1 + strength).to(x.dtype).view(-1, 1, 1, 1)
    luma = x.new_tensor(LUMA).view(1, 3, 1, 1)
    x = x * factor()
    mean_grey = (x * luma).sum(1, keepdim=True).mean(dim=(2, 3), keepdim=True)
    x = (x - mean_grey) * factor() + mean_grey
    grey = (x * luma).sum(1, keepdim=True)
    x = (x - grey) * factor() + grey
    return x.clamp(0, 1)


def cutout(x, fraction: float, generator=None):
    """Zero a square of side ``fraction`` x image side at a random centre per sample (clipped at the edges)."""
    import torch

    batch, _, height, width = x.shape
    half_h, half_w = fraction * height / 2, fraction * width / 2
    cy = _uniform(batch, x, generator, 0, height).view(-1, 1, 1, 1)
    cx = _uniform(batch, x, generator, 0, width).view(-1, 1, 1, 1)
    ys = torch.arange(height, device=x.device).view(1, 1, -1, 1) + 0.5  # pixel centres
    xs = torch.arange(width, device=x.device).view(1, 1, 1, -1) + 0.5
    erased = ((ys - cy).abs() < half_h) & ((xs - cx).abs() < half_w)  # (B, 1, H, W)
    return x.masked_fill(erased, 0.0)


def augment_batch(x, aug: Augmentation, generator=None):
    """Augment a float (B, 3, H, W) batch in [0, 1] on its own device; the generator must live there too."""
    if x.ndim != 4:
        raise InvalidInput(f"augment_batch needs a (B, C, H, W) batch, got shape {tuple(x.shape)}.")
    if aug.crop_padding:
        x = random_crop(x, aug.crop_padding, aug.pad_mode, generator)
    if aug.hflip:
        x = random_flip(x, 3, generator)
    if aug.vflip:
        x = random_flip(x, 2, generator)
    if aug.color_jitter and x.shape[1] == 3:
        x = color_jitter(x, aug.color_jitter, generator)
    if aug.cutout:
        x = cutout(x, aug.cutout, generator)
    return x


def augment_preview(images_uint8, aug: Augmentation, n: int, seed: int) -> np.ndarray:
    """``n`` augmented images as uint8 (n, H, W, 3) for a preview grid.

    ``images_uint8`` is a uint8 tensor (N, 3, H, W) or numpy array (N, H, W, 3); image
    i % N is augmented for tile i, so one image gives n variants of itself.
    """
    import torch

    if not 1 <= n <= 256:
        raise InvalidInput(f"A preview of {n} images is out of range: use 1 to 256.")
    x = images_uint8 if isinstance(images_uint8, torch.Tensor) else torch.from_numpy(
        np.ascontiguousarray(images_uint8)).permute(0, 3, 1, 2)
    if len(x) == 0:
        raise InvalidInput("There are no images to preview.")
    picked = x[torch.arange(n) % len(x)].cpu()
    generator = torch.Generator().manual_seed(int(seed))
    out = augment_batch(to_float(picked), aug, generator)
    return (out * 255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
