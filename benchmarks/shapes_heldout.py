"""Shapes drawn by other hands: a held-out detection set drawn with OpenCV and Pillow primitives, and a
detector's mAP@0.5 on it at the default settings (per class, and per drawing tool).

The shapes generator (cvlab.data.shapes) draws its polygons at four times the scale and
box-filters them down. A detector trained only on that could learn the drawing rather
than the shapes, so this set never calls it. Each scene is drawn as a person or another
program would draw it: ``cv2.circle``, ``cv2.rectangle``, ``cv2.fillPoly`` and
``cv2.polylines`` (with ``LINE_AA`` or hard-edged ``LINE_8``), or Pillow's ``ellipse``,
``rectangle``, ``regular_polygon`` and ``polygon`` (hard-edged, or drawn at 3x and shrunk
with Lanczos); on a flat or gradient background; filled or outlined (2-5 px); 28-54 px
wide; upright half the time; a quarter of the scenes in classic pairs (red on blue, white
on grey, black on white...), some saved through JPEG. Geometry differs from the
generator's on purpose where a person's would (a star's inner radius 40 % of the outer,
a cross's arms 30-40 % of its width). A shape's truth box is the extent of the pixels it
painted in a mask of its own. Scores come from ``cvlab.detection.mean_ap`` (VOC rule,
numpy), not from ultralytics' validator.

Usage: python benchmarks/shapes_heldout.py [--images 200] [--seed 31337] [--model shapes-yolo]
       [--imgsz N] [--conf 0.25] [--save DIR]   (no --imgsz / --conf: the detector's defaults)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

CLASSES = ("circle", "square", "triangle", "star", "cross")  # the shapes detector's names, in its order
SIDES = (28, 54)  # px: a shape's width before any rotation (a circle's diameter, a square's side...)
CANVAS_SIDES = (128, 160, 192, 224, 256, 320)  # px, width and height drawn independently
CLASSIC_PAIRS = (((255, 0, 0), (0, 0, 255)), ((255, 255, 255), (128, 128, 128)), ((0, 0, 0), (255, 255, 255)),
                 ((0, 0, 0), (200, 200, 200)), ((255, 255, 0), (0, 128, 0)), ((0, 0, 255), (255, 255, 255)))
MIN_CONTRAST = 100.0  # RGB distance between a shape's colour and the background under it


@dataclass(frozen=True, eq=False)
class HeldOutScene:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    boxes: np.ndarray  # (k, 4) float32 xyxy px, x2/y2 one past the last painted pixel
    classes: np.ndarray  # (k,) int64 indices into CLASSES
    tool: str  # "opencv" or "pillow"


def _vertices(cls: str, cx: float, cy: float, side: float, angle: float, arm: float) -> np.ndarray:
    """(k, 2) polygon corners of a square, triangle, star or cross ``side`` px wide, turned by ``angle`` rad."""
    if cls == "square":
        h = side / 2
        points = [(-h, -h), (h, -h), (h, h), (-h, h)]
    elif cls == "triangle":  # equilateral, point up; circumradius side / sqrt(3)
        r = side / math.sqrt(3)
        points = [(r * math.cos(a), r * math.sin(a)) for a in np.radians([-90, 30, 150])]
    elif cls == "star":
        points = [((side / 2) * (1 if k % 2 == 0 else 0.4) * math.cos(a), (side / 2) * (1 if k % 2 == 0 else 0.4)
                   * math.sin(a)) for k, a in enumerate(np.radians(-90 + 36 * np.arange(10)))]
    else:  # cross: a plus sign whose arms are ``arm`` of its width wide
        h, w = side / 2, side * arm / 2
        points = [(w, -h), (w, -w), (h, -w), (h, w), (w, w), (w, h), (-w, h), (-w, w), (-h, w), (-h, -w), (-w, -w),
                  (-w, -h)]
    c, s = math.cos(angle), math.sin(angle)
    return np.array([(cx + x * c - y * s, cy + x * s + y * c) for x, y in points])


def _draw_opencv(targets, cls, cx, cy, side, angle, arm, thickness, smooth) -> None:
    """Draw one shape with OpenCV onto each (array, colour) target; thickness -1 fills."""
    import cv2

    line = cv2.LINE_AA if smooth else cv2.LINE_8
    for canvas, colour in targets:
        if cls == "circle":
            cv2.circle(canvas, (round(cx), round(cy)), round(side / 2), colour, thickness, line)
        elif cls == "square" and angle == 0:
            h = side / 2
            cv2.rectangle(canvas, (round(cx - h), round(cy - h)), (round(cx + h), round(cy + h)), colour, thickness,
                          line)
        else:
            points = np.round(_vertices(cls, cx, cy, side, angle, arm)).astype(np.int32)
            if thickness < 0:
                cv2.fillPoly(canvas, [points], colour, line)
            else:
                cv2.polylines(canvas, [points], True, colour, thickness, line)


def _draw_pillow(targets, cls, cx, cy, side, angle, arm, thickness, scale) -> None:
    """Draw one shape with Pillow's primitives onto each (ImageDraw, colour) target, at ``scale`` times the size."""
    cx, cy, side = cx * scale, cy * scale, side * scale
    width = max(1, round(thickness * scale))
    for draw, colour in targets:
        fill, outline = (colour, None) if thickness < 0 else (None, colour)
        if cls == "circle":
            h = side / 2
            draw.ellipse((cx - h, cy - h, cx + h, cy + h), fill=fill, outline=outline, width=width)
        elif cls == "square" and angle == 0:
            h = side / 2
            draw.rectangle((cx - h, cy - h, cx + h, cy + h), fill=fill, outline=outline, width=width)
        elif cls in ("square", "triangle"):
            radius = side / math.sqrt(2) if cls == "square" else side / math.sqrt(3)
            draw.regular_polygon((cx, cy, radius), 4 if cls == "square" else 3, rotation=math.degrees(angle),
                                 fill=fill, outline=outline, width=width)
        else:
            points = [tuple(p) for p in _vertices(cls, cx, cy, side, angle, arm)]
            draw.polygon(points, fill=fill, outline=outline, width=width)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """(H, W, 3) float: one flat colour, or a gradient between two along a random direction."""
    def colour():
        return np.full(3, rng.uniform(0, 255)) if rng.random() < 0.4 else rng.uniform(0, 255, 3)

    start = colour()
    if rng.random() < 0.5:
        return np.broadcast_to(start, (height, width, 3)).astype(np.float64)
    end, direction = colour(), rng.uniform(0, 2 * math.pi)
    x, y = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    t = math.cos(direction) * x + math.sin(direction) * y
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    return start + t[..., None] * (end - start)


def _shape_colour(rng: np.random.Generator, under: np.ndarray) -> tuple[int, int, int]:
    for _ in range(100):
        colour = np.full(3, rng.uniform(0, 255)) if rng.random() < 0.4 else rng.uniform(0, 255, 3)
        if np.linalg.norm(colour - under) >= MIN_CONTRAST:
            return tuple(int(v) for v in np.round(colour))
    return (0, 0, 0) if under.mean() > 127 else (255, 255, 255)


def _layout(rng: np.random.Generator, width: int, height: int, count: int) -> list[tuple[float, float, float]]:
    """Up to ``count`` (cx, cy, side) that keep 6 px apart and 4 px inside the picture, even outlined or turned."""
    placed: list[tuple[float, float, float]] = []
    for _ in range(60 * count):
        if len(placed) == count:
            break
        side = rng.uniform(*SIDES)
        reach = side * 0.75 + 4  # a turned square's half-diagonal is 0.71 side; plus a stroke's half width
        cx, cy = rng.uniform(reach, width - reach), rng.uniform(reach, height - reach)
        if all(abs(cx - x) > reach + r + 6 or abs(cy - y) > reach + r + 6
               for x, y, s in placed for r in [s * 0.75 + 4]):
            placed.append((cx, cy, side))
    return placed


def _jpeg(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    import cv2

    ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 96))])
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]) if ok else image


def heldout_scene(seed: int, index: int) -> HeldOutScene:
    """Scene ``index`` of the set drawn from ``seed``: even indices by OpenCV, odd ones by Pillow."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng([seed, index])
    width, height = (int(v) for v in rng.choice(CANVAS_SIDES, 2))
    tool = "opencv" if index % 2 == 0 else "pillow"
    classic = CLASSIC_PAIRS[int(rng.integers(len(CLASSIC_PAIRS)))] if rng.random() < 0.25 else None
    background = (np.broadcast_to(np.array(classic[1], float), (height, width, 3)) if classic
                  else _background(rng, width, height))
    scale = 3 if tool == "pillow" and rng.random() < 0.5 else 1  # Pillow draws hard edges; 3x + Lanczos smooths them
    canvas = np.ascontiguousarray(np.round(background).astype(np.uint8))
    picture = Image.fromarray(canvas).resize((width * scale, height * scale), Image.Resampling.NEAREST)
    boxes, classes = [], []
    for cx, cy, side in _layout(rng, width, height, int(rng.integers(1, 5))):
        cls = int(rng.integers(len(CLASSES)))
        angle = 0.0 if rng.random() < 0.5 else float(rng.uniform(0, 2 * math.pi))
        thickness = -1 if rng.random() < 0.55 else int(rng.integers(2, 6))
        arm = float(rng.uniform(0.3, 0.4))
        h = side / 2
        under = background[max(0, int(cy - h)):int(cy + h), max(0, int(cx - h)):int(cx + h)].reshape(-1, 3).mean(0)
        colour = classic[0] if classic else _shape_colour(rng, under)
        if tool == "opencv":
            mask = np.zeros((height, width), np.uint8)
            _draw_opencv([(canvas, colour), (mask, 255)], CLASSES[cls], cx, cy, side, angle, arm, thickness,
                         smooth=bool(rng.random() < 0.5))
        else:
            layer = Image.new("L", picture.size, 0)
            _draw_pillow([(ImageDraw.Draw(picture), colour), (ImageDraw.Draw(layer), 255)], CLASSES[cls], cx, cy,
                         side, angle, arm, thickness, scale)
            mask = np.asarray(layer.resize((width, height), Image.Resampling.LANCZOS) if scale > 1 else layer)
        rows, cols = np.flatnonzero((mask >= 128).any(1)), np.flatnonzero((mask >= 128).any(0))
        if len(rows):
            boxes.append([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
            classes.append(cls)
    if tool == "pillow":
        canvas = np.asarray(picture.resize((width, height), Image.Resampling.LANCZOS) if scale > 1 else picture)
    if rng.random() < 0.3:
        canvas = _jpeg(rng, canvas)
    return HeldOutScene(np.ascontiguousarray(canvas), np.array(boxes, np.float32).reshape(-1, 4),
                        np.array(classes, np.int64), tool)


def heldout_scenes(n: int, seed: int) -> list[HeldOutScene]:
    return [heldout_scene(seed, index) for index in range(n)]


def detect_all(model: str, scenes: list[HeldOutScene], **options):
    """``model``'s answers through ``facade.detect`` with ``options`` (none: its defaults), as
    ``mean_ap.ImageBoxes``, and the input size it used with the reason for it."""
    from cvlab.detection import facade
    from cvlab.detection.mean_ap import ImageBoxes

    found, used = [], None
    for scene in scenes:
        result = facade.detect(model, scene.image, **options)
        if result.names != CLASSES:
            raise SystemExit(f"{model} knows {result.names}, not the shapes {CLASSES}.")
        used = (result.imgsz, result.imgsz_reason)
        found.append(ImageBoxes(np.array([d.xyxy for d in result.detections], np.float32).reshape(-1, 4),
                                np.array([d.cls for d in result.detections], np.int64),
                                np.array([d.conf for d in result.detections], np.float32)))
    return found, used


def score(scenes: list[HeldOutScene], found, keep=lambda scene: True):
    """mAP@0.5 (``cvlab.detection.mean_ap``) over the scenes ``keep`` selects."""
    from cvlab.detection.mean_ap import ImageBoxes, mean_average_precision

    pairs = [(ImageBoxes(s.boxes, s.classes), f) for s, f in zip(scenes, found) if keep(s)]
    return mean_average_precision([t for t, _ in pairs], [f for _, f in pairs], CLASSES, iou=0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--images", type=int, default=200, help="held-out scenes to draw")
    parser.add_argument("--seed", type=int, default=31337)
    parser.add_argument("--model", default="shapes-yolo")
    parser.add_argument("--imgsz", type=int, default=None, help="network input side, px (default: the model's)")
    parser.add_argument("--conf", type=float, default=None, help="confidence threshold (default: the facade's 0.25)")
    parser.add_argument("--save", type=Path, default=None, help="also write the scenes as PNGs here, to look at")
    args = parser.parse_args()
    from cvlab.detection.ultralytics_env import ultralytics_ready

    ultralytics_ready()
    scenes = heldout_scenes(args.images, args.seed)
    if args.save:
        from PIL import Image

        args.save.mkdir(parents=True, exist_ok=True)
        for i, scene in enumerate(scenes):
            Image.fromarray(scene.image).save(args.save / f"{i:04d}-{scene.tool}.png")
    options = {k: v for k, v in {"imgsz": args.imgsz, "conf": args.conf}.items() if v is not None}
    found, (imgsz, reason) = detect_all(args.model, scenes, **options)
    report = score(scenes, found)
    by_tool = {tool: score(scenes, found, lambda scene: scene.tool == tool).mean for tool in ("opencv", "pillow")}
    print(f"{args.model} on {len(scenes)} held-out scenes (seed {args.seed}) at {imgsz} px ({reason}), "
          f"conf {options.get('conf', 0.25)}:")
    for name, ap in report.per_class.items():
        print(f"  {name:>9}: AP@0.5 {ap:.3f}  ({report.truths[name]} shapes, {report.detections[name]} detections)")
    print(f"  mAP@0.5 {report.mean:.3f} (target >= 0.85); OpenCV scenes {by_tool['opencv']:.3f}, "
          f"Pillow scenes {by_tool['pillow']:.3f}")
    print(json.dumps({"model": args.model, "images": len(scenes), "seed": args.seed, "imgsz": imgsz,
                      "mAP50": round(report.mean, 4),
                      "per_class": {k: round(v, 4) for k, v in report.per_class.items()},
                      "by_tool": {k: round(v, 4) for k, v in by_tool.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
