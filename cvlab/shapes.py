"""Output-size arithmetic of conv, pooling and transposed-conv layers, exactly as PyTorch does it.

Pure Python on purpose (no torch): pages call it on every rerun. Each function
mirrors PyTorch's rule for one layer, including the parameters PyTorch rejects;
those raise InvalidLayer naming the rule and the fix. Sizes are along one axis
(height or width), in pixels; run a function once for H and once for W.
"""

from __future__ import annotations

from dataclasses import dataclass

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
                               f"Use padding={effective_kernel(kernel_size, dilation) // 2} or 'same' to keep the size.")
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


# ---- the working, for people ---------------------------------------------------------------------


@dataclass(frozen=True)
class SizeWorking:
    """The arithmetic behind one output length, ready to print (steps) or typeset (latex)."""

    kind: str  # one of KINDS
    size: int  # input pixels along the axis
    output: int  # output pixels along the axis
    effective_kernel: int  # d*(K-1)+1: pixels one window spans
    pad_before: int  # pixels added at the top/left (for a transposed conv: cropped)
    pad_after: int  # pixels added at the bottom/right
    steps: tuple[str, ...]  # the formula, then the user's numbers, then the result
    latex: str
    dropped: int  # input pixels at the bottom/right that no window reaches: lost to the floor
    unread: int  # input pixels that no kernel tap reads at all (dropped + gaps from stride or dilation)


def explain_output_size(kind: str, size: int, kernel_size: int, stride: int | None = None, padding: Padding = 0,
                        dilation: int = 1, ceil_mode: bool = False, output_padding: int = 0) -> SizeWorking:
    """The output length of one layer with the formula filled in; raises InvalidLayer like output_size."""
    out = output_size(kind, size, kernel_size, stride, padding, dilation, ceil_mode, output_padding)
    stride = (kernel_size if kind.endswith("pool") else 1) if stride is None else stride
    keff = effective_kernel(kernel_size, dilation)
    if kind == "convtranspose":
        steps, latex = _transpose_working(size, kernel_size, stride, padding, output_padding, dilation, out)
        unread = _transpose_unread(size, out, kernel_size, stride, dilation, padding)
        return SizeWorking(kind, size, out, keff, padding, padding, steps, latex, 0, unread)
    before, after = conv_padding(kernel_size, stride, padding, dilation) if kind == "conv" else (padding, padding)
    steps, latex = _window_working(size, kernel_size, stride, (before, after), dilation, ceil_mode, out)
    if padding == "same":
        steps = (f"padding='same': d*(K-1) = {before + after} pixels in all, {before} before and {after} after",
                 *steps)
    dropped, unread = _coverage(size, out, kernel_size, stride, dilation, before)
    return SizeWorking(kind, size, out, keff, before, after, steps, latex, dropped, unread)


def _window_working(size: int, kernel: int, stride: int, pads: tuple[int, int], dilation: int, ceil_mode: bool,
                    out: int) -> tuple[tuple[str, ...], str]:
    keff, (before, after) = effective_kernel(kernel, dilation), pads
    k_sym, k_tex = ("K_eff", r"K_{\text{eff}}") if dilation > 1 else ("K", "K")
    p_sym, p_num = ("2P", f"2*{before}") if before == after else ("P_before + P_after", f"{before} + {after}")
    p_tex = p_sym.replace("P_before", r"P_{\text{before}}").replace("P_after", r"P_{\text{after}}")
    numerator = size - keff + before + after
    rounded = -(-numerator // stride) if ceil_mode else numerator // stride
    rnd, (lo, hi) = ("ceil", (r"\lceil", r"\rceil")) if ceil_mode else ("floor", (r"\lfloor", r"\rfloor"))
    steps = [f"K_eff = d*(K - 1) + 1 = {dilation}*({kernel} - 1) + 1 = {keff}"] if dilation > 1 else []
    steps += [f"out = {rnd}((W - {k_sym} + {p_sym}) / S) + 1",
              f"    = {rnd}(({size} - {keff} + {p_num}) / {stride}) + 1",
              f"    = {rnd}({numerator} / {stride}) + 1 = {rounded} + 1 = {rounded + 1}"]
    tex_num = p_num.replace("*", r"\cdot ")
    latex = (rf"\text{{out}} = \left{lo} \frac{{W - {k_tex} + {p_tex}}}{{S}} \right{hi} + 1"
             rf" = \left{lo} \frac{{{size} - {keff} + {tex_num}}}{{{stride}}} \right{hi} + 1 = {rounded + 1}")
    if out != rounded + 1:  # ceil_mode's last window started past the input: PyTorch drops it
        steps.append(f"The last window would start at {rounded}*{stride} = {rounded * stride}, past the input and "
                     f"its left padding ({size} + {before}), so PyTorch drops it: out = {out}")
        latex += rf" \to {out}\ \text{{(last window dropped)}}"
    return tuple(steps), latex


def _transpose_working(size: int, kernel: int, stride: int, padding: int, output_padding: int, dilation: int,
                       out: int) -> tuple[tuple[str, ...], str]:
    steps = ("out = (W - 1)*S - 2P + d*(K - 1) + output_padding + 1",
             f"    = ({size} - 1)*{stride} - 2*{padding} + {dilation}*({kernel} - 1) + {output_padding} + 1 = {out}")
    latex = (r"\text{out} = (W - 1)\,S - 2P + d\,(K - 1) + P_{\text{out}} + 1"
             rf" = ({size} - 1)\cdot {stride} - 2\cdot {padding} + {dilation}\cdot ({kernel} - 1)"
             rf" + {output_padding} + 1 = {out}")
    return steps, latex


def _coverage(size: int, out: int, kernel: int, stride: int, dilation: int, pad_before: int) -> tuple[int, int]:
    """(dropped, unread) input pixels along one axis of a conv or pool."""
    reach = (out - 1) * stride + effective_kernel(kernel, dilation) - pad_before  # one past the last window
    read = bytearray(size)  # 1 where some kernel tap reads the input pixel
    for tap in range(kernel):
        first = tap * dilation - pad_before  # the input index this tap reads in window 0
        skip = max(0, -(first // stride))  # windows whose tap still lands in the top/left padding
        lo, hi = first + skip * stride, min(first + (out - 1) * stride, size - 1)
        if lo <= hi:
            read[lo : hi + 1 : stride] = b"\x01" * len(range(lo, hi + 1, stride))
    return max(0, size - reach), size - read.count(1)


def _transpose_unread(size: int, out: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    """Input pixels whose every contribution lands in the cropped-off padding."""
    taps = [tap * dilation - padding for tap in range(kernel)]
    return sum(1 for i in range(size) if not any(0 <= i * stride + t < out for t in taps))


# ---- the lecture's numbers -----------------------------------------------------------------------

# (input W, kernel K, padding P, stride S) rows of the lecture's table; outputs 32, 30, 16, 112.
LECTURE_EXAMPLES: tuple[tuple[int, int, int, int], ...] = ((32, 3, 1, 1), (32, 3, 0, 1), (32, 3, 1, 2), (224, 7, 3, 2))


@dataclass(frozen=True)
class Exercise:
    question: str
    answer: int  # output size along one side, in pixels
    working: tuple[str, ...]  # the steps shown when the student reveals the answer
    hint: str  # for a wrong answer: where to look, without giving the answer away
    note: str  # shown with the working


def lecture_exercises() -> tuple[Exercise, ...]:
    """The lecture's "Quick Exercise" questions, answered by this module's own arithmetic."""
    q1, q2 = explain_output_size("conv", 64, 3, 1, 0), explain_output_size("conv", 64, 3, 2, 1)
    conv, pool = explain_output_size("conv", 224, 7, 2, 3), explain_output_size("maxpool", 112, 3, 2, 0)
    resnet = explain_output_size("maxpool", 112, 3, 2, 1)
    return (
        Exercise("Input 64x64, kernel 3x3, padding 0, stride 1. Output size?", q1.output, q1.steps,
                 "Put W=64, K=3, P=0, S=1 into floor((W - K + 2P) / S) + 1.",
                 "Without padding a 3x3 kernel cannot be centred on the border pixels: one pixel goes on each side."),
        Exercise("Input 64x64, kernel 3x3, padding 1, stride 2. Output size?", q2.output, q2.steps,
                 "Put W=64, K=3, P=1, S=2 into the formula; the floor rounds a half down.",
                 "Stride 2 about halves the size: (64 - 3 + 2) / 2 = 31.5, the floor makes it 31, plus 1."),
        Exercise("Conv(224, k=7, p=3, s=2), then Pool(k=3, s=2). Final size? (like the ResNet stem)", pool.output,
                 ("Conv on the 224 input:", *conv.steps, "Pool (no padding given) on the conv's 112:", *pool.steps),
                 "Two steps: the conv's output is the pool's input, and this pool has no padding.",
                 f"As written the pool has no padding, so the answer is {pool.output} and the floor drops the last "
                 f"row and column. ResNet's real stem pools with padding=1, which gives {resnet.output}."),
    )
