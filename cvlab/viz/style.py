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


def styled(fig: go.Figure, *, title: str | None = None) -> go.Figure:
    """Apply the house layout in place and return the figure (for chaining)."""
    # No template here: Streamlit's chart theme supplies the background and grid,
    # and building a template costs more than the rest of a small figure.
    fig.update_layout(
        colorway=COLORWAY,
        font=dict(size=BASE_FONT_SIZE),
        margin=dict(l=60, r=20, t=60 if title else 30, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
    )
    if title:
        fig.update_layout(title=dict(text=title, x=0))
    return fig


def for_projector(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` with large text, thick lines and pure black ink."""
    fig = go.Figure(fig)
    big = PROJECTOR_FONT_SIZE
    # Bigger text takes room from the plot area, so the figure grows with it.
    fig.update_layout(height=round((fig.layout.height or 450) * 1.4))
    fig.update_layout(
        font=dict(size=big, color="#000000"),
        title_font_size=round(big * 1.2),
        legend_font_size=big,
        hoverlabel_font_size=big,
    )
    # Margins grow with the text; a builder's wider margin (room for a note) is kept, scaled.
    margin = fig.layout.margin
    fig.update_layout(margin=dict(l=max(90, 1.5 * (margin.l or 0)), r=max(30, margin.r or 0),
                                  t=max(90, 1.5 * (margin.t or 0)), b=max(80, 1.5 * (margin.b or 0))))
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
