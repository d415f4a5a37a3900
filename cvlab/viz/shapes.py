"""Figures for output sizes: a chain's spatial size and channels per layer, and one layer's windows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import plotly.graph_objects as go

from cvlab.viz.style import COLORWAY, styled

if TYPE_CHECKING:
    from cvlab.sizes.chain import ChainRow


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) + (" (C x H x W)" if len(shape) == 3 else " features")


def _hover(label: str, shape: tuple[int, ...], params: int = 0, rf: object = "1") -> str:
    rf_text = "the whole input" if rf is None else f"{rf} px"
    return f"<b>{label}</b><br>output {_shape_text(shape)}<br>params {params:,}<br>receptive field {rf_text}"


def _panel_title(text: str, y: float) -> dict:
    return dict(text=text, x=0.5, y=y, xref="paper", yref="paper", showarrow=False, xanchor="center", yanchor="bottom")


def chain_figure(rows: Sequence[ChainRow], *, title: str | None = None) -> go.Figure:
    """Spatial size (top) and channels or features (bottom, log scale) after the input and each layer.

    Positions on x are 0 for the input and i for layer i; hovering shows the layer's spec,
    output shape, parameters and receptive field. Flat layers (after flatten) have no
    spatial size, so the size line has a gap there and their features get their own bars.
    """
    if not rows:
        raise ValueError("chain_figure needs at least one layer row")
    shapes = [rows[0].input_shape, *(row.output_shape for row in rows)]
    labels = ["input", *(f"{row.index} {row.layer}" for row in rows)]
    hover = [_hover("input", shapes[0]), *(_hover(lab, row.output_shape, row.params, row.receptive_field)
                                           for lab, row in zip(labels[1:], rows))]
    x = list(range(len(shapes)))
    spatial = [s if len(s) == 3 else None for s in shapes]
    square = all(s is None or s[1] == s[2] for s in spatial)
    lines = [(1, "H = W" if square else "height H")] + ([] if square else [(2, "width W")])
    traces = [dict(type="scatter", x=x, y=[None if s is None else s[axis] for s in spatial], name=name,
                   mode="lines+markers", connectgaps=False, xaxis="x", yaxis="y") for axis, name in lines]
    traces += [dict(type="bar", x=x, y=[s[0] if (len(s) == 1) == flat else None for s in shapes], name=name,
                    marker_color=colour, xaxis="x2", yaxis="y2")
               for flat, name, colour in ((False, "channels C", COLORWAY[2]), (True, "features (flat)", COLORWAY[3]))]
    for trace in traces:
        trace.update(hovertext=hover, hoverinfo="text")
    # Two stacked panels sharing x, laid out by hand: make_subplots costs several ms per rerun.
    layout = dict(
        xaxis=dict(anchor="y", matches="x2", showticklabels=False),
        yaxis=dict(domain=[0.56, 1], title_text="pixels", rangemode="tozero"),
        xaxis2=dict(anchor="y2", tickmode="array", tickvals=x, ticktext=[lab.split("(")[0] for lab in labels]),
        yaxis2=dict(domain=[0, 0.44], title_text="count", type="log", dtick=1),  # ticks at 1, 10, 100...
        annotations=[_panel_title("Spatial size (pixels)", 1.0), _panel_title("Channels / features (log scale)", 0.44)],
        barmode="overlay", height=520, hovermode="closest")
    return styled(go.Figure(data=traces, layout=layout), title=title)


def windows_figure(size: int, kernel_size: int, stride: int, pad_before: int, pad_after: int, output: int,
                   dilation: int = 1, *, title: str | None = None) -> go.Figure:
    """One conv or pool window per row along one axis: which input pixels each output reads.

    x is the input pixel index (negative and >= size: padding); y is the output index.
    Grey bands mark padding, red ones the input pixels no window reaches (lost to the floor).
    """
    taps_x, taps_y, hover = [], [], []
    for out in range(output):
        start = out * stride - pad_before  # input index of the window's first tap
        for tap in range(kernel_size):
            taps_x.append(start + tap * dilation)
            taps_y.append(out)
            hover.append(f"output {out} reads input pixel {start + tap * dilation}")
    reach = (output - 1) * stride + dilation * (kernel_size - 1) + 1 - pad_before  # one past the last tap span
    traces = [dict(type="scatter", x=taps_x, y=taps_y, mode="markers", name="kernel taps", hovertext=hover,
                   hoverinfo="text", marker=dict(symbol="square", size=max(4, min(14, 400 // max(size, 1)))))]
    bands, legend = [], set()
    for lo, hi, colour, name in ((-pad_before, 0, "#bbbbbb", "padding"), (size, size + pad_after, "#bbbbbb", "padding"),
                                 (max(reach, 0), size, COLORWAY[3], "dropped by the floor")):
        if hi > lo:
            bands.append(dict(type="rect", xref="x", yref="paper", x0=lo - 0.5, x1=hi - 0.5, y0=0, y1=1,
                              fillcolor=colour, opacity=0.3, line_width=0, layer="below"))
            if name not in legend:  # bands cannot carry a legend entry: an empty trace of their colour does
                legend.add(name)
                traces.append(dict(type="scatter", x=[None], y=[None], mode="markers", name=name,
                                   marker=dict(symbol="square", size=14, color=colour, opacity=0.5)))
    layout = dict(shapes=bands, height=min(520, 160 + 14 * output),
                  xaxis=dict(title_text="input pixel", range=[-pad_before - 1, size + pad_after]),
                  yaxis=dict(title_text="output pixel", autorange="reversed"))
    return styled(go.Figure(data=traces, layout=layout), title=title)
