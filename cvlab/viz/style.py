"""The look shared by every figure, and the projector version of it."""

from __future__ import annotations

import plotly.graph_objects as go

# Okabe-Ito: distinguishable with every common colour-vision deficiency and on a
# washed-out projector.
COLORWAY = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

# At the bottom edge of the whole figure: it never runs into the title, however many rows it wraps onto.
LEGEND_BELOW = dict(orientation="h", x=0, xanchor="left", yref="container", y=0, yanchor="bottom")

BASE_FONT_SIZE = 14
PROJECTOR_FONT_SIZE = 24  # readable from the back of a classroom at 1080p
TITLE_ROOM = 30  # px of top margin ``styled`` adds for a title


def styled(fig: go.Figure, *, title: str | None = None) -> go.Figure:
    """Apply the house layout in place and return the figure (for chaining)."""
    # No template here: Streamlit's chart theme supplies the background and grid,
    # and building a template costs more than the rest of a small figure.
    # Panel titles sit just above the plot (make_subplots' and the builders' own): the top margin holds
    # their lines too, or the figure's title lands on them (Swin's windows, a network's stages).
    over_top = [a for a in fig.layout.annotations if a.yref == "paper" and (a.y or 0) >= 1 and a.yanchor == "bottom"]
    panel_lines = max((str(a.text).count("<br>") + 1 for a in over_top), default=0)
    fig.update_layout(
        colorway=COLORWAY,
        font=dict(size=BASE_FONT_SIZE),
        margin=dict(l=60, r=20, t=30 + (TITLE_ROOM if title else 0) + round(1.5 * BASE_FONT_SIZE) * panel_lines,
                    b=50),
        # Above the plot a legend grows upwards as it wraps, into the title ("Top-1 against parameters"
        # over the family names); with a title it goes to the bottom edge, where plotly makes room for it.
        legend=LEGEND_BELOW if title else dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
    )
    if title:
        # Pinned to the top edge over panel titles: left to itself plotly centres the title in the top margin,
        # so a margin grown for a third line of panel title brought the title down onto it.
        top = dict(yref="container", y=1, yanchor="top", pad=dict(t=10)) if panel_lines else {}
        fig.update_layout(title=dict(text=title, x=0, **top))
    return fig


def for_projector(fig: go.Figure, *, keep_title: bool = True) -> go.Figure:
    """A copy of ``fig`` with large text, thick lines and pure black ink.

    ``keep_title=False`` leaves the title out (and its room): a page shows it as text above the chart,
    where it wraps to the chart's width; in the figure, in large type, a half-width chart's title ran
    off its right edge, and plotly misplaces a title broken over several lines.
    """
    fig = go.Figure(fig)
    big = PROJECTOR_FONT_SIZE
    fig.update_layout(
        font=dict(size=big, color="#000000"),
        title_font_size=big,
        legend_font_size=big,
        hoverlabel_font_size=big,
    )
    margin = fig.layout.margin
    old_t, old_b = margin.t if margin.t is not None else 100, margin.b if margin.b is not None else 80
    if fig.layout.title.text and not keep_title:
        fig.update_layout(title_text=None)
        old_t = max(old_t - TITLE_ROOM, 20)
    # Margins grow with the text; a builder's wider margin (room for a note) is kept, scaled.
    top = max(90 if fig.layout.title.text else 30, 1.5 * old_t)
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
    # A log axis labels 2 and 5 between the powers of ten; in large type they overlap: powers of ten only.
    fig.for_each_xaxis(lambda axis: axis.update(dtick=1) if axis.type == "log" and axis.dtick is None else None)
    fig.for_each_yaxis(lambda axis: axis.update(dtick=1) if axis.type == "log" and axis.dtick is None else None)
    fig.update_traces(line_width=5, selector=dict(type="scatter"))
    fig.update_traces(textfont_size=big, selector=dict(type="bar"))
    # Colour-bar labels stay smaller: side-by-side maps leave them little room.
    fig.update_traces(colorbar_tickfont_size=round(big * 0.6), selector=dict(type="heatmap"))
    fig.update_annotations(font_size=big)
    return fig
