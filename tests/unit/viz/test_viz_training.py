"""The Training page's figure builders that need no run: class counts."""

from cvlab.viz.training import class_counts


def test_class_counts_draws_one_bar_per_class_in_order_with_the_counts_written():
    fig = class_counts({"circle": 800, "cross": 790, "star": 12})
    bar = fig.data[0]
    assert list(bar.y) == ["circle", "cross", "star"]
    assert list(bar.x) == [800, 790, 12]
    assert list(bar.text) == ["800", "790", "12"]
    assert bar.orientation == "h"


def test_class_counts_grows_with_the_number_of_classes_up_to_a_limit():
    few = class_counts({f"c{i}": 1 for i in range(3)}).layout.height
    many = class_counts({f"c{i}": 1 for i in range(10)}).layout.height
    huge = class_counts({f"c{i}": 1 for i in range(100)}).layout.height
    assert few < many < huge == 600


def _run_with_events(events: list[tuple[int, str, float]]) -> list[dict]:
    steps = [{"kind": "step", "step": s, "loss": 1.0 / s, "accuracy": 0.5, "lr": [0.1],
              "images_per_second": 100.0} for s in range(1, 201)]
    return steps + [{"kind": "event", "step": s, "what": what, "value": value} for s, what, value in events]


def _marker_tags(fig) -> list:
    return [a for a in fig.layout.annotations if a.name == "change-marker"]


def test_a_pause_a_new_rate_and_a_resume_at_one_step_make_one_numbered_tag_inside_the_panel():
    from cvlab.viz.training import change_markers, run_curves

    records = _run_with_events([(120, "pause", 0), (120, "lr", 0.01), (120, "resume", 0), (180, "stop", 0)])
    markers = change_markers(records)
    assert [(m.number, m.step, m.labels) for m in markers] == [
        (1, 120, ("paused", "LR → 0.01", "resumed")), (2, 180, ("stopped",))]
    assert markers[0].text == "step 120: paused, LR → 0.01, resumed"
    tags = _marker_tags(run_curves(records))
    assert [(t.text, t.x) for t in tags] == [("1", 120), ("2", 180)]  # one tag per step, not three on top of each other
    assert all(t.yref == "y2 domain" and t.yanchor == "top" and t.y <= 1 for t in tags)  # under the title, never on it
    assert tags[0].hovertext == markers[0].text


def test_tags_of_nearby_steps_are_staggered_and_none_share_a_place():
    from cvlab.viz.training import run_curves

    records = _run_with_events([(100, "pause", 0), (101, "resume", 0), (103, "lr", 0.02), (190, "stop", 0)])
    tags = _marker_tags(run_curves(records))
    assert len(tags) == 4
    assert len({t.y for t in tags[:3]}) == 3  # three steps within 2% of the axis: three rows
    assert tags[3].y == 1  # far from the others: back on the first row
    from cvlab.viz.style import for_projector

    projected = _marker_tags(for_projector(run_curves(records)))
    assert [(t.x, t.y) for t in projected] == [(t.x, t.y) for t in tags]  # the projector keeps them apart


def test_a_run_of_one_batch_previews_as_a_line_over_its_epoch():
    from cvlab.viz.training import lr_preview

    fig = lr_preview([[0.1]], 1, ["learning rate"], "one batch")
    [line] = fig.data
    assert list(line.x) == [0, 1] and list(line.y) == [0.1, 0.1]  # a line plotly draws, not a lone point
    assert list(fig.layout.xaxis.range) == [0, 1]  # epoch 0 to 1, not -1 to 1


def test_each_rate_is_held_across_its_batch_and_the_axis_spans_the_run():
    from cvlab.viz.training import lr_preview

    fig = lr_preview([[0.1, 0.05, 0.02, 0.01], [0.01, 0.005, 0.002, 0.001]], 2, ["backbone", "head"], "two epochs")
    assert [list(t.y) for t in fig.data] == [[0.1, 0.05, 0.02, 0.01, 0.01], [0.01, 0.005, 0.002, 0.001, 0.001]]
    assert list(fig.data[0].x) == [0, 0.5, 1, 1.5, 2] and fig.data[0].line.shape == "hv"
    assert list(fig.layout.xaxis.range) == [0, 2]
