"""Figures for looking inside a network: feature-map grids, top-5 bars, the Grad-CAM overlay."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cvlab.viz.style import styled

MAP_COLUMNS = 4
# No axis lines or ticks around pictures: the projector's black 2 px axes would frame them on two sides only.
BARE = dict(showgrid=False, showticklabels=False, zeroline=False, showline=False, ticks="")


def feature_map_grid(maps: np.ndarray, channels: tuple[int, ...], title: str, *, label: str = "channel") -> go.Figure:
    """(N, H, W) maps in [0, 1] as a grid of small grayscale images, each labelled with its channel
    (``label``: "feature" for a transformer's token features)."""
    rows = -(-len(maps) // MAP_COLUMNS)
    fig = make_subplots(rows=rows, cols=MAP_COLUMNS, subplot_titles=[f"{label} {c}" for c in channels],
                        horizontal_spacing=0.02, vertical_spacing=0.08)
    for index, fmap in enumerate(maps):
        fig.add_trace(go.Heatmap(z=fmap, colorscale="Gray", zmin=0, zmax=1, showscale=False,
                                 hovertemplate="y %{y}, x %{x}: %{z:.2f}<extra></extra>"),
                      row=index // MAP_COLUMNS + 1, col=index % MAP_COLUMNS + 1)
    fig.update_xaxes(constrain="domain", **BARE)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", **BARE)
    for axis in range(2, len(maps) + 1):  # each map square, like the image it came from
        fig.update_yaxes(scaleanchor=f"x{axis}", row=(axis - 1) // MAP_COLUMNS + 1, col=(axis - 1) % MAP_COLUMNS + 1)
    fig.update_layout(height=220 * rows + 80)
    styled(fig, title=title)
    return fig.update_layout(margin_t=80)  # the title clear of the first row's labels


def top5_figure(top5: tuple[tuple[int, str, float], ...], *, pretrained: bool) -> go.Figure:
    """Horizontal bars of the five most probable classes, the first on top."""
    labels = [name for _, name, _ in top5][::-1]
    probabilities = [p for _, _, p in top5][::-1]
    fig = go.Figure(go.Bar(x=probabilities, y=labels, orientation="h", text=[f"{p:.1%}" for p in probabilities],
                           textposition="outside", cliponaxis=False))
    fig.update_xaxes(title="softmax probability", range=[0, max(max(probabilities) * 1.25, 0.05)])
    fig.update_layout(height=320)
    title = "Top-5 classes" + ("" if pretrained else " (random weights: these guesses mean nothing yet)")
    return styled(fig, title=title)


def cam_overlay(pixels: np.ndarray, cam: np.ndarray, title: str) -> go.Figure:
    """The photo with the Grad-CAM heat map laid over it, half transparent."""
    fig = go.Figure(go.Image(z=pixels, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(z=cam, colorscale="Jet", zmin=0, zmax=1, opacity=0.45,
                             # The colour bar's title on top: at its side it touched the tick labels.
                             colorbar=dict(title=dict(text="evidence", side="top"), thickness=14),
                             hovertemplate="y %{y}, x %{x}: %{z:.2f}<extra></extra>"))
    fig.update_xaxes(**BARE)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", **BARE)
    fig.update_layout(height=520)
    return styled(fig, title=title)


def attention_overlay(pixels: np.ndarray, grid: np.ndarray, title: str) -> go.Figure:
    """The photo with a (g, g) grid of attention shares laid over it, one cell per patch, half transparent."""
    height, width = pixels.shape[:2]
    side_y, side_x = grid.shape
    fig = go.Figure(go.Image(z=pixels, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(z=grid, x0=(width / side_x - 1) / 2, dx=width / side_x, y0=(height / side_y - 1) / 2,
                             dy=height / side_y, colorscale="Jet", zmin=0, zmax=float(grid.max()) or 1.0,
                             opacity=0.45, colorbar=dict(thickness=14, tickformat=".1%"),  # the caption says what
                             hovertemplate="this patch: %{z:.2%} of the attention<extra></extra>"))
    fig.update_xaxes(**BARE)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", **BARE)
    fig.update_layout(height=520)
    return styled(fig, title=title)


def vector_figure(values: np.ndarray, title: str, *, x_title: str, y_title: str,
                  labels: tuple[str, ...] = ()) -> go.Figure:
    """One value per index as a thin line of bars: a GAP vector, or a layer's logits (``labels``: class names)."""
    named = len(labels) == len(values)
    fig = go.Figure(go.Bar(x=np.arange(len(values)), y=values, marker_line_width=0,
                           customdata=list(labels) if named else None,
                           hovertemplate=("%{x} %{customdata}" if named else "%{x}") + ": %{y:.3f}<extra></extra>"))
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title)
    fig.update_layout(height=260, bargap=0)
    return styled(fig, title=title)
