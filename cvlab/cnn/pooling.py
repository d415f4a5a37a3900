"""Pooling by hand: max, average and global average on a feature map, the translation-invariance claim measured,
and the lecture's reason for GAP heads in parameters.

Feature maps are numpy arrays, (H, W) or (H, W, C) with each channel pooled on its own; torch's
F.max_pool2d / F.avg_pool2d do the work (float64), and cvlab.sizes.arithmetic gives, and checks, every size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cvlab.sizes import arithmetic as shapes
from cvlab.errors import InvalidInput

POOL_KINDS = ("max", "avg")


def _as_feature(feature: np.ndarray) -> np.ndarray:
    array = np.asarray(feature, dtype=np.float64)
    if array.ndim not in (2, 3) or min(array.shape) < 1:
        raise InvalidInput(f"Expected a feature map of shape (H, W) or (H, W, C), got {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise InvalidInput("The feature map holds NaN or infinite values; pool finite numbers only.")
    return array


def pool(feature: np.ndarray, kind: str, kernel_size: int, stride: int | None = None, padding: int = 0) -> np.ndarray:
    """nn.MaxPool2d / nn.AvgPool2d (PyTorch defaults: stride = kernel_size, padding counted in averages).

    Returns (H', W') or (H', W', C) with H', W' from cvlab.sizes.arithmetic, which raises InvalidLayer
    for settings PyTorch rejects (padding above half the kernel, a window larger than the input).
    """
    if kind not in POOL_KINDS:
        raise InvalidInput(f"Unknown pooling {kind!r}. Choose one of: {', '.join(POOL_KINDS)}.")
    x = _as_feature(feature)
    size = shapes.pool_output_size if kind == "max" else shapes.avg_pool_output_size
    out_h, out_w = (size(n, kernel_size, stride, padding) for n in x.shape[:2])
    tensor = torch.from_numpy(np.ascontiguousarray(np.atleast_3d(x).transpose(2, 0, 1)))  # (C, H, W)
    step = kernel_size if stride is None else stride
    op = F.max_pool2d if kind == "max" else F.avg_pool2d
    pooled = op(tensor, kernel_size, step, padding)  # (C, H', W')
    assert pooled.shape[1:] == (out_h, out_w), "torch and cvlab.sizes.arithmetic disagree on the pooled size"
    return pooled[0].numpy() if x.ndim == 2 else pooled.permute(1, 2, 0).numpy()


def global_average(feature: np.ndarray) -> float | np.ndarray:
    """nn.AdaptiveAvgPool2d((1, 1)): the mean of each channel; a float for (H, W), (C,) for (H, W, C)."""
    x = _as_feature(feature)
    return float(x.mean()) if x.ndim == 2 else x.mean(axis=(0, 1))


@dataclass(frozen=True)
class PoolingComparison:
    feature: np.ndarray  # (H, W) the map that was pooled
    max_pooled: np.ndarray  # (H', W')
    avg_pooled: np.ndarray  # (H', W'): same size as max_pooled
    gap: float  # the whole map's mean
    kernel_size: int
    stride: int
    padding: int


def compare_pooling(feature: np.ndarray, kernel_size: int = 2, stride: int | None = None,
                    padding: int = 0) -> PoolingComparison:
    """Max, average and global average pooling of one (H, W) map with the same window."""
    x = _as_feature(feature)
    if x.ndim != 2:
        raise InvalidInput(f"Compare pooling on one (H, W) map, got shape {x.shape}; pick one channel.")
    return PoolingComparison(x, pool(x, "max", kernel_size, stride, padding), pool(x, "avg", kernel_size, stride,
                             padding), global_average(x), kernel_size, kernel_size if stride is None else stride,
                             padding)


# ---- translation invariance, measured -----------------------------------------------------------


@dataclass(frozen=True)
class TranslationInvariance:
    """How much each representation changes when the content moves by ``shift`` pixels.

    A change is mean |before - after| / mean |before| over the compared values (0 = unchanged,
    1 = as large as the values themselves). ``*_unchanged`` is the fraction of values that stayed
    the same (to 1e-9 of the map's largest magnitude); GAP is one number, so it has none.
    """

    shift: tuple[int, int]  # (dy, dx) pixels
    kernel_size: int  # pooling window, pixels
    stride: int
    compared_shape: tuple[int, int]  # (H - dy, W - dx): the region both views cover
    raw_change: float  # the feature map itself, unpooled
    max_change: float
    avg_change: float
    gap_change: float
    raw_unchanged: float
    max_unchanged: float
    avg_unchanged: float

    def rows(self) -> list[tuple[str, float, float | None]]:
        """(label, change, fraction unchanged) for raw, max, avg and GAP, in that order."""
        return [("feature map (no pooling)", self.raw_change, self.raw_unchanged),
                (f"max pool {self.kernel_size}x{self.kernel_size}", self.max_change, self.max_unchanged),
                (f"avg pool {self.kernel_size}x{self.kernel_size}", self.avg_change, self.avg_unchanged),
                ("global average (GAP)", self.gap_change, None)]


def _relative_change(before: np.ndarray, after: np.ndarray) -> float:
    diff, scale = float(np.mean(np.abs(after - before))), float(np.mean(np.abs(before)))
    if scale == 0:
        return 0.0 if diff == 0 else float("inf")
    return diff / scale


def _unchanged(before: np.ndarray, after: np.ndarray, tolerance: float) -> float:
    return float(np.mean(np.abs(after - before) <= tolerance))


def translation_invariance(feature: np.ndarray, *, kernel_size: int = 2, stride: int | None = None,
                           shift_px: int | tuple[int, int] = 1) -> TranslationInvariance:
    """Move the content of ``feature`` by ``shift_px`` pixels, pool before and after, and compare.

    The shift is a crop, not np.roll: "before" is feature[:H-dy, :W-dx] and "after" is
    feature[dy:, dx:], the same scene seen by a camera moved dy down and dx right, so no
    pixel wraps around from the other edge. An int shifts horizontally; (dy, dx) both ways.
    Every representation is computed on the two crops, so all compare the same region.
    """
    x = _as_feature(feature)
    dy, dx = (0, shift_px) if isinstance(shift_px, (int, np.integer)) else shift_px
    if min(dy, dx) < 0 or dy >= x.shape[0] or dx >= x.shape[1]:
        raise InvalidInput(f"shift_px must be between 0 and the map's size minus 1 ({x.shape[0] - 1} down, "
                           f"{x.shape[1] - 1} across), got {(dy, dx)}.")
    before, after = x[:x.shape[0] - dy, :x.shape[1] - dx], x[dy:, dx:]
    tolerance = 1e-9 * max(float(np.abs(x).max()), 1e-300)
    pooled = {kind: (pool(before, kind, kernel_size, stride), pool(after, kind, kernel_size, stride))
              for kind in POOL_KINDS}
    return TranslationInvariance(
        (int(dy), int(dx)), kernel_size, kernel_size if stride is None else stride, before.shape[:2],
        _relative_change(before, after), _relative_change(*pooled["max"]), _relative_change(*pooled["avg"]),
        _relative_change(np.atleast_1d(global_average(before)), np.atleast_1d(global_average(after))),
        _unchanged(before, after, tolerance), _unchanged(*pooled["max"], tolerance),
        _unchanged(*pooled["avg"], tolerance))


# ---- the lecture's reason for GAP: the classifier head's parameters -----------------------------


@dataclass(frozen=True)
class HeadParams:
    feature_shape: tuple[int, int, int]  # (H, W, C) of the last feature map
    classes: int
    flatten_fc_params: int  # flatten to H*W*C features, then Linear(H*W*C, classes)
    gap_fc_params: int  # GAP to C features, then Linear(C, classes)
    ratio: float  # flatten_fc_params / gap_fc_params: about H*W


def head_params(height: int = 7, width: int = 7, channels: int = 512, classes: int = 1000) -> HeadParams:
    """Classifier-head parameters with and without GAP; the defaults are the lecture's 7x7x512 -> 1000 classes."""
    flat = shapes.linear_params(height * width * channels, classes)
    gap = shapes.linear_params(channels, classes)
    return HeadParams((height, width, channels), classes, flat, gap, flat / gap)
