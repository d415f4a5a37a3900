"""IoU, GIoU and NMS of cvlab.detection.boxes against torchvision.ops."""

import numpy as np
import pytest
import torch
from torchvision import ops

from cvlab.detection import boxes as bx
from cvlab.errors import InvalidInput


def random_boxes(rng, n, size=100.0, dtype=np.float32):
    corners = rng.uniform(0, size, (n, 2))
    sides = rng.uniform(1, size / 2, (n, 2))
    return np.concatenate([corners, corners + sides], axis=1).astype(dtype)


def clustered_boxes(rng, n, dtype=np.float32):
    """Boxes jittered around a few centres, so NMS has real overlaps to decide."""
    centres = rng.uniform(20, 80, (4, 2))[rng.integers(0, 4, n)]
    half = rng.uniform(5, 15, (n, 2))
    jitter = rng.normal(0, 3, (n, 2))
    return np.concatenate([centres + jitter - half, centres + jitter + half], axis=1).astype(dtype)


@pytest.mark.parametrize("seed", range(5))
def test_iou_and_giou_match_torchvision(seed):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, 7), random_boxes(rng, 5)
    expected_iou = ops.box_iou(torch.from_numpy(a), torch.from_numpy(b)).double().numpy()
    expected_giou = ops.generalized_box_iou(torch.from_numpy(a), torch.from_numpy(b)).double().numpy()
    np.testing.assert_allclose(bx.box_iou(a, b), expected_iou, atol=1e-6)
    np.testing.assert_allclose(bx.generalized_box_iou(a, b), expected_giou, atol=1e-6)


def test_compare_boxes_worked_example():
    pair = bx.compare_boxes((0, 0, 10, 10), (5, 5, 15, 15))
    assert pair.intersection == (5.0, 5.0, 10.0, 10.0)
    assert pair.intersection_area == 25 and pair.union_area == 175 and pair.enclosing_area == 225
    assert pair.iou == pytest.approx(25 / 175)
    assert pair.iou_loss == pytest.approx(1 - 25 / 175)
    assert pair.giou == pytest.approx(25 / 175 - (225 - 175) / 225)


def test_separated_boxes_have_zero_iou_but_giou_still_sees_the_distance():
    near = bx.compare_boxes((0, 0, 10, 10), (12, 0, 22, 10))
    far = bx.compare_boxes((0, 0, 10, 10), (50, 0, 60, 10))
    assert near.intersection is None and near.iou == 0 and far.iou == 0
    assert near.iou_loss == far.iou_loss == 1.0
    assert far.giou < near.giou < 0


def test_bad_boxes_are_refused_with_a_message():
    with pytest.raises(InvalidInput, match="x2 must be at least x1"):
        bx.compare_boxes((10, 0, 0, 10), (0, 0, 5, 5))
    with pytest.raises(InvalidInput, match="N, 4"):
        bx.box_iou(np.zeros((3, 5)), np.zeros((1, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threshold", [0.3, 0.45, 0.5, 0.7])
@pytest.mark.parametrize("seed", range(8))
def test_nms_is_exactly_torchvision(seed, threshold, dtype):
    rng = np.random.default_rng(seed)
    boxes = clustered_boxes(rng, 60, dtype)
    scores = rng.random(60).astype(dtype)
    expected = ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).numpy()
    np.testing.assert_array_equal(bx.nms(boxes, scores, threshold), expected)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
@pytest.mark.parametrize("seed", range(8))
def test_batched_nms_is_exactly_torchvision(seed, threshold):
    rng = np.random.default_rng(100 + seed)
    boxes = clustered_boxes(rng, 80)
    scores = rng.random(80).astype(np.float32)
    classes = rng.integers(0, 3, 80)
    expected = ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(classes),
                               threshold).numpy()
    np.testing.assert_array_equal(bx.batched_nms(boxes, scores, classes, threshold), expected)


def test_nms_steps_say_who_suppressed_whom_at_what_iou():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 1, 10, 11]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    trace = bx.nms_steps(boxes, scores, 0.5)
    assert trace.order == (0, 1, 2, 3)
    assert trace.keep == (0, 2)
    first = trace.steps[0]
    assert [s.index for s in first.suppressed] == [1, 3]
    assert first.suppressed[0].by == 0
    assert first.suppressed[0].iou == pytest.approx(90 / 110)
    assert trace.steps[1].suppressed == ()


def test_class_aware_nms_keeps_overlapping_boxes_of_different_classes():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    scores = np.array([0.9, 0.8])
    assert bx.nms_steps(boxes, scores, 0.5, classes=[0, 1]).keep == (0, 1)
    assert bx.nms_steps(boxes, scores, 0.5).keep == (0,)


def test_iou_exactly_at_the_threshold_is_not_suppressed():
    boxes = np.array([[0, 0, 2, 1], [1, 0, 3, 1]], dtype=np.float32)  # IoU = 1/3
    assert bx.nms(boxes, [0.9, 0.8], 0.5).tolist() == [0, 1]
    half = np.array([[0, 0, 4, 1], [0, 0, 2, 1]], dtype=np.float32)  # IoU = 0.5 exactly
    assert bx.nms(half, [0.9, 0.8], 0.5).tolist() == ops.nms(torch.from_numpy(half), torch.tensor([0.9, 0.8]),
                                                               0.5).tolist() == [0, 1]


def test_count_after_nms_matches_filtering_then_nms():
    rng = np.random.default_rng(7)
    boxes, scores, classes = clustered_boxes(rng, 50), rng.random(50).astype(np.float32), rng.integers(0, 2, 50)
    confs, ious = [0.1, 0.4, 0.8], [0.3, 0.6]
    counts = bx.count_after_nms(boxes, scores, classes, confs, ious)
    for row, iou in enumerate(ious):
        for column, conf in enumerate(confs):
            keep = scores > conf
            direct = ops.batched_nms(torch.from_numpy(boxes[keep]), torch.from_numpy(scores[keep]),
                                     torch.from_numpy(classes[keep]), iou)
            assert counts[row, column] == len(direct)
    assert bx.count_after_nms(boxes, scores, classes, confs, ious, max_det=2).max() <= 2


def test_threshold_sweep_counts_at_every_confidence_and_the_chosen_iou():
    from cvlab.detection.boxes import count_after_nms, threshold_sweep

    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores, classes = np.array([0.9, 0.6, 0.3]), np.array([0, 0, 1])
    confs, ious, counts = threshold_sweep(boxes, scores, classes, 0.65)
    assert confs[0] == 0.02 and confs[-1] == 0.98 and len(confs) == 49
    assert ious == [0.3, 0.5, 0.65, 0.7, 0.9]
    assert counts.shape == (5, 49)
    np.testing.assert_array_equal(counts, count_after_nms(boxes, scores, classes, confs, ious))
    assert counts[0, 0] == 2 and counts[-1, 0] == 3  # the overlapping pair (IoU 0.68) survives only above 0.68
