"""Figures for scaling up: EfficientNet's compound-scaling curves, ViT patches, Swin windows, attention cost."""

from __future__ import annotations

from collections import Counter

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cvlab.zoo.scaling import RealConfig, ScalingPoint
from cvlab.zoo.tokens import CostFit, CostPoint, Rect, Window
from cvlab.viz.style import COLORWAY, styled

_CURVES = (("depth", "depth d = alpha^phi"), ("width", "width w = beta^phi"),
           ("resolution", "resolution r = gamma^phi"), ("flops_multiplier", "FLOPs (alpha beta^2 gamma^2)^phi"))
_REAL = (("depth_mult", "depth", "depth"), ("width_mult", "width", "width"),
         ("resolution_px", "resolution", "resolution"), ("macs_multiplier", "flops_multiplier", "FLOPs"))


def compound_scaling_figure(curve: list[ScalingPoint], real: tuple[RealConfig, ...] = ()) -> go.Figure:
    """Multipliers against phi as lines; the real B0..B7 as markers at the phi that best fits each."""
    fig = go.Figure()
    phis = [p.phi for p in curve]
    for index, (field, label) in enumerate(_CURVES):
        fig.add_trace(go.Scatter(x=phis, y=[getattr(p, field) for p in curve], mode="lines", name=label,
                                 line=dict(color=COLORWAY[index]), legendgroup=field,
                                 hovertemplate="phi %{x:.2f}: %{y:.2f}x<extra></extra>"))
    for index, (field, curve_field, label) in enumerate(_REAL):
        values = [getattr(c, field) for c in real]
        if field == "resolution_px":
            values = [v / real[0].resolution_px for v in values]  # multiplier over B0's 224 px
        kept = [(c, v) for c, v in zip(real, values) if v is not None]
        if not kept:
            continue
        # B0..B7 named once, on the FLOPs diamonds: on all four series the names piled up at each phi.
        fig.add_trace(go.Scatter(
            x=[c.phi_fit for c, _ in kept], y=[v for _, v in kept],
            mode="markers+text" if field == "macs_multiplier" else "markers",
            text=[f"B{c.variant}" for c, _ in kept], textposition="top center", legendgroup=curve_field,
            marker=dict(color=COLORWAY[index], size=9, symbol="diamond"), name=f"torchvision B0..B7 {label}",
            hovertemplate="%{text} (fitted phi %{x:.2f}): %{y:.2f}x<extra></extra>"))
    fig.update_xaxes(title="compound coefficient phi")
    fig.update_yaxes(title="multiplier over B0 (log)", type="log", dtick="D2")  # 1, 2, 5, 10...: 2..9 crowded
    fig.update_layout(height=480)
    return styled(fig, title="Compound scaling: the formula (lines) and the released B0..B7 (diamonds)")


def _image_axes(fig: go.Figure) -> None:
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed", scaleanchor="x")


def _rect_shape(rect: Rect, *, color: str, xref: str = "x", yref: str = "y", fill: str | None = None) -> dict:
    # Pixel centres sit on integers in go.Image, so a pixel's edges are at -0.5 and +0.5.
    return dict(type="rect", xref=xref, yref=yref, x0=rect.x0 - 0.5, y0=rect.y0 - 0.5, x1=rect.x1 - 0.5,
                y1=rect.y1 - 0.5, line=dict(color=color, width=1.5), fillcolor=fill or "rgba(0,0,0,0)")


def patch_grid_figure(pixels: np.ndarray, patches: list[Rect], tokens: int, title: str | None = None) -> go.Figure:
    """The (H, W, 3) image with one rectangle per ViT patch drawn over it."""
    fig = go.Figure(go.Image(z=pixels, hoverinfo="skip"))
    fig.update_layout(shapes=[_rect_shape(r, color="#FFFFFF") for r in patches], height=520)
    _image_axes(fig)
    side = patches[0].x1 - patches[0].x0 if patches else 0
    return styled(fig, title=title or f"{len(patches)} patches of {side}x{side} px + 1 CLS = {tokens} tokens")


def swin_windows_figure(pixels: np.ndarray, regular: list[Window], shifted: list[Window]) -> go.Figure:
    """The image twice: Swin's regular windows, and the regions the shifted windows cut.

    Shifted regions that the cyclic shift packs into one window with pieces from
    the opposite edge are shaded: they share a window but a mask keeps them apart.
    """
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.03, subplot_titles=(
        f"regular: {len(regular)} windows", f"shifted: {len(shifted)} regions in "
        f"{len({w.batch_window for w in shifted})} windows"))
    for col in (1, 2):
        fig.add_trace(go.Image(z=pixels, hoverinfo="skip"), row=1, col=col)
    shared = Counter(w.batch_window for w in shifted)
    shapes = [_rect_shape(w.rect, color="#FFFFFF") for w in regular]
    shapes += [_rect_shape(w.rect, color=COLORWAY[1], xref="x2", yref="y2",
                           fill="rgba(230,159,0,0.35)" if shared[w.batch_window] > 1 else None) for w in shifted]
    fig.update_layout(shapes=shapes, height=480)
    _image_axes(fig)
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    return styled(fig, title="Swin stage 1: windows of 7x7 tokens (4x4 px patches)")


_AXES = {"image_size": "image side (pixels, log)", "pixels": "pixels per image (log)",
         "tokens": "tokens (log; ViT: patches + CLS, Swin: stage-1 patches)"}


def attention_cost_figure(points: list[CostPoint], fits: list[CostFit], x: str = "pixels") -> go.Figure:
    """MACs against image size on log-log axes: solid the whole model, dashed the attention products."""
    if x not in _AXES:
        raise ValueError(f"x must be one of {', '.join(_AXES)}, got {x!r}")
    fig = go.Figure()
    for index, fit in enumerate(fits):
        mine = [p for p in points if p.model == fit.model]
        xs = [getattr(p, x) for p in mine]
        color = COLORWAY[index % len(COLORWAY)]
        fig.add_trace(go.Scatter(x=xs, y=[p.macs for p in mine], mode="lines+markers", line=dict(color=color),
                                 name=f"{fit.model} total ~ pixels^{fit.total_exponent:.2f}",
                                 hovertemplate="%{x}: %{y:.3s} MACs<extra></extra>"))
        fig.add_trace(go.Scatter(x=xs, y=[p.attention_macs for p in mine], mode="lines+markers",
                                 line=dict(color=color, dash="dash"),
                                 name=f"{fit.model} attention ~ pixels^{fit.attention_exponent:.2f}",
                                 hovertemplate="%{x}: %{y:.3s} MACs<extra></extra>"))
    fig.update_xaxes(title=_AXES[x], type="log")
    fig.update_yaxes(title="multiply-accumulates per image (log)", type="log", dtick=1)  # 100M, 1B...: no 2s and 5s
    fig.update_layout(height=460)
    return styled(fig, title="Attention cost as images grow: quadratic for ViT, linear for Swin")
