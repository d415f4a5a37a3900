"""The shipped shapes detector on shapes drawn by OpenCV and Pillow primitives, at its default settings."""

import numpy as np
import pytest

from benchmarks.shapes_heldout import CLASSES, SIDES, detect_all, heldout_scenes, score
from cvlab.detection.catalogue import SHAPES_MODEL

SEED = 4711  # the benchmark's default seed is another


@pytest.fixture(scope="module")
def scenes():
    return heldout_scenes(60, SEED)


def test_the_held_out_set_is_drawn_by_both_tools_with_every_class_and_true_boxes(scenes):
    assert {s.tool for s in scenes} == {"opencv", "pillow"}
    assert set(np.concatenate([s.classes for s in scenes]).tolist()) == set(range(len(CLASSES)))
    for scene in scenes:
        height, width = scene.image.shape[:2]
        assert scene.image.dtype == np.uint8 and len(scene.classes) >= 1
        assert (scene.boxes[:, :2] >= 0).all() and (scene.boxes[:, 2] <= width).all()
        assert (scene.boxes[:, 3] <= height).all()
        sides = (scene.boxes[:, 2:] - scene.boxes[:, :2]).max(1)
        assert (sides >= SIDES[0] - 2).all() and (sides <= SIDES[1] * 1.45 + 6).all()  # turned or outlined
        for x1, y1, x2, y2 in scene.boxes.astype(int):  # a shape stands out from the background around its box
            around = np.ones((height, width), bool)
            around[max(0, y1 - 3):y2 + 3, max(0, x1 - 3):x2 + 3] = False
            around[:max(0, y1 - 6)], around[y2 + 6:], around[:, :max(0, x1 - 6)], around[:, x2 + 6:] = (False,) * 4
            ring = scene.image[around].astype(float).mean(0)
            inside = scene.image[y1:y2, x1:x2].reshape(-1, 3).astype(float)
            assert np.linalg.norm(inside - ring, axis=1).max() >= 60


def test_the_same_seed_draws_the_same_set():
    a, b = heldout_scenes(4, 9), heldout_scenes(4, 9)
    assert all(np.array_equal(x.image, y.image) and np.array_equal(x.boxes, y.boxes) for x, y in zip(a, b))


def test_the_shipped_detector_finds_shapes_drawn_by_other_tools_at_its_defaults(scenes):
    found, (imgsz, reason) = detect_all(SHAPES_MODEL, scenes)  # no options: the facade's defaults
    report = score(scenes, found)
    assert imgsz == 192 and "trained at" in reason
    assert report.mean >= 0.85, report.per_class
    assert min(report.per_class.values()) >= 0.6, report.per_class  # no class is left behind
