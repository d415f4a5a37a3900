"""The convolution and pooling figures carry the right numbers: maps, windows, cell text, bars."""

import dataclasses

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from cvlab.cnn.convolution import conv_vs_dense_params, convolve, step_through
from cvlab.cnn.pooling import compare_pooling, head_params, translation_invariance
from cvlab.viz.convolution import (DIVERGING, GRAY, MAX_DISPLAY_PX, SATURATE_PERCENT, conv_figure, invariance_figure,
                                   params_figure, pooling_figure, step_figure)

RNG = np.random.default_rng(11)
IMAGE = RNG.random((30, 40))  # (H, W) in [0, 1]


def _scale(name):
    return go.Heatmap(colorscale=name).colorscale


def _rects(fig, axis=""):
    return [s for s in fig.layout.shapes if s.type == "rect" and s.xref == f"x{axis}"]


def test_input_and_output_side_by_side_as_images():
    result = convolve(IMAGE, "box_blur_3x3", stride=2)
    fig = conv_figure(IMAGE, result)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    image, output = fig.data
    np.testing.assert_array_equal(image.z, IMAGE.astype(np.float32))
    np.testing.assert_array_equal(output.z, result.output.astype(np.float32))
    assert (image.xaxis, output.xaxis) == ("x", "x2")
    assert image.colorscale == output.colorscale == _scale(GRAY)  # a blur of a photo stays non-negative
    assert (image.zmin, image.zmax) == (0, 1)
    for n in ("", "2"):  # images: y down, one pixel as wide as tall
        y = fig.layout[f"yaxis{n}"]
        assert y.range[0] > y.range[1] and y.scaleanchor == f"x{n}"
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]
    assert _rects(fig) == []  # no padding, no step: nothing drawn on top
    assert "output 14×19" in fig.layout.annotations[1].text


def test_output_colours_are_gray_when_positive_and_diverging_around_zero_when_signed():
    blurred = conv_figure(IMAGE, convolve(IMAGE, "gaussian_blur_3x3")).data[1]
    small = IMAGE[:20, :20]  # under 1000 values: the colour range is the full range
    fig = conv_figure(small, convolve(small, "sobel_x"))
    edges = fig.data[1]
    assert blurred.colorscale == _scale(GRAY) and edges.colorscale == _scale(DIVERGING)
    assert edges.zmid == 0 and edges.zmin == -edges.zmax
    assert edges.zmax == pytest.approx(max(-edges.z.min(), edges.z.max()), rel=1e-6)
    assert blurred.zmid is None and blurred.zmin >= 0
    assert fig.data[0].colorbar.x < fig.layout.xaxis2.domain[0] < fig.data[1].colorbar.x  # a colour bar per panel


def test_a_few_extreme_pixels_saturate_instead_of_washing_out_a_large_map():
    image = RNG.random((100, 100))
    clean = convolve(image, "edge")
    spiked = clean.output.copy()
    spiked[0, 0] = 1000.0  # one outlier
    result = dataclasses.replace(clean, output=spiked)
    output = conv_figure(image, result).data[1]
    low, high = np.percentile(result.output, [SATURATE_PERCENT, 100 - SATURATE_PERCENT])
    assert output.zmax == pytest.approx(max(-low, high)) and output.zmax < 10
    assert output.z.max() == 1000.0  # the value itself is kept: hovering shows it
    mostly_positive = image.copy()
    mostly_positive[0, 1] = -0.1  # one negative pixel in 10,000 still makes the scale diverging
    assert conv_figure(image, convolve(mostly_positive, "identity", padding=1)).data[1].zmid == 0


def test_padding_frame_window_and_output_pixel_are_outlined_where_the_step_is():
    result = convolve(IMAGE, "sobel_y", stride=2, padding=2, dilation=2)
    step = step_through(IMAGE, "sobel_y", 0, 5, stride=2, padding=2, dilation=2)
    fig = conv_figure(IMAGE, result, step)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap", "scatter"]
    frame, window = _rects(fig)
    assert (frame.x0, frame.x1, frame.y0, frame.y1) == (-2.5, 41.5, -2.5, 31.5) and frame.layer == "below"
    top, left = step.top_left
    assert (top, left) == (-2, 8)
    assert (window.x0, window.x1, window.y0, window.y1) == (left - 0.5, left + 4.5, top - 0.5, top + 4.5)
    assert window.x0 + 0.5 == step.tap_x.min() and window.x1 - 0.5 == step.tap_x.max()
    assert window.y0 + 0.5 == step.tap_y.min() and window.y1 - 0.5 == step.tap_y.max()
    (pixel,) = _rects(fig, "2")
    assert (pixel.x0, pixel.x1, pixel.y0, pixel.y1) == (4.5, 5.5, -0.5, 0.5)
    taps = fig.data[2]
    np.testing.assert_array_equal(taps.x, step.tap_x.ravel())
    np.testing.assert_array_equal(taps.y, step.tap_y.ravel())
    assert list(taps.marker.symbol) == ["x"] * 3 + ["circle"] * 6  # the first row reads the top padding
    assert fig.layout.xaxis.range[0] == -2.5  # the padding is inside the visible range


def test_large_maps_are_thinned_for_display_and_say_so():
    rows, columns = MAX_DISPLAY_PX * 2 + 10, MAX_DISPLAY_PX + 44
    big = RNG.random((rows, columns))
    fig = conv_figure(big, convolve(big, "identity", padding=1))
    image = fig.data[0]
    # every 3rd pixel, so that no side exceeds MAX_DISPLAY_PX
    assert image.z.shape == (-(-rows // 3), -(-columns // 3)) and max(image.z.shape) <= MAX_DISPLAY_PX
    np.testing.assert_array_equal(image.z, big[::3, ::3].astype(np.float32))
    np.testing.assert_array_equal(image.x, np.arange(0, columns, 3))  # still in pixels of the full image
    assert "<br>1 px in 3 shown" in fig.layout.annotations[0].text
    small = RNG.random((MAX_DISPLAY_PX, 40))
    assert conv_figure(small, convolve(small, "identity")).data[0].z.shape == (MAX_DISPLAY_PX, 40)  # whole


def test_conv_figure_refuses_a_colour_image():
    with pytest.raises(ValueError, match="one \\(H, W\\) channel"):
        conv_figure(RNG.random((8, 8, 3)), convolve(RNG.random((8, 8, 3)), "edge"))


def test_step_grids_show_window_kernel_and_products_with_their_numbers():
    step = step_through(IMAGE, "edge", 0, 3, padding=1, bias=0.5)
    fig = step_figure(step)
    window, kernel, products = fig.data
    for trace, values in ((window, step.window), (kernel, step.kernel), (products, step.products)):
        np.testing.assert_array_equal(trace.z, values)
        assert trace.texttemplate == "%{text}"
    expected = [[f"{round(v, 2) + 0.0:.2f}" for v in row] for row in step.products]
    assert np.asarray(products.text).tolist() == expected
    assert np.asarray(kernel.text)[1, 1] == "8.00"
    assert list(np.asarray(window.text)[0]) == ["pad<br>0.00"] * 3  # row -1 is padding
    assert np.asarray(window.text)[1, 1] == f"{IMAGE[0, 3]:.2f}"
    assert list(fig.layout.xaxis.ticktext) == ["2", "3", "4"] and list(fig.layout.yaxis.ticktext) == ["-1", "0", "1"]
    assert fig.layout.title.text.endswith(f"= {step.output:.4g}") and "row 0, col 3" in fig.layout.title.text
    assert [a.text for a in fig.layout.annotations][-2:] == ["<b>×</b>", "<b>=</b>"]


def test_cell_text_never_reads_minus_zero():
    step = step_through(np.full((5, 5), 0.001), np.full((3, 3), -1.0), 1, 1)
    assert set(np.asarray(step_figure(step).data[2].text).ravel()) == {"0.00"}


def test_pooling_panels_share_one_colour_scale():
    feature = np.maximum(convolve(IMAGE, "edge", padding=1).output, 0)
    comparison = compare_pooling(feature, 3, 2, 1)
    fig = pooling_figure(comparison)
    assert len(fig.data) == 4 and all(t.type == "heatmap" for t in fig.data)
    for trace, values in zip(fig.data, (feature, comparison.max_pooled, comparison.avg_pooled, [[comparison.gap]])):
        np.testing.assert_array_equal(trace.z, np.asarray(values, dtype=np.float32))
    assert len({(t.zmin, t.zmax) for t in fig.data}) == 1
    assert [t.showscale for t in fig.data] == [False, False, False, None]  # one colour bar, on the GAP panel
    assert np.asarray(fig.data[3].text).tolist() == [[f"{comparison.gap:.3f}"]]
    assert "15×20" in fig.layout.annotations[1].text


def test_invariance_bars_are_the_measured_changes_in_percent():
    feature = np.maximum(convolve(IMAGE, "edge").output, 0)
    result = translation_invariance(feature, kernel_size=2, shift_px=(1, 2))
    fig = invariance_figure(result)
    (bars,) = fig.data
    assert list(bars.x) == [row[0] for row in result.rows()]
    assert list(bars.y) == pytest.approx([100 * result.raw_change, 100 * result.max_change, 100 * result.avg_change,
                                          100 * result.gap_change])
    assert bars.customdata[-1] == "-" and bars.customdata[0] == f"{100 * result.raw_unchanged:.0f}%"
    assert "2 px across and 1 px down" in fig.layout.title.text


def test_parameter_bars_are_the_counts():
    fig = params_figure(conv_vs_dense_params(32, 32, 3, 16, 3), head_params())
    (bars,) = fig.data
    assert list(bars.x) == [448, 50_348_032, 25_089_000, 513_000]
    assert fig.layout.xaxis.type == "log" and "112,384×" in fig.layout.title.text
    assert len(params_figure(conv_vs_dense_params(8, 8, 1, 1, 3)).data[0].x) == 2


def test_every_figure_serialises_for_the_browser():
    step = step_through(IMAGE, "emboss", 2, 2)
    feature = convolve(IMAGE, "emboss").output
    for fig in (conv_figure(IMAGE, convolve(IMAGE, "emboss"), step), step_figure(step),
                pooling_figure(compare_pooling(feature)), invariance_figure(translation_invariance(feature)),
                params_figure(conv_vs_dense_params(16, 16, 3, 8, 5), head_params())):
        assert len(pio.to_json(fig, validate=True)) > 1000
