"""The activation figures carry the right numbers: traces, colours, shaded zones, log axis."""

from types import SimpleNamespace

import numpy as np
import pytest

from cvlab.activations.functions import evaluate
from cvlab.activations.experiments import DyingReluConfig, VanishingConfig, run_dying_relu, run_vanishing_gradients
from cvlab.activations.softmax import softmax
from cvlab.viz.activations import activation_figure, dead_units_figure, gradient_norms_figure, softmax_figure


def _zone_rects(fig):
    return [shape for shape in fig.layout.shapes if shape.type == "rect"]


def test_each_function_is_a_solid_line_with_its_slope_dashed_in_the_same_colour():
    curves = [evaluate("relu", -3, 3, 61), evaluate("sigmoid", -3, 3, 61)]
    fig = activation_figure(curves, shade_vanishing=False)
    assert len(fig.data) == 4
    relu, relu_slope, sigmoid, sigmoid_slope = fig.data
    np.testing.assert_array_equal(relu.x, curves[0].x)
    np.testing.assert_array_equal(relu.y, curves[0].y)
    np.testing.assert_array_equal(relu_slope.y, curves[0].dy)
    np.testing.assert_array_equal(sigmoid_slope.y, curves[1].dy)
    assert relu.line.dash is None and relu_slope.line.dash == "dash"
    assert relu.line.color == relu_slope.line.color != sigmoid.line.color == sigmoid_slope.line.color
    assert [t.name for t in fig.data] == ["ReLU", "ReLU′ (slope)", "Sigmoid", "Sigmoid′ (slope)"]
    assert relu_slope.legendgroup == relu.legendgroup  # clicking the legend hides both


def test_slopes_and_shading_can_be_switched_off():
    fig = activation_figure([evaluate("relu"), evaluate("tanh")], show_derivative=False, shade_vanishing=False)
    assert [t.name for t in fig.data] == ["ReLU", "Tanh"]
    assert _zone_rects(fig) == [] and "yaxis2" not in fig.layout


def test_vanishing_zones_are_bars_in_one_lane_per_function_under_the_plot():
    sigmoid = evaluate("sigmoid", -10, 10, 2001)
    relu = evaluate("relu", -10, 10, 2001)
    fig = activation_figure([relu, sigmoid])
    rects = _zone_rects(fig)
    assert len(rects) == 3  # ReLU's negative half, sigmoid's two tails
    edges = [(r.x0, r.x1) for r in rects]
    assert edges[0] == pytest.approx((-10, 0), abs=0.01)
    assert edges[1] == pytest.approx((-10, -4.5849), abs=1e-3)  # sigmoid'(x) = 0.01 at x = ±4.5849
    assert edges[2] == pytest.approx((4.5849, 10), abs=1e-3)
    relu_color, sigmoid_color = fig.data[0].line.color, fig.data[2].line.color
    assert [r.fillcolor for r in rects] == [relu_color, sigmoid_color, sigmoid_color]
    assert all(r.xref == "x" and r.yref == "y2" for r in rects)
    assert [(r.y0 + r.y1) / 2 for r in rects] == pytest.approx([0, 1, 1])  # lane 0: ReLU, lane 1: sigmoid
    lanes = fig.layout.yaxis2
    assert list(lanes.ticktext) == ["ReLU", "Sigmoid"] and list(lanes.tickvals) == [0, 1]
    assert lanes.domain[1] < fig.layout.yaxis.domain[0]  # the strip sits below the plot
    assert fig.layout.xaxis.anchor == "y2"  # and shares its x axis


def test_the_legend_says_what_the_bars_mean():
    fig = activation_figure([evaluate("sigmoid", -10, 10, 201)])
    key = fig.data[-1]
    assert key.name == "bars: |f′(x)| < 0.01" and key.x == (None,)
    assert fig.layout.yaxis2.title.text == "gradient<br>vanishes"


def test_softmax_bars_are_labelled_and_the_title_shows_the_sum():
    result = softmax((2.0, 1.0, 0.1))
    fig = softmax_figure(result)
    (bars,) = fig.data
    assert list(bars.x) == ["Class A", "Class B", "Class C"]
    assert list(bars.y) == pytest.approx(result.probabilities)
    assert list(bars.text) == ["0.659", "0.242", "0.099"]
    assert "sum to 1.00" in fig.layout.title.text and "T = 1" in fig.layout.title.text


def test_softmax_can_show_plain_softmax_for_comparison():
    hot, plain = softmax((2.0, 1.0, 0.1), 5.0), softmax((2.0, 1.0, 0.1))
    fig = softmax_figure(hot, reference=plain)
    assert [t.type for t in fig.data] == ["bar", "scatter"]
    assert list(fig.data[1].y) == pytest.approx(plain.probabilities)
    assert fig.data[1].name == "T = 1"


def test_dead_units_are_plotted_in_percent_one_line_per_configuration():
    results = [run_dying_relu(DyingReluConfig(activation=name, steps=10)) for name in ("relu", "leaky_relu")]
    fig = dead_units_figure(results)
    assert len(fig.data) == 2
    assert list(fig.data[0].x) == list(range(11))
    assert list(fig.data[0].y) == pytest.approx([100 * f for f in results[0].dead_fraction])
    assert list(fig.data[1].y) == [0.0] * 11
    assert [t.name for t in fig.data] == [r.label for r in results]


def test_a_diverged_run_says_so_in_the_legend():
    diverged = SimpleNamespace(label="ReLU", dead_fraction=(0.0, 0.5), diverged_at=2)
    assert dead_units_figure([diverged]).data[0].name == "ReLU (diverged at step 2)"


def test_gradient_norms_are_on_a_log_axis_one_line_per_configuration():
    results = [run_vanishing_gradients(VanishingConfig(activation=a, depth=10)) for a in ("sigmoid", "relu")]
    fig = gradient_norms_figure(results)
    assert fig.layout.yaxis.type == "log"
    assert len(fig.data) == 2
    assert list(fig.data[0].x) == list(range(1, 11))
    assert list(fig.data[0].y) == pytest.approx(results[0].grad_norms)
    assert fig.data[1].name == "ReLU · He (Kaiming)"


def test_a_gradient_that_underflowed_to_zero_is_a_gap_not_a_broken_log_plot():
    fake = SimpleNamespace(label="tiny", grad_norms=(0.0, 1e-3, 1.0))
    assert list(gradient_norms_figure([fake]).data[0].y) == [None, 1e-3, 1.0]


def test_all_thirteen_activations_get_colours_of_their_own_far_enough_apart_to_tell():
    import itertools
    import math

    from cvlab.activations.functions import ACTIVATIONS

    curves = [evaluate(name, -3, 3, 31) for name in ACTIVATIONS.names()]
    assert len(curves) == 13
    fig = activation_figure(curves)
    colours = [t.line.color for t in fig.data if t.mode == "lines" and t.line.dash is None]
    assert len(colours) == 13 and len(set(colours)) == 13
    rgb = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in colours]
    assert min(math.dist(a, b) for a, b in itertools.combinations(rgb, 2)) > 60
    lanes = {shape.fillcolor for shape in _zone_rects(fig)}
    assert lanes <= set(colours)  # each lane of vanishing zones in its function's colour


def test_all_thirteen_keep_a_readable_plot_lanes_of_label_height_and_the_legend_under_it():
    from cvlab.activations.functions import ACTIVATIONS

    fig = activation_figure([evaluate(name, -3, 3, 31) for name in ACTIVATIONS.names()])
    legend = fig.layout.legend
    assert legend.orientation == "h" and legend.yref == "container"  # beside the plot it squeezed it into a strip
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    assert plot_px * fig.layout.yaxis2.domain[1] / 13 >= 24  # px per lane: room for a 14 px label, 24 projected
    assert plot_px * (1 - fig.layout.yaxis.domain[0]) >= 380  # the curves keep a plot of their own
    few = activation_figure([evaluate(name, -3, 3, 31) for name in ("relu", "sigmoid", "gelu")])
    assert few.layout.legend.x == 1.02  # three still fit beside it
