"""The worked arithmetic behind an output size, and the lecture's examples and exercises.

``explain_output_size`` gives what a student needs to see: the formula with
their numbers filled in, the effective kernel, and the input pixels that the
floor drops. The sizes themselves come from cvlab.sizes.arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvlab.sizes.arithmetic import Padding, conv_padding, effective_kernel, output_size


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
    with_numbers: str  # the formula with the layer's numbers put in, e.g. "floor((32 - 3 + 2*1) / 1) + 1"


def explain_output_size(kind: str, size: int, kernel_size: int, stride: int | None = None, padding: Padding = 0,
                        dilation: int = 1, ceil_mode: bool = False, output_padding: int = 0) -> SizeWorking:
    """The output length of one layer with the formula filled in; raises InvalidLayer like output_size."""
    out = output_size(kind, size, kernel_size, stride, padding, dilation, ceil_mode, output_padding)
    stride = (kernel_size if kind.endswith("pool") else 1) if stride is None else stride
    keff = effective_kernel(kernel_size, dilation)
    if kind == "convtranspose":
        steps, latex, numbers = _transpose_working(size, kernel_size, stride, padding, output_padding, dilation, out)
        unread = _transpose_unread(size, out, kernel_size, stride, dilation, padding)
        return SizeWorking(kind, size, out, keff, padding, padding, steps, latex, 0, unread, numbers)
    before, after = conv_padding(kernel_size, stride, padding, dilation) if kind == "conv" else (padding, padding)
    steps, latex, numbers = _window_working(size, kernel_size, stride, (before, after), dilation, ceil_mode, out)
    if padding == "same":
        steps = (f"padding='same': d*(K-1) = {before + after} pixels in all, {before} before and {after} after",
                 *steps)
    dropped, unread = _coverage(size, out, kernel_size, stride, dilation, before)
    return SizeWorking(kind, size, out, keff, before, after, steps, latex, dropped, unread, numbers)


def _window_working(size: int, kernel: int, stride: int, pads: tuple[int, int], dilation: int, ceil_mode: bool,
                    out: int) -> tuple[tuple[str, ...], str, str]:
    keff, (before, after) = effective_kernel(kernel, dilation), pads
    k_sym, k_tex = ("K_eff", r"K_{\text{eff}}") if dilation > 1 else ("K", "K")
    p_sym, p_num = ("2P", f"2*{before}") if before == after else ("P_before + P_after", f"{before} + {after}")
    p_tex = p_sym.replace("P_before", r"P_{\text{before}}").replace("P_after", r"P_{\text{after}}")
    numerator = size - keff + before + after
    rounded = -(-numerator // stride) if ceil_mode else numerator // stride
    rnd, (lo, hi) = ("ceil", (r"\lceil", r"\rceil")) if ceil_mode else ("floor", (r"\lfloor", r"\rfloor"))
    steps = [f"K_eff = d*(K - 1) + 1 = {dilation}*({kernel} - 1) + 1 = {keff}"] if dilation > 1 else []
    numbers = f"{rnd}(({size} - {keff} + {p_num}) / {stride}) + 1"
    steps += [f"out = {rnd}((W - {k_sym} + {p_sym}) / S) + 1", f"    = {numbers}",
              f"    = {rnd}({numerator} / {stride}) + 1 = {rounded} + 1 = {rounded + 1}"]
    tex_num = p_num.replace("*", r"\cdot ")
    latex = (rf"\text{{out}} = \left{lo} \frac{{W - {k_tex} + {p_tex}}}{{S}} \right{hi} + 1"
             rf" = \left{lo} \frac{{{size} - {keff} + {tex_num}}}{{{stride}}} \right{hi} + 1 = {rounded + 1}")
    if out != rounded + 1:  # ceil_mode's last window started past the input: PyTorch drops it
        steps.append(f"The last window would start at {rounded}*{stride} = {rounded * stride}, past the input and "
                     f"its left padding ({size} + {before}), so PyTorch drops it: out = {out}")
        latex += rf" \to {out}"  # why is the working's last line: in words here it ran off a projected screen
    return tuple(steps), latex, numbers


def _transpose_working(size: int, kernel: int, stride: int, padding: int, output_padding: int, dilation: int,
                       out: int) -> tuple[tuple[str, ...], str, str]:
    numbers = f"({size} - 1)*{stride} - 2*{padding} + {dilation}*({kernel} - 1) + {output_padding} + 1"
    steps = ("out = (W - 1)*S - 2P + d*(K - 1) + output_padding + 1", f"    = {numbers} = {out}")
    latex = (r"\text{out} = (W - 1)\,S - 2P + d\,(K - 1) + P_{\text{out}} + 1"
             rf" = ({size} - 1)\cdot {stride} - 2\cdot {padding} + {dilation}\cdot ({kernel} - 1)"
             rf" + {output_padding} + 1 = {out}")
    return steps, latex, numbers


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


def lecture_example_rows() -> list[dict]:
    """The lecture's table, each row computed here with its working on one line."""
    rows = []
    for width, kernel, padding, stride in LECTURE_EXAMPLES:
        work = explain_output_size("conv", width, kernel, stride, padding)
        rows.append({"Input W": width, "Kernel K": kernel, "Padding P": padding, "Stride S": stride,
                     "Output": work.output, "Working": f"{work.with_numbers} = {work.output}"})
    return rows


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
