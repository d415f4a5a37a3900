"""The LOSSES registry of segmentation losses, and weighted sums of them written as text.

Every loss takes raw logits ``(N, C, H, W)`` and a mask of class ids ``(N, H, W)``:
``C == 1`` is binary segmentation (sigmoid, class 1 = object), ``C >= 2`` multi-class
(softmax, or one sigmoid per class for BCE and focal loss). The functions are written
from their definitions; the tests hold them against ``torch.nn`` and ``smp.losses``.

A loss spec is a weighted sum, as the lecture writes it::

    segmentation_loss("0.5*bce+0.5*dice")
    segmentation_loss("focal(alpha=0.25,gamma=2) + dice")
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from cvlab.errors import InvalidInput
from cvlab.registry import Registry

EPS = 1e-7  # keeps a Dice or IoU denominator above zero, as smp does


@dataclass(frozen=True)
class LossParam:
    name: str  # keyword of the loss function: "gamma"
    label: str  # for people
    default: float
    low: float
    high: float
    step: float


@dataclass(frozen=True)
class LossEntry:
    name: str  # registry key, also the word in a spec: "dice"
    display_name: str
    symbol: str  # LaTeX symbol in a weighted sum: r"\mathcal{L}_{Dice}"
    latex: str  # the definition, for st.latex
    formula: str  # plain text, for terminals
    use: str
    paper: str  # who introduced it for this use, and when
    note: str
    function: Callable[..., torch.Tensor] = field(repr=False, compare=False)
    params: tuple[LossParam, ...] = ()
    region: bool = False  # compares whole masks (overlap) rather than pixel by pixel

    def facts(self) -> dict:
        """The teaching facts as plain data (everything but the function)."""
        return {"name": self.name, "display_name": self.display_name, "latex": self.latex,
                "formula": self.formula, "use": self.use, "paper": self.paper, "note": self.note,
                "region": self.region,
                "params": {p.name: {"default": p.default, "low": p.low, "high": p.high} for p in self.params}}


LOSSES: Registry[LossEntry] = Registry("loss")


# ---- shared pieces --------------------------------------------------------------------------------


def _check(logits: torch.Tensor, target: torch.Tensor) -> None:
    if logits.ndim != 4 or target.ndim != 3 or logits.shape[0] != target.shape[0] \
            or logits.shape[2:] != target.shape[1:]:
        raise InvalidInput(f"A loss needs logits (N, C, H, W) and a mask (N, H, W) of the same N, H, W; "
                           f"got {tuple(logits.shape)} and {tuple(target.shape)}.")
    classes = max(logits.shape[1], 2)
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= classes):
        raise InvalidInput(f"Mask values must be class ids 0..{classes - 1} for {logits.shape[1]} output "
                           f"channel(s); found {int(target.min())}..{int(target.max())}.")


def probabilities_and_truth(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class probabilities and one-hot truth, both ``(N, C, H*W)`` float.

    Binary (C = 1): sigmoid of the one channel against ``target == 1``; multi-class: softmax
    against the one-hot mask.
    """
    n, channels = logits.shape[:2]
    if channels == 1:
        return torch.sigmoid(logits).reshape(n, 1, -1), target.reshape(n, 1, -1).to(logits.dtype)
    probs = logits.softmax(dim=1).reshape(n, channels, -1)
    truth = F.one_hot(target.reshape(n, -1).long(), channels).permute(0, 2, 1).to(logits.dtype)
    return probs, truth


def _sigmoid_truth(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The 0/1 target of every sigmoid output: the mask itself, or one-hot per class."""
    if logits.shape[1] == 1:
        return target[:, None].to(logits.dtype)
    return F.one_hot(target.long(), logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)


# ---- the losses -----------------------------------------------------------------------------------


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of every sigmoid output (multi-class: one-vs-rest per class)."""
    _check(logits, target)
    return F.binary_cross_entropy_with_logits(logits, _sigmoid_truth(logits, target))


def cross_entropy_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy. With one channel z, the two classes get logits (0, z): softmax
    then gives sigmoid(z) for class 1, so this equals BCE exactly."""
    _check(logits, target)
    if logits.shape[1] == 1:
        logits = torch.cat([torch.zeros_like(logits), logits], dim=1)
    return F.cross_entropy(logits, target.long())


def _overlap(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft intersection and cardinality (sum of p plus sum of y) per class, over the whole batch."""
    _check(logits, target)
    probs, truth = probabilities_and_truth(logits, target)
    intersection = (probs * truth).sum(dim=(0, 2))  # (C,)
    cardinality = probs.sum(dim=(0, 2)) + truth.sum(dim=(0, 2))
    return intersection, cardinality


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft Dice, averaged over classes (the background too, in multi-class)."""
    intersection, cardinality = _overlap(logits, target)
    dice = (2 * intersection + smooth) / (cardinality + smooth).clamp_min(EPS)
    return (1 - dice).mean()


def iou_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft IoU (Jaccard), averaged over classes."""
    intersection, cardinality = _overlap(logits, target)
    union = cardinality - intersection
    return (1 - (intersection + smooth) / (union + smooth).clamp_min(EPS)).mean()


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Sigmoid focal loss (RetinaNet's form), mean over pixels and classes."""
    _check(logits, target)
    truth = _sigmoid_truth(logits, target)
    bce = F.binary_cross_entropy_with_logits(logits, truth, reduction="none")  # -log p_t
    p_t = torch.exp(-bce)
    alpha_t = alpha * truth + (1 - alpha) * (1 - truth)
    return (alpha_t * (1 - p_t).pow(gamma) * bce).mean()


_SMOOTH = LossParam("smooth", "smoothing s", 1.0, 0.0, 10.0, 0.5)

LOSSES.register("bce", LossEntry(
    "bce", "Binary cross-entropy", r"\mathcal{L}_{BCE}",
    r"\mathcal{L}_{BCE} = -\frac{1}{N}\sum_i \big[y_i \log p_i + (1 - y_i)\log(1 - p_i)\big],\quad p_i = \sigma(z_i)",
    "-mean(y*log(p) + (1-y)*log(1-p)), p = sigmoid(z)", "binary masks, multi-label",
    "the classic log loss; torch.nn.BCEWithLogitsLoss",
    "Every pixel counts the same, so a mask that is 2 % object is learnt mostly from background. "
    "With logits it is computed as a log-sum-exp, never log(0).", bce_loss))
LOSSES.register("ce", LossEntry(
    "ce", "Cross-entropy", r"\mathcal{L}_{CE}",
    r"\mathcal{L}_{CE} = -\frac{1}{N}\sum_i \log p_{i, y_i},\quad p_{i,c} = \frac{e^{z_{i,c}}}{\sum_k e^{z_{i,k}}}",
    "-mean(log softmax(z)[y])", "multi-class masks (one class per pixel)",
    "torch.nn.CrossEntropyLoss; the targets are class indices",
    "For two classes it is the same number as BCE: softmax of (0, z) is sigmoid(z).", cross_entropy_loss))
LOSSES.register("dice", LossEntry(
    "dice", "Dice loss", r"\mathcal{L}_{Dice}",
    r"\mathcal{L}_{Dice} = 1 - \frac{2\sum_i p_i y_i + s}{\sum_i p_i + \sum_i y_i + s}",
    "1 - (2*sum(p*y) + s) / (sum(p) + sum(y) + s)", "segmentation with small objects",
    "Milletari et al. (2016), V-Net", "It measures overlap of the whole mask, so a small object weighs as "
    "much as a large background. The smoothing s keeps an empty mask defined (the lecture uses 1e-6).",
    dice_loss, (_SMOOTH,), region=True))
LOSSES.register("iou", LossEntry(
    "iou", "IoU (Jaccard) loss", r"\mathcal{L}_{IoU}",
    r"\mathcal{L}_{IoU} = 1 - \frac{\sum_i p_i y_i + s}{\sum_i p_i + \sum_i y_i - \sum_i p_i y_i + s}",
    "1 - (sum(p*y) + s) / (sum(p) + sum(y) - sum(p*y) + s)", "segmentation; the metric most papers report",
    "Rahman & Wang (2016); Jaccard (1901) for the index", "IoU = Dice / (2 - Dice): the two rank predictions "
    "the same way, IoU punishes a partial overlap harder.", iou_loss, (_SMOOTH,), region=True))
LOSSES.register("focal", LossEntry(
    "focal", "Focal loss", r"\mathcal{L}_{focal}",
    r"\mathcal{L}_{focal} = -\frac{1}{N}\sum_i \alpha_t (1 - p_t)^{\gamma} \log p_t,\quad "
    r"p_t = \begin{cases} p & y = 1 \\ 1 - p & y = 0\end{cases}",
    "-mean(alpha_t * (1-p_t)**gamma * log(p_t))", "class imbalance: many easy background pixels",
    "Lin et al. (2017), RetinaNet", "(1 - p_t)^gamma shrinks the loss of pixels already right, so the hard "
    "ones dominate. gamma = 0 and alpha = 0.5 give half of BCE. RetinaNet's alpha = 0.25 weights the rare "
    "positives down, because gamma already silences the easy negatives.", focal_loss,
    (LossParam("alpha", "alpha (weight of positives)", 0.25, 0.0, 1.0, 0.05),
     LossParam("gamma", "gamma (focusing)", 2.0, 0.0, 5.0, 0.5))))


# ---- weighted sums ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossTerm:
    weight: float
    name: str
    params: tuple[tuple[str, float], ...] = ()  # only those that differ from the defaults

    @property
    def entry(self) -> LossEntry:
        return LOSSES.get(self.name)

    @property
    def label(self) -> str:
        """The term without its weight: ``"focal(gamma=3)"``."""
        args = f"({','.join(f'{k}={v:g}' for k, v in self.params)})" if self.params else ""
        return f"{self.name}{args}"

    def __str__(self) -> str:
        return self.label if self.weight == 1 else f"{self.weight:g}*{self.label}"


@dataclass(frozen=True)
class SegmentationLoss:
    """A weighted sum of registered losses; call it like a torch loss: ``loss(logits, masks)``."""

    terms: tuple[LossTerm, ...]

    @property
    def spec(self) -> str:
        return "+".join(str(term) for term in self.terms)

    @property
    def latex(self) -> str:
        return " + ".join(("" if t.weight == 1 else f"{t.weight:g}\\,") + t.entry.symbol for t in self.terms)

    def parts(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each term's unweighted value, keyed by its label (``"dice"``, ``"focal(gamma=3)"``)."""
        return {t.label: t.entry.function(logits, target, **dict(t.params)) for t in self.terms}

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(t.weight * t.entry.function(logits, target, **dict(t.params)) for t in self.terms)


_TERM = re.compile(r"^(?:(?P<weight>\d+(?:\.\d*)?|\.\d+)\s*\*\s*)?(?P<name>[a-z_]+)\s*(?:\((?P<args>[^()]*)\))?$")
SPEC_HELP = "write terms joined by +, each [weight*]name[(param=value,...)], e.g. 0.5*bce+0.5*dice"


def _parse_params(entry: LossEntry, text: str) -> tuple[tuple[str, float], ...]:
    known = {p.name: p for p in entry.params}
    values: dict[str, float] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        key, _, raw = (s.strip() for s in pair.partition("="))
        if key not in known:
            allowed = ", ".join(known) or "none"
            raise InvalidInput(f"{entry.display_name} has no parameter {key!r} (its parameters: {allowed}).")
        try:
            value = float(raw)
        except ValueError:
            raise InvalidInput(f"Write {entry.name}({key}=NUMBER); {raw!r} is not a number.") from None
        param = known[key]
        if not param.low <= value <= param.high:
            raise InvalidInput(f"{entry.name}: {key}={value:g} is outside {param.low:g}..{param.high:g}.")
        values[key] = value
    return tuple((p.name, values[p.name]) for p in entry.params if p.name in values and values[p.name] != p.default)


def parse_loss_spec(spec: str) -> SegmentationLoss:
    """``"0.5*bce+0.5*dice"`` -> a SegmentationLoss; InvalidInput / UnknownName say what to fix."""
    text = (spec or "").strip().lower()
    if not text:
        raise InvalidInput(f"The loss is empty: {SPEC_HELP}.")
    terms = []
    for part in text.split("+"):
        match = _TERM.match(part.strip())
        if match is None:
            raise InvalidInput(f"Cannot read {part.strip()!r} in the loss {spec!r}: {SPEC_HELP}.")
        entry = LOSSES.get(match["name"])
        weight = float(match["weight"]) if match["weight"] else 1.0
        if weight <= 0:
            raise InvalidInput(f"The weight of {entry.name} must be above 0 (leave the term out instead).")
        terms.append(LossTerm(weight, entry.name, _parse_params(entry, match["args"] or "")))
    return SegmentationLoss(tuple(terms))
