"""Box geometry of detection: IoU, GIoU, the IoU loss, and greedy NMS worked out one step at a time.

Boxes are (x1, y1, x2, y2) in pixels, corners included, as torchvision.ops and
ultralytics' ``box.xyxy`` give them. Everything here is numpy, so a page can
explain a result without a model, and the tests hold it to torchvision.ops:

- ``box_iou`` and ``generalized_box_iou`` agree with ``torchvision.ops.box_iou`` and
  ``generalized_box_iou``;
- ``nms`` / ``batched_nms`` return exactly what ``torchvision.ops.nms`` /
  ``batched_nms`` return. To be exact, NMS computes IoU in the boxes' own float
  type with the same operations, in the same order, as torchvision's CPU kernel,
  and compares with ``>`` in double precision (suppressed only when IoU is
  strictly above the threshold). Equal scores are taken in index order.

Why NMS is greedy: a detector predicts many overlapping boxes for one object. The
highest-scoring box is kept; every later box of the same class that overlaps it by
more than the IoU threshold is taken to be the same object and dropped; repeat with
the next box still standing. A box's fate depends only on boxes scoring higher, so
raising the confidence threshold afterwards removes boxes from the end of the
kept list and never brings a suppressed box back (``count_after_nms`` uses that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cvlab.errors import InvalidInput

Box = tuple[float, float, float, float]  # (x1, y1, x2, y2) in px


def as_boxes(values, *, what: str = "boxes") -> np.ndarray:
    """(N, 4) float array of xyxy boxes; InvalidInput for another shape, NaN or x2 < x1 / y2 < y1."""
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    if array.ndim == 1 and array.shape[0] == 4:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != 4:
        raise InvalidInput(f"{what} must be (N, 4) as x1, y1, x2, y2; got shape {tuple(array.shape)}.")
    if not np.isfinite(array).all():
        raise InvalidInput(f"{what} contain NaN or infinite coordinates; every corner must be a number.")
    if (array[:, 2] < array[:, 0]).any() or (array[:, 3] < array[:, 1]).any():
        raise InvalidInput(f"In {what}, x2 must be at least x1 and y2 at least y1 (corners, not width/height).")
    return array


def box_area(boxes) -> np.ndarray:
    """(N,) areas in px², float64."""
    b = as_boxes(boxes).astype(np.float64)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _intersection_union(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, M) intersection and union areas, float64."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    sides = np.clip(bottom_right - top_left, 0, None)
    inter = sides[..., 0] * sides[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter, union


def box_iou(boxes1, boxes2) -> np.ndarray:
    """(N, M) IoU = |A ∩ B| / |A ∪ B|, float64; 0 where both boxes have no area."""
    a, b = as_boxes(boxes1).astype(np.float64), as_boxes(boxes2).astype(np.float64)
    inter, union = _intersection_union(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def generalized_box_iou(boxes1, boxes2) -> np.ndarray:
    """(N, M) GIoU = IoU - |C \\ (A ∪ B)| / |C|, C the smallest box holding both (Rezatofighi et al., 2019)."""
    a, b = as_boxes(boxes1).astype(np.float64), as_boxes(boxes2).astype(np.float64)
    inter, union = _intersection_union(a, b)
    top_left = np.minimum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.maximum(a[:, None, 2:], b[None, :, 2:])
    sides = np.clip(bottom_right - top_left, 0, None)
    enclosing = sides[..., 0] * sides[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
        return np.where(enclosing > 0, iou - (enclosing - union) / enclosing, iou)


@dataclass(frozen=True)
class BoxPair:
    """Two boxes compared, with every area the IoU section draws and prints (px, px²)."""

    a: Box
    b: Box
    intersection: Box | None  # the overlap, None when the boxes do not touch
    enclosing: Box  # C: the smallest box holding both, the one GIoU penalises empty space in
    area_a: float
    area_b: float
    intersection_area: float
    union_area: float
    enclosing_area: float
    iou: float
    giou: float  # in (-1, 1]: below 0 only when the boxes are apart

    @property
    def iou_loss(self) -> float:
        """1 - IoU, the lecture's detection loss: 1 for every pair that does not overlap."""
        return 1.0 - self.iou

    @property
    def giou_loss(self) -> float:
        """1 - GIoU: unlike the IoU loss it still shrinks as separated boxes move closer."""
        return 1.0 - self.giou


def compare_boxes(a: Sequence[float], b: Sequence[float]) -> BoxPair:
    """IoU, GIoU and the areas behind them for two xyxy boxes."""
    boxes = as_boxes([list(a), list(b)], what="the two boxes").astype(np.float64)
    first, second = boxes
    x1, y1 = np.maximum(first[:2], second[:2])
    x2, y2 = np.minimum(first[2:], second[2:])
    overlap = (float(x1), float(y1), float(x2), float(y2)) if x2 > x1 and y2 > y1 else None
    ex1, ey1 = np.minimum(first[:2], second[:2])
    ex2, ey2 = np.maximum(first[2:], second[2:])
    inter, union = (float(v[0, 1]) for v in _intersection_union(boxes, boxes))
    areas = box_area(boxes)
    return BoxPair(
        a=tuple(map(float, first)), b=tuple(map(float, second)), intersection=overlap,
        enclosing=(float(ex1), float(ey1), float(ex2), float(ey2)),
        area_a=float(areas[0]), area_b=float(areas[1]), intersection_area=inter, union_area=union,
        enclosing_area=float((ex2 - ex1) * (ey2 - ey1)),
        iou=float(box_iou(boxes[:1], boxes[1:])[0, 0]), giou=float(generalized_box_iou(boxes[:1], boxes[1:])[0, 0]))


# ---- NMS ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suppression:
    index: int  # the box removed (index into the candidates)
    by: int  # the kept box that removed it
    iou: float  # their IoU, above the threshold


@dataclass(frozen=True)
class NmsStep:
    kept: int  # the highest-scoring box still standing
    suppressed: tuple[Suppression, ...]  # the boxes it removes, in score order


@dataclass(frozen=True)
class NmsTrace:
    """Greedy NMS over a set of candidates, step by step."""

    order: tuple[int, ...]  # candidate indices, highest score first
    steps: tuple[NmsStep, ...]  # one per kept box, in score order
    iou_threshold: float
    class_agnostic: bool  # False: a box only suppresses boxes of its own class

    @property
    def keep(self) -> tuple[int, ...]:
        """Kept candidate indices, highest score first (what torchvision returns)."""
        return tuple(step.kept for step in self.steps)

    @property
    def suppressions(self) -> tuple[Suppression, ...]:
        return tuple(s for step in self.steps for s in step.suppressed)


def _score_order(scores: np.ndarray) -> np.ndarray:
    return np.argsort(-scores.astype(np.float64), kind="stable")  # descending; ties in index order


def nms_steps(boxes, scores, iou_threshold: float, classes=None) -> NmsTrace:
    """Greedy NMS, recording which box suppresses which at what IoU.

    ``classes`` (N,) ints makes it class-aware (as ``batched_nms`` and ultralytics by
    default); None lets any box suppress any other (ultralytics' ``agnostic_nms``).
    """
    b = as_boxes(boxes)
    b = b if b.dtype in (np.float32, np.float64) else b.astype(np.float32)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = None if classes is None else np.asarray(classes).reshape(-1)
    if s.shape[0] != b.shape[0] or (labels is not None and labels.shape[0] != b.shape[0]):
        raise InvalidInput(f"{b.shape[0]} boxes need as many scores and classes; got {s.shape[0]} scores.")
    if not 0.0 <= iou_threshold <= 1.0:
        raise InvalidInput(f"The IoU threshold must be between 0 and 1, got {iou_threshold}.")
    x1, y1, x2, y2 = b.T
    areas = (x2 - x1) * (y2 - y1)  # in the boxes' dtype, as torchvision's kernel
    order = _score_order(s)
    alive = np.ones(len(order), dtype=bool)  # by position in `order`
    steps = []
    for position, i in enumerate(order):
        if not alive[position]:
            continue
        later = np.flatnonzero(alive[position + 1:]) + position + 1
        if labels is not None:
            later = later[labels[order[later]] == labels[i]]
        j = order[later]
        w = np.maximum(np.minimum(x2[i], x2[j]) - np.maximum(x1[i], x1[j]), 0)
        h = np.maximum(np.minimum(y2[i], y2[j]) - np.maximum(y1[i], y1[j]), 0)
        inter = w * h
        with np.errstate(divide="ignore", invalid="ignore"):
            overlap = inter / (areas[i] + areas[j] - inter)
        hit = overlap.astype(np.float64) > float(iou_threshold)  # NaN (two empty boxes) is never a hit
        alive[later[hit]] = False
        steps.append(NmsStep(int(i), tuple(Suppression(int(k), int(i), float(v))
                                           for k, v in zip(j[hit], overlap[hit]))))
    return NmsTrace(tuple(int(i) for i in order), tuple(steps), float(iou_threshold), labels is None)


def nms(boxes, scores, iou_threshold: float) -> np.ndarray:
    """Kept indices, highest score first: ``torchvision.ops.nms``."""
    return np.array(nms_steps(boxes, scores, iou_threshold).keep, dtype=np.int64)


def batched_nms(boxes, scores, classes, iou_threshold: float) -> np.ndarray:
    """Class-aware NMS (boxes of different classes never suppress each other): ``torchvision.ops.batched_nms``."""
    return np.array(nms_steps(boxes, scores, iou_threshold, classes).keep, dtype=np.int64)


def count_after_nms(boxes, scores, classes, conf_thresholds: Sequence[float], iou_thresholds: Sequence[float],
                    *, class_agnostic: bool = False, max_det: int | None = None) -> np.ndarray:
    """(len(iou_thresholds), len(conf_thresholds)) number of boxes left after the confidence filter and NMS.

    One NMS per IoU threshold is enough: filtering by confidence (score > conf, as
    ultralytics does) only removes boxes from the end of the kept list.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    counts = np.zeros((len(iou_thresholds), len(conf_thresholds)), dtype=np.int64)
    for row, threshold in enumerate(iou_thresholds):
        kept = nms_steps(boxes, s, threshold, None if class_agnostic else classes).keep
        kept_scores = s[list(kept)]
        for column, conf in enumerate(conf_thresholds):
            counts[row, column] = int((kept_scores > conf).sum())
    return counts if max_det is None else np.minimum(counts, max_det)


SWEEP_CONFS = tuple(round(0.02 * i, 2) for i in range(1, 50))  # 0.02 .. 0.98
SWEEP_IOUS = (0.3, 0.5, 0.7, 0.9)


def threshold_sweep(boxes, scores, classes, iou: float, *, class_agnostic: bool = False,
                    max_det: int | None = None) -> tuple[np.ndarray, list[float], np.ndarray]:
    """(confidence thresholds, IoU thresholds with ``iou`` among them, count_after_nms over both)."""
    confs = np.array(SWEEP_CONFS)
    ious = sorted({*SWEEP_IOUS, round(iou, 2)})
    counts = count_after_nms(boxes, scores, classes, confs, ious, class_agnostic=class_agnostic, max_det=max_det)
    return confs, ious, counts
