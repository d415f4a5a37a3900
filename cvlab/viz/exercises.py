"""The instructor's view of one exercise: a bar per distinct wrong first answer, most common first."""

from __future__ import annotations

import plotly.graph_objects as go

from cvlab.exercise_answers import ClassSummary
from cvlab.viz.style import COLORWAY, styled


def wrong_answers_figure(summary: ClassSummary, *, shown: int = 8) -> go.Figure:
    """Horizontal bars, the most common wrong answer on top, each labelled with the slip it points to."""
    bars = summary.wrong_answers[:shown]
    labels = [bar.answer for bar in bars]
    slips = [bar.hint.split(":")[0] if bar.hint else "" for bar in bars]  # "You forgot the +1"
    fig = go.Figure(go.Bar(x=[bar.count for bar in bars], y=labels, orientation="h", marker_color=COLORWAY[3],
                           text=[f"{bar.count}  {slip}" for bar, slip in zip(bars, slips)], textposition="outside",
                           customdata=slips,
                           hovertemplate="%{y}: %{x} student(s)<br>%{customdata}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category", title_text="wrong answer")
    fig.update_xaxes(title_text="students (first answers)", dtick=1, rangemode="tozero")
    styled(fig, title=f"Wrong first answers: {sum(b.count for b in summary.wrong_answers)} of {summary.answered}")
    fig.update_layout(height=max(240, 60 * len(bars) + 140), showlegend=False)
    return fig
