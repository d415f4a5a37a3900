"""The detection figures: what each trace holds."""

import numpy as np

from cvlab.detection import boxes as bx
from cvlab.detection.facade import Candidates, Detection, StageTimings
from cvlab.viz import detection as viz
from cvlab.viz.style import for_projector

PIXELS = np.full((100, 160, 3), 120, np.uint8)


def traces_named(fig, prefix):
    return [t for t in fig.data if (t.name or "").startswith(prefix)]


def test_detections_figure_draws_one_closed_box_per_detection_grouped_by_class():
    dets = [Detection((10, 20, 50, 60), 0.9, 0, "circle"), Detection((60, 10, 90, 40), 0.8, 0, "circle"),
            Detection((100, 50, 150, 90), 0.7, 2, "star")]
    fig = viz.detections_figure(PIXELS, dets)
    assert fig.data[0].type == "image" and fig.data[0].source.startswith("data:image/jpeg;base64,")
    circles = traces_named(fig, "circle (2)")[0]
    assert list(circles.x[:6]) == [10, 50, 50, 10, 10, None] and list(circles.y[:5]) == [20, 20, 60, 60, 20]
    assert traces_named(fig, "star (1)")[0].line.color != circles.line.color
    assert [a.text for a in fig.layout.annotations] == ["circle 0.90", "circle 0.80", "star 0.70"]
    assert fig.layout.annotations[2].bgcolor == traces_named(fig, "star")[0].line.color
    assert list(fig.layout.yaxis.range) == [100, 0]  # y points down, as in the photo
    assert for_projector(fig).data[1].line.width == 5


def test_side_by_side_boxes_tag_the_second_under_its_box_instead_of_over_the_first_tag():
    """Projected, two squares a few pixels apart had their tags printed on top of each other."""
    dets = [Detection((60, 20, 80, 40), 0.92, 1, "square"), Detection((84, 22, 100, 38), 0.61, 1, "square"),
            Detection((10, 60, 40, 90), 0.95, 2, "triangle")]
    tags = {a.text: a for a in viz.detections_figure(PIXELS, dets).layout.annotations}
    assert (tags["square 0.92"].y, tags["square 0.92"].yanchor) == (20, "bottom")  # over its top edge
    assert (tags["square 0.61"].y, tags["square 0.61"].yanchor) == (38, "top")  # under its bottom edge
    assert tags["triangle 0.95"].yanchor == "bottom"


def test_iou_figure_fills_the_intersection_and_draws_the_enclosing_box():
    pair = bx.compare_boxes((0, 0, 10, 10), (5, 5, 15, 15))
    fig = viz.iou_figure(pair, (40, 30))
    names = [t.name for t in fig.data]
    assert "A ∩ B (25 px²)" in names and "C, enclosing (225 px²)" in names
    inter = traces_named(fig, "A ∩ B")[0]
    assert list(inter.x) == [5, 10, 10, 5, 5] and inter.fill == "toself"
    apart = viz.iou_figure(bx.compare_boxes((0, 0, 5, 5), (20, 20, 25, 25)), (40, 30))
    assert not traces_named(apart, "A ∩ B")


def test_nms_step_figure_shows_kept_suppressed_and_waiting_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [51, 50, 61, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    cands = Candidates("m", boxes, scores, np.zeros(4, int), ("thing",), 0.01, False)
    trace = bx.nms_steps(boxes, scores, 0.5)
    before = viz.nms_step_figure(PIXELS, cands, trace, 0)
    assert traces_named(before, "waiting (4)")
    first = viz.nms_step_figure(PIXELS, cands, trace, 1)
    assert traces_named(first, "kept now: #0")
    suppressed = traces_named(first, "suppressed now (1)")[0]
    assert "IoU 0.82 with #0" in suppressed.text[0]
    assert traces_named(first, "waiting (2)")
    last = viz.nms_step_figure(PIXELS, cands, trace, 2)
    assert traces_named(last, "kept (1)") and traces_named(last, "suppressed earlier (1)")


def test_count_figure_has_a_line_per_iou_threshold():
    counts = np.array([[5, 3, 1], [6, 4, 1]])
    fig = viz.count_figure([0.1, 0.5, 0.9], [0.5, 0.7], counts, conf=0.5, iou=0.7)
    assert [t.name for t in fig.data] == ["IoU 0.50", "IoU 0.70"]
    assert list(fig.data[1].y) == [6, 4, 1] and fig.data[1].line.width == 3


def test_class_counts_and_timings():
    fig = viz.class_counts_figure({"star": 3, "circle": 1}, ["circle", "square", "star"])
    assert list(fig.data[0].y) == ["circle", "star"] and list(fig.data[0].x) == [1, 3]
    timing = viz.timings_figure(StageTimings(1.5, 20.0, 2.5))
    assert list(timing.data[0].y) == ["post-process (NMS)", "inference", "pre-process"]
    assert list(timing.data[0].x) == [2.5, 20.0, 1.5] and timing.data[0].text[1] == "20.0 ms"


def test_a_photo_has_no_axis_lines_or_ticks_even_on_the_projector():
    for fig in (viz.photo_figure(PIXELS), for_projector(viz.photo_figure(PIXELS))):
        for axis in (fig.layout.xaxis, fig.layout.yaxis):
            assert axis.showline is False and axis.ticks == "" and axis.showticklabels is False
