"""The class board's chart: every student's validation accuracy on one exercise, the viewer's own runs highlighted."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from cvlab.board import BoardRun
from cvlab.viz.style import COLORWAY, LEGEND_BELOW, styled

X_AXES = {"epoch": "epoch", "time": "training time (s)"}


def board_figure(runs: Sequence[BoardRun], me: str = "", x: str = "epoch", title: str = "") -> go.Figure:
    """One line per run, coloured by arm; ``me``'s runs thick, opaque and named "you", the class's thin and faded.

    The projector thickens every line alike, so opacity carries the highlight there too.
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}, got {x!r}")
    arms = list(dict.fromkeys(run.arm for run in runs))
    fig = go.Figure()
    for run in sorted(runs, key=lambda r: bool(me) and r.owner_id == me):  # the viewer's drawn last, on top
        mine = bool(me) and run.owner_id == me
        colour = COLORWAY[arms.index(run.arm) % len(COLORWAY)]
        fig.add_scatter(x=list(run.epochs if x == "epoch" else run.wall_s), y=list(run.accuracy),
                        name=f"you · {run.arm}" if mine else f"{run.owner} · {run.arm}",
                        legendgroup=run.arm, mode="lines+markers", opacity=1.0 if mine else 0.45,
                        line=dict(color=colour, width=5 if mine else 1.5), marker=dict(size=9 if mine else 4),
                        hovertemplate=f"{run.owner} · {run.arm}<br>%{{x}}: %{{y:.1%}}<extra>{run.run_id}</extra>")
    fig.update_xaxes(title_text=X_AXES[x], **(dict(dtick=1) if x == "epoch" else {}))
    fig.update_yaxes(title_text="validation accuracy", tickformat=".0%")  # a class's runs differ by a few points
    styled(fig, title=title or "Validation accuracy, every student's runs")
    fig.update_layout(height=460, legend=LEGEND_BELOW, margin=dict(b=120))
    return fig
