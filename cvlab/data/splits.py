"""Stratified splits and subsets: every class keeps its share, whatever the seed or the size asked for."""

from __future__ import annotations

import numpy as np

from cvlab.errors import InvalidInput


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """All indices, ordered so that every prefix holds each class in proportion to its size.

    Within a class the order is a seeded shuffle; across classes, an index of rank k in a
    class of n images sorts at k / n. So the first N indices are a stratified sample of N.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng([int(seed), 7])
    position = np.empty(len(labels), np.float64)
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        position[members] = (np.arange(len(members)) + 0.5) / len(members)
    tie_break = rng.random(len(labels)) * 1e-9  # classes of equal size interleave in a seeded order
    return np.argsort(position + tie_break, kind="stable")


def stratified_take(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Indices of a stratified sample of ``limit`` images (all of them, sorted, when limit is None)."""
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    if limit < 1:
        raise InvalidInput(f"limit={limit} must be a positive number of images (or left out for all).")
    return np.sort(stratified_order(labels, seed)[:limit])


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, val indices): about ``val_fraction`` of every class goes to validation.

    Each class with at least two images keeps at least one in each part, so no class is
    missing from training or from the accuracy per class.
    """
    check_val_fraction(val_fraction)
    labels = np.asarray(labels)
    rng = np.random.default_rng([int(seed), 11])
    train, val = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_val = int(round(len(members) * val_fraction))
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        val.append(members[:n_val])
        train.append(members[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def val_count(n: int, val_fraction: float) -> int:
    """How many of ``n`` images (or scenes, or pairs) go to validation: about ``val_fraction`` of them, and at
    least one in each part when there are two or more. Every split of a whole set, and every page that
    says how a set will be split, counts with this."""
    if n < 2:
        return 0
    return min(max(1, round(n * val_fraction)), n - 1)


def check_val_fraction(val_fraction: float) -> None:
    if not 0 < val_fraction < 1:
        raise InvalidInput(f"val_fraction={val_fraction} must be between 0 and 1 (0.2 keeps a fifth for validation).")


def split_limit(limit: int | None, val_fraction: float) -> tuple[int | None, int | None]:
    """How many of ``limit`` images to take from a fixed train part and a fixed val part."""
    if limit is None:
        return None, None
    n_val = max(1, int(round(limit * val_fraction)))
    return max(1, limit - n_val), n_val


def preview_indices(labels, n: int) -> list[int]:
    """Up to ``n`` image indices taking each class in turn: the first image of every class, then the second...

    Uploaded folders list their images class by class, so the first ``n`` would often all be one class.
    """
    labels = np.asarray(labels).reshape(-1)
    by_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    picked: list[int] = []
    for rank in range(max((len(members) for members in by_class), default=0)):
        picked += [int(members[rank]) for members in by_class if rank < len(members)]
        if len(picked) >= n:
            break
    return picked[:n]
