"""The output-size figures, checked on their data: what is plotted where, and what hovering shows."""

from __future__ import annotations

import pytest

from cvlab.sizes import working as size_working
from cvlab.sizes.chain import chain_rows
from cvlab.sizes.chain_text import PRESETS, parse_chain
from cvlab.viz.shapes import chain_figure, windows_figure


def overview_figure():
    preset = PRESETS.get("overview")
    return chain_figure(chain_rows(preset.input_shape, preset.layers), title="Overview")


def test_chain_figure_plots_size_channels_and_features_per_layer():
    fig = overview_figure()
    size, channels, features = fig.data
    assert size.name == "H = W" and size.type == "scatter"
    assert list(size.y[:4]) == [224, 112, 112, 56] and size.y[12] == 7 and size.y[13] == 1
    assert size.y[-1] is None and size.y[-2] is None  # flat after flatten: no spatial size
    assert channels.type == "bar" and list(channels.y[:5]) == [3, 64, 64, 64, 128] and channels.y[-1] is None
    assert list(features.y[-2:]) == [512, 1000] and features.y[0] is None
    assert list(size.x) == list(range(16))


def test_chain_figure_axes_titles_and_hover():
    fig = overview_figure()
    assert fig.layout.yaxis2.type == "log" and fig.layout.yaxis2.dtick == 1
    assert fig.layout.title.text == "Overview"
    assert list(fig.layout.xaxis2.ticktext[:3]) == ["input", "1 conv", "2 relu"]
    hover = fig.data[0].hovertext
    assert "1 conv(64,k=3,s=2,p=1)" in hover[1] and "64x112x112 (C x H x W)" in hover[1] and "1,792" in hover[1]
    assert "1000 features" in hover[-1] and "the whole input" in hover[-1]
    assert "receptive field 3 px" in hover[1]


def test_non_square_inputs_get_separate_height_and_width_lines():
    fig = chain_figure(chain_rows((3, 64, 32), parse_chain("conv(8,k=3,s=2,p=1)|maxpool(k=2)")))
    height, width = fig.data[:2]
    assert (height.name, width.name) == ("height H", "width W")
    assert list(height.y) == [64, 32, 16] and list(width.y) == [32, 16, 8]


def test_chain_figure_needs_rows():
    with pytest.raises(ValueError, match="at least one layer"):
        chain_figure([])


def test_windows_figure_marks_taps_padding_and_dropped_pixels():
    work = size_working.explain_output_size("maxpool", 7, 3, 2, 0)  # windows at 0-2, 2-4, 4-6: nothing dropped
    fig = windows_figure(7, 3, 2, work.pad_before, work.pad_after, work.output)
    taps = fig.data[0]
    assert list(taps.x) == [0, 1, 2, 2, 3, 4, 4, 5, 6]
    assert list(taps.y) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert work.dropped == 0 and not fig.layout.shapes
    dropped = size_working.explain_output_size("conv", 8, 3, 2, 0)  # windows end at pixel 6: pixel 7 is dropped
    fig = windows_figure(8, 3, 2, 0, 0, dropped.output)
    bands = [(shape.x0, shape.x1) for shape in fig.layout.shapes]
    assert bands == [(6.5, 7.5)] and dropped.dropped == 1
    assert [trace.name for trace in fig.data] == ["kernel taps", "dropped by the floor"]


def test_windows_figure_shows_padding_and_dilation():
    fig = windows_figure(5, 3, 1, 1, 1, 5, dilation=1)
    assert [(shape.x0, shape.x1) for shape in fig.layout.shapes] == [(-1.5, -0.5), (4.5, 5.5)]
    assert [trace.name for trace in fig.data] == ["kernel taps", "padding"]  # one legend entry for both bands
    dilated = windows_figure(9, 3, 1, 0, 0, 5, dilation=2)
    assert list(dilated.data[0].x[:3]) == [0, 2, 4]  # taps two pixels apart
    assert dilated.layout.yaxis.autorange == "reversed"
