"""Synthetic shapes: one seeded drawing routine gives classification, detection and segmentation data.

Every scene is drawn from its own random stream, ``default_rng([seed, task, index])``,
so a scene never depends on how many were asked for (the first 100 of 1,000 equal
100 asked alone) and two seeds give different data. Shapes are drawn four times
larger and box-filtered down, so edges are anti-aliased like a photo's; the same
coverage map gives the mask (coverage >= 50 %) and the box (around those pixels),
so image, mask and box always agree.

What makes it learnable but not trivial: random colour (kept apart from the
background's), size, position and rotation; a background with a colour gradient
and sensor-like Gaussian noise. What keeps it learnable by a small CNN at 32 px:
five outlines that differ in corners and concavities, drawn at least 9 px in radius.

Scenes come in two looks. "plain" is the one above. "varied", the detection
default, paints the same five geometries the many ways a person or another
program draws them, so a detector trained on it finds a square drawn anywhere,
not only the generator's: flat, gradient or blotchy backgrounds, with or without
noise; filled shapes or outlines 2 px to a third of the radius thick (inside the
edge, keeping the filled shape's box, or centred on it as drawing programs do);
anti-aliased or hard-edged; any colour,
greyscale or washed-out ones included; upright about a third of the time, any
angle otherwise; a wider range of sizes. A shape's mask is the pixels it paints
(an outline's mask is its stroke).
"""

from __future__ import annotations

import math
from typing import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from cvlab.errors import InvalidInput

SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")
SUPERSAMPLE = 4  # drawing scale before the box filter: 16 sub-pixels per pixel
MIN_SHAPE_CONTRAST = 100.0  # Euclidean RGB distance (0-255 scale) between shape and background colour
_OUTER = 1.06  # the cross's arm corners reach 1.053 r; every other outline stays inside r
_TASK_STREAM = {"classify": 1, "scene": 2, "varied scene": 3}  # detection and segmentation share scenes
LOOKS = ("plain", "varied")
MAX_SCENE_OVERLAP = 0.2  # a new shape's box may cover at most 20 % of a smaller box it touches


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class DetectionSample:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    boxes_xyxy: np.ndarray  # (k, 4) float32 pixels, x1 y1 x2 y2, x2/y2 exclusive (one past the last pixel)
    classes: np.ndarray  # (k,) int64 indices into SHAPE_CLASSES


def _outline(kind: str, r: float, angle: float) -> list[tuple[float, float]]:
    """Polygon vertices around the origin for circumradius ``r`` (px), turned by ``angle`` (rad)."""
    if kind == "circle":
        polar = [(r, 2 * math.pi * k / 48) for k in range(48)]
    elif kind == "square":
        polar = [(r, math.pi / 4 + k * math.pi / 2) for k in range(4)]
    elif kind == "triangle":
        polar = [(r, -math.pi / 2 + k * 2 * math.pi / 3) for k in range(3)]
    elif kind == "star":  # five points, inner radius 45 % of the outer one
        polar = [(r if k % 2 == 0 else 0.45 * r, -math.pi / 2 + k * math.pi / 5) for k in range(10)]
    elif kind == "cross":  # a plus sign whose arms are a third of r wide on each side
        w = 0.33 * r
        corners = [(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r),
                   (-w, -r), (-w, -w), (-r, -w), (-r, w), (-w, w), (-w, r)]
        polar = [(math.hypot(x, y), math.atan2(y, x)) for x, y in corners]
    else:
        raise InvalidInput(f"Unknown shape {kind!r}; shapes are {', '.join(SHAPE_CLASSES)}.")
    return [(rho * math.cos(theta + angle), rho * math.sin(theta + angle)) for rho, theta in polar]


def shape_coverage(kind: str, cx: float, cy: float, r: float, angle: float, size: int, *,
                   stroke: float | None = None, inside: bool = True, antialiased: bool = True) -> np.ndarray:
    """(size, size) float32 in [0, 1]: how much of each pixel the shape covers.

    Only the patch around the shape is drawn (at SUPERSAMPLE times the scale) and
    box-filtered down, so a small shape on a large canvas costs little. ``stroke``
    (px) draws only an outline that wide: inside the shape's edge, or centred on it
    (``inside`` False, as OpenCV's and Pillow's outlines are, with rounded corners);
    ``antialiased`` False draws at the pixel grid itself, every pixel fully in or out.
    """
    scale = SUPERSAMPLE if antialiased else 1
    reach = _OUTER * r + 1 + (stroke / 2 if stroke is not None and not inside else 0)
    x0, y0 = max(0, int(cx - reach)), max(0, int(cy - reach))
    x1, y1 = min(size, int(math.ceil(cx + reach))), min(size, int(math.ceil(cy + reach)))
    coverage = np.zeros((size, size), np.float32)
    if x1 <= x0 or y1 <= y0:
        return coverage
    patch = Image.new("L", ((x1 - x0) * scale, (y1 - y0) * scale), 0)
    points = [((cx - x0 + dx) * scale, (cy - y0 + dy) * scale) for dx, dy in _outline(kind, r, angle)]
    ImageDraw.Draw(patch).polygon(points, fill=255)
    if stroke is not None:  # a line on the edge: twice as wide and kept where it is inside the shape, or as is
        line = Image.new("L", patch.size, 0)
        width = max(1, round((2 if inside else 1) * stroke * scale))
        ImageDraw.Draw(line).line(points + points[:1], fill=255, width=width, joint="curve")
        patch = Image.fromarray(np.minimum(np.asarray(patch), np.asarray(line))) if inside else line
    small = patch.resize((x1 - x0, y1 - y0), Image.Resampling.BOX) if scale > 1 else patch
    coverage[y0:y1, x0:x1] = np.asarray(small, np.float32) / 255.0
    return coverage


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) float32: a random colour fading into a nearby one along a random direction."""
    start = rng.uniform(0, 255, 3)
    end = np.clip(start + rng.uniform(-60, 60, 3), 0, 255)
    direction = rng.uniform(0, 2 * math.pi)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    t = math.cos(direction) * ramp[None, :] + math.sin(direction) * ramp[:, None]  # (H, W)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return (start + (end - start) * t[..., None]).astype(np.float32)


def _shape_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A random RGB colour far enough from the background's mean to be seen."""
    mean = background.reshape(-1, 3).mean(0)
    for _ in range(50):
        colour = rng.uniform(0, 255, 3)
        if np.linalg.norm(colour - mean) >= MIN_SHAPE_CONTRAST:
            return colour.astype(np.float32)
    return np.where(mean > 127, 0.0, 255.0).astype(np.float32)  # black or white: always far enough


def _finish(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    """Add Gaussian noise (sigma 2-10 grey levels) and round to uint8."""
    noise = rng.normal(0.0, rng.uniform(2.0, 10.0), canvas.shape).astype(np.float32)
    return np.clip(np.rint(canvas + noise), 0, 255).astype(np.uint8)


def _check(n: int, seed: int, size: int, min_size: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise InvalidInput(f"The number of images must be 0 or more, got {n!r}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInput(f"The seed must be a whole number 0 or above, got {seed!r}.")
    if not min_size <= size <= 1024:
        raise InvalidInput(f"Image size {size} px is out of range: use {min_size} to 1024 px.")


def shape_labels(n: int) -> np.ndarray:
    """The class of each of ``n`` classification images: image i shows class i % 5."""
    return np.arange(n, dtype=np.int64) % len(SHAPE_CLASSES)


def shapes_classification(n: int, seed: int, size: int = 32,
                          only: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``n`` images with one shape each: (n, size, size, 3) uint8, labels (n,) int64, class names.

    Labels cycle through the classes (image i shows class i % 5), so every class has n/5 images.
    Each image is drawn from its own seed: ``only`` draws just those images of the n (the same
    pixels as in the whole set) and returns them with their labels.
    """
    _check(n, seed, size, min_size=16)
    every = np.arange(n, dtype=np.int64)
    indices = every if only is None else every[np.asarray(only, np.int64)]
    images = np.empty((len(indices), size, size, 3), np.uint8)
    labels = shape_labels(n)[indices]
    for out, index in enumerate(indices):
        rng = np.random.default_rng([seed, _TASK_STREAM["classify"], int(index)])
        canvas = _background(rng, size)
        r = rng.uniform(0.30, 0.46) * size  # circumradius: at least 9.6 px at 32 px
        margin = _OUTER * r
        cx, cy = rng.uniform(margin, size - margin, 2) if size > 2 * margin else (size / 2, size / 2)
        alpha = shape_coverage(SHAPE_CLASSES[labels[out]], cx, cy, r, rng.uniform(0, 2 * math.pi), size)
        canvas += alpha[..., None] * (_shape_colour(rng, canvas) - canvas)
        images[out] = _finish(rng, canvas)
    return images, labels, SHAPE_CLASSES


def _place(rng: np.random.Generator, size: int, taken: list[np.ndarray],
           radii: tuple[float, float] = (0.09, 0.20)) -> tuple[float, float, float] | None:
    """Centre and radius (``radii``: fractions of the side) of a new shape whose box overlaps no
    earlier box by much, or None."""
    for _ in range(30):
        r = rng.uniform(*radii) * size
        margin = _OUTER * r + 1
        cx, cy = rng.uniform(margin, size - margin, 2)
        box = np.array([cx - margin, cy - margin, cx + margin, cy + margin])
        if all(_overlap_of_smaller(box, other) <= MAX_SCENE_OVERLAP for other in taken):
            taken.append(box)
            return cx, cy, r
    return None


def _overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection area over the smaller box's area: 1.0 when one box holds the other."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(w * h / smaller)


def _scene(seed: int, index: int, size: int, max_objects: int, look: str = "plain"):
    """One scene: image (H, W, 3) uint8, mask (H, W) uint8 (0 background, c + 1 shape class c),
    boxes (k, 4) float32 xyxy and classes (k,) int64, with later shapes drawn on top."""
    if look == "varied":
        return _varied_scene(np.random.default_rng([seed, _TASK_STREAM["varied scene"], index]), size, max_objects)
    rng = np.random.default_rng([seed, _TASK_STREAM["scene"], index])
    canvas = _background(rng, size)
    mask = np.zeros((size, size), np.uint8)
    boxes, classes, taken = [], [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        placed = _place(rng, size, taken)
        if placed is None:
            break  # the canvas is full enough; fewer shapes is fine
        cls = int(rng.integers(len(SHAPE_CLASSES)))
        alpha = shape_coverage(SHAPE_CLASSES[cls], *placed, rng.uniform(0, 2 * math.pi), size)
        canvas += alpha[..., None] * (_shape_colour(rng, canvas) - canvas)
        boxes.append(_paint_mask(mask, alpha, cls))
        classes.append(cls)
    return _finish(rng, canvas), mask, np.array(boxes, np.float32).reshape(-1, 4), np.array(classes, np.int64)


def _paint_mask(mask: np.ndarray, alpha: np.ndarray, cls: int) -> list[int]:
    """Mark the pixels a shape covers at least half of as class ``cls``; their box, xyxy."""
    inside = alpha >= 0.5
    mask[inside] = cls + 1
    rows, cols = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
    return [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]


VARIED_RADII = (0.05, 0.22)  # of the side: at 192 px, squares 14 to 60 px wide
UPRIGHT_SHARE = 0.35  # shapes drawn level (square sides, cross arms) or point up/down, as people draw them
OUTLINE_SHARE = 0.4  # shapes drawn as an outline only
HARD_EDGE_SHARE = 0.4  # shapes drawn without anti-aliasing
GREY_SCENE_SHARE = 0.3  # scenes whose background is grey (and most shapes on it too)


def _varied_colour(rng: np.random.Generator, grey: bool) -> np.ndarray:
    """Any RGB colour, a grey, a washed-out colour or a strong primary-like one (float32, 0-255)."""
    pick = rng.random()
    if grey:
        return np.full(3, rng.uniform(0, 255), np.float32)
    if pick < 0.25:  # washed out: part of the way to its own grey
        colour = rng.uniform(0, 255, 3)
        return (colour + rng.uniform(0.3, 0.8) * (colour.mean() - colour)).astype(np.float32)
    if pick < 0.5:  # red, blue, yellow, magenta...: each channel near 0 or near 255
        return np.where(rng.random(3) < 0.5, rng.uniform(0, 60, 3), rng.uniform(195, 255, 3)).astype(np.float32)
    return rng.uniform(0, 255, 3).astype(np.float32)


def _varied_background(rng: np.random.Generator, size: int, grey: bool) -> np.ndarray:
    """(size, size, 3) float32: flat (35 %), a gradient (40 %) or a gradient with soft blotches (25 %)."""
    start = _varied_colour(rng, grey)
    canvas = np.broadcast_to(start, (size, size, 3)).astype(np.float32)
    style = rng.choice(3, p=[0.35, 0.40, 0.25])
    if style >= 1:
        step = rng.uniform(-120, 120, 1 if grey else 3)
        ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
        direction = rng.uniform(0, 2 * math.pi)
        t = math.cos(direction) * ramp[None, :] + math.sin(direction) * ramp[:, None]  # (H, W)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        canvas = canvas + t[..., None] * step.astype(np.float32)
    if style == 2:  # a 4x4 grid of random offsets, smoothly interpolated
        cells = rng.normal(0.0, rng.uniform(15, 40), (4, 4, 1 if grey else 3)).astype(np.float32)
        layers = [np.asarray(Image.fromarray(cells[..., c], "F").resize((size, size), Image.Resampling.BICUBIC))
                  for c in range(cells.shape[2])]
        canvas = canvas + np.stack(layers, -1)
    return np.clip(canvas, 0, 255).astype(np.float32)


def _colour_apart(rng: np.random.Generator, under: np.ndarray, grey: bool) -> np.ndarray:
    """A varied colour at least MIN_SHAPE_CONTRAST from ``under`` (the mean RGB it is painted on)."""
    for _ in range(50):
        colour = _varied_colour(rng, grey and rng.random() < 0.8)
        if np.linalg.norm(colour - under) >= MIN_SHAPE_CONTRAST:
            return colour
    return np.where(under.mean() > 127, 0.0, 255.0).astype(np.float32)


def _varied_scene(rng: np.random.Generator, size: int, max_objects: int):
    """A scene in the "varied" look (see the module docstring); returns what ``_scene`` does."""
    grey = rng.random() < GREY_SCENE_SHARE
    canvas = _varied_background(rng, size, grey)
    mask = np.zeros((size, size), np.uint8)
    boxes, classes, taken = [], [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        placed = _place(rng, size, taken, VARIED_RADII)
        if placed is None:
            break
        cls = int(rng.integers(len(SHAPE_CLASSES)))
        angle = rng.choice([0.0, math.pi]) if rng.random() < UPRIGHT_SHARE else rng.uniform(0, 2 * math.pi)
        stroke = rng.uniform(2.0, max(2.0, placed[2] / 3)) if rng.random() < OUTLINE_SHARE else None
        inner, smooth = rng.random() < 0.5, rng.random() >= HARD_EDGE_SHARE  # outlines: inside or on the edge
        alpha = shape_coverage(SHAPE_CLASSES[cls], *placed, angle, size, stroke=stroke, inside=inner,
                               antialiased=smooth)
        if not (alpha >= 0.5).any():  # an outline too thin for so small a shape: fill it
            alpha = shape_coverage(SHAPE_CLASSES[cls], *placed, angle, size, antialiased=smooth)
        x1, y1, x2, y2 = (int(v) for v in taken[-1].clip(0, size))
        colour = _colour_apart(rng, canvas[y1:y2, x1:x2].reshape(-1, 3).mean(0), grey)
        canvas += alpha[..., None] * (colour - canvas)
        boxes.append(_paint_mask(mask, alpha, cls))
        classes.append(cls)
    if rng.random() < 0.5:  # half the scenes are clean, as drawings are; the rest carry sensor-like noise
        canvas += rng.normal(0.0, rng.uniform(1.0, 12.0), canvas.shape).astype(np.float32)
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return image, mask, np.array(boxes, np.float32).reshape(-1, 4), np.array(classes, np.int64)


def _check_objects(max_objects: int, look: str) -> None:
    if not 1 <= max_objects <= 12:
        raise InvalidInput(f"max_objects={max_objects} is out of range: use 1 to 12 shapes per image.")
    if look not in LOOKS:
        raise InvalidInput(f"Unknown look {look!r}; choose one of {', '.join(LOOKS)}.")


def shapes_detection(n: int, seed: int, size: int = 128, max_objects: int = 4, *,
                     look: str = "varied") -> list[DetectionSample]:
    """``n`` scenes of 1..max_objects shapes with their boxes (pixels, xyxy) and classes.

    ``look`` "varied" (default) paints them many ways, so a detector learns the shapes
    rather than one way of drawing them; "plain" is the segmentation scenes' look.
    """
    _check(n, seed, size, min_size=32)
    _check_objects(max_objects, look)
    samples = []
    for index in range(n):
        image, _, boxes, classes = _scene(seed, index, size, max_objects, look)
        samples.append(DetectionSample(image, boxes, classes))
    return samples


def shapes_segmentation(n: int, seed: int, size: int = 128, max_objects: int = 3, *,
                        look: str = "plain") -> tuple[np.ndarray, np.ndarray]:
    """``n`` scenes and their masks: images (n, H, W, 3) uint8, masks (n, H, W) uint8 class ids.

    Mask value 0 is background and c + 1 is SHAPE_CLASSES[c]. For the same seed, size,
    max_objects and look the scenes are exactly those of ``shapes_detection``. The default
    look is "plain" (filled shapes): a segmentation lesson shows whole regions.
    """
    _check(n, seed, size, min_size=32)
    _check_objects(max_objects, look)
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), np.uint8)
    for index in range(n):
        images[index], masks[index], _, _ = _scene(seed, index, size, max_objects, look)
    return images, masks
