"""How well a tracker followed the truth: the CLEAR MOT figures (Bernardin and Stiefelhagen, 2008).

Per frame, every true object is matched to at most one tracked box (IoU at least
``iou_threshold``). A pair matched in the previous frame stays matched while it still
overlaps enough; the rest are paired by the Hungarian algorithm on IoU. Then:

- a true object with no box is a miss (FN); a box with no true object is a false positive (FP),
  unless it sits on an object the truth ignores (seen too little to count, see
  ``cvlab.data.shapes_clip.PRESENT_FRACTION``);
- an identity switch (IDSW) is a true object matched to a different track id than the one
  it was last matched to;
- MOTA = 1 - (FN + FP + IDSW) / (true objects over all frames), at most 1 and unbounded below;
- MOTP = the mean IoU of the matched pairs.

No maintained Python package computes these today (py-motmetrics has had no release since
2022, TrackEval is not on PyPI), so they are computed here, on the definitions above, and
tested on hand-made cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from cvlab.detection.boxes import box_iou


@dataclass(frozen=True)
class MotScore:
    frames: int
    objects: int  # true objects summed over frames (the denominator of MOTA)
    matches: int
    misses: int  # FN
    false_positives: int  # FP
    id_switches: int  # IDSW
    motp: float  # mean IoU of matches, 0..1
    tracks: int  # distinct track ids the tracker gave
    true_tracks: int  # distinct true ids present at least once

    @property
    def mota(self) -> float:
        return 1.0 - (self.misses + self.false_positives + self.id_switches) / max(1, self.objects)


@dataclass(frozen=True, eq=False)
class FrameTruth:
    ids: Sequence[int]
    boxes: np.ndarray  # (k, 4) xyxy
    # objects seen too little to count either way
    ignored_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))


@dataclass(frozen=True, eq=False)
class FrameHypotheses:
    ids: Sequence[int]
    boxes: np.ndarray  # (m, 4) xyxy


def clear_mot(truth: Sequence[FrameTruth], hypotheses: Sequence[FrameHypotheses],
              iou_threshold: float = 0.5) -> MotScore:
    from scipy.optimize import linear_sum_assignment

    if len(truth) != len(hypotheses):
        raise ValueError(f"{len(truth)} frames of truth against {len(hypotheses)} of tracks.")
    last_match: dict[int, int] = {}  # true id -> the track id it was last matched to
    previous: dict[int, int] = {}  # the pairs of the frame before
    objects = matches = misses = false_positives = switches = 0
    ious: list[float] = []
    track_ids: set[int] = set()
    true_ids: set[int] = set()
    for gt, hyp in zip(truth, hypotheses):
        gt_ids, hyp_ids = [int(i) for i in gt.ids], [int(i) for i in hyp.ids]
        track_ids.update(hyp_ids)
        true_ids.update(gt_ids)
        objects += len(gt_ids)
        iou = box_iou(np.asarray(gt.boxes, np.float32).reshape(-1, 4), np.asarray(hyp.boxes, np.float32).reshape(-1, 4))
        pairs: dict[int, int] = {}  # row in gt -> column in hyp
        for row, gid in enumerate(gt_ids):  # matches that carry over from the frame before
            if gid in previous and previous[gid] in hyp_ids:
                col = hyp_ids.index(previous[gid])
                if iou[row, col] >= iou_threshold and col not in pairs.values():
                    pairs[row] = col
        free_rows = [r for r in range(len(gt_ids)) if r not in pairs]
        free_cols = [c for c in range(len(hyp_ids)) if c not in pairs.values()]
        if free_rows and free_cols:
            sub = iou[np.ix_(free_rows, free_cols)]
            # only pairs within the threshold may be assigned: on raw IoU, one good pair (0.9) could win the
            # assignment over two acceptable ones (0.5 and 0.5), leaving a miss and a false positive
            rows, cols = linear_sum_assignment(np.where(sub >= iou_threshold, 1.0 - sub, 1e6))
            for r, c in zip(rows, cols):
                if sub[r, c] >= iou_threshold:
                    pairs[free_rows[r]] = free_cols[c]
        current: dict[int, int] = {}
        for row, col in pairs.items():
            gid, hid = gt_ids[row], hyp_ids[col]
            if gid in last_match and last_match[gid] != hid:
                switches += 1
            last_match[gid] = hid
            current[gid] = hid
            ious.append(float(iou[row, col]))
        previous = current
        matches += len(pairs)
        misses += len(gt_ids) - len(pairs)
        unmatched = [c for c in range(len(hyp_ids)) if c not in pairs.values()]
        ignored = np.asarray(gt.ignored_boxes, np.float32).reshape(-1, 4)
        if unmatched and len(ignored):
            on_ignored = box_iou(np.asarray(hyp.boxes, np.float32).reshape(-1, 4)[unmatched], ignored).max(1)
            unmatched = [c for c, best in zip(unmatched, on_ignored) if best < iou_threshold]
        false_positives += len(unmatched)
    return MotScore(frames=len(truth), objects=objects, matches=matches, misses=misses,
                    false_positives=false_positives, id_switches=switches,
                    motp=float(np.mean(ious)) if ious else 0.0, tracks=len(track_ids), true_tracks=len(true_ids))


def score_shapes_clip(clip, result, iou_threshold: float = 0.5) -> MotScore:
    """CLEAR MOT of a ``TrackingResult`` on a generated ``ShapesClip`` (class labels are not scored)."""
    truth, hypotheses = [], []
    for t, frame in enumerate(result.frames):
        ids, boxes, ignored_ids = clip.truth(t)
        ignored = np.array([clip.box(t, i) for i in ignored_ids], np.float32).reshape(-1, 4)
        truth.append(FrameTruth(ids, boxes, ignored))
        hypotheses.append(FrameHypotheses([b.track_id for b in frame.boxes],
                                          np.array([b.xyxy for b in frame.boxes], np.float32).reshape(-1, 4)))
    return clear_mot(truth, hypotheses, iou_threshold)
