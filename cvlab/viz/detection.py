"""Figures of the detection playground: boxes on the photo, IoU and GIoU drawn, NMS one step at a time.

Photos travel as a JPEG data URI in a ``go.Image`` (a 1024 px photo as a pixel array
would be megabytes of JSON); boxes are closed scatter lines in pixel coordinates,
y pointing down, one trace per class so the legend doubles as a class key.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from cvlab.viz.style import COLORWAY, LEGEND_BELOW, styled

if TYPE_CHECKING:
    from cvlab.detection.boxes import BoxPair, NmsTrace
    from cvlab.detection.facade import Candidates, Detection, StageTimings

KEPT, SUPPRESSED, CURRENT, PENDING = "#009E73", "#D55E00", "#0072B2", "#999999"
MAX_LABELS = 40  # more labels than this cover the photo; the table lists every detection
LABEL_CHAR_WIDTH, LABEL_HEIGHT = 0.032, 0.1  # a box's tag: per character and in all, in image widths / heights


def class_colour(cls: int) -> str:
    return COLORWAY[cls % len(COLORWAY)]


def _data_uri(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _outline(boxes: Sequence[Sequence[float]]) -> tuple[list, list]:
    """x and y of closed rectangles, separated by None (one scatter trace draws them all)."""
    xs, ys = [], []
    for x1, y1, x2, y2 in boxes:
        xs += [x1, x2, x2, x1, x1, None]
        ys += [y1, y1, y2, y2, y1, None]
    return xs, ys


def _boxes_trace(boxes, name: str, colour: str, hover: Sequence[str], *, width: float = 2.5,
                 dash: str = "solid", showlegend: bool = True) -> go.Scatter:
    xs, ys = _outline(boxes)
    text = [label for label in hover for _ in range(6)]  # one hover label per rectangle's points
    return go.Scatter(x=xs, y=ys, mode="lines", name=name, line=dict(color=colour, width=width, dash=dash),
                      text=text, hovertemplate="%{text}<extra></extra>", showlegend=showlegend)


def photo_figure(pixels: np.ndarray, *, height: int | None = None, title: str | None = None) -> go.Figure:
    """The photo alone, in pixel coordinates (y down), ready for box traces."""
    h, w = pixels.shape[:2]
    fig = go.Figure(go.Image(source=_data_uri(pixels), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"))
    # No axis lines or ticks: Streamlit's theme would draw them, and the projector's black 2 px axes
    # would frame the photo on two sides only.
    bare = dict(showgrid=False, showticklabels=False, zeroline=False, showline=False, ticks="")
    fig.update_xaxes(range=[0, w], constrain="domain", **bare)
    fig.update_yaxes(range=[h, 0], scaleanchor="x", **bare)
    fig.update_layout(height=height or int(min(640, max(360, 600 * h / max(w, 1)))))
    styled(fig, title=title)
    fig.update_layout(legend=LEGEND_BELOW, margin=dict(l=10, r=10, t=50 if title else 10, b=60))
    return fig


def detections_figure(pixels: np.ndarray, detections: Sequence["Detection"], *, title: str | None = None,
                      labels: bool = True) -> go.Figure:
    """The photo with every detection boxed in its class colour, the best MAX_LABELS labelled "name 0.87"."""
    fig = photo_figure(pixels, title=title)
    by_class: dict[int, list] = {}
    for det in detections:
        by_class.setdefault(det.cls, []).append(det)
    for cls, dets in by_class.items():
        hover = [f"{d.name} {d.conf:.2f}<br>x1 {d.xyxy[0]:.0f}, y1 {d.xyxy[1]:.0f}, x2 {d.xyxy[2]:.0f}, "
                 f"y2 {d.xyxy[3]:.0f}" for d in dets]
        fig.add_trace(_boxes_trace([d.xyxy for d in dets], f"{dets[0].name} ({len(dets)})", class_colour(cls),
                                   hover))
    if labels:
        _label_boxes(fig, detections, pixels.shape[1], pixels.shape[0])
    return fig


def _label_boxes(fig: go.Figure, detections: Sequence["Detection"], width: int, height: int) -> None:
    """A "name 0.87" tag over each box's top-left corner, best first; where that spot is taken by a better
    box's tag (two boxes side by side), under its bottom-left corner; where both are, none (the table and
    the hover list every box). Tag sizes are estimated as projected: 24 px type on a photo about 450 px wide."""
    placed: list[tuple[float, float, float, float]] = []
    for det in sorted(detections, key=lambda d: -d.conf)[:MAX_LABELS]:
        text = f"{det.name} {det.conf:.2f}"
        tag_w, tag_h = LABEL_CHAR_WIDTH * len(text) * width, LABEL_HEIGHT * height
        x1, y1, _, y2 = det.xyxy
        for y, anchor, top in ((y1, "bottom", y1 - tag_h), (y2, "top", y2)):
            tag = (x1, top, x1 + tag_w, top + tag_h)
            if not any(tag[0] < o[2] and o[0] < tag[2] and tag[1] < o[3] and o[1] < tag[3] for o in placed):
                placed.append(tag)
                fig.add_annotation(x=x1, y=y, text=text, showarrow=False, xanchor="left", yanchor=anchor,
                                   bgcolor=class_colour(det.cls), font=dict(color="white", size=12), borderpad=1,
                                   opacity=0.9)
                break


def iou_figure(pair: "BoxPair", canvas: tuple[int, int], *, title: str | None = None) -> go.Figure:
    """Boxes A and B, their intersection filled, and the enclosing box C that GIoU penalises."""
    fig = go.Figure()
    ex1, ey1, ex2, ey2 = pair.enclosing
    fig.add_trace(go.Scatter(x=[ex1, ex2, ex2, ex1, ex1], y=[ey1, ey1, ey2, ey2, ey1], mode="lines",
                             name=f"C, enclosing ({pair.enclosing_area:.0f} px²)", fill="toself",
                             fillcolor="rgba(153,153,153,0.12)", line=dict(color=PENDING, dash="dash", width=2)))
    for box, name, colour, area in ((pair.a, "A", CURRENT, pair.area_a), (pair.b, "B", "#E69F00", pair.area_b)):
        fig.add_trace(_boxes_trace([box], f"{name} ({area:.0f} px²)", colour, [f"{name}: {box}"], width=4))
    if pair.intersection is not None:
        x1, y1, x2, y2 = pair.intersection
        fig.add_trace(go.Scatter(x=[x1, x2, x2, x1, x1], y=[y1, y1, y2, y2, y1], mode="lines", fill="toself",
                                 fillcolor="rgba(0,158,115,0.45)", line=dict(color=KEPT, width=1),
                                 name=f"A ∩ B ({pair.intersection_area:.0f} px²)"))
    width, height = canvas
    fig.update_xaxes(range=[0, width], title="x (px)", constrain="domain")
    fig.update_yaxes(range=[height, 0], title="y (px)", scaleanchor="x")
    fig.update_layout(height=460)
    styled(fig, title=title)
    fig.update_layout(legend=LEGEND_BELOW, margin=dict(l=60, r=20, t=50 if title else 20, b=90))
    return fig


def nms_step_figure(pixels: np.ndarray, cands: "Candidates", trace: "NmsTrace", step: int, *,
                    title: str | None = None) -> go.Figure:
    """The candidates after ``step`` NMS steps (0: none yet): kept, suppressed, this step's, still waiting."""
    fig = photo_figure(pixels, title=title)
    done = trace.steps[:step]
    kept = [s.kept for s in done]
    removed = [s.index for st in done[:-1] for s in st.suppressed]
    current = done[-1] if done else None
    decided = set(kept) | set(removed) | ({s.index for s in current.suppressed} if current else set())
    pending = [i for i in trace.order if i not in decided]

    def label(i: int) -> str:
        return f"#{i} {cands.names[int(cands.classes[i])]} {float(cands.scores[i]):.2f}"

    if pending:
        fig.add_trace(_boxes_trace(cands.boxes[pending], f"waiting ({len(pending)})", PENDING,
                                   [label(i) for i in pending], width=1))
    if removed:
        fig.add_trace(_boxes_trace(cands.boxes[removed], f"suppressed earlier ({len(removed)})", SUPPRESSED,
                                   [label(i) for i in removed], width=1, dash="dot"))
    if len(kept) > 1:
        fig.add_trace(_boxes_trace(cands.boxes[kept[:-1]], f"kept ({len(kept) - 1})", KEPT,
                                   [label(i) for i in kept[:-1]], width=3))
    if current is not None:
        hit = [s.index for s in current.suppressed]
        if hit:
            fig.add_trace(_boxes_trace(cands.boxes[hit], f"suppressed now ({len(hit)})", SUPPRESSED,
                                       [f"{label(s.index)}: IoU {s.iou:.2f} with #{s.by}" for s in current.suppressed],
                                       width=3, dash="dash"))
        fig.add_trace(_boxes_trace(cands.boxes[[current.kept]], f"kept now: {label(current.kept)}", CURRENT,
                                   [label(current.kept)], width=5))
    return fig


def count_figure(conf_thresholds: Sequence[float], iou_thresholds: Sequence[float], counts: np.ndarray, *,
                 conf: float, iou: float, title: str | None = None) -> go.Figure:
    """Boxes left after the confidence filter and NMS: a line per IoU threshold, the current setting marked."""
    fig = go.Figure()
    for row, threshold in enumerate(iou_thresholds):
        fig.add_trace(go.Scatter(x=list(conf_thresholds), y=counts[row].tolist(), mode="lines",
                                 name=f"IoU {threshold:.2f}", line=dict(width=3 if abs(threshold - iou) < 1e-9 else 2),
                                 hovertemplate="conf %{x:.2f}: %{y} boxes<extra></extra>"))
    fig.add_vline(x=conf, line=dict(color="#000", dash="dot", width=1))
    fig.update_xaxes(title="confidence threshold", range=[0, 1])
    fig.update_yaxes(title="boxes after NMS", rangemode="tozero")
    fig.update_layout(height=380)
    return styled(fig, title=title)


def class_counts_figure(counts: Mapping[str, int], names: Sequence[str], *, title: str | None = None) -> go.Figure:
    """Horizontal bars of detections per class, the most frequent on top."""
    items = list(counts.items())[::-1]
    colours = [class_colour(list(names).index(name)) if name in names else PENDING for name, _ in items]
    fig = go.Figure(go.Bar(x=[n for _, n in items], y=[name for name, _ in items], orientation="h",
                           marker_color=colours, text=[n for _, n in items], textposition="outside",
                           cliponaxis=False))
    most = max(counts.values(), default=0)
    fig.update_xaxes(title="detections", range=[0, most * 1.25 + 0.5], dtick=1 if most < 10 else None)
    fig.update_layout(height=max(220, 80 + 40 * len(items)))
    return styled(fig, title=title)


def timings_figure(timings: "StageTimings", *, title: str | None = None) -> go.Figure:
    """One bar per stage, in milliseconds: pre-processing, the network, post-processing (NMS)."""
    stages = [("pre-process", timings.preprocess), ("inference", timings.inference),
              ("post-process (NMS)", timings.postprocess)][::-1]  # the first stage on top
    fig = go.Figure(go.Bar(x=[ms for _, ms in stages], y=[name for name, _ in stages], orientation="h",
                           marker_color=[COLORWAY[1], COLORWAY[0], COLORWAY[5]], cliponaxis=False,
                           text=[f"{ms:.1f} ms" for _, ms in stages], textposition="outside",
                           hovertemplate="%{y}: %{x:.1f} ms<extra></extra>"))
    fig.update_xaxes(title="milliseconds per image", range=[0, max(ms for _, ms in stages) * 1.35 or 1])
    fig.update_layout(height=240)
    return styled(fig, title=title)
