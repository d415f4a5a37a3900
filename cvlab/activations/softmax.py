"""Softmax with a temperature on logits a person types: parsing, checking, computing.

Pure numpy on purpose: softmax needs no autograd to be shown, and the tests check it against
``torch.softmax``. It is not in the ACTIVATIONS registry because it maps a vector to a vector.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cvlab.errors import InvalidInput

MAX_LOGITS = 20  # more bars than this are unreadable on a projector
DEFAULT_LOGITS = (2.0, 1.0, 0.1)  # the lecture's example


@dataclass(frozen=True)
class SoftmaxResult:
    labels: tuple[str, ...]  # "Class A", "Class B", ...
    logits: tuple[float, ...]
    temperature: float
    probabilities: tuple[float, ...]
    total: float  # sum of the probabilities: 1 up to rounding


def parse_logits(text: str) -> tuple[float, ...]:
    """Numbers typed as "2.0, 1.0, 0.1": commas, spaces or semicolons; brackets are allowed."""
    words = [w for w in re.split(r"[,;\s]+", str(text).strip().strip("[]()")) if w]
    if not words:
        raise InvalidInput("Type at least one logit, for example: 2.0, 1.0, 0.1")
    if len(words) > MAX_LOGITS:
        raise InvalidInput(f"Use at most {MAX_LOGITS} logits (you typed {len(words)}); remove some.")
    logits = []
    for word in words:
        try:
            value = float(word)
        except ValueError:
            raise InvalidInput(
                f"{word!r} is not a number. Type logits separated by commas, like: 2.0, 1.0, 0.1"
            ) from None
        if not math.isfinite(value):
            raise InvalidInput(f"{word!r} is not a finite number; use ordinary numbers such as 2.5 or -1.")
        logits.append(value)
    return tuple(logits)


def softmax(logits: Sequence[float], temperature: float = 1.0) -> SoftmaxResult:
    """softmax(z / T): probabilities summing to 1; a large T flattens them, a small T sharpens them."""
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 1 or not 1 <= z.size <= MAX_LOGITS or not np.all(np.isfinite(z)):
        raise InvalidInput(f"Give between 1 and {MAX_LOGITS} finite logits (got {list(logits)}).")
    if not (math.isfinite(temperature) and temperature > 0):
        raise InvalidInput(f"The temperature must be above 0 (got {temperature:g}); T = 1 is plain softmax.")
    with np.errstate(over="ignore"):  # an overflow becomes inf, refused just below
        scaled = z / temperature
    if not np.all(np.isfinite(scaled)):
        raise InvalidInput("The logits divided by the temperature overflow; use a larger temperature "
                           "or smaller logits.")
    # Subtracting the largest logit changes nothing mathematically and keeps exp() from overflowing.
    e = np.exp(scaled - scaled.max())
    p = e / e.sum()
    labels = tuple(f"Class {chr(ord('A') + i)}" for i in range(z.size))
    return SoftmaxResult(labels, tuple(z.tolist()), float(temperature), tuple(p.tolist()), float(p.sum()))
