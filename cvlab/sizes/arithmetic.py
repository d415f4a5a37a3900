"""Output-size arithmetic of conv, pooling and transposed-conv layers, exactly as PyTorch does it.

Pure Python on purpose (no torch): pages call it on every rerun. Each function
mirrors PyTorch's rule for one layer, including the parameters PyTorch rejects;
those raise InvalidLayer naming the rule and the fix. Sizes are along one axis
(height or width), in pixels; run a function once for H and once for W.
"""

from __future__ import annotations

from cvlab.errors import InvalidInput, InvalidLayer

Padding = int | str  # pixels added on each side, or "same" / "valid" (nn.Conv2d only)
KINDS = ("conv", "maxpool", "avgpool", "convtranspose")


def _at_least(name: str, value: object, minimum: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidLayer(f"{name} must be a whole number, got {value!r}. {fix}")
    if value < minimum:
        raise InvalidLayer(f"{name} must be at least {minimum}, got {value}. {fix}")
    return value


def _check_input(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInput(f"The input size must be a whole number of at least 1 pixel, got {size!r}. "
                           "Enter a positive height and width.")
    return size


def _check_window(kernel_size: int, stride: int, dilation: int) -> None:
    _at_least("kernel_size", kernel_size, 1, "A window covers at least one pixel; 3 is the usual choice.")
    _at_least("stride", stride, 1, "The window must move forward: use 1 to visit every position, 2 to halve the size.")
    _at_least("dilation", dilation, 1, "Dilation 1 means no gaps between the kernel's taps; use 1 or more.")


def effective_kernel(kernel_size: int, dilation: int = 1) -> int:
    """Pixels one window spans: d*(K-1)+1 (a 3x3 kernel with dilation 2 spans 5)."""
    return dilation * (kernel_size - 1) + 1


def conv_padding(kernel_size: int, stride: int = 1, padding: Padding = 0, dilation: int = 1) -> tuple[int, int]:
    """The (before, after) padding nn.Conv2d applies along one axis; validates the window too.

    "same" pads d*(K-1) in total, the odd pixel going after (bottom/right), as
    PyTorch and Keras both do; PyTorch allows it only with stride 1.
    """
    _check_window(kernel_size, stride, dilation)
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding != "same":
            raise InvalidLayer(f"padding must be a number of pixels, 'same' or 'valid', got {padding!r}. "
                               f"Use padding={effective_kernel(kernel_size, dilation) // 2} or 'same' "
                               "to keep the size.")
        if stride != 1:
            raise InvalidLayer(f"padding='same' is not supported for strided convolutions (stride={stride}): "
                               "PyTorch allows 'same' only with stride=1. Use stride=1, or a number such as "
                               f"padding={effective_kernel(kernel_size, dilation) // 2} with stride={stride}.")
        total = dilation * (kernel_size - 1)
        return total // 2, total - total // 2
    _at_least("padding", padding, 0, "PyTorch pads, it never crops: use padding=0 or more.")
    return padding, padding


def _no_window_fits(size: int, keff: int, pad_total: int, max_pad: int | None = None) -> InvalidLayer:
    need = -(-(keff - size) // 2)  # padding per side that makes the window fit, rounded up
    fixes = ["a smaller kernel or dilation", "a larger input"]
    if max_pad is None or need <= max_pad:
        fixes.insert(1, f"padding of at least {need}")
    return InvalidLayer(f"Output size is too small: the window spans {keff} pixels but the padded input has only "
                        f"{size + pad_total} ({size} + {pad_total} padding), so no window fits. "
                        f"Use {', '.join(fixes[:-1])}, or {fixes[-1]}.")


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: Padding = 0, dilation: int = 1) -> int:
    """nn.Conv2d's output length: floor((W + 2P - d*(K-1) - 1) / S) + 1."""
    before, after = conv_padding(kernel_size, stride, padding, dilation)
    _check_input(size)
    keff = effective_kernel(kernel_size, dilation)
    out = (size + before + after - keff) // stride + 1
    if out < 1:
        raise _no_window_fits(size, keff, before + after)
    return out


def _check_pool(kernel_size: int, stride: int, padding: int, dilation: int) -> None:
    _check_window(kernel_size, stride, dilation)
    _at_least("padding", padding, 0, "PyTorch pads, it never crops: use padding=0 or more.")
    if padding > kernel_size // 2:  # aten pool2d_shape_check: kW/2 >= padW, the kernel before dilation
        dilated = " (PyTorch compares with the kernel size itself, not the dilated span)" if dilation > 1 else ""
        raise InvalidLayer(f"pad should be at most half of kernel size: padding={padding} > kernel_size "
                           f"{kernel_size} / 2{dilated}. Use padding <= {kernel_size // 2}.")


def _pool_length(size: int, kernel_size: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    keff = effective_kernel(kernel_size, dilation)
    out = (size + 2 * padding - keff + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # the last window must start inside the input or the left padding
    return out


def pool_output_size(size: int, kernel_size: int, stride: int | None = None, padding: int = 0,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """nn.MaxPool2d's output length; stride None means stride = kernel_size, as in PyTorch."""
    stride = kernel_size if stride is None else stride
    _check_pool(kernel_size, stride, padding, dilation)
    _check_input(size)
    out = _pool_length(size, kernel_size, stride, padding, dilation, ceil_mode)
    if out < 1:
        raise _no_window_fits(size, effective_kernel(kernel_size, dilation), 2 * padding, kernel_size // 2)
    return out


def avg_pool_output_size(size: int, kernel_size: int, stride: int | None = None, padding: int = 0,
                         ceil_mode: bool = False, count_include_pad: bool = True) -> int:
    """nn.AvgPool2d's output length: max pooling's rule without dilation.

    count_include_pad changes which pixels each average divides by, never the
    size, so it is accepted and ignored.
    """
    return pool_output_size(size, kernel_size, stride, padding, 1, ceil_mode)


def conv_transpose_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """nn.ConvTranspose2d's output length: (W-1)*S - 2P + d*(K-1) + output_padding + 1."""
    _check_window(kernel_size, stride, dilation)
    if isinstance(padding, str):
        raise InvalidLayer(f"ConvTranspose2d takes no padding={padding!r} in PyTorch: give a number of pixels "
                           "to crop from each side (padding=0 keeps the full output).")
    _at_least("padding", padding, 0, "It crops the output on each side; use padding=0 or more.")
    _at_least("output_padding", output_padding, 0, "It adds rows/cols at the end; use output_padding=0 or more.")
    if not (output_padding < stride or output_padding < dilation):
        raise InvalidLayer(f"output padding must be smaller than either stride or dilation: output_padding="
                           f"{output_padding}, stride={stride}, dilation={dilation}. "
                           f"Use output_padding <= {max(stride, dilation) - 1}.")
    _check_input(size)
    full = (size - 1) * stride + effective_kernel(kernel_size, dilation)  # before cropping
    out = full - 2 * padding + output_padding
    if out < 1:
        raise InvalidLayer(f"Output size is too small: the transposed conv makes {full} pixels, and padding="
                           f"{padding} crops {2 * padding} of them, leaving {out}. "
                           f"Use padding <= {(full + output_padding - 1) // 2}.")
    return out


def output_size(kind: str, size: int, kernel_size: int, stride: int | None = None, padding: Padding = 0,
                dilation: int = 1, ceil_mode: bool = False, output_padding: int = 0) -> int:
    """One entry point for the four layer kinds (see KINDS); stride None takes the layer's default."""
    if kind == "conv":
        return conv_output_size(size, kernel_size, 1 if stride is None else stride, padding, dilation)
    if kind == "maxpool":
        return pool_output_size(size, kernel_size, stride, _pool_padding(padding), dilation, ceil_mode)
    if kind == "avgpool":
        if dilation != 1:
            raise InvalidLayer("AvgPool2d has no dilation: use dilation=1, or a max pool to dilate.")
        return avg_pool_output_size(size, kernel_size, stride, _pool_padding(padding), ceil_mode)
    if kind == "convtranspose":
        return conv_transpose_output_size(size, kernel_size, 1 if stride is None else stride, padding,
                                          output_padding, dilation)
    raise InvalidLayer(f"Unknown layer kind {kind!r}. Choose one of: {', '.join(KINDS)}.")


def _pool_padding(padding: Padding) -> int:
    if isinstance(padding, str):
        raise InvalidLayer(f"Pooling layers take no padding={padding!r} in PyTorch: give a number of pixels.")
    return padding


# ---- parameters and multiply-accumulates -------------------------------------------------------


def check_groups(in_channels: int, out_channels: int, groups: int = 1) -> None:
    """Grouped convs split the channels into `groups` independent convs, so groups must divide both."""
    _at_least("in_channels", in_channels, 1, "A feature map has at least one channel.")
    _at_least("out_channels", out_channels, 1, "A conv makes at least one output channel.")
    _at_least("groups", groups, 1, "groups=1 is an ordinary conv.")
    if in_channels % groups or out_channels % groups:
        common = [g for g in range(1, min(in_channels, out_channels) + 1)
                  if in_channels % g == 0 and out_channels % g == 0]
        raise InvalidLayer(f"groups={groups} must divide both channel counts: in_channels={in_channels}, "
                           f"out_channels={out_channels}. Use one of: {', '.join(map(str, common))}.")


def conv_params(in_channels: int, out_channels: int, kernel_size: int, groups: int = 1, bias: bool = True) -> int:
    """Learnable numbers of a Conv2d or ConvTranspose2d: out * (in/groups) * K*K weights (+ out biases)."""
    check_groups(in_channels, out_channels, groups)
    return out_channels * (in_channels // groups) * kernel_size**2 + (out_channels if bias else 0)


def conv_macs(in_channels: int, out_channels: int, kernel_size: int, out_height: int, out_width: int,
              groups: int = 1) -> int:
    """Multiply-accumulates of a Conv2d: one K*K*(in/groups) dot product per output value (bias adds not counted)."""
    check_groups(in_channels, out_channels, groups)
    return out_height * out_width * out_channels * (in_channels // groups) * kernel_size**2


def conv_transpose_macs(in_channels: int, out_channels: int, kernel_size: int, in_height: int, in_width: int,
                        groups: int = 1) -> int:
    """Multiply-accumulates of a ConvTranspose2d: every input value scatters one K*K*(out/groups) kernel."""
    check_groups(in_channels, out_channels, groups)
    return in_height * in_width * in_channels * (out_channels // groups) * kernel_size**2


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Learnable numbers of nn.Linear: in*out weights (+ out biases); its MACs are in*out."""
    _at_least("in_features", in_features, 1, "Flatten a non-empty feature map first.")
    _at_least("out_features", out_features, 1, "A linear layer makes at least one feature.")
    return in_features * out_features + (out_features if bias else 0)


def conv_layer_cost(kind: str, in_channels: int, out_channels: int, kernel_size: int, in_hw: tuple[int, int],
                    out_hw: tuple[int, int], groups: int = 1) -> tuple[int, int]:
    """(parameters, MACs for one image) of a "conv" or "convtranspose" layer.

    A conv does one dot product per output value; a transposed conv scatters one kernel per input value,
    so its MACs follow the input's height and width.
    """
    params = conv_params(in_channels, out_channels, kernel_size, groups)
    if kind == "conv":
        return params, conv_macs(in_channels, out_channels, kernel_size, *out_hw, groups)
    return params, conv_transpose_macs(in_channels, out_channels, kernel_size, *in_hw, groups)
