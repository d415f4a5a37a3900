"""The look shared by every figure, and the projector version of it."""

from __future__ import annotations

import textwrap

import plotly.graph_objects as go

# Okabe-Ito: distinguishable with every common colour-vision deficiency and on a
# washed-out projector.
COLORWAY = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

# At the bottom edge of the whole figure: it never runs into the title, however many rows it wraps onto.
LEGEND_BELOW = dict(orientation="h", x=0, xanchor="left", yref="container", y=0, yanchor="bottom")

BASE_FONT_SIZE = 14
PROJECTOR_FONT_SIZE = 24  # readable from the back of a classroom at 1080p
PROJECTOR_TITLE_CHARS = 40  # a title line at 1.2x that size fits a half-width chart on a 1400 px screen


def styled(fig: go.Figure, *, title: str | None = None) -> go.Figure:
    """Apply the house layout in place and return the figure (for chaining)."""
    # No template here: Streamlit's chart theme supplies the background and grid,
    # and building a template costs more than the rest of a small figure.
    fig.update_layout(
        colorway=COLORWAY,
        font=dict(size=BASE_FONT_SIZE),
        margin=dict(l=60, r=20, t=60 if title else 30, b=50),
        # Above the plot a legend grows upwards as it wraps, into the title ("Top-1 against parameters"
        # over the family names); with a title it goes to the bottom edge, where plotly makes room for it.
        legend=LEGEND_BELOW if title else dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
    )
    if title:
        fig.update_layout(title=dict(text=title, x=0))
    return fig


def for_projector(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` with large text, thick lines and pure black ink."""
    fig = go.Figure(fig)
    big = PROJECTOR_FONT_SIZE
    fig.update_layout(
        font=dict(size=big, color="#000000"),
        title_font_size=round(big * 1.2),
        legend_font_size=big,
        hoverlabel_font_size=big,
    )
    # Margins grow with the text; a builder's wider margin (room for a note) is kept, scaled.
    margin = fig.layout.margin
    old_t, old_b = margin.t if margin.t is not None else 100, margin.b if margin.b is not None else 80
    top = max(90, 1.5 * old_t) + _wrap_title(fig, round(big * 1.2))
    bottom = max(80, 1.5 * old_b)
    fig.update_layout(margin=dict(l=max(90, 1.5 * (margin.l or 0)), r=max(30, margin.r or 0), t=top, b=bottom))
    # The figure grows with its margins and then some, so the plot area grows too instead of being squeezed
    # flat by the larger margins (a short plot's ticks landed on top of each other).
    height = fig.layout.height or 450
    fig.update_layout(height=round(max(1.4 * height, 1.4 * max(height - old_t - old_b, 60) + top + bottom)))
    legend = fig.layout.legend
    if legend.yref != "container" and legend.yanchor == "bottom" and (legend.y or 0) >= 1:
        # Wrapped over several rows at this size, a legend above the plot runs into the title.
        fig.update_layout(legend=LEGEND_BELOW)
    axes = dict(title_font=dict(size=big, color="#000"), tickfont=dict(size=big, color="#000"),
                linewidth=2, linecolor="#000", gridcolor="#bbb")
    fig.update_xaxes(**axes)
    fig.update_yaxes(**axes)
    fig.update_traces(line_width=5, selector=dict(type="scatter"))
    fig.update_traces(textfont_size=big, selector=dict(type="bar"))
    # Colour-bar labels stay smaller: side-by-side maps leave them little room.
    fig.update_traces(colorbar_tickfont_size=round(big * 0.6), selector=dict(type="heatmap"))
    fig.update_annotations(font_size=big)
    return fig


def _wrap_title(fig: go.Figure, font_px: int) -> float:
    """Break a long title into lines that fit a projected chart; returns the height the extra lines need."""
    text = fig.layout.title.text
    if not text or "<br>" in text or len(text) <= PROJECTOR_TITLE_CHARS:
        return 0
    lines = textwrap.wrap(text, PROJECTOR_TITLE_CHARS)
    fig.update_layout(title_text="<br>".join(lines))
    return 1.3 * font_px * (len(lines) - 1)
