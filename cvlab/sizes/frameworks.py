"""A layer chain in real frameworks: PyTorch and Keras code for it, and a check against real PyTorch layers.

torch is imported inside verify_chain only, so importing this module stays cheap.
The PyTorch code and the verified modules come from the same (class, args, kwargs)
triples, so the check also proves the code a student copies.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Any, Sequence

from cvlab.errors import InvalidInput
from cvlab.sizes import arithmetic as shapes
from cvlab.sizes.chain import (AvgPool, BatchNorm, Conv, ConvTranspose, Flatten, GlobalAvgPool, Layer, Linear,
                               MaxPool, ReLU, Shape, chain_rows, format_shape)

Call = tuple[str, tuple, dict]  # (class name in torch.nn, positional args, keyword args)


def _nonzero(**pairs: tuple[Any, Any]) -> dict:
    """Keyword args whose value differs from PyTorch's default: name=(value, default)."""
    return {name: value for name, (value, default) in pairs.items() if value != default}


def torch_call(layer: Layer, in_shape: Shape) -> Call:
    """The torch.nn constructor call for one layer, given the shape it receives."""
    match layer:
        case Conv(c, k, s, p, d, g, bias):
            return "Conv2d", (in_shape[0], c), dict(kernel_size=k, **_nonzero(
                stride=(s, 1), padding=(p, 0), dilation=(d, 1), groups=(g, 1), bias=(bias, True)))
        case ConvTranspose(c, k, s, p, op, d, g, bias):
            return "ConvTranspose2d", (in_shape[0], c), dict(kernel_size=k, **_nonzero(
                stride=(s, 1), padding=(p, 0), output_padding=(op, 0), dilation=(d, 1), groups=(g, 1),
                bias=(bias, True)))
        case MaxPool(k, s, p, d, ceil):
            return "MaxPool2d", (), dict(kernel_size=k, **_nonzero(stride=(s, None), padding=(p, 0), dilation=(d, 1),
                                                                   ceil_mode=(ceil, False)))
        case AvgPool(k, s, p, ceil):
            return "AvgPool2d", (), dict(kernel_size=k, **_nonzero(stride=(s, None), padding=(p, 0),
                                                                   ceil_mode=(ceil, False)))
        case GlobalAvgPool():
            return "AdaptiveAvgPool2d", (1,), {}
        case Flatten():
            return "Flatten", (), {}
        case Linear(n, bias):
            return "Linear", (in_shape[0], n), _nonzero(bias=(bias, True))
        case ReLU():
            return "ReLU", (), {"inplace": True}
        case BatchNorm():
            return ("BatchNorm2d" if len(in_shape) == 3 else "BatchNorm1d"), (in_shape[0],), {}
    raise TypeError(f"No PyTorch layer for {layer!r}")


def _call_text(prefix: str, name: str, args: tuple, kwargs: dict) -> str:
    return f"{prefix}{name}({', '.join([*map(repr, args), *(f'{k}={v!r}' for k, v in kwargs.items())])})"


def _activation_note(layers: Sequence[Layer]) -> list[str]:
    if any(isinstance(layer, (Conv, ConvTranspose, Linear)) for layer in layers) and not any(
            isinstance(layer, ReLU) for layer in layers):
        return ["# No activations in this chain: add nn.ReLU() after each conv and linear layer to train it."]
    return []


def pytorch_code(input_shape: Shape, layers: Sequence[Layer]) -> str:
    """Runnable `nn.Sequential(...)` source for the chain, each line commented with its output shape."""
    rows = chain_rows(input_shape, layers)
    lines = ["import torch", "from torch import nn", "", *_activation_note(layers), "model = nn.Sequential("]
    for row, layer in zip(rows, layers):
        call = _call_text("nn.", *torch_call(layer, row.input_shape))
        lines.append(f"    {call},  # -> {format_shape(row.output_shape)}")
    out = rows[-1].output_shape if rows else tuple(input_shape)
    lines.append(")")
    if any(isinstance(layer, BatchNorm) for layer in layers):
        lines.append("model.eval()  # batch norm on a single image needs its running statistics")
    lines += [f"x = torch.randn(1, {', '.join(map(str, input_shape))})  # (batch, C, H, W)",
              f"print(model(x).shape)  # torch.Size([1, {', '.join(map(str, out))}])"]
    return "\n".join(lines)


# ---- Keras ---------------------------------------------------------------------------------------------


def _keras_same(size: int, keff: int, stride: int) -> tuple[int, int]:
    """(output, padding before) of Keras/TensorFlow padding='same' along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + keff - size, 0)
    return out, total // 2  # TensorFlow puts the odd pixel after, like PyTorch's 'same'


def keras_padding(kind: str, in_hw: tuple[int, int], kernel_size: int, stride: int, padding: shapes.Padding,
                  dilation: int = 1, ceil_mode: bool = False) -> tuple[str, int | tuple | None, str]:
    """How Keras expresses a PyTorch conv or pool's padding: (mode, ZeroPadding2D argument or None, comment).

    Keras has only 'valid' (no padding) and 'same' (TensorFlow's split). A mode is used when it gives
    PyTorch's output size and starts its windows at the same pixel; otherwise zero padding + 'valid'.
    """
    keff = shapes.effective_kernel(kernel_size, dilation)
    axes = []  # per axis: (torch out, torch pad before, valid out, same out, same pad before, pad after needed)
    for n in in_hw:
        before, after = (shapes.conv_padding(kernel_size, stride, padding, dilation) if kind == "conv"
                         else (padding,) * 2)
        out = shapes.output_size(kind, n, kernel_size, stride, padding, dilation, ceil_mode)
        if (n + before + after - keff) // stride + 1 != out:  # ceil_mode: 'valid' needs more pixels after
            after = (out - 1) * stride + keff - n - before
        axes.append((out, before, (n - keff) // stride + 1, *_keras_same(n, keff, stride), after))
    if all(before == 0 and valid == out for out, before, valid, *_ in axes):
        return "valid", None, ""
    if all((same, same_before) == (out, before) for out, before, _, same, same_before, _ in axes):
        note = ("# Keras 'same' leaves the padding out of each average, PyTorch counts it (count_include_pad=True): "
                "same size, different values at the edges." if kind == "avgpool" else "")
        return "same", None, note
    pads = [(before, after) for _, before, *_, after in axes]
    zero_pad = pads[0][0] if len(set(pads)) == 1 and pads[0][0] == pads[0][1] else tuple(pads)
    column = lambda i: "x".join(str(axis[i]) for axis in axes)  # noqa: E731 - H x W of one quantity
    valid = f"'valid' gives {column(2)}" if min(a[2] for a in axes) > 0 else "'valid' leaves no output"
    pad = lambda i: str(axes[0][i]) if axes[0][i] == axes[1][i] else column(i)  # noqa: E731 - one number if H = W
    same = (f"'same' gives {column(3)}" + (f" but pads {pad(4)} before instead of {pad(1)}, shifting every window"
                                           if column(3) == column(0) else ""))
    note = (f"# PyTorch padding={padding!r}{' with ceil_mode' if ceil_mode else ''} gives {column(0)}. Keras {valid}; "
            f"{same}.\n# ZeroPadding2D({zero_pad!r}) + 'valid' reproduces PyTorch's windows exactly.")
    if kind == "maxpool":
        note += ("\n# (It pads zeros where PyTorch pads -inf: the same maxima when the inputs are >= 0, "
                 "e.g. after a ReLU.)")
    elif kind == "avgpool" and ceil_mode:
        note += "\n# (Keras counts the extra zeros after the input in the edge averages; PyTorch's ceil_mode does not.)"
    return "valid", zero_pad, note


def _keras_window(layer: Conv | MaxPool | AvgPool, in_shape: Shape) -> list[str]:
    kind = {Conv: "conv", MaxPool: "maxpool", AvgPool: "avgpool"}[type(layer)]
    dilation = getattr(layer, "dilation", 1)
    stride = layer.stride if layer.stride is not None else layer.kernel_size
    mode, zero_pad, note = keras_padding(kind, in_shape[1:], layer.kernel_size, stride, layer.padding, dilation,
                                         getattr(layer, "ceil_mode", False))
    lines = [note] if note else []
    if zero_pad is not None:
        lines.append(f"layers.ZeroPadding2D(padding={zero_pad!r})")
    if isinstance(layer, Conv):
        if stride > 1 and dilation > 1:
            lines.append("# Keras Conv2D cannot combine strides > 1 with dilation_rate > 1: no direct equivalent.")
        kwargs = dict(kernel_size=layer.kernel_size, **_nonzero(strides=(stride, 1)), padding=mode,
                      **_nonzero(dilation_rate=(dilation, 1), groups=(layer.groups, 1), use_bias=(layer.bias, True)))
        return lines + [_call_text("layers.", "Conv2D", (layer.out_channels,), kwargs)]
    if dilation > 1:
        lines.append("# Keras MaxPooling2D has no dilation: no direct equivalent.")
    name = "MaxPooling2D" if kind == "maxpool" else "AveragePooling2D"
    return lines + [_call_text("layers.", name, (), dict(pool_size=layer.kernel_size, strides=stride, padding=mode))]


def _keras_lines(layer: Layer, in_shape: Shape) -> list[str]:
    """Keras layer calls (and comments) for one layer; Keras shapes are channels-last."""
    match layer:
        case Conv() | MaxPool() | AvgPool():
            return _keras_window(layer, in_shape)
        case ConvTranspose(c, k, s, p, op, d, g, bias):
            lines = (["# Keras needs output_padding < strides; PyTorch also allows output_padding < dilation."]
                     if op >= s else [])
            lines.append(_call_text("layers.", "Conv2DTranspose", (c,), dict(
                kernel_size=k, strides=s, padding="valid", output_padding=op,
                **_nonzero(dilation_rate=(d, 1), groups=(g, 1), use_bias=(bias, True)))))
            if p:  # PyTorch's padding crops p pixels off each side of the full transposed output
                lines.append(f"layers.Cropping2D(cropping={p})")
            return lines
        case GlobalAvgPool():
            return ["layers.GlobalAveragePooling2D(keepdims=True)"]
        case Flatten():
            return ["layers.Flatten()"]
        case Linear(n, bias):
            return [_call_text("layers.", "Dense", (n,), _nonzero(use_bias=(bias, True)))]
        case ReLU():
            return ["layers.ReLU()"]
        case BatchNorm():
            return ["# BatchNormalization also counts its 2 moving statistics per channel as (non-trainable) weights.",
                    "layers.BatchNormalization()"]
    raise TypeError(f"No Keras layer for {layer!r}")


def _hwc(shape: Shape) -> str:
    return format_shape((*shape[1:], shape[0]) if len(shape) == 3 else shape)


def keras_code(input_shape: Shape, layers: Sequence[Layer]) -> str:
    """The chain as the lecture's Keras `Sequential`; comments say where Keras cannot match PyTorch exactly."""
    rows = chain_rows(input_shape, layers)
    c, h, w = input_shape
    lines = ["from tensorflow import keras", "from tensorflow.keras import layers", "",
             "# Keras is channels-last: the shapes in the comments are H x W x C.",
             *(["# Flatten orders features H, W, C here and C, H, W in PyTorch: same count, different order."]
               if any(isinstance(layer, Flatten) and len(row.input_shape) == 3 and row.input_shape[1:] != (1, 1)
                      for row, layer in zip(rows, layers)) else []),
             *[note.replace("nn.ReLU()", "layers.ReLU()") for note in _activation_note(layers)],
             "model = keras.Sequential([", f"    keras.Input(shape=({h}, {w}, {c})),"]
    for row, layer in zip(rows, layers):
        *before, last = _keras_lines(layer, row.input_shape)
        lines += [f"    {line}" if line.startswith("#") else f"    {line},"
                  for text in before for line in text.split("\n")]
        lines.append(f"    {last},  # -> {_hwc(row.output_shape)}")
    return "\n".join(lines + ["])", "model.summary()"])


# ---- verification against real PyTorch ----------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedRow:
    """What cvlab predicted for one layer, and what a real PyTorch layer did."""

    index: int
    layer: str
    predicted_shape: Shape  # without the batch
    torch_shape: Shape
    predicted_params: int
    torch_params: int
    matches: bool


def _fill(module) -> None:
    """Cheap, tame values instead of raw memory (which may hold NaNs or slow denormals)."""
    if hasattr(module, "reset_running_stats"):
        module.reset_parameters()  # batch norm: scale 1, shift 0, mean 0, variance 1
        return
    for tensor in module.parameters():  # weights average their inputs, biases start at zero
        tensor.fill_(1 / tensor[0].numel() if tensor.dim() > 1 else 0.0)


# What a check may build for real, one layer at a time: VGG-16's first FC (103 M weights, 411 MB) and a
# 64-channel 1024x1024 map (256 MB) fit; a 100,000-unit dense layer on 150,528 inputs (60 GB) does not.
MAX_BUILT_PARAMS = 150_000_000  # weights of one layer
MAX_BUILT_ELEMENTS = 64 * 1024 * 1024  # floats in one feature map


def check_buildable(input_shape: Shape, rows: Sequence) -> None:
    """Refuse, from the arithmetic alone, a chain whose real layers or maps would not fit a shared server."""
    shapes = [("the input", tuple(input_shape))] + [(f"layer {row.index} ({row.layer})", tuple(row.output_shape))
                                                     for row in rows]
    for where, shape in shapes:
        if math.prod(shape) > MAX_BUILT_ELEMENTS:
            raise InvalidInput(f"The check builds real tensors, and {where} is {math.prod(shape):,} values, over "
                               f"its limit of {MAX_BUILT_ELEMENTS:,}. Use a smaller input to check the chain; the "
                               "arithmetic above needs no check.")
    for row in rows:
        if row.params > MAX_BUILT_PARAMS:
            raise InvalidInput(f"The check builds real layers, and layer {row.index} ({row.layer}) has "
                               f"{row.params:,} weights, over its limit of {MAX_BUILT_PARAMS:,}. Make it smaller "
                               "to check it; the arithmetic above needs no check.")


def verify_chain(input_shape: Shape, layers: Sequence[Layer]) -> list[VerifiedRow]:
    """Push a real (1, C, H, W) CPU tensor through real torch.nn layers and compare every shape and count.

    The modules are built on the meta device and then given real, uninitialised CPU memory
    (what torch.nn.utils.skip_init does): random init of VGG-16's 138 M weights takes seconds,
    and shapes and counts do not depend on the values.
    """
    import torch  # noqa: PLC0415 - torch only when a check is asked for
    from torch import nn  # noqa: PLC0415

    predicted, results = chain_rows(input_shape, layers), []
    check_buildable(input_shape, predicted)
    x = torch.randn(1, *input_shape)  # a real tensor on the CPU
    with torch.no_grad():
        for row, layer in zip(predicted, layers):
            name, args, kwargs = torch_call(layer, row.input_shape)
            with torch.device("meta"):
                module = getattr(nn, name)(*args, **kwargs)
            module = module.to_empty(device="cpu").eval()
            _fill(module)
            torch_params = sum(p.numel() for p in module.parameters())
            x = module(x)
            shape = tuple(x.shape[1:])
            results.append(VerifiedRow(row.index, row.layer, row.output_shape, shape, row.params, torch_params,
                                       shape == row.output_shape and torch_params == row.params))
            del module  # one layer's weights in memory at a time: VGG-16's first FC alone is 411 MB
    return results


def build_sequential(input_shape: Shape, layers: Sequence[Layer]):
    """The chain as a real ``torch.nn.Sequential`` with PyTorch's default initialisation."""
    from torch import nn  # noqa: PLC0415 - torch only when a model is asked for

    modules, rows = [], chain_rows(input_shape, layers)
    check_buildable(input_shape, rows)
    for row, layer in zip(rows, layers):
        name, args, kwargs = torch_call(layer, row.input_shape)
        modules.append(getattr(nn, name)(*args, **kwargs))
    return nn.Sequential(*modules)
