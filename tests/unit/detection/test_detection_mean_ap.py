"""mAP@0.5 written out in numpy: hand-worked precision-recall curves, VOC's matching rule, bad input."""

import numpy as np
import pytest

from cvlab.detection.mean_ap import ImageBoxes, average_precision, mean_average_precision

NAMES = ("circle", "square")


def truth(*boxes_and_classes):
    boxes = [b for b, _ in boxes_and_classes]
    return ImageBoxes(np.array(boxes, np.float32).reshape(-1, 4), np.array([c for _, c in boxes_and_classes]))


def found(*rows):
    """rows of (box, class, score)."""
    return ImageBoxes(np.array([r[0] for r in rows], np.float32).reshape(-1, 4),
                      np.array([r[1] for r in rows], np.int64), np.array([r[2] for r in rows], np.float32))


A, B, FAR = (0, 0, 10, 10), (20, 20, 40, 40), (100, 100, 110, 110)


def test_every_box_found_first_gives_one():
    report = mean_average_precision([truth((A, 0), (B, 1))], [found((A, 0, 0.9), (B, 1, 0.8))], NAMES)
    assert report.per_class == {"circle": 1.0, "square": 1.0} and report.mean == 1.0


def test_a_false_positive_between_two_hits_is_worked_by_hand():
    # Scores 0.9 hit, 0.8 miss, 0.7 hit: recall 0.5, 0.5, 1; precision 1, 0.5, 2/3.
    # Envelope: precision 1 up to recall 0.5, then 2/3: AP = 0.5 * 1 + 0.5 * 2/3.
    report = mean_average_precision([truth((A, 0), (B, 0))], [found((A, 0, 0.9), (FAR, 0, 0.8), (B, 0, 0.7))], NAMES)
    assert report.per_class == {"circle": pytest.approx(0.5 + 0.5 * 2 / 3)}
    assert report.truths == {"circle": 2} and report.detections == {"circle": 3, "square": 0}


def test_a_second_box_on_a_taken_object_is_a_false_positive_and_a_miss_caps_recall():
    # Two boxes on A (the second one duplicates), B never found: recall stops at 1/2.
    report = mean_average_precision([truth((A, 0), (B, 0))], [found((A, 0, 0.9), ((0, 0, 10, 11), 0, 0.8))], NAMES)
    assert report.mean == pytest.approx(0.5)


def test_iou_just_below_the_threshold_or_the_wrong_class_does_not_count():
    shifted = (0, 0, 10, 20)  # IoU with A = 100 / 200 = 0.5: counts at 0.5, not at 0.51
    assert mean_average_precision([truth((A, 0))], [found((shifted, 0, 0.9))], NAMES, iou=0.5).mean == 1.0
    assert mean_average_precision([truth((A, 0))], [found((shifted, 0, 0.9))], NAMES, iou=0.51).mean == 0.0
    assert mean_average_precision([truth((A, 0))], [found((A, 1, 0.9))], NAMES).per_class == {"circle": 0.0}


def test_matches_stay_within_their_image():
    # The box is exactly where the truth is, but in the other image.
    report = mean_average_precision([truth((A, 0)), truth((B, 0))], [found((B, 0, 0.9)), found((A, 0, 0.9))], NAMES)
    assert report.mean == 0.0


def test_classes_without_truth_are_left_out_of_the_mean_and_nothing_found_is_zero():
    report = mean_average_precision([truth((A, 0))], [found()], NAMES)
    assert report.per_class == {"circle": 0.0} and report.mean == 0.0


def test_the_envelope_takes_the_best_precision_to_the_right():
    # Recall 0.25 at precision 0.5, then recall 1 at precision 0.8: the envelope is 0.8 throughout.
    assert average_precision(np.array([0.25, 1.0]), np.array([0.5, 0.8])) == pytest.approx(0.8)


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="one of each per image"):
        mean_average_precision([truth((A, 0))], [], NAMES)
    with pytest.raises(ValueError, match="needs a score"):
        mean_average_precision([truth((A, 0))], [truth((A, 0))], NAMES)
