"""Figures built once per inputs and shared by every session; an output-size rerun builds none again."""

import numpy as np

from cvlab.ui import cached_figure
from cvlab.viz import shapes as viz


def counting(calls):
    def build(*args, **kwargs):
        calls.append((args, kwargs))
        return object()

    return build


def test_the_same_inputs_build_once_and_share_the_figure():
    calls = []
    build = counting(calls)
    first = cached_figure(build, 7, 3, stride=2)
    assert cached_figure(build, 7, 3, stride=2) is first
    assert cached_figure(build, 7, 3, stride=1) is not first
    assert len(calls) == 2


def test_an_input_that_cannot_be_hashed_builds_every_time():
    calls = []
    build = counting(calls)
    cached_figure(build, np.zeros(3))
    cached_figure(build, np.zeros(3))
    assert len(calls) == 2


def test_a_cached_windows_figure_is_the_builders_figure():
    fig = cached_figure(viz.windows_figure, 8, 3, 1, 1, 1, 8, 1)
    assert fig.to_plotly_json() == viz.windows_figure(8, 3, 1, 1, 1, 8, 1).to_plotly_json()
    assert cached_figure(viz.windows_figure, 8, 3, 1, 1, 1, 8, 1) is fig


def test_unhashable_inputs_are_cached_under_the_key_they_are_computed_from():
    calls = []
    build = counting(calls)
    first = cached_figure(build, np.zeros(3), title="t", cache_key=("yolo", "image-hash", 0.25))
    assert cached_figure(build, np.ones(3), title="t", cache_key=("yolo", "image-hash", 0.25)) is first
    assert cached_figure(build, np.zeros(3), title="t", cache_key=("yolo", "image-hash", 0.5)) is not first
    assert len(calls) == 2


def test_a_figure_is_restyled_for_the_projector_once_and_its_copy_goes_with_it(monkeypatch):
    import gc

    import plotly.graph_objects as go

    from cvlab.viz import style
    from cvlab import ui

    restyled = []
    real = style.for_projector
    monkeypatch.setattr(style, "for_projector", lambda fig, **kw: restyled.append(fig) or real(fig, **kw))
    figure = go.Figure(go.Bar(x=[1, 2], y=[3, 4]), layout={"title": {"text": "Counts"}})
    first, again = ui._projected(figure), ui._projected(figure)
    assert first is again and len(restyled) == 1
    assert first.layout.font.size == style.PROJECTOR_FONT_SIZE and figure.layout.font.size is None
    assert first.layout.title.text is None  # the page shows the title as text above the chart
    key = id(figure)
    del figure, restyled[:]
    gc.collect()
    assert key not in ui._PROJECTED
