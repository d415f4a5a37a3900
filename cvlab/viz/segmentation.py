"""Figures for segmentation: loss curves, the toy mask pair, focal loss on imbalance, the U-Net, SAM's timings.

Pure builders: plain results in (read by attribute, so no torch import here), a plotly
Figure or an RGB array out. ``mask_overlay`` paints SAM's mask and prompts onto the photo
that the click component shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cvlab.viz.style import COLORWAY, LEGEND_BELOW, styled

if TYPE_CHECKING:
    from cvlab.segmentation.loss_explorer import FocalComparison, PixelLossCurve, ToyPair
    from cvlab.segmentation.unet_anatomy import UnetAnatomy

LOSS_CAP = 3.0  # BCE reaches 5.3 at p = 0.005; above 3 the curves teach nothing more
PART_COLOURS = {"input": "#999999", "encoder": COLORWAY[0], "bottleneck": COLORWAY[3], "decoder": COLORWAY[2],
                "head": COLORWAY[4]}
DASHES = ("solid", "dash", "dot", "dashdot")  # Dice and IoU coincide on a background pixel: both stay visible
# Labels face outwards, so the two arms of the U never write over each other.
TEXT_SIDE = {"input": "middle left", "encoder": "middle left", "bottleneck": "bottom center",
             "decoder": "bottom right", "head": "top center"}
OVERLAP_COLOURS = ("#f2f2f2", COLORWAY[1], COLORWAY[5], COLORWAY[2])  # TN, FP, FN, TP
MASK_COLOUR = np.array([30, 144, 255], np.float32)  # SAM's mask: dodger blue
POSITIVE, NEGATIVE, BOX = (0, 200, 0), (230, 0, 0), (255, 200, 0)


def pixel_loss_figure(curves: Sequence["PixelLossCurve"]) -> go.Figure:
    """Left: loss of an object pixel against p(object); right: of a background pixel."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, shared_yaxes=True,
                        subplot_titles=("object pixel (y = 1)", "background pixel (y = 0)"))
    for index, curve in enumerate(curves):
        colour = COLORWAY[index % len(COLORWAY)]
        for col, values in ((1, curve.positive), (2, curve.negative)):
            fig.add_trace(go.Scatter(
                x=curve.probability, y=[min(v, LOSS_CAP) for v in values], mode="lines", name=curve.display_name,
                legendgroup=curve.name, showlegend=col == 1,
                line=dict(color=colour, width=3, dash=DASHES[index % len(DASHES)]),
                customdata=values,
                hovertemplate=f"p = %{{x:.3f}}: %{{customdata:.4f}}<extra>{curve.display_name}</extra>",
            ), row=1, col=col)
    fig.update_xaxes(title_text="predicted probability of object, p", range=[0, 1])
    fig.update_yaxes(title_text="loss", range=[0, LOSS_CAP * 1.02], row=1, col=1)
    fig.update_layout(height=420)
    return styled(fig, title="Each loss on a one-pixel image").update_layout(legend=LEGEND_BELOW, margin_b=90)


def toy_pair_figure(pair: "ToyPair") -> go.Figure:
    """The true and predicted squares as one map: both, prediction only, truth only, neither."""
    predicted = (pair.probability > 0.5).astype(np.uint8)
    overlap = pair.target * 2 + predicted  # 0 TN, 1 FP, 2 FN, 3 TP
    # A stepped colour scale: category k fills [k/4, (k+1)/4] of the z range -0.5..3.5.
    scale = [[edge / 4, colour] for k, colour in enumerate(OVERLAP_COLOURS) for edge in (k, k + 1)]
    fig = go.Figure(go.Heatmap(
        z=overlap, zmin=-0.5, zmax=3.5, colorscale=scale, showscale=False,
        customdata=pair.probability, hovertemplate="x %{x}, y %{y}: p = %{customdata:.2f}<extra></extra>"))
    for name, colour in zip(("neither", "predicted only (FP)", "true only (FN)", "both (TP)"), OVERLAP_COLOURS):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                 marker=dict(symbol="square", size=14, color=colour, line=dict(color="#555", width=1))))
    size = pair.target.shape[0]
    fig.update_xaxes(range=[-0.5, size - 0.5], constrain="domain", showgrid=False, title_text="x (px)")
    fig.update_yaxes(range=[size - 0.5, -0.5], scaleanchor="x", showgrid=False, title_text="y (px)")
    fig.update_layout(height=460, plot_bgcolor="#ffffff")
    return styled(fig, title="True square vs predicted square").update_layout(legend=LEGEND_BELOW, margin_b=90)


def focal_figure(comparison: "FocalComparison") -> go.Figure:
    """Share of the total loss that each pixel group makes, under BCE and under focal loss."""
    labels = [f"{g.name}<br>{g.count:,} px, p = {g.probability:g}" for g in comparison.groups]
    fig = go.Figure()
    for index, (name, totals) in enumerate((("BCE", comparison.bce),
                                            (f"focal (α = {comparison.alpha:g}, γ = {comparison.gamma:g})",
                                             comparison.focal))):
        shares = comparison.shares(totals)
        fig.add_trace(go.Bar(x=labels, y=[100 * s for s in shares], name=name, marker_color=COLORWAY[index],
                             text=[f"{100 * s:.0f}%" for s in shares], textposition="outside",
                             customdata=totals, hovertemplate="%{y:.1f}% of the loss (sum %{customdata:.3g})"
                                                              f"<extra>{name}</extra>"))
    fig.update_yaxes(title_text="share of the total loss (%)", range=[0, 115])
    fig.update_layout(barmode="group", height=420)
    return styled(fig, title="Where the loss comes from on an imbalanced mask").update_layout(legend=LEGEND_BELOW,
                                                                                               margin_b=90)


def focal_curve_figure(curves: Sequence["PixelLossCurve"]) -> go.Figure:
    """Loss of a pixel against the probability given to its true class, p_t (object pixels' curves)."""
    fig = go.Figure()
    for index, curve in enumerate(curves):
        fig.add_trace(go.Scatter(x=curve.probability, y=[min(v, LOSS_CAP) for v in curve.positive], mode="lines",
                                 name=curve.display_name, line=dict(color=COLORWAY[index % len(COLORWAY)], width=3)))
    fig.update_xaxes(title_text="probability of the true class, p_t", range=[0, 1])
    fig.update_yaxes(title_text="loss", range=[0, LOSS_CAP * 1.02])
    fig.update_layout(height=380)
    return styled(fig, title="Easy pixels (p_t near 1) lose their weight").update_layout(legend=LEGEND_BELOW,
                                                                                          margin_b=80)


def unet_figure(anatomy: "UnetAnatomy") -> go.Figure:
    """The U: encoder stages down the left, decoder up the right, skip connections across."""
    depth = {s.name: level for level, s in enumerate(s for s in anatomy.stages if s.part in ("input", "encoder",
                                                                                               "bottleneck"))}
    bottom = max(depth.values())
    positions: dict[str, tuple[float, float]] = {}
    for index, stage in enumerate(anatomy.stages):
        if stage.name in depth:
            level = depth[stage.name]
        else:  # decoder i sits at the level of the encoder map it is concatenated with
            level = bottom - (index - bottom)
        positions[stage.name] = (index, -max(level, 0))
    fig = go.Figure()
    for stage in anatomy.stages:
        if stage.skip_from:
            (x0, y0), (x1, y1) = positions[stage.skip_from], positions[stage.name]
            fig.add_trace(go.Scatter(x=[x0, x1], y=[y0, y1], mode="lines", showlegend=False, hoverinfo="skip",
                                     line=dict(color="#888", width=2, dash="dash")))
    xs, ys = zip(*(positions[s.name] for s in anatomy.stages))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", showlegend=False, hoverinfo="skip",
                             line=dict(color="#bbb", width=2)))
    for part, colour in PART_COLOURS.items():
        stages = [s for s in anatomy.stages if s.part == part]
        fig.add_trace(go.Scatter(
            x=[positions[s.name][0] for s in stages], y=[positions[s.name][1] for s in stages], mode="markers+text",
            name=part, marker=dict(size=[14 + 4 * np.log2(max(s.channels, 1)) for s in stages], color=colour,
                                   symbol="square"),
            text=[f"{s.channels}×{s.height}×{s.width}" for s in stages], textposition=TEXT_SIDE[part],
            cliponaxis=False,  # a label under the bottleneck's big marker may reach past the plot area
            customdata=[s.name for s in stages], hovertemplate="%{customdata}: %{text}<extra></extra>"))
    fig.update_xaxes(visible=False, range=[-3.2, len(anatomy.stages) + 2.2])
    # Room below the bottleneck for its label under a marker up to 50 px tall, at projector text sizes too.
    fig.update_yaxes(visible=False, range=[-bottom - 1.5, 0.9])
    fig.update_layout(height=440, plot_bgcolor="#ffffff")
    title = f"U-Net with a {anatomy.encoder} encoder at {anatomy.input_size} px: channels × height × width"
    return styled(fig, title=title).update_layout(legend=LEGEND_BELOW, margin_b=80)


def random_prediction_figure(image: np.ndarray, truth: np.ndarray, probability: np.ndarray) -> go.Figure:
    """The scene, its true mask and an untrained U-Net's p(object), side by side."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.04,
                        subplot_titles=("image", "true mask", "untrained U-Net: p(object)"))
    fig.add_trace(go.Image(z=image, hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Heatmap(z=truth, colorscale="Gray", zmin=0, zmax=1, showscale=False, hoverinfo="skip"),
                  row=1, col=2)
    fig.add_trace(go.Heatmap(z=probability, colorscale="Viridis", zmin=0, zmax=1, colorbar=dict(len=0.9, thickness=14),
                             hovertemplate="p = %{z:.2f}<extra></extra>"), row=1, col=3)
    for col in (2, 3):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{col}", row=1, col=col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=340)
    return styled(fig)


def sam_timing_figure(encoder_seconds: float, decoder_seconds: float, model: str) -> go.Figure:
    """The image encoder (once per image) against the prompt encoder + mask decoder (every click)."""
    labels = ["image encoder<br>(once per image)", "prompt encoder + decoder<br>(every click)"]
    values = [1000 * encoder_seconds, 1000 * decoder_seconds]
    fig = go.Figure(go.Bar(y=labels, x=values, orientation="h", marker_color=[COLORWAY[3], COLORWAY[2]],
                           text=[f"{v:,.0f} ms" for v in values], textposition="outside", cliponaxis=False))
    fig.update_xaxes(title_text="milliseconds", range=[0, max(values) * 1.5])
    fig.update_layout(height=260, margin=dict(l=210))
    return styled(fig, title=f"{model}: where the time goes")


def mask_overlay(pixels: np.ndarray, mask: np.ndarray | None, points: Sequence[tuple[float, float, bool]] = (),
                 box: tuple[float, float, float, float] | None = None, opacity: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8: the photo with the mask tinted, points as dots (green +, red -) and the box outlined."""
    out = pixels.astype(np.float32)
    if mask is not None:
        out[mask] = (1 - opacity) * out[mask] + opacity * MASK_COLOUR
    out = out.astype(np.uint8)
    height, width = out.shape[:2]
    radius = max(3, round(min(height, width) / 90))
    yy, xx = np.ogrid[:height, :width]
    for x, y, positive in points:
        ring = (xx - x) ** 2 + (yy - y) ** 2
        out[ring <= (radius + 2) ** 2] = 255
        out[ring <= radius ** 2] = POSITIVE if positive else NEGATIVE
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        x0, x1 = np.clip([x0, x1 - 1], 0, width - 1)
        y0, y1 = np.clip([y0, y1 - 1], 0, height - 1)
        t = max(1, radius // 2)
        out[y0:y0 + t, x0:x1 + 1] = BOX
        out[max(y1 - t + 1, 0):y1 + 1, x0:x1 + 1] = BOX
        out[y0:y1 + 1, x0:x0 + t] = BOX
        out[y0:y1 + 1, max(x1 - t + 1, 0):x1 + 1] = BOX
    return out
