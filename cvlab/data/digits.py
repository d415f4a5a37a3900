"""scikit-learn's handwritten digits: 1,797 real 8×8 scans (UCI), shipped inside scikit-learn, so offline."""

from __future__ import annotations

import numpy as np

from cvlab.data.arrays import LabelledImages, check_memory, from_arrays, resize_uint8
from cvlab.data.splits import stratified_split, stratified_take

DIGIT_CLASSES = tuple(str(d) for d in range(10))


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The raw scans as (1797, 8, 8) uint8 grey levels 0-255 and labels (1797,) int64."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    grey = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)  # the scans count 0-16 per pixel
    return grey, bunch.target.astype(np.int64)


def load_digits_dataset(image_size: int = 32, *, seed: int = 0, val_fraction: float = 0.2,
                        limit: int | None = None) -> LabelledImages:
    """Digits enlarged (bilinear) to ``image_size``, grey copied to 3 channels, split stratified by ``seed``."""
    import torch

    grey, labels = digits_arrays()
    keep = stratified_take(labels, limit, seed)
    grey, labels = grey[keep], labels[keep]
    check_memory(len(labels), image_size, "digits")
    x = resize_uint8(torch.from_numpy(grey).unsqueeze(1), image_size)  # (N, 1, S, S)
    x = x.expand(-1, 3, -1, -1)  # a view: from_arrays' indexing makes the real copy
    train, val = stratified_split(labels, val_fraction, seed)
    note = f"{len(labels):,} of scikit-learn's 1,797 handwritten digit scans, enlarged from 8×8 to {image_size} px"
    return from_arrays("digits", DIGIT_CLASSES, x, labels, train, val, note)
