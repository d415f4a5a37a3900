"""The loss explorer's numbers: losses over one pixel's probability, a toy mask pair, focal loss on imbalance.

Everything is computed by the registered loss functions themselves (cvlab.segmentation.losses)
on small hand-made tensors, so what the page draws is what training would compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cvlab.errors import InvalidInput
from cvlab.segmentation.losses import LOSSES
from cvlab.segmentation.train import segmentation_metrics

P_MIN, P_MAX = 0.005, 0.995  # log(0) is infinite: the curves stop just short of the ends
BINARY_LOSSES = ("bce", "dice", "iou", "focal")  # cross-entropy is BCE for one channel


def _logit(p: np.ndarray | float) -> torch.Tensor:
    p = torch.as_tensor(p, dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
    return torch.log(p) - torch.log1p(-p)


def _loss(name: str, logits: torch.Tensor, target: torch.Tensor, params: dict[str, float]) -> float:
    return float(LOSSES.get(name).function(logits, target, **params))


@dataclass(frozen=True)
class PixelLossCurve:
    name: str
    display_name: str
    probability: tuple[float, ...]  # the model's p(object) for the pixel
    positive: tuple[float, ...]  # loss when the pixel is object (y = 1)
    negative: tuple[float, ...]  # loss when it is background (y = 0)


def pixel_loss_curves(names: tuple[str, ...] = BINARY_LOSSES, points: int = 101,
                      params: dict[str, dict[str, float]] | None = None) -> list[PixelLossCurve]:
    """Each loss of a one-pixel image as its predicted probability goes from 0 to 1.

    For Dice and IoU a lone pixel is the whole mask, so their smoothing s decides the curve:
    a background pixel has no overlap to earn, only a false positive to avoid.
    """
    if not 3 <= points <= 1001:
        raise InvalidInput(f"points={points}: use 3 to 1001.")
    params = params or {}
    probs = np.linspace(P_MIN, P_MAX, points)
    curves = []
    for name in names:
        entry = LOSSES.get(name)
        values = {}
        for label in (1, 0):
            target = torch.full((1, 1, 1), label, dtype=torch.long)
            values[label] = tuple(_loss(name, _logit(p).view(1, 1, 1, 1), target, params.get(name, {})) for p in probs)
        curves.append(PixelLossCurve(name, entry.display_name, tuple(probs.tolist()), values[1], values[0]))
    return curves


@dataclass(frozen=True, eq=False)  # arrays inside
class ToyPair:
    target: np.ndarray  # (H, W) uint8, 1 inside the true square
    probability: np.ndarray  # (H, W) float32, the prediction's p(object)
    losses: dict[str, float]  # loss name -> value on this pair
    hard_iou: float  # of the thresholded prediction (p > 0.5)
    hard_dice: float


def _square(size: int, x: int, y: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[max(y, 0):max(y + side, 0), max(x, 0):max(x + side, 0)] = 1
    return mask


def toy_pair(size: int = 64, target: tuple[int, int, int] = (16, 16, 24),
             prediction: tuple[int, int, int] = (22, 20, 24),
             confidence: float = 0.9, names: tuple[str, ...] = BINARY_LOSSES) -> ToyPair:
    """A true square and a predicted one, each given as (x, y, side) in px on a size x size image.

    The prediction says p = ``confidence`` inside its square and 1 - confidence outside.
    """
    if not 0.5 < confidence < 1:
        raise InvalidInput(f"confidence={confidence:g}: use a value above 0.5 and below 1.")
    if not 8 <= size <= 512:
        raise InvalidInput(f"size={size}: use 8 to 512 px.")
    truth = _square(size, *target)
    predicted = _square(size, *prediction)
    probability = np.where(predicted == 1, confidence, 1 - confidence).astype(np.float32)
    logits = _logit(probability).float().view(1, 1, size, size)
    target_t = torch.from_numpy(truth).long().view(1, size, size)
    losses = {name: _loss(name, logits, target_t, {}) for name in names}
    metrics = segmentation_metrics(logits, target_t, classes=1)
    return ToyPair(truth, probability, losses, metrics["iou"], metrics["dice"])


@dataclass(frozen=True)
class PixelGroup:
    name: str
    count: int  # pixels in the group
    label: int  # 1 object, 0 background
    probability: float  # the model's p(object) for each of them


# A 100x100 mask with a small object, as a half-trained model sees it: most background is easy.
IMBALANCED_GROUPS = (
    PixelGroup("easy background", 9_000, 0, 0.1),
    PixelGroup("hard background", 300, 0, 0.6),
    PixelGroup("object", 700, 1, 0.4),
)


@dataclass(frozen=True)
class FocalComparison:
    groups: tuple[PixelGroup, ...]
    bce: tuple[float, ...]  # each group's summed loss under BCE
    focal: tuple[float, ...]  # and under focal loss
    alpha: float
    gamma: float

    @staticmethod
    def shares(totals: tuple[float, ...]) -> tuple[float, ...]:
        whole = sum(totals) or 1.0
        return tuple(t / whole for t in totals)


def focal_vs_bce(alpha: float = 0.25, gamma: float = 2.0,
                 groups: tuple[PixelGroup, ...] = IMBALANCED_GROUPS) -> FocalComparison:
    """How much of the total loss each pixel group makes, under BCE and under focal loss."""
    if not (0 <= alpha <= 1 and 0 <= gamma <= 10):
        raise InvalidInput(f"alpha={alpha:g}, gamma={gamma:g}: alpha lies in 0..1 and gamma in 0..10.")
    bce, focal = [], []
    for group in groups:
        logits = _logit(group.probability).view(1, 1, 1, 1)
        target = torch.full((1, 1, 1), group.label, dtype=torch.long)
        bce.append(group.count * _loss("bce", logits, target, {}))
        focal.append(group.count * _loss("focal", logits, target, {"alpha": alpha, "gamma": gamma}))
    return FocalComparison(groups, tuple(bce), tuple(focal), alpha, gamma)
