"""Mean average precision at one IoU threshold, written out in numpy (not ultralytics' validator).

For each class, every detection over every image is taken in order of falling
score. A detection is a true positive when the ground-truth box of its class it
overlaps most (same image) has IoU >= ``iou`` and no higher-scoring detection took it
first; anything else is a false positive (PASCAL VOC's rule). Precision and recall
after each detection trace the precision-recall curve; AP is the area under its
upper envelope (VOC 2010 and later: every recall step, no 11-point sampling).
mAP is the mean AP over the classes that have at least one ground-truth box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cvlab.detection.boxes import box_iou


@dataclass(frozen=True, eq=False)
class ImageBoxes:
    """One image's boxes: the truth (scores None) or a detector's answer."""

    xyxy: np.ndarray  # (k, 4) px
    classes: np.ndarray  # (k,) int
    scores: np.ndarray | None = None  # (k,) for detections


@dataclass(frozen=True)
class MapReport:
    iou: float  # the IoU threshold
    per_class: dict[str, float]  # AP of each class with ground truth, by name
    truths: dict[str, int]  # ground-truth boxes per class
    detections: dict[str, int]  # detections per class

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.per_class.values()))) if self.per_class else 0.0


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the upper envelope of a precision-recall curve (recall rising, one point per detection)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # envelope: the best precision at this recall or beyond
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def _class_ap(truths: Sequence[ImageBoxes], found: Sequence[ImageBoxes], cls: int, iou: float) -> tuple[float, int]:
    wanted = [t.xyxy[t.classes == cls] for t in truths]  # per image, (g, 4)
    total = sum(len(w) for w in wanted)
    hits = [(float(s), image, box) for image, f in enumerate(found)
            for box, s in zip(f.xyxy[f.classes == cls], f.scores[f.classes == cls])]
    hits.sort(key=lambda hit: -hit[0])  # a stable sort: ties keep their image order
    taken = [np.zeros(len(w), bool) for w in wanted]
    true_positive = np.zeros(len(hits), bool)
    for k, (_, image, box) in enumerate(hits):
        if len(wanted[image]) == 0:
            continue
        overlaps = box_iou(box[None], wanted[image])[0]
        best = int(overlaps.argmax())
        if overlaps[best] >= iou and not taken[image][best]:
            taken[image][best] = true_positive[k] = True
    if total == 0:
        return 0.0, len(hits)
    tp = np.cumsum(true_positive)
    precision = tp / np.arange(1, len(hits) + 1)
    return average_precision(tp / total, precision), len(hits)


def mean_average_precision(truths: Sequence[ImageBoxes], found: Sequence[ImageBoxes], names: Sequence[str],
                           iou: float = 0.5) -> MapReport:
    """mAP@``iou`` of detections ``found`` against ``truths`` (one ImageBoxes each per image, same order)."""
    if len(truths) != len(found):
        raise ValueError(f"{len(truths)} images of truth but {len(found)} of detections: give one of each per image.")
    if any(f.scores is None for f in found):
        raise ValueError("Every detection needs a score: set ImageBoxes.scores for the detector's answers.")
    per_class, counts, detections = {}, {}, {}
    for cls, name in enumerate(names):
        count = sum(int((t.classes == cls).sum()) for t in truths)
        ap, hits = _class_ap(truths, found, cls, iou)
        detections[name] = hits
        if count:
            per_class[name], counts[name] = ap, count
    return MapReport(iou, per_class, counts, detections)
