"""Figures for convolution and pooling by hand: input beside output, one output pixel worked out, pooling side by
side, the translation-invariance bars and the parameter counts behind GAP.

Builders read the plain results of cvlab.cnn.convolution and cvlab.cnn.pooling by attribute only, so this module
imports no torch. Images are heatmaps with y pointing down, one data unit per pixel, centred on the pixel:
pixel (y, x) covers x-0.5..x+0.5. Heatmaps are sent as float32 (half the JSON of float64, and 7 digits
are plenty on a screen); an axis longer than MAX_DISPLAY_PX is shown with every n-th pixel, labelled so.
Colour ranges of large maps leave out the extreme 0.5% at each end (those pixels show the end colour), so a
few strong edge responses do not turn the rest of the map into one flat colour; hovering shows true values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from cvlab.viz.style import COLORWAY, styled

if TYPE_CHECKING:
    from cvlab.cnn.convolution import ConvResult, ConvStep, ConvVsDense
    from cvlab.cnn.pooling import HeadParams, PoolingComparison, TranslationInvariance

# Longest side sent to the browser. Two 512 px maps were 3.5 MB of JSON to encode, hash and send on every rerun
# (86 ms of server CPU a rerun: a class of 30 on Inside a CNN waited 2.2 s at the 95th percentile); at 256 px,
# a quarter of that. The convolution itself runs on the whole picture; hovering shows true values.
MAX_DISPLAY_PX = 256
WINDOW_COLOR = COLORWAY[3]  # vermillion: the window on the input and its pixel on the output
PADDING_COLOR = COLORWAY[1]  # orange: the zero-padding frame
GRAY = "gray"  # 0 black, 1 white, like the photo
SATURATE_PERCENT = 0.5  # of the pixels at each end of a large map shown in the end colour
DIVERGING = "RdBu_r"  # negative blue, 0 white, positive red: the sign of a filter response


def _display(array: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, x, y): ``array`` as float32, every step-th pixel when a side exceeds MAX_DISPLAY_PX; x and y stay
    in pixels of the full map."""
    step = max(1, -(-max(array.shape) // MAX_DISPLAY_PX))
    z = np.ascontiguousarray(array[::step, ::step], dtype=np.float32)
    return z, np.arange(0, array.shape[1], step), np.arange(0, array.shape[0], step)


def _robust_range(values: np.ndarray) -> tuple[float, float]:
    """(low, high) with the top and bottom SATURATE_PERCENT of the values clipped, so that a few extreme pixels
    (an edge filter's strongest responses, the border of a padded output) do not wash out the rest."""
    if values.size < 1000:
        return float(values.min()), float(values.max())
    low, high = np.percentile(values, [SATURATE_PERCENT, 100 - SATURATE_PERCENT])
    # Any negative value makes the scale diverging, even when fewer than SATURATE_PERCENT are negative.
    return float(min(low, -1e-12) if values.min() < 0 else low), float(high)


def _colour(values: np.ndarray | float, low: float | None = None, high: float | None = None) -> dict:
    """Gray from low to high for non-negative data; a diverging scale centred on 0 once a value is negative.

    Without ``low`` and ``high`` the range is _robust_range's; the hover text always shows the true value.
    """
    robust = _robust_range(np.asarray(values)) if low is None or high is None else (low, high)
    low, high = robust[0] if low is None else low, robust[1] if high is None else high
    if low < 0:
        bound = max(-low, high, 1e-12)
        return dict(colorscale=DIVERGING, zmin=-bound, zmax=bound, zmid=0)
    return dict(colorscale=GRAY, zmin=low, zmax=max(high, low + 1e-12))


def _image_axes(n: int, domain: tuple[float, float], x_range: list[float], y_range: list[float], **extra) -> dict:
    """Layout entries xaxisN / yaxisN for one image panel: equal aspect, y down, pixel units."""
    suffix = "" if n == 1 else str(n)
    return {f"xaxis{suffix}": dict(domain=list(domain), anchor=f"y{suffix}", range=x_range, showgrid=False,
                                   zeroline=False, constrain="domain", **extra.get("x", {})),
            f"yaxis{suffix}": dict(anchor=f"x{suffix}", range=y_range, scaleanchor=f"x{suffix}", showgrid=False,
                                   zeroline=False, constrain="domain", **extra.get("y", {}))}


def _title(text: str, domain: tuple[float, float]) -> dict:
    return dict(text=text, x=(domain[0] + domain[1]) / 2, y=1.0, xref="paper", yref="paper", showarrow=False,
                xanchor="center", yanchor="bottom")


def _rect(x0: float, y0: float, x1: float, y1: float, axis: str = "", **style) -> dict:
    return dict(type="rect", xref=f"x{axis}", yref=f"y{axis}", x0=x0, y0=y0, x1=x1, y1=y1, **style)


def _map_trace(array: np.ndarray, axis: str, name: str, colour: dict, colorbar_x: float | None) -> go.Heatmap:
    z, x, y = _display(array)
    bar = dict(showscale=False) if colorbar_x is None else dict(colorbar=dict(x=colorbar_x, xanchor="left",
                                                                               thickness=12, len=0.9))
    return go.Heatmap(z=z, x=x, y=y, xaxis=f"x{axis}", yaxis=f"y{axis}", name=name, **colour, **bar,
                      hovertemplate=f"{name}<br>y %{{y}}, x %{{x}}: %{{z:.3f}}<extra></extra>")


def _size_text(array: np.ndarray) -> str:
    """The size as "512×512", with a line of its own saying so when the map is thinned for display (on the same
    line, in projector type, the two panels' titles ran into each other)."""
    step = -(-max(array.shape) // MAX_DISPLAY_PX)
    return f"{array.shape[0]}×{array.shape[1]}" + (f"<br>1 px in {step} shown" if step > 1 else "")


def _padding_text(before: int, after: int) -> str:
    if before + after == 0:
        return ""
    return f", zero padding {before}" + (f"/{after}" if after != before else "") + " px"


def conv_figure(image: np.ndarray, result: "ConvResult", step: "ConvStep | None" = None, *,
                title: str | None = None) -> go.Figure:
    """The (H, W) input in gray and the convolved output beside it; the zero padding as a black frame
    outlined in orange; with ``step``, its window outlined on the input (a dot per tap) and its pixel on
    the output."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"conv_figure shows one (H, W) channel, got shape {image.shape}")
    (h, w), (before, after) = image.shape, result.pad
    left, right = (0.0, 0.43), (0.55, 0.98)
    traces = [_map_trace(image, "", "input", _colour(image, min(0.0, image.min()), max(1.0, image.max())), 0.44),
              _map_trace(result.output, "2", "output", _colour(result.output), 0.99)]
    x_range, y_range = [-before - 0.5, w - 0.5 + after], [h - 0.5 + after, -before - 0.5]
    layout = {**_image_axes(1, left, x_range, y_range),
              **_image_axes(2, right, [-0.5, result.output.shape[1] - 0.5], [result.output.shape[0] - 0.5, -0.5],
                            y={"showticklabels": False})}  # its labels would run into the colour bar
    k = len(result.kernel)
    # Two short lines each: on one line, in projector type, the two titles ran into each other.
    padding = _padding_text(before, after).removeprefix(", ")
    layout["annotations"] = [
        _title(f"input {_size_text(image)}" + (f"<br>{padding}" if padding else ""), left),
        _title(f"output {_size_text(result.output)}<br>{k}×{k} kernel, stride {result.stride}, "
               f"dilation {result.dilation}", right)]
    shapes = []
    if before + after:  # zeros look black in the gray scale; the heatmap covers all but the frame
        shapes.append(_rect(x_range[0], y_range[1], x_range[1], y_range[0], fillcolor="black",
                            line=dict(color=PADDING_COLOR, width=2, dash="dash"), layer="below"))
    if step is not None:
        traces.append(_taps_trace(step))
        shapes += [_window_rect(step), _rect(step.col - 0.5, step.row - 0.5, step.col + 0.5, step.row + 0.5, "2",
                                             line=dict(color=WINDOW_COLOR, width=3))]
    layout.update(shapes=shapes, height=520, hovermode="closest", showlegend=False)
    return styled(go.Figure(data=traces, layout=layout), title=title)  # its top margin holds the panel titles


def _window_rect(step: "ConvStep") -> dict:
    """The window's outline on the input: from the first tap to the last, in image coordinates."""
    span = (len(step.kernel) - 1) * step.dilation
    top, left = step.top_left
    return _rect(left - 0.5, top - 0.5, left + span + 0.5, top + span + 0.5, line=dict(color=WINDOW_COLOR, width=3))


def _taps_trace(step: "ConvStep") -> go.Scatter:
    """A dot on every pixel the kernel reads (they have gaps between them when dilation > 1); x on padding."""
    return go.Scatter(x=step.tap_x.ravel(), y=step.tap_y.ravel(), mode="markers", name="taps", xaxis="x", yaxis="y",
                      marker=dict(color=WINDOW_COLOR, size=6, symbol=np.where(step.is_padding.ravel(), "x", "circle")),
                      customdata=step.window.ravel(),
                      hovertemplate="tap y %{y}, x %{x}: %{customdata:.3f}<extra></extra>")


def _cells(values: np.ndarray) -> np.ndarray:
    """Cell text with 2 decimals; rounding first so that -0.001 reads 0.00, not -0.00."""
    return np.vectorize(lambda v: f"{round(float(v), 2) + 0.0:.2f}")(values)


def _ticks(labels: np.ndarray) -> dict:
    return dict(tickmode="array", tickvals=list(range(len(labels))), ticktext=[str(v) for v in labels])


def step_figure(step: "ConvStep", *, title: str | None = None) -> go.Figure:
    """window | kernel | products as small grids with the numbers in the cells; the title sums them up.

    The window's ticks are image coordinates (negative or past the edge on padding, whose cells read
    "pad"); the kernel's and products' ticks are the kernel indices m (rows) and n (columns).
    """
    k = len(step.kernel)
    window_text = np.where(step.is_padding, "pad<br>0.00", _cells(step.window))
    panels = [("window (input)", step.window, window_text, _colour(step.window, min(0.0, step.window.min()),
                                                                   max(1.0, step.window.max()))),
              ("kernel", step.kernel, _cells(step.kernel), _colour(step.kernel, min(-1e-12, step.kernel.min()))),
              ("products", step.products, _cells(step.products),
               _colour(step.products, min(-1e-12, step.products.min())))]
    gap = 0.12  # holds the next panel's row labels and, clear of them, the × or = between the panels
    width = (1 - 2 * gap) / 3
    traces, layout, annotations = [], {}, []
    for i, (name, values, text, colour) in enumerate(panels):
        axis, domain = ("" if i == 0 else str(i + 1)), (i * (width + gap), i * (width + gap) + width)
        ticks = (step.tap_x[0], step.tap_y[:, 0]) if i == 0 else (np.arange(k), np.arange(k))
        traces.append(go.Heatmap(z=values, x=np.arange(k), y=np.arange(k), text=text, texttemplate="%{text}",
                                 xaxis=f"x{axis}", yaxis=f"y{axis}", name=name, showscale=False, xgap=2, ygap=2,
                                 **colour, hovertemplate=f"{name}: %{{z:.4f}}<extra></extra>"))
        layout.update(_image_axes(i + 1, domain, [-0.5, k - 0.5], [k - 0.5, -0.5],
                                  x=_ticks(ticks[0]) | dict(side="top"), y=_ticks(ticks[1])))
        annotations.append(_title(name, domain) | dict(y=-0.02, yanchor="top"))
    for i, sign in enumerate("×="):
        annotations.append(dict(text=f"<b>{sign}</b>", x=(i + 1) * width + i * gap + 0.25 * gap, y=0.5, xref="paper",
                                yref="paper", showarrow=False, font=dict(size=28)))
    layout.update(annotations=annotations, height=200 + 45 * k, hovermode="closest", showlegend=False)
    fig = styled(go.Figure(data=traces, layout=layout), title=title or f"Output pixel (row {step.row}, col "
                 f"{step.col}) = {step.output:.4g}")  # the full sum is printed below the figure
    return fig.update_layout(margin=dict(t=110, b=50))


def pooling_figure(comparison: "PoolingComparison", *, title: str | None = None) -> go.Figure:
    """The feature map, its max- and average-pooled versions and its global average (a 1×1 map), in one colour
    scale so that values compare across panels."""
    c = comparison
    colour = _colour(c.feature)
    panels = [("feature map", c.feature), (f"max pool {c.kernel_size}×{c.kernel_size}", c.max_pooled),
              (f"avg pool {c.kernel_size}×{c.kernel_size}", c.avg_pooled), ("global average", np.array([[c.gap]]))]
    width, gap = 0.205, 0.045
    traces, layout, annotations = [], {}, []
    for i, (name, values) in enumerate(panels):
        axis, domain = ("" if i == 0 else str(i + 1)), (i * (width + gap), i * (width + gap) + width)
        trace = _map_trace(values, axis, name, colour, 1.0 if i == len(panels) - 1 else None)
        if i == len(panels) - 1:
            trace.update(text=[[f"{c.gap:.3f}"]], texttemplate="%{text}", textfont=dict(size=20))
        traces.append(trace)
        hide = dict(showticklabels=False, ticks="") if values.size == 1 else {}  # a 1x1 map has no coordinates
        # Row labels only on the first map: the others' ran into the map beside them (their sizes are in
        # their titles); a few column labels each, which large type can hold.
        rows = hide if i == 0 or values.size == 1 else dict(showticklabels=False)
        layout.update(_image_axes(i + 1, domain, [-0.5, values.shape[1] - 0.5], [values.shape[0] - 0.5, -0.5],
                                  x=hide or dict(nticks=4), y=rows))
        annotations.append(_title(f"{name}<br>{_size_text(values)}", domain))
    layout.update(annotations=annotations, height=380, hovermode="closest", showlegend=False)
    title = title or f"Pooling with stride {c.stride}, padding {c.padding}: same map, three summaries"
    return styled(go.Figure(data=traces, layout=layout), title=title)  # its top margin holds the panel titles


def invariance_figure(result: "TranslationInvariance", *, title: str | None = None) -> go.Figure:
    """How much each representation changed when the content moved, in % of its mean magnitude."""
    rows = result.rows()
    change = [100 * r[1] for r in rows]
    unchanged = ["-" if r[2] is None else f"{100 * r[2]:.0f}%" for r in rows]
    fig = go.Figure(go.Bar(
        x=[r[0] for r in rows], y=change, text=[f"{v:.1f}%" if v >= 0.1 else f"{v:.2f}%" for v in change],
        textposition="outside", marker_color=[COLORWAY[i] for i in range(len(rows))], customdata=unchanged,
        hovertemplate="%{x}: changed %{y:.2f}%<br>values unchanged: %{customdata}<extra></extra>"))
    dy, dx = result.shift
    moved = " and ".join(p for p in (f"{dx} px across" if dx else "", f"{dy} px down" if dy else "") if p) or "0 px"
    fig.update_yaxes(title_text="mean |change| / mean |value| (%)", range=[0, max(change + [1e-9]) * 1.18])
    return styled(fig, title=title or f"Content moved {moved}: how much each output changed")


def params_figure(conv: "ConvVsDense", head: "HeadParams | None" = None, *, title: str | None = None) -> go.Figure:
    """Parameter counts on a log axis: a conv layer against a dense layer over the same volumes, and (with
    ``head``) a flatten + FC head against GAP + FC."""
    h, w, c = conv.input_shape
    labels = [f"conv {h}×{w}×{c} → {'×'.join(map(str, conv.output_shape))}", "dense, same input and output"]
    values = [conv.conv_params, conv.dense_params]
    if head is not None:
        fh, fw, fc = head.feature_shape
        labels += [f"flatten {fh}×{fw}×{fc} + FC → {head.classes}", f"GAP + FC {fc} → {head.classes}"]
        values += [head.flatten_fc_params, head.gap_fc_params]
    fig = go.Figure(go.Bar(y=labels, x=values, orientation="h", text=[f"{v:,}" for v in values],
                           textposition="outside", marker_color=[COLORWAY[i % 2] for i in range(len(values))],
                           hovertemplate="%{y}: %{x:,} parameters<extra></extra>"))
    span = [np.log10(min(values)) - 0.3, np.log10(max(values)) + 0.9]  # room for the numbers past the bars
    fig.update_xaxes(type="log", range=span, title_text="learnable parameters (log scale)", exponentformat="power")
    fig.update_yaxes(autorange="reversed", automargin=True)
    return styled(fig, title=title or f"Parameters: dense needs {conv.ratio:,.0f}× the conv's")
