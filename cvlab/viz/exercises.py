"""The instructor's view of one exercise: a bar per distinct wrong first answer, most common first."""

from __future__ import annotations

import plotly.graph_objects as go

from cvlab.exercise_answers import ClassSummary
from cvlab.viz.style import COLORWAY, styled


def wrong_answers_figure(summary: ClassSummary, *, shown: int = 8) -> go.Figure:
    """Horizontal bars, the most common wrong answer on top, each labelled with the slip it points to."""
    bars = summary.wrong_answers[:shown]
    slips = [bar.hint.split(":")[0].removeprefix("You ") if bar.hint else "" for bar in bars]  # "forgot the +1"
    labels = [f"{bar.answer} · {slip}" if slip else bar.answer for bar, slip in zip(bars, slips)]
    fig = go.Figure(go.Bar(x=[bar.count for bar in bars], y=labels, orientation="h", marker_color=COLORWAY[3],
                           text=[bar.count for bar in bars], textposition="outside",
                           hovertemplate="%{y}: %{x} student(s)<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    most = max((bar.count for bar in bars), default=1)
    fig.update_xaxes(title_text="students (first answers)", dtick=1 if most <= 10 else None, range=[0, most * 1.15])
    styled(fig, title=f"Wrong first answers: {sum(b.count for b in summary.wrong_answers)} of {summary.answered}")
    fig.update_layout(height=max(240, 60 * len(bars) + 140), showlegend=False)
    return fig
