"""Pictures of a tracked clip: frames with each track's box, id and trail; the timeline; the paths.

Each track keeps one colour everywhere (the video, the paths figure), picked from its id,
so "#3" is the same colour in the clip and in the chart beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cvlab.viz.detection import photo_figure
from cvlab.viz.style import COLORWAY, LEGEND_BELOW, styled

if TYPE_CHECKING:
    from cvlab.detection.tracking import TrackingResult

TRAIL_FRAMES = 30  # how far back a track's trail reaches in the annotated video
STAGES = (("preprocess", "Preprocess"), ("inference", "Network"), ("postprocess", "NMS"),
          ("tracking", "Tracker and the rest"))


def track_colour(track_id: int) -> str:
    return COLORWAY[track_id % len(COLORWAY)]


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def annotated_frames(frames: np.ndarray, result: "TrackingResult") -> np.ndarray:
    """A copy of the (T, H, W, 3) RGB frames with each tracked box, its '#id class' tag and its recent trail."""
    import cv2

    out = np.array(frames, copy=True)
    height, width = out.shape[1:3]
    scale = max(0.35, min(width, height) / 640)  # text and lines grow with the frame
    thick = max(1, round(2 * scale))
    trails: dict[int, list[tuple[int, int]]] = {}
    for frame, picture in zip(result.frames, out):
        for box in frame.boxes:
            trail = trails.setdefault(box.track_id, [])
            trail.append(tuple(int(round(v)) for v in box.centre))
            del trail[:-TRAIL_FRAMES]
        seen = {box.track_id for box in frame.boxes}
        for track_id, trail in trails.items():
            if track_id in seen and len(trail) > 1:
                cv2.polylines(picture, [np.array(trail, np.int32)], False, _rgb(track_colour(track_id)), thick,
                              cv2.LINE_AA)
        for box in frame.boxes:
            colour = _rgb(track_colour(box.track_id))
            x1, y1, x2, y2 = (int(round(v)) for v in box.xyxy)
            cv2.rectangle(picture, (x1, y1), (x2, y2), colour, thick, cv2.LINE_AA)
            tag = f"#{box.track_id} {box.name}"
            (tw, th), base = cv2.getTextSize(tag, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, 1)
            top = max(0, y1 - th - base - 2)
            cv2.rectangle(picture, (x1, top), (x1 + tw + 4, top + th + base + 2), colour, -1)
            cv2.putText(picture, tag, (x1 + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (255, 255, 255),
                        1, cv2.LINE_AA)
    return out


def timeline_figure(result: "TrackingResult", *, title: str | None = None) -> go.Figure:
    """Per frame: boxes per class (stacked bars, top) and the milliseconds of each stage (stacked, bottom)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.22, row_heights=[0.45, 0.55],
                        subplot_titles=("Tracked boxes per class", "Time per frame (ms)"))
    index = [frame.index for frame in result.frames]
    for n, (name, counts) in enumerate(result.counts_per_frame().items()):
        fig.add_trace(go.Bar(x=index, y=counts, name=name, marker_color=COLORWAY[n % len(COLORWAY)],
                             legendgroup="classes", hovertemplate=f"{name}: %{{y}} in frame %{{x}}<extra></extra>"),
                      row=1, col=1)
    stage_values = {
        "preprocess": [f.timings.preprocess for f in result.frames],
        "inference": [f.timings.inference for f in result.frames],
        "postprocess": [f.timings.postprocess for f in result.frames],
        "tracking": [f.tracking_ms for f in result.frames],
    }
    for n, (key, label) in enumerate(STAGES):
        fig.add_trace(go.Scatter(x=index, y=stage_values[key], name=label, stackgroup="time", mode="lines",
                                 line=dict(width=0.5, color=COLORWAY[(n + 4) % len(COLORWAY)]),
                                 hovertemplate=f"{label}: %{{y:.1f}} ms<extra></extra>"), row=2, col=1)
    fig.update_layout(barmode="stack", height=520, legend=LEGEND_BELOW, bargap=0.05)
    fig.update_xaxes(title_text="frame", row=2, col=1)
    fig.update_yaxes(title_text="boxes", row=1, col=1, rangemode="tozero")
    fig.update_yaxes(title_text="ms", row=2, col=1, rangemode="tozero")
    return styled(fig, title=title)


def paths_figure(picture: np.ndarray, result: "TrackingResult", *, title: str | None = None) -> go.Figure:
    """Every track's path (its box centres) drawn over one frame, from a dot at its start to its id at its end."""
    fig = photo_figure(picture, title=title)
    classes = result.track_classes()
    for track_id, points in result.paths().items():
        _, xs, ys = zip(*points)
        colour = track_colour(track_id)
        label = f"#{track_id} {classes.get(track_id, '')} ({len(points)} frames)"
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=label, line=dict(color=colour, width=3),
                                 hovertemplate=f"{label}<br>x %{{x:.0f}}, y %{{y:.0f}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[ys[0], ys[-1]], mode="markers+text", showlegend=False,
                                 marker=dict(color=colour, size=[8, 12], symbol=["circle", "diamond"]),
                                 text=["", f"#{track_id}"], textposition="top center",
                                 textfont=dict(color=colour, size=14), hoverinfo="skip"))
    return fig
