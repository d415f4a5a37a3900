import pytest

from cvlab.errors import InvalidInput
from cvlab.viz.style import COLORWAY
from cvlab.viz.zoo import accuracy_chart, pareto_front
from cvlab.zoo.facts import ArchitectureFacts


def make_facts(name, family, params_m, gmacs, top1, latency_ms=None):
    return ArchitectureFacts(
        name=name, title=name.upper(), family=family, year=2020, input_size=224, params=round(params_m * 1e6),
        params_source="hand-made", macs=round(gmacs * 1e9), flops=round(2 * gmacs * 1e9), flops_source="hand-made",
        published_params=None, published_macs=None, top1=top1, top5=None, file_size_mb=None, weights="W.V1",
        published_source=None, latency_ms=latency_ms)


FACTS = [
    make_facts("small", "A", 5.0, 0.4, 77.0),  # front
    make_facts("medium", "A", 25.0, 4.1, 80.0),  # front
    make_facts("worse", "B", 30.0, 4.0, 76.0),  # dominated by medium (on params)
    make_facts("big", "B", 88.0, 15.0, 83.0),  # front
    make_facts("vgg", "C", 138.0, 15.5, 71.6),  # dominated
    make_facts("untested", "C", 10.0, 1.0, None),  # no top-1: skipped
]


def test_pareto_front_known_answer():
    points = [(1, 1), (2, 3), (2, 2), (3, 3), (4, 5), (0.5, 0.5), (4, 5)]
    # (2, 2) loses to (2, 3); (3, 3) to (2, 3); the two (4, 5) tie and neither beats the other.
    assert pareto_front(points) == [0, 1, 4, 5, 6]
    assert pareto_front([(1, 1), (2, 2), (3, 1)], minimise_x=False) == [1, 2]
    assert pareto_front([]) == []


@pytest.mark.parametrize("x, scale", [("params", 1e6), ("macs", 1e9)])
def test_accuracy_chart_has_one_trace_per_family_and_the_front(x, scale):
    fig = accuracy_chart(FACTS, x)
    names = [trace.name for trace in fig.data]
    assert names == ["A", "B", "C", "Pareto front"]
    assert [trace.marker.color for trace in fig.data[:3]] == COLORWAY[:3]
    by_name = {f.title: f for f in FACTS}
    for trace in fig.data[:3]:
        for value, top1, row in zip(trace.x, trace.y, trace.customdata):
            fact = by_name[row[0]]
            expected = (fact.params if x == "params" else fact.macs) / scale
            assert value == pytest.approx(expected) and top1 == fact.top1
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.xaxis.title.text == {"params": "parameters (M)", "macs": "multiply-accumulates (G)"}[x]
    front = fig.data[-1]
    assert list(front.x) == sorted(front.x) and front.mode == "lines"
    if x == "params":
        assert list(front.y) == [77.0, 80.0, 83.0]


def test_entries_without_top1_or_x_are_skipped_and_reported():
    fig = accuracy_chart(FACTS, "latency", latencies={"small": 3.0, "big": 40.0, "untested": 5.0})
    assert fig.layout.meta["skipped"] == ["medium", "worse", "vgg", "untested"]
    assert "4 not shown" in fig.layout.title.text
    assert fig.layout.meta["note"] == "Not shown: medium, worse, vgg, untested"
    assert not fig.layout.annotations  # in the figure it overlapped the tick labels in projector mode
    assert fig.layout.xaxis.title.text == "latency at batch 1 (ms, this machine)"
    assert sorted(v for trace in fig.data[:-1] for v in trace.x) == [3.0, 40.0]


def test_latency_falls_back_to_the_facts_measurement():
    facts = [make_facts("a", "A", 1, 1, 70, latency_ms=2.5)]
    fig = accuracy_chart(facts, "latency")
    assert list(fig.data[0].x) == [2.5] and fig.layout.meta == {"skipped": [], "note": ""}


def test_unknown_axis_names_the_choices():
    with pytest.raises(InvalidInput, match="params, macs, latency"):
        accuracy_chart(FACTS, "flops")


def test_families_past_the_palette_get_another_marker_shape():
    facts = [make_facts(f"m{i}", f"F{i}", 1 + i, 1, 70 + i) for i in range(len(COLORWAY) + 1)]
    fig = accuracy_chart(facts, "params")
    looks = [(trace.marker.color, trace.marker.symbol) for trace in fig.data[:-1]]
    assert len(set(looks)) == len(facts)  # no two families look alike
    assert looks[0] == (COLORWAY[0], "circle") and looks[-1] == (COLORWAY[0], "diamond")


def test_hover_shows_params_macs_top1_and_the_latency_where_measured():
    facts = [make_facts("timed", "A", 5.0, 0.4, 77.0, latency_ms=3.25), make_facts("untimed", "A", 9.0, 1.0, 78.0)]
    fig = accuracy_chart(facts, "params")
    rows = {row[0]: row for row in fig.data[0].customdata}
    assert list(rows["TIMED"][1:4]) == ["5.00 M", "0.40 G", "77.00 %"]
    assert rows["TIMED"][5].startswith("3.2 ms") and rows["UNTIMED"][5] == "not measured yet"
    assert "latency %{customdata[5]}" in fig.data[0].hovertemplate
    measured_now = accuracy_chart(facts, "params", latencies={"untimed": 40.0}).data[0].customdata
    assert measured_now[1][5].startswith("40.0 ms")
