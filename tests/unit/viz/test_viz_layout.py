"""Where the text of a figure goes: titles, legends and panel labels that must not run into each other.

The browser test (tests/e2e/test_browser.py) measures the drawn figures; these check the builders' layout.
"""

import numpy as np
import plotly.graph_objects as go
import pytest

from cvlab.zoo.scaling import compound_scaling, real_configs
from cvlab.viz.scaling import compound_scaling_figure
from cvlab.viz.style import for_projector, styled
from cvlab.viz.zoo import accuracy_chart
from tests.unit.viz.test_viz_zoo import FACTS


def legend_is_below(fig: go.Figure) -> bool:
    legend = fig.layout.legend
    return (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom")


@pytest.mark.parametrize("build", [
    lambda: accuracy_chart(FACTS, "params"),
    lambda: compound_scaling_figure([compound_scaling(p) for p in np.linspace(0, 8, 9)],
                                    real_configs(count_macs=False)),
], ids=["architectures", "compound-scaling"])
def test_a_titled_chart_keeps_its_legend_away_from_the_title(build):
    """Above the plot a wrapping legend grew upwards into the title; at the figure's bottom edge it cannot."""
    fig = build()
    assert fig.layout.title.text and legend_is_below(fig)
    assert legend_is_below(for_projector(fig))


def test_an_untitled_chart_keeps_its_legend_on_top():
    fig = styled(go.Figure(go.Scatter(x=[0, 1], y=[0, 1], name="line")))
    assert fig.layout.legend.y == 1.02 and fig.layout.legend.yanchor == "bottom"


def test_the_projector_can_leave_the_title_to_the_page_with_its_room():
    """A page shows a projected chart's title as text above it, which wraps to the chart's width."""
    title = "Compound scaling: the formula (lines) and the released B0..B7 (diamonds)"
    fig = styled(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])), title=title)
    kept, left = for_projector(fig), for_projector(fig, keep_title=False)
    assert kept.layout.title.text == title and left.layout.title.text is None
    assert left.layout.margin.t < kept.layout.margin.t
    assert fig.layout.title.text == title  # the page's own figure is left as it was


def test_a_figure_title_becomes_markdown_that_shows_it_as_written():
    from cvlab.ui import figure_title_text

    assert figure_title_text("input 30×40<br>zero padding 1 px") == "input 30×40 zero padding 1 px"
    assert figure_title_text("<b>p_t</b> near 1: [easy]") == r"p\_t near 1\: \[easy\]"


def test_the_projector_grows_a_short_plot_area_instead_of_squeezing_it():
    """Margins grow with the text; a 200 px figure's plot area was left a sliver and its ticks overlapped."""
    fig = styled(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])), title="windows").update_layout(height=200,
                                                                                         margin_b=50)
    plot_before = 200 - fig.layout.margin.t - fig.layout.margin.b
    big = for_projector(fig)
    assert big.layout.height - big.layout.margin.t - big.layout.margin.b >= 1.4 * plot_before


def test_the_convolution_panels_have_two_short_title_lines_and_room_for_them():
    from cvlab.cnn.convolution import convolve
    from cvlab.viz.convolution import conv_figure

    image = np.random.default_rng(0).random((30, 40))
    fig = conv_figure(image, convolve(image, "sobel_x", padding=1))
    left, right = (a.text for a in fig.layout.annotations[:2])
    assert left == "input 30×40<br>zero padding 1 px" and right.startswith("output 30×40<br>3×3 kernel")
    assert fig.layout.margin.t >= 60


def test_the_operators_between_the_worked_pixel_panels_sit_clear_of_the_next_panels_row_labels():
    from cvlab.cnn.convolution import step_through
    from cvlab.viz.convolution import step_figure

    image = np.random.default_rng(0).random((30, 40))
    fig = step_figure(step_through(image, "sobel_x", 10, 10, padding=1))
    for sign, previous, following in (("×", "xaxis", "xaxis2"), ("=", "xaxis2", "xaxis3")):
        operator = next(a for a in fig.layout.annotations if sign in a.text)
        previous_end, next_start = fig.layout[previous].domain[1], fig.layout[following].domain[0]
        # In the first half of the gap: the second half holds the next panel's row labels.
        assert previous_end < operator.x < (previous_end + next_start) / 2
