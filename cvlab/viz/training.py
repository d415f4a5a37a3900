"""Figures for training runs: live curves with change markers, the LR preview, comparisons, the confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cvlab.viz.style import COLORWAY, LEGEND_BELOW, styled

EVENT_LABELS = {"lr": "LR → {value:g}", "pause": "paused", "resume": "resumed", "stop": "stopped",
                "resumed": "resumed after restart"}
MARKER_GAP = 0.05  # of the step axis: markers closer than this go on separate rows
MARKER_ROWS = 3  # rows of number tags under the top of the score panel before they start again
MARKER_ROW_HEIGHT = 0.17  # of the panel's height: a tag in projector type (24 px, about 36 px boxed) fits in one row


@dataclass(frozen=True)
class ChangeMarker:
    """Everything that happened at one training step (a pause, a new rate and a resume, say), numbered."""
    number: int
    step: int
    labels: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"step {self.step}: {', '.join(self.labels)}"


def change_markers(records: Sequence[dict]) -> list[ChangeMarker]:
    """The run's events grouped by step, in step order, numbered from 1: one marker per step, not per event."""
    by_step: dict[int, list[str]] = {}
    for event in (r for r in records if r.get("kind") == "event"):
        label = EVENT_LABELS.get(event["what"], event["what"]).format(value=event.get("value", 0))
        by_step.setdefault(int(event["step"]), []).append(label)
    return [ChangeMarker(number, step, tuple(labels))
            for number, (step, labels) in enumerate(sorted(by_step.items()), start=1)]


def _marker_rows(steps: Sequence[int], span: float) -> list[int]:
    """A row for each marker's tag: the first row unless a tag on it sits closer than MARKER_GAP of ``span``."""
    rows: list[int] = []
    last_on_row: dict[int, int] = {}
    for step in steps:
        row = next((r for r in range(MARKER_ROWS) if r not in last_on_row
                    or step - last_on_row[r] >= MARKER_GAP * span), len(rows) % MARKER_ROWS)
        last_on_row[row] = step
        rows.append(row)
    return rows


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """A plain trailing moving average over ``window`` points (1 = no smoothing)."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values)
    for i in range(len(values)):
        start = max(0, i + 1 - window)
        out[i] = (cumulative[i + 1] - cumulative[start]) / (i + 1 - start)
    return out


def _split(records: Sequence[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    steps = [r for r in records if r.get("kind") == "step"]
    epochs = [r for r in records if r.get("kind") == "epoch"]
    events = [r for r in records if r.get("kind") == "event"]
    return steps, epochs, events


def run_curves(records: Sequence[dict], *, smoothing: int = 1, title: str | None = None,
               metrics: Sequence = ()) -> go.Figure:
    """Loss, the task's scores, learning rate and images/s against the training step; events as dashed lines.

    ``metrics`` are the task's ``cvlab.training.tasks.Metric`` entries (accuracy; IoU and Dice;
    mAP): the validation figure of each, and the running training figure where it is tracked.
    """
    from cvlab.training.tasks import TASKS

    metrics = tuple(metrics) or TASKS.get("classify").metrics
    steps, epochs, events = _split(records)
    score_title = " and ".join(m.label for m in metrics)
    fig = make_subplots(rows=2, cols=2, subplot_titles=("Loss", score_title, "Learning rate", "Images per second"),
                        vertical_spacing=0.16, horizontal_spacing=0.09)
    x = [r["step"] for r in steps]
    ex = [r["step"] for r in epochs]
    blue, orange, green = COLORWAY[0], COLORWAY[1], COLORWAY[2]
    fig.add_scatter(x=x, y=smooth([r["loss"] for r in steps], smoothing), name="train", line_color=blue,
                    legendgroup="train", row=1, col=1)
    fig.add_scatter(x=ex, y=[r.get("val_loss") for r in epochs], name="validation", mode="lines+markers",
                    line_color=orange, legendgroup="val", row=1, col=1)
    for index, metric in enumerate(metrics):
        dash = ("solid", "dot", "dash")[index % 3]
        suffix = f" {metric.label}" if len(metrics) > 1 else ""
        if metric.live and steps and metric.key in steps[-1]:
            fig.add_scatter(x=x, y=smooth([r[metric.key] for r in steps], smoothing), name=f"train{suffix}",
                            line=dict(color=blue, dash=dash), legendgroup="train", showlegend=bool(suffix),
                            row=1, col=2)
        fig.add_scatter(x=ex, y=[r.get(f"val_{metric.key}") for r in epochs], name=f"validation{suffix}",
                        mode="lines+markers", line=dict(color=orange, dash=dash), legendgroup="val",
                        showlegend=bool(suffix) or not (metric.live and steps), row=1, col=2)
    groups = len(steps[0]["lr"]) if steps else 0
    if groups > 2 or (groups > 1 and all(len(set(r["lr"])) == 1 for r in steps)):
        groups = 1  # one rate for all (or a library's many groups): one line, not several on top of each other
    for g in range(groups):
        name = "learning rate" if groups == 1 else ("backbone LR" if g == 0 else "head LR")
        fig.add_scatter(x=x, y=[r["lr"][g] for r in steps], name=name, line_color=COLORWAY[3 + g], row=2, col=1)
    fig.add_scatter(x=x, y=smooth([r["images_per_second"] for r in steps], smoothing), name="images/s",
                    line_color=green, row=2, col=2)
    _draw_markers(fig, change_markers(events), span=max([1, *x, *(m["step"] for m in events)]))
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_xaxes(title_text="step", row=2)
    styled(fig, title=title)
    fig.update_layout(height=620, legend=LEGEND_BELOW, margin=dict(b=90))
    return fig


def _draw_markers(fig: go.Figure, markers: Sequence[ChangeMarker], span: float) -> None:
    """A dashed line per marker in every panel, and its number in a tag just inside the top of the score
    panel (6 px under its title, never on it); tags of nearby steps go on separate rows. The page lists
    what each number stands for beside the chart; hovering a tag says it too."""
    for marker, row in zip(markers, _marker_rows([m.step for m in markers], span)):
        for panel_row, panel_col in ((1, 1), (1, 2), (2, 1), (2, 2)):
            fig.add_vline(x=marker.step, line_dash="dash", line_color="#555", row=panel_row, col=panel_col)
        fig.add_annotation(x=marker.step, xref="x2", y=1 - row * MARKER_ROW_HEIGHT, yref="y2 domain",
                           yanchor="top", yshift=-6, text=str(marker.number), hovertext=marker.text, showarrow=False,
                           bgcolor="#ffffff", bordercolor="#555", borderwidth=1, borderpad=2, font_size=12,
                           name="change-marker")


MASK_COLOURS = np.array([[0, 0, 0], [230, 57, 70], [29, 120, 220], [42, 157, 63], [244, 162, 97], [131, 56, 236],
                         [255, 209, 0], [0, 180, 180]], dtype=np.float32)


def mask_overlays(images: np.ndarray, masks: np.ndarray, alpha: float = 0.5) -> list[np.ndarray]:
    """Each RGB uint8 image (K, H, W, 3) with its class-id mask (K, H, W) tinted over it; background untouched."""
    out = []
    for image, mask in zip(images, np.asarray(masks, dtype=np.int64)):
        colours = MASK_COLOURS[1 + (mask - 1) % (len(MASK_COLOURS) - 1)]
        tinted = image.astype(np.float32) * (1 - alpha) + colours * alpha
        out.append(np.where((mask > 0)[..., None], tinted, image).astype(np.uint8))
    return out


def mask_image(mask: np.ndarray) -> np.ndarray:
    """A class-id mask (H, W) as an RGB picture: background dark, each class in its own colour."""
    mask = np.asarray(mask, dtype=np.int64)
    colours = MASK_COLOURS[1 + (mask - 1) % (len(MASK_COLOURS) - 1)]
    return np.where((mask > 0)[..., None], colours, 40).astype(np.uint8)


def mask_comparison(images: np.ndarray, truth: np.ndarray, predicted: np.ndarray, gap: int = 3) -> list[np.ndarray]:
    """One strip per image: the image, the true mask, the predicted mask, side by side."""
    strips = []
    for image, true_mask, predicted_mask in zip(images, truth, predicted):
        spacer = np.full((image.shape[0], gap, 3), 255, dtype=np.uint8)
        strips.append(np.concatenate([image, spacer, mask_image(true_mask), spacer, mask_image(predicted_mask)],
                                     axis=1))
    return strips


def lr_preview(curves: Sequence[Sequence[float]], steps_per_epoch: int, names: Sequence[str], title: str) -> go.Figure:
    """The learning rate at every step the scheduler will produce, epochs marked on the axis.

    Each rate is drawn across the batch it is used for (step i spans i to i + 1), so a run of
    one batch is a line over its one epoch rather than a lone point plotly would not draw.
    """
    fig = go.Figure()
    per_epoch = max(1, steps_per_epoch)
    for curve, name in zip(curves, names):
        if len(curve):
            fig.add_scatter(x=np.arange(len(curve) + 1) / per_epoch, y=[*curve, curve[-1]], name=name,
                            mode="lines", line_shape="hv")
    steps = max((len(curve) for curve in curves), default=0)
    fig.update_xaxes(title_text="epoch", range=[0, max(steps, 1) / per_epoch])
    fig.update_yaxes(title_text="learning rate", rangemode="tozero")
    styled(fig, title=title)
    fig.update_layout(height=320, showlegend=len(curves) > 1)
    return fig


def compare_runs(series: Sequence[tuple[str, Sequence[dict]]], metric: str = "val_accuracy") -> go.Figure:
    """One line per run: an epoch metric against the epoch."""
    fig = go.Figure()
    for label, records in series:
        _, epochs, _ = _split(records)
        fig.add_scatter(x=[r["epoch"] for r in epochs], y=[r.get(metric) for r in epochs], name=label,
                        mode="lines+markers")
    titles = {"val_accuracy": "Validation accuracy", "val_loss": "Validation loss", "train_loss": "Training loss",
              "images_per_second": "Images per second", "val_iou": "Validation IoU", "val_dice": "Validation Dice",
              "val_map50": "Validation mAP@0.5", "val_map50_95": "Validation mAP@0.5:0.95"}
    fig.update_xaxes(title_text="epoch", dtick=1)
    if metric.startswith("val_") and metric != "val_loss":
        fig.update_yaxes(tickformat=".0%", range=[0, 1.02])  # scores live in [0, 1]: no -100% for an all-zero run
    styled(fig, title=titles.get(metric, metric))
    fig.update_layout(height=420, legend=LEGEND_BELOW, margin=dict(b=110))
    return fig


def confusion_matrix(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> go.Figure:
    """Rows: the true class; columns: what the model said. Counts in the cells."""
    z = np.asarray(confusion)
    fig = go.Figure(go.Heatmap(z=z, x=list(classes), y=list(classes), colorscale="Blues", text=z,
                               texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    fig.update_xaxes(title_text="predicted", side="bottom")
    fig.update_yaxes(title_text="true", autorange="reversed")
    styled(fig, title="Confusion matrix (validation)")
    fig.update_layout(height=max(360, 40 * len(classes) + 160))
    return fig


def per_class_accuracy(accuracy: Sequence[float], classes: Sequence[str]) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(classes), y=list(accuracy), text=[f"{a:.0%}" for a in accuracy],
                           textposition="outside"))
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%", title_text="accuracy")
    styled(fig, title="Accuracy per class")
    fig.update_layout(height=360)
    return fig


def class_counts(counts: dict[str, int], title: str = "Training images per class") -> go.Figure:
    """Horizontal bars, one per class, the count written on each: imbalance shows at a glance."""
    names, values = list(counts), [int(v) for v in counts.values()]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", text=values, textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: %{x} images<extra></extra>"))
    fig.update_xaxes(title_text="training images", rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    styled(fig, title=title)
    fig.update_layout(height=min(600, 110 + 28 * len(names)), showlegend=False)
    return fig
