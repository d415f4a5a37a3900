"""Figures for the architecture zoo: top-1 against size, work or latency, with the Pareto front drawn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import plotly.graph_objects as go

from cvlab.errors import InvalidInput
from cvlab.viz.style import COLORWAY, styled
from cvlab.zoo.facts import ArchitectureFacts


@dataclass(frozen=True)
class _Axis:
    title: str  # with its unit
    short: str  # for the chart title and the skipped-entries note
    value: Callable[[ArchitectureFacts, dict[str, float]], float | None]


MARKER_SYMBOLS = ("circle", "diamond", "square", "triangle-up")

X_AXES: dict[str, _Axis] = {
    "params": _Axis("parameters (M)", "parameters", lambda f, _: f.params / 1e6),
    "macs": _Axis("multiply-accumulates (G)", "multiply-accumulates", lambda f, _: f.macs / 1e9),
    # A latency measured in this session wins over one cached in the facts.
    "latency": _Axis("latency at batch 1 (ms, this machine)", "latency",
                     lambda f, lat: lat.get(f.name, f.latency_ms)),
}


def pareto_front(points: Sequence[tuple[float, float]], minimise_x: bool = True) -> list[int]:
    """Indices (ascending) of the points no other point beats: y higher is better, x lower is better.

    A point is dominated when another has x <= and y >= with at least one of the
    two strict; with ``minimise_x=False`` a higher x is better instead.
    """
    sign = 1 if minimise_x else -1
    keyed = [(sign * x, y) for x, y in points]

    def dominated(i: int) -> bool:
        xi, yi = keyed[i]
        return any(xj <= xi and yj >= yi and (xj < xi or yj > yi) for xj, yj in keyed)

    return [i for i in range(len(keyed)) if not dominated(i)]


def _hover_row(f: ArchitectureFacts, latencies: dict[str, float]) -> list[str]:
    latency = latencies.get(f.name, f.latency_ms)
    return [f.title, f"{f.params / 1e6:.2f} M", f"{f.macs / 1e9:.2f} G", f"{f.top1:.2f} %", f.weights or "none",
            "not measured yet" if latency is None else f"{latency:.1f} ms at batch 1 (this machine)"]


def accuracy_chart(facts: Sequence[ArchitectureFacts], x: str = "params",
                   latencies: dict[str, float] | None = None) -> go.Figure:
    """ImageNet top-1 against ``x`` ("params", "macs" or "latency"), one trace per family, log x axis.

    Entries without a published top-1 or without an x value (an unmeasured
    latency) cannot be placed; they are counted in the title, listed in
    ``fig.layout.meta["skipped"]``, and named in ``fig.layout.meta["note"]``
    for the page to print under the chart.
    """
    if x not in X_AXES:
        raise InvalidInput(f"Unknown x axis {x!r}. Choose one of: {', '.join(X_AXES)}.")
    axis, latencies = X_AXES[x], latencies or {}
    placed, skipped = [], []
    for f in facts:
        value = axis.value(f, latencies)
        if f.top1 is None or value is None or value <= 0:  # a log axis has no place for 0
            skipped.append(f.name)
        else:
            placed.append((f, float(value)))

    fig = go.Figure()
    families = list(dict.fromkeys(f.family for f, _ in placed))
    for index, family in enumerate(families):
        members = [(f, v) for f, v in placed if f.family == family]
        fig.add_trace(go.Scatter(
            x=[v for _, v in members], y=[f.top1 for f, _ in members], mode="markers", name=family,
            # Past eight families the colours repeat, so the shape changes: ViT is no longer VGG's twin.
            marker=dict(size=10, color=COLORWAY[index % len(COLORWAY)],
                        symbol=MARKER_SYMBOLS[index // len(COLORWAY) % len(MARKER_SYMBOLS)]),
            customdata=[_hover_row(f, latencies) for f, _ in members],
            hovertemplate=("<b>%{customdata[0]}</b><br>params %{customdata[1]}<br>MACs %{customdata[2]}"
                           "<br>top-1 %{customdata[3]}<br>latency %{customdata[5]}"
                           "<br>weights %{customdata[4]}<extra></extra>")))

    front = sorted((placed[i] for i in pareto_front([(v, f.top1) for f, v in placed])), key=lambda p: p[1])
    if front:
        fig.add_trace(go.Scatter(
            x=[v for _, v in front], y=[f.top1 for f, _ in front], mode="lines", name="Pareto front",
            line=dict(color="#777777", dash="dash", width=2), hoverinfo="skip"))

    fig.update_xaxes(type="log", title=axis.title)
    fig.update_yaxes(title="ImageNet top-1 (%)")
    title = f"Top-1 against {axis.short}"
    note = ""
    if skipped:
        title += f" ({len(skipped)} not shown: no top-1 or no {axis.short})"
        note = "Not shown: " + ", ".join(skipped)
    # The note goes under the chart as text (``meta["note"]``), not into the figure: there it ran into
    # the tick labels once projector mode enlarged them.
    fig.update_layout(height=520, meta={"skipped": skipped, "note": note})
    return styled(fig, title=title)


def stage_figure(stages: Sequence, title: str) -> go.Figure:
    """Spatial size (line) and channels (bars, log) after each stage of one network."""
    from plotly.subplots import make_subplots

    labels = [s.stage for s in stages]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("spatial size (pixels per side)", "channels / features (log)"))
    fig.add_trace(go.Scatter(x=labels, y=[s.height for s in stages], mode="lines+markers", name="H",
                             connectgaps=False), row=1, col=1)
    fig.add_trace(go.Bar(x=labels, y=[s.channels for s in stages], name="channels"), row=2, col=1)
    fig.update_yaxes(type="log", dtick=1, row=2, col=1)  # ticks at powers of ten only: 2..9 crowded a short axis
    fig.update_layout(height=460, showlegend=False)
    return styled(fig, title=title)
