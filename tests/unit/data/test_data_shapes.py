"""The shapes generator: deterministic per seed, and image, boxes and masks agree with each other."""

import numpy as np
import pytest

from cvlab.data.shapes import (LOOKS, SHAPE_CLASSES, DetectionSample, shape_coverage, shapes_classification,
                               shapes_detection, shapes_segmentation)
from cvlab.errors import InvalidInput


def test_classification_shapes_dtypes_and_balanced_labels():
    images, labels, classes = shapes_classification(25, seed=3, size=32)
    assert images.shape == (25, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (25,) and labels.dtype == np.int64
    assert classes == SHAPE_CLASSES and len(classes) == 5
    assert np.bincount(labels, minlength=5).tolist() == [5, 5, 5, 5, 5]


def test_classification_is_deterministic_per_seed_and_differs_across_seeds():
    a, la, _ = shapes_classification(10, seed=7)
    b, lb, _ = shapes_classification(10, seed=7)
    c, _, _ = shapes_classification(10, seed=8)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c)


def test_a_prefix_does_not_depend_on_how_many_were_asked_for():
    few, _, _ = shapes_classification(4, seed=1)
    many, _, _ = shapes_classification(12, seed=1)
    assert np.array_equal(few, many[:4])


def test_images_vary_in_background_and_are_not_blank():
    images, _, _ = shapes_classification(20, seed=0)
    corners = images[:, 0, 0].astype(int)
    assert len({tuple(c // 32) for c in corners}) > 5  # backgrounds of many colours
    assert all(img.std() > 10 for img in images)  # a visible shape on each


def test_coverage_of_a_square_has_the_area_of_a_square():
    r = 20.0  # circumradius; the side is r * sqrt(2), the area 2 r^2
    coverage = shape_coverage("square", 64, 64, r, 0.0, 128)
    assert coverage.sum() == pytest.approx(2 * r * r, rel=0.02)
    assert coverage.min() == 0.0 and coverage.max() == 1.0


def test_an_outline_has_the_filled_shapes_box_and_an_empty_middle():
    filled = shape_coverage("square", 64, 64, 20.0, 0.3, 128)
    outline = shape_coverage("square", 64, 64, 20.0, 0.3, 128, stroke=3.0)
    assert np.array_equal(np.nonzero(filled >= 0.5)[0][[0, -1]], np.nonzero(outline >= 0.5)[0][[0, -1]])
    assert np.array_equal(np.nonzero(filled >= 0.5)[1][[0, -1]], np.nonzero(outline >= 0.5)[1][[0, -1]])
    assert outline[64, 64] == 0.0 and 0.2 < outline.sum() / filled.sum() < 0.6  # a 3 px band of a 28 px square


def test_an_outline_centred_on_the_edge_reaches_half_its_width_beyond_it():
    filled = shape_coverage("square", 64, 64, 20.0, 0.0, 128)  # level sides: 28.3 px wide, centred at 64
    centred = shape_coverage("square", 64, 64, 20.0, 0.0, 128, stroke=4.0, inside=False)
    cols_filled, cols_centred = np.nonzero((filled >= 0.5).any(0))[0], np.nonzero((centred >= 0.5).any(0))[0]
    assert cols_centred[0] == cols_filled[0] - 2 and cols_centred[-1] == cols_filled[-1] + 2
    assert centred[64, 64] == 0.0


def test_hard_edges_cover_each_pixel_fully_or_not_at_all():
    hard = shape_coverage("star", 40, 40, 15.0, 1.0, 80, antialiased=False)
    soft = shape_coverage("star", 40, 40, 15.0, 1.0, 80)
    assert set(np.unique(hard)) == {0.0, 1.0} and len(np.unique(soft)) > 10
    assert abs(hard.sum() - soft.sum()) < 0.1 * soft.sum()


def test_varied_scenes_draw_the_shapes_many_ways():
    samples = shapes_detection(80, seed=11, size=128, look="varied")
    _, masks = shapes_segmentation(80, seed=11, size=128, max_objects=4, look="varied")
    grey = [bool((s.image[..., 0] == s.image[..., 1]).all() and (s.image[..., 1] == s.image[..., 2]).all())
            for s in samples]
    clean_flat = [np.unique(s.image[m == 0], axis=0, return_counts=True)[1].max() > 0.9 * (m == 0).sum()
                  for s, m in zip(samples, masks)]  # one colour, bar the soft edges around the shapes
    hollow = [int(m[(y1 + y2) // 2, (x1 + x2) // 2]) != c + 1 for s, m in zip(samples, masks)
              for (x1, y1, x2, y2), c in zip(s.boxes_xyxy.astype(int), s.classes)]
    widths = np.concatenate([s.boxes_xyxy[:, 2] - s.boxes_xyxy[:, 0] for s in samples])
    assert 0.05 < np.mean(grey) < 0.4 and 0.1 < np.mean(clean_flat) < 0.4  # greyscale, flat noiseless backgrounds
    assert 0.15 < np.mean(hollow) < 0.6  # outlines: nothing of the shape in the middle of its box
    assert widths.min() < 0.16 * 128 and widths.max() > 0.36 * 128  # a wider range of sizes than "plain"
    plain = shapes_detection(80, seed=11, size=128, look="plain")
    assert not any(np.array_equal(a.image, b.image) for a, b in zip(samples, plain))


def test_detection_samples_have_boxes_inside_the_image():
    samples = shapes_detection(30, seed=2, size=96, max_objects=4)
    assert len(samples) == 30 and isinstance(samples[0], DetectionSample)
    for s in samples:
        assert s.image.shape == (96, 96, 3) and s.image.dtype == np.uint8
        assert s.boxes_xyxy.dtype == np.float32 and s.boxes_xyxy.shape == (len(s.classes), 4)
        assert 1 <= len(s.classes) <= 4 and s.classes.dtype == np.int64
        assert (s.boxes_xyxy[:, :2] >= 0).all() and (s.boxes_xyxy[:, 2:] <= 96).all()
        assert (s.boxes_xyxy[:, 2:] > s.boxes_xyxy[:, :2] + 5).all()  # shapes are at least several px wide
        assert ((0 <= s.classes) & (s.classes < len(SHAPE_CLASSES))).all()
    assert max(len(s.classes) for s in samples) >= 3  # several objects do occur


@pytest.mark.parametrize("look", LOOKS)
def test_detection_and_segmentation_draw_the_same_scenes(look):
    det = shapes_detection(15, seed=4, size=128, max_objects=3, look=look)
    images, masks = shapes_segmentation(15, seed=4, size=128, max_objects=3, look=look)
    assert images.shape == (15, 128, 128, 3) and masks.shape == (15, 128, 128) and masks.dtype == np.uint8
    for i, sample in enumerate(det):
        assert np.array_equal(sample.image, images[i])
        assert set(np.unique(masks[i])) - {0} == set((sample.classes + 1).tolist())


@pytest.mark.parametrize("look", LOOKS)
def test_a_lone_shape_box_is_exactly_around_its_mask_pixels(look):
    det = shapes_detection(40, seed=5, size=128, max_objects=1, look=look)
    _, masks = shapes_segmentation(40, seed=5, size=128, max_objects=1, look=look)
    for sample, mask in zip(det, masks):
        rows, cols = np.nonzero(mask)
        assert sample.boxes_xyxy[0].tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
        assert set(np.unique(mask)) == {0, int(sample.classes[0]) + 1}


@pytest.mark.parametrize("look", LOOKS)
def test_every_mask_pixel_lies_in_a_box_of_its_class(look):
    det = shapes_detection(20, seed=6, size=128, max_objects=4, look=look)
    _, masks = shapes_segmentation(20, seed=6, size=128, max_objects=4, look=look)
    for sample, mask in zip(det, masks):
        covered = np.zeros_like(mask, dtype=bool)
        for (x1, y1, x2, y2), cls in zip(sample.boxes_xyxy.astype(int), sample.classes):
            covered[y1:y2, x1:x2] |= mask[y1:y2, x1:x2] == cls + 1
        assert np.array_equal(covered, mask > 0)


@pytest.mark.parametrize("look", LOOKS)
def test_drawn_pixels_differ_from_the_background_inside_the_mask(look):
    images, masks = shapes_segmentation(10, seed=9, size=128, look=look)
    for image, mask in zip(images, masks):
        inside = image[mask > 0].astype(float).mean(0)
        outside = image[mask == 0].astype(float).mean(0)
        assert np.linalg.norm(inside - outside) > 20


@pytest.mark.parametrize("call", [
    lambda: shapes_classification(-1, 0),
    lambda: shapes_classification(3, -2),
    lambda: shapes_classification(3, 0, size=8),
    lambda: shapes_detection(3, 0, size=16),
    lambda: shapes_detection(3, 0, max_objects=0),
    lambda: shapes_segmentation(3, 0, max_objects=50),
    lambda: shapes_detection(3, 0, look="sketchy"),
])
def test_bad_arguments_are_refused_with_a_clear_error(call):
    with pytest.raises(InvalidInput):
        call()
