"""A generated video of moving shapes with its true tracks and masks: tracking and video
segmentation measured offline, against the truth.

One seed fixes everything. Shapes glide along straight lines at constant speed while turning
slowly; most enter through one edge and leave through another, some stay in view, and the
first two always meet head-on in the middle of the clip, so a tracker must keep two identities
apart through an occlusion. Later shapes are drawn over earlier ones. The background is one
gradient for the whole clip; each frame gets its own sensor noise.

The truth is an instance map per frame (0 background, ``i + 1`` where shape ``i`` is the one
seen), so boxes, visible fractions and masks all come from the same pixels the frame shows.
Track ids are ``i + 1``. A shape counts as present in a frame when at least
``PRESENT_FRACTION`` of its full outline is visible (in frame, not hidden): the rest is too
little to ask a detector for, and the scorer ignores it rather than counting it either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cvlab.data.shapes import SHAPE_CLASSES, _background, _shape_colour, shape_coverage
from cvlab.data.video import Clip
from cvlab.errors import InvalidInput

PRESENT_FRACTION = 0.4
_STREAM = 7  # this generator's random stream, apart from the still scenes'
CLIP_LIMITS = {"frames": (8, 300), "size": (96, 512), "objects": (2, 8)}


@dataclass(frozen=True, eq=False)
class TrueObject:
    track_id: int
    class_id: int
    colour: tuple[int, int, int]


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class ShapesClip:
    clip: Clip
    objects: tuple[TrueObject, ...]  # objects[i] has track id i + 1
    instances: np.ndarray  # (T, H, W) uint8: 0 background, i + 1 where object i is seen
    visible: np.ndarray  # (T, n) float32: the share of object i's whole outline seen in frame t
    class_names: tuple[str, ...] = SHAPE_CLASSES

    def present(self, t: int) -> list[int]:
        """Track ids present in frame ``t`` (see PRESENT_FRACTION)."""
        return [i + 1 for i in np.flatnonzero(self.visible[t] >= PRESENT_FRACTION)]

    def box(self, t: int, track_id: int) -> np.ndarray | None:
        """(4,) float32 xyxy (x2/y2 exclusive) around the pixels where ``track_id`` is seen, or None."""
        rows, cols = np.nonzero(self.instances[t] == track_id)
        if rows.size == 0:
            return None
        return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)

    def mask(self, t: int, track_id: int) -> np.ndarray:
        return self.instances[t] == track_id

    def truth(self, t: int) -> tuple[list[int], np.ndarray, list[int]]:
        """Present track ids, their boxes (k, 4), and the ids seen too little to count (ignored)."""
        present = self.present(t)
        boxes = np.array([self.box(t, i) for i in present], np.float32).reshape(-1, 4)
        seen = {int(v) for v in np.unique(self.instances[t]) if v}
        return present, boxes, sorted(seen - set(present))


def _check(frames: int, size: int, objects: int, fps: float) -> None:
    for name, value in (("frames", frames), ("size", size), ("objects", objects)):
        low, high = CLIP_LIMITS[name]
        if not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise InvalidInput(f"A generated clip's {name} must be a whole number from {low} to {high}, got {value!r}.")
    if not 1.0 <= fps <= 60.0:
        raise InvalidInput(f"A generated clip's frame rate must be 1 to 60 fps, got {fps!r}.")


def _paths(rng: np.random.Generator, frames: int, size: int, objects: int) -> list[dict]:
    """Start and end centres (px), radius, turn rate and the frames each shape moves over."""
    paths = []
    mid = size / 2
    for i in range(objects):
        r = rng.uniform(0.07, 0.12) * size
        out = 1.1 * r + 2  # a centre this far past an edge puts the whole shape out of view
        if i < 2:  # the pair that meets head-on: one from each side along one line, crossing mid-clip
            y = mid + rng.uniform(-0.1, 0.1) * size
            start, end = (-out, y), (size + out, y + rng.uniform(-0.1, 0.1) * size)
            if i == 1:
                start, end = (size + out, y), (-out, y - rng.uniform(-0.1, 0.1) * size)
            first, last = 0, frames - 1
        elif rng.random() < 0.7:  # crosses the frame, edge to edge, over part of the clip
            edge = rng.integers(4)
            along = rng.uniform(0.15, 0.85) * size
            points = [(-out, along), (size + out, along), (along, -out), (along, size + out)]
            start, end = points[edge], points[edge ^ 1]
            first = int(rng.integers(0, frames // 3))
            last = int(min(frames - 1, first + rng.integers(frames // 2, frames)))
        else:  # drifts inside the frame the whole clip
            start = tuple(rng.uniform(out, size - out, 2))
            end = tuple(np.clip(np.array(start) + rng.uniform(-0.3, 0.3, 2) * size, out, size - out))
            first, last = 0, frames - 1
        paths.append({"start": np.array(start), "end": np.array(end), "r": r, "first": first, "last": last,
                      "angle": rng.uniform(0, 2 * math.pi), "turn": rng.uniform(-0.05, 0.05)})
    return paths


def shapes_clip(seed: int = 0, frames: int = 60, size: int = 256, objects: int = 5, fps: float = 15.0) -> ShapesClip:
    """A clip of ``objects`` moving shapes, ``frames`` square frames of ``size`` px, with its truth."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInput(f"The clip's seed must be a whole number 0 or above, got {seed!r}.")
    _check(frames, size, objects, fps)
    rng = np.random.default_rng([seed, _STREAM])
    background = _background(rng, size)
    paths = _paths(rng, frames, size, objects)
    kinds = [int(rng.integers(len(SHAPE_CLASSES))) for _ in paths]
    colours = [_shape_colour(rng, background) for _ in paths]
    video = np.empty((frames, size, size, 3), np.uint8)
    instances = np.zeros((frames, size, size), np.uint8)
    visible = np.zeros((frames, objects), np.float32)
    for t in range(frames):
        canvas = background.copy()
        whole = np.zeros(objects, np.float64)  # each shape's full area, as if alone on an endless canvas
        for i, path in enumerate(paths):
            span = max(1, path["last"] - path["first"])
            u = min(1.0, max(0.0, (t - path["first"]) / span))
            cx, cy = path["start"] + u * (path["end"] - path["start"])
            if t < path["first"] or t > path["last"]:
                continue  # not in the clip yet, or gone
            angle = path["angle"] + path["turn"] * t
            alpha = shape_coverage(SHAPE_CLASSES[kinds[i]], cx, cy, path["r"], angle, size)
            canvas += alpha[..., None] * (colours[i] - canvas)
            instances[t][alpha >= 0.5] = i + 1  # later shapes cover earlier ones
            whole[i] = _full_area(kinds[i], path["r"], angle)
        for i in range(objects):
            if whole[i] > 0:
                visible[t, i] = min(1.0, float((instances[t] == i + 1).sum()) / whole[i])
        noise = np.random.default_rng([seed, _STREAM, t + 1]).normal(0.0, 4.0, canvas.shape)
        video[t] = np.clip(np.rint(canvas + noise), 0, 255).astype(np.uint8)
    true_objects = tuple(TrueObject(i + 1, kinds[i], tuple(int(c) for c in colours[i])) for i in range(objects))
    clip = Clip(video, float(fps), f"shapes clip, seed {seed}", "shapes")
    return ShapesClip(clip, true_objects, instances, visible)


_AREAS: dict[tuple[int, float, float], float] = {}


def _full_area(kind: int, r: float, angle: float) -> float:
    """Pixels at >= 50 % coverage of the shape drawn whole, centred on a canvas big enough to hold it."""
    key = (kind, round(r, 2), round(angle % (2 * math.pi), 2))
    if key not in _AREAS:
        side = int(2 * 1.1 * r + 8)
        alpha = shape_coverage(SHAPE_CLASSES[kind], side / 2, side / 2, r, angle, side)
        _AREAS[key] = float((alpha >= 0.5).sum())
        if len(_AREAS) > 4096:
            _AREAS.clear()
    return _AREAS[key]
