"""Figures for activation functions: curves with their slopes, softmax bars, dead units, gradient norms.

The builders read plain result objects from cvlab.activations.functions, cvlab.activations.softmax and
cvlab.activations.experiments (by attribute only, so this module imports no torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import plotly.graph_objects as go

from cvlab.viz.style import COLORWAY, LEGEND_BELOW, styled

if TYPE_CHECKING:
    from cvlab.activations.functions import ActivationCurve
    from cvlab.activations.experiments import DyingReluResult, VanishingResult
    from cvlab.activations.softmax import SoftmaxResult

ZONE_OPACITY = 0.6  # of the vanishing-zone bars: the colour stays recognisable, the grid shows through


LEGEND_ON_THE_RIGHT = 6  # functions whose legend fits beside the plot, projector type included
DASHES = ("solid", "dash", "dot", "dashdot")  # so lines lying on top of each other stay tellable


# Okabe-Ito's eight, then five of Paul Tol's that stay apart from them (wine, indigo, olive, brown, grey):
# every one of the 13 activations gets its own colour, and its slope the same colour dashed.
PALETTE = (*COLORWAY, "#882255", "#332288", "#999933", "#661100", "#888888", "#44AA99", "#117733")


def _color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def activation_figure(
    curves: Sequence["ActivationCurve"], *, show_derivative: bool = True, shade_vanishing: bool = True
) -> go.Figure:
    """Each function as a solid line with its derivative dashed in the same colour; below, one
    lane per function with shaded bars over the x-regions where |f'(x)| < threshold."""
    traces: list[go.Scatter] = []
    for index, curve in enumerate(curves):
        color, name = _color(index), curve.display_name
        traces.append(go.Scatter(
            x=curve.x, y=curve.y, mode="lines", name=name, legendgroup=curve.name,
            line=dict(color=color, width=3), hovertemplate=f"f(%{{x:.2f}}) = %{{y:.4f}}<extra>{name}</extra>",
        ))
        if show_derivative:
            traces.append(go.Scatter(
                x=curve.x, y=curve.dy, mode="lines", name=f"{name}′ (slope)", legendgroup=curve.name,
                showlegend=False, line=dict(color=color, width=2, dash="dash"),
                hovertemplate=f"f′(%{{x:.2f}}) = %{{y:.4f}}<extra>{name}</extra>",
            ))
    layout = dict(
        xaxis=dict(title_text="x", zeroline=False),
        yaxis=dict(title_text="f(x) solid, f′(x) dashed", zeroline=True, zerolinecolor="#888"),
    )
    if shade_vanishing and curves:
        traces.append(go.Scatter(  # a legend entry only, saying what the bars mean
            x=[None], y=[None], mode="markers", name=f"bars: |f′(x)| < {curves[0].threshold:g}", hoverinfo="skip",
            marker=dict(symbol="square", size=14, color="#999999", opacity=ZONE_OPACITY),
        ))
        strip = min(0.06 * len(curves) + 0.04, 0.36 if len(curves) <= LEGEND_ON_THE_RIGHT else 0.45)  # of the height
        layout["shapes"], layout["yaxis2"] = _vanishing_lanes(curves, strip)
        layout["xaxis"]["anchor"] = "y2"  # x tick labels under the strip
        layout["yaxis"]["domain"] = [strip + 0.08, 1]
        layout["height"] = 460 + 40 * len(curves)  # px: the plot keeps its size, each lane room for its label
    fig = styled(go.Figure(data=traces, layout=layout), title="Activation functions and their slopes")
    if len(curves) <= LEGEND_ON_THE_RIGHT:
        # On the right, so a list of functions never runs into the title.
        return fig.update_layout(legend=dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top"))
    # More than fit beside the plot (13 entries pushed the plot into a strip): in rows under the figure.
    rows = -(-(len(curves) + 1) // 5)
    return fig.update_layout(legend=LEGEND_BELOW, margin_b=70 + 30 * rows,
                             height=(fig.layout.height or 460) + 30 * rows)


def _vanishing_lanes(curves: Sequence["ActivationCurve"], height: float) -> tuple[list[dict], dict]:
    """Shapes and axis for a strip under the plot, sharing its x axis: lane i holds curve i's
    vanishing zones. Lanes rather than full-height shading, because the zones of several functions
    overlap on the negative side and would blend into one colour."""
    shapes = [  # rectangles rather than add_vrect calls: one layout update is several times faster
        dict(type="rect", xref="x", yref="y2", x0=x0, x1=x1, y0=lane - 0.38, y1=lane + 0.38, line_width=0,
             fillcolor=_color(lane), opacity=ZONE_OPACITY)
        for lane, curve in enumerate(curves) for x0, x1 in curve.vanishing_zones
    ]
    axis = dict(domain=[0, height], range=[len(curves) - 0.5, -0.5], tickvals=list(range(len(curves))),
                ticktext=[c.display_name for c in curves], showgrid=False, zeroline=False, fixedrange=True,
                title_text="gradient<br>vanishes")
    return shapes, axis


def softmax_figure(result: "SoftmaxResult", *, reference: "SoftmaxResult | None" = None) -> go.Figure:
    """Probability bars labelled with their values; the title shows they sum to 1.

    ``reference`` (typically the same logits at T = 1) is drawn as black diamonds for comparison.
    """
    fig = go.Figure(go.Bar(
        x=list(result.labels), y=list(result.probabilities), name=f"T = {result.temperature:g}",
        marker_color=[_color(i) for i in range(len(result.labels))],
        text=[f"{p:.3f}" for p in result.probabilities], textposition="outside",
        customdata=list(result.logits), hovertemplate="%{x}: logit %{customdata:g}, p = %{y:.4f}<extra></extra>",
    ))
    if reference is not None:
        fig.add_trace(go.Scatter(
            x=list(reference.labels), y=list(reference.probabilities), mode="markers",
            name=f"T = {reference.temperature:g}", marker=dict(symbol="diamond", size=12, color="#000000"),
        ))
    fig.update_yaxes(title_text="probability", range=[0, 1.12])
    title = f"softmax(z / T), T = {result.temperature:g}: probabilities sum to {result.total:.2f}"
    return styled(fig, title=title)


def dead_units_figure(results: Sequence["DyingReluResult"]) -> go.Figure:
    """Share of dead hidden units (%) after each training step, one line per configuration."""
    fig = go.Figure()
    for index, result in enumerate(results):
        name = result.label if result.diverged_at is None else f"{result.label} (diverged at step {result.diverged_at})"
        fig.add_trace(go.Scatter(
            x=list(range(len(result.dead_fraction))), y=[100 * f for f in result.dead_fraction],
            mode="lines", name=name, line=dict(color=_color(index), width=3, dash=DASHES[index % len(DASHES)]),
            hovertemplate="step %{x}: %{y:.1f}% dead<extra></extra>",
        ))
    fig.update_xaxes(title_text="training step (0 = at initialisation)")
    fig.update_yaxes(title_text="dead hidden units (%)", range=[-2, 102])
    return styled(fig, title="Dead units: zero gradient on every training input").update_layout(legend=LEGEND_BELOW)


def gradient_norms_figure(results: Sequence["VanishingResult"]) -> go.Figure:
    """‖∂loss/∂W‖ per layer on a log axis (layer 1 = input side), one line per configuration."""
    fig = go.Figure()
    for index, result in enumerate(results):
        layers = list(range(1, len(result.grad_norms) + 1))
        # A log axis cannot show 0 (a gradient that underflowed): leave a gap there instead.
        norms = [n if n > 0 else None for n in result.grad_norms]
        fig.add_trace(go.Scatter(
            x=layers, y=norms, mode="lines+markers", name=result.label,
            line=dict(color=_color(index), width=3), marker=dict(size=6),
            hovertemplate="layer %{x}: %{y:.2e}<extra></extra>",
        ))
    fig.update_xaxes(title_text="layer (1 = next to the input)", dtick=5)
    fig.update_yaxes(title_text="weight-gradient norm", type="log", exponentformat="power")
    return styled(fig, title="Gradient norm per layer after one backward pass").update_layout(legend=LEGEND_BELOW)
