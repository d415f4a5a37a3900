"""Exercises generated from a seed: output sizes through a chain, parameter counts, receptive fields, lost pixels.

Each generator draws its numbers from ``random.Random(seed)``, so an id such as
``chain-7`` is the same exercise for everyone. The right answer comes from
cvlab.sizes (``chain_rows``, ``explain_output_size``); each mistake's answer is the
same arithmetic redone with the slip, so its hint is shown exactly when a student's
number is the one that slip produces.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from cvlab.exercise_model import COUNT, SIZE, Exercise, size_text, slips
from cvlab.registry import Registry
from cvlab.sizes import working as size_working
from cvlab.sizes.arithmetic import output_size
from cvlab.sizes.chain import Conv, Flatten, Linear, MaxPool, chain_rows, layer_spec

Window = Conv | MaxPool


@dataclass(frozen=True)
class Generator:
    title: str  # what the exercises practise
    make: Callable[[int], Exercise]


GENERATORS: Registry[Generator] = Registry("exercise kind")


# ---- output size through a chain ---------------------------------------------------------------------

def _kind(layer: Window) -> str:
    return "conv" if isinstance(layer, Conv) else "maxpool"


def _stride(layer: Window) -> int:
    return layer.kernel_size if layer.stride is None else layer.stride


# A rule maps (window layer w, input length n) to the output length a student computes with one slip; None: no answer.
Rule = Callable[[Window, int], "int | None"]


def _walk(layers: Sequence[Window], size: int, rule: Rule, stop_after: int | None = None) -> int | None:
    for layer in layers[:stop_after]:
        size = rule(layer, size)
        if size is None or size < 1:
            return None
    return size


def _floored(numerator: int, stride: int, *, ceil: bool = False) -> int:
    return -(-numerator // stride) if ceil else numerator // stride


SLIPS: tuple[tuple[str, Rule, str], ...] = (
    ("no +1", lambda w, n: _floored(n + 2 * w.padding - w.kernel_size, _stride(w)),
     "You forgot the +1: floor((W - K + 2P) / S) counts the steps between window positions; the first "
     "window adds one more."),
    ("one side", lambda w, n: _floored(n + w.padding - w.kernel_size, _stride(w)) + 1,
     "You padded one side only: P pixels go on each side, so the formula adds 2P."),
    ("no padding", lambda w, n: _floored(n - w.kernel_size, _stride(w)) + 1 if w.padding else None,
     "You left the padding out: P widens the input by 2P before the window slides."),
    ("no stride", lambda w, n: n + 2 * w.padding - w.kernel_size + 1,
     "You ignored the stride: divide by S, because the window moves S pixels at a time."),
    ("pool stride 1", lambda w, n: (n + 2 * w.padding - w.kernel_size + 1) if isinstance(w, MaxPool)
     and w.stride is None else output_size(_kind(w), n, w.kernel_size, w.stride, w.padding),
     "A pool given no stride steps by its kernel size in PyTorch (MaxPool2d(3) moves 3 pixels), not by 1."),
    ("pool padded", lambda w, n: output_size("maxpool", n, w.kernel_size, w.stride, 1) if isinstance(w, MaxPool)
     and w.padding == 0 and w.kernel_size >= 2 else output_size(_kind(w), n, w.kernel_size, w.stride, w.padding),
     "You padded the pool, but this one has padding 0 (ResNet's real stem pools with padding=1: that gives one "
     "more). Use only the padding the layer is given."),
    ("ceil", lambda w, n: _floored(n + 2 * w.padding - w.kernel_size, _stride(w), ceil=True) + 1,
     "You rounded up: the division is floored, since a window that would run past the edge is never placed."),
)


def chain_exercise(exercise_id: str, topic: str, height: int, width: int, layers: Sequence[Window], prompt: str,
                   extra_solution: tuple[str, ...] = ()) -> Exercise:
    """The output H x W of ``layers`` on a height x width input, its working layer by layer, and the slips."""
    rows = chain_rows((3, height, width), layers)
    _, out_h, out_w = rows[-1].output_shape
    solution: list[str] = []
    for row, layer in zip(rows, layers):
        for axis, size in (("H", row.input_shape[1]), ("W", row.input_shape[2]))[: 1 if height == width else 2]:
            work = size_working.explain_output_size(_kind(layer), size, layer.kernel_size, layer.stride,
                                                    layer.padding)
            solution += [f"Layer {row.index}, {row.layer}, along {axis} (input {size}):", *work.steps]
    solution += [f"Output: {size_text(out_h, out_w)}", *extra_solution]

    def slip_answer(rule: Rule, stop_after: int | None = None) -> str | None:
        sides = [_walk(layers, n, rule, stop_after) for n in (height, width)]
        return None if None in sides else size_text(*sides)

    candidates = [(slip_answer(rule), hint) for _, rule, hint in SLIPS]
    if len(layers) > 1:
        first = lambda w, n: output_size(_kind(w), n, w.kernel_size, w.stride, w.padding)  # noqa: E731
        candidates.append((slip_answer(first, stop_after=1),
                           "That is the size after the first layer only: its output is the next layer's input."))
    return Exercise(exercise_id, topic, prompt, SIZE, size_text(out_h, out_w), tuple(solution),
                    slips(size_text(out_h, out_w), candidates),
                    "Work one layer at a time with floor((W - K + 2P) / S) + 1, feeding each output to the next.")


def _random_conv(rng: random.Random, kernels: tuple[int, ...] = (1, 3, 3, 5, 7)) -> Conv:
    kernel = rng.choice(kernels)
    return Conv(rng.choice((16, 32, 64)), kernel, rng.choice((1, 2, 2, 3)), rng.randint(0, kernel // 2))


def _until_valid(make: Callable[[random.Random], Exercise], seed: int) -> Exercise:
    """The first draw whose layers PyTorch accepts (a big kernel on a small map leaves no output)."""
    from cvlab.errors import InvalidLayer

    rng = random.Random(seed)
    while True:  # most draws are valid; the rare failure draws again from the same stream
        try:
            return make(rng)
        except InvalidLayer:
            continue


def _single(seed: int) -> Exercise:
    return _until_valid(lambda rng: _draw_single(rng, seed), seed)


def _draw_single(rng: random.Random, seed: int) -> Exercise:
    height = rng.choice((28, 32, 37, 64, 100, 128, 224))
    width = height if rng.random() < 0.7 else rng.choice((30, 48, 63, 96))
    conv = _random_conv(rng, (3, 3, 5, 7))
    prompt = (f"Input {height}x{width}, kernel {conv.kernel_size}x{conv.kernel_size}, padding {conv.padding}, "
              f"stride {conv.stride}. Output size (HxW)?")
    return chain_exercise(f"size-{seed}", "Output size of one layer", height, width, (conv,), prompt)


def _chain(seed: int) -> Exercise:
    return _until_valid(lambda rng: _draw_chain(rng, seed), seed)


def _draw_chain(rng: random.Random, seed: int) -> Exercise:
    size = rng.choice((32, 64, 96, 128, 224))
    layers: list[Window] = []
    for _ in range(rng.randint(2, 4)):
        pool = rng.random() < 0.35
        layers.append(MaxPool(rng.choice((2, 3)), rng.choice((None, 2))) if pool else _random_conv(rng))
    chain = " | ".join(layer_spec(layer) for layer in layers)
    prompt = (f"Input 3x{size}x{size} through {chain} (k kernel, s stride, p padding; a pool's stride defaults "
              "to its kernel). Output size (HxW)?")
    return chain_exercise(f"chain-{seed}", "Output size through a chain", size, size, layers, prompt)


GENERATORS.register("size", Generator("Output size of one layer", _single))
GENERATORS.register("chain", Generator("Output size through a chain", _chain))


# ---- parameter counts ----------------------------------------------------------------------------------

def _conv_params(seed: int) -> Exercise:
    rng = random.Random(seed)
    cin, cout = rng.choice((1, 3, 16, 32, 64, 128)), rng.choice((8, 16, 32, 64, 128, 256))
    kernel, bias = rng.choice((1, 3, 3, 5, 7)), rng.random() < 0.75
    conv = Conv(cout, kernel, bias=bias)
    [row] = chain_rows((cin, 32, 32), (conv,))
    per_filter, weights = kernel * kernel * cin, cout * kernel * kernel * cin
    solution = (f"Each of the {cout} filters spans all {cin} input channels: {kernel}x{kernel}x{cin} = "
                f"{per_filter:,} weights.", f"Weights: {cout} x {per_filter:,} = {weights:,}.",
                f"Biases: one per filter, {cout}." if bias else "Biases: none (bias=False).",
                f"Total: {row.params:,}.")
    with_bias = lambda count: str(count + (cout if bias else 0))  # noqa: E731
    candidates = [(str(weights), "You forgot the biases: one per output channel (filter)."),
                  (str(weights + 2 * cout) if bias else None, "You counted the bias twice: one per filter, once."),
                  (str(weights + cout) if not bias else None, "This layer has bias=False: it has no biases."),
                  (with_bias(cout * kernel * kernel), f"Each filter spans all {cin} input channels, not one: "
                                                      "multiply by C_in."),
                  (with_bias(cout * cin * kernel), "The kernel is K x K: multiply by K twice."),
                  (with_bias(cin * kernel * kernel), f"There are {cout} filters (output channels): multiply by "
                                                     "C_out.")]
    args = f"{cin}, {cout}, kernel_size={kernel}" + ("" if bias else ", bias=False")
    return Exercise(f"conv-params-{seed}", "Parameters of a conv layer", f"How many learnable parameters does "
                    f"nn.Conv2d({args}) have?", COUNT, str(row.params), solution, slips(str(row.params), candidates),
                    "Parameters = C_out x C_in x K x K weights, plus C_out biases when bias=True.")


def _dense_params(seed: int) -> Exercise:
    rng = random.Random(seed)
    channels, side = rng.choice((16, 32, 64, 128, 256, 512)), rng.choice((1, 2, 4, 7))
    out = rng.choice((10, 100, 128, 256, 512, 1000))
    rows = chain_rows((channels, side, side), (Flatten(), Linear(out)))
    features, answer = rows[0].output_shape[0], rows[-1].params
    solution = (f"flatten turns {channels}x{side}x{side} into {channels} x {side} x {side} = {features:,} features.",
                f"Weights: {features:,} x {out} = {features * out:,}.", f"Biases: one per output, {out}.",
                f"Total: {answer:,}.")
    candidates = [(str(features * out), "You forgot the biases: one per output feature."),
                  (str(features * out + 2 * out), "You counted the bias twice: one per output feature, once."),
                  (str(channels * out + out) if side > 1 else None,
                   f"Flatten keeps every pixel: {channels}x{side}x{side} gives C x H x W features, not C."),
                  (str(side * side * out + out) if channels > 1 else None,
                   "Flatten keeps every channel: multiply H x W by C.")]
    return Exercise(f"dense-params-{seed}", "Parameters of a dense layer", f"A {channels}x{side}x{side} feature map "
                    f"(C x H x W) is flattened into nn.Linear(?, {out}). How many learnable parameters does the "
                    "linear layer have?", COUNT, str(answer), solution, slips(str(answer), candidates),
                    "Parameters = in_features x out_features weights + out_features biases; in_features = C x H x W.")


# ---- receptive field and the pixels the floor loses ----------------------------------------------------

def _receptive_field(seed: int) -> Exercise:
    rng = random.Random(seed)
    layers: list[Window] = []
    while not any(_stride(layer) > 1 for layer in layers[:-1]):  # a jump before the last layer, or no lesson
        layers = [MaxPool(2) if rng.random() < 0.3 else Conv(16, k := rng.choice((3, 3, 5)), rng.choice((1, 2)), k // 2)
                  for _ in range(rng.randint(2, 4))]
    rows = chain_rows((3, 512, 512), layers)
    answer = str(rows[-1].receptive_field)
    solution = ["r_out = r_in + (K - 1) x j_in, j_out = j_in x S; start with r = 1, j = 1."]
    rf, jump = 1, 1
    for row, layer in zip(rows, layers):
        solution.append(f"{row.layer}: r = {rf} + ({layer.kernel_size} - 1) x {jump} = {row.receptive_field}, "
                        f"j = {jump} x {_stride(layer)} = {row.jump}")
        rf, jump = row.receptive_field, row.jump
    flat = chain_rows((3, 512, 512), [replace(layer, stride=1) for layer in layers])[-1].receptive_field
    candidates = [(str(flat), "You ignored the jump: after a stride-2 layer, each step of the next kernel spans "
                              "2 input pixels, so multiply K - 1 by the product of the strides before it."),
                  (str(sum(layer.kernel_size for layer in layers)),
                   "You added the kernel sizes: each layer adds K - 1 (times the jump), starting from 1."),
                  (str(layers[-1].kernel_size), "That is only the last layer's kernel: every layer below widens "
                                                "what one output sees.")]
    chain = " | ".join(layer_spec(layer) for layer in layers)
    return Exercise(f"receptive-field-{seed}", "Receptive field", f"Through {chain}: how many input pixels per "
                    "side does one output value see (its receptive field)?", COUNT, answer, tuple(solution),
                    slips(answer, candidates), "Use r_out = r_in + (K - 1) x j_in, with j the product of the strides "
                    "so far.")


def _floor_loss(seed: int) -> Exercise:
    rng = random.Random(seed)
    for _ in range(100):  # three draws in four lose pixels; an answer of 0 is a lesson too
        width, kernel, stride = rng.randint(20, 70), rng.choice((2, 3, 5)), rng.choice((2, 3, 4))
        work = size_working.explain_output_size("conv", width, kernel, stride, padding := rng.randint(0, 1))
        if work.dropped or rng.random() < 0.25:
            break
    answer = str(work.dropped)
    last = (work.output - 1) * stride - padding
    solution = (*work.steps, f"The last window starts at column {last} (input index, after {padding} padding) and "
                f"covers {kernel}: up to {last + kernel - 1}.",
                f"Columns {last + kernel} to {width - 1} are never read: {work.dropped}." if work.dropped else
                "It ends at or past the last column: nothing is lost.")
    remainder = (width + 2 * padding - kernel) % stride
    candidates = [(str(remainder) if padding else None, "You counted the padding as lost pixels: only the input's "
                                                        "own columns count; the padding column is not the image."),
                  ("0" if work.dropped else None, "Some columns are lost: find where the last window ends."),
                  (str(stride - 1), "Not every stride loses S - 1 pixels: find where the last window ends.")]
    return Exercise(f"floor-{seed}", "Where the floor loses pixels", f"A conv with kernel {kernel}, stride {stride}, "
                    f"padding {padding} on an input {width} pixels wide: how many input columns at the right edge "
                    "does no window reach?", COUNT, answer, solution, slips(answer, candidates),
                    "Compute the output size, then where the last window starts ((out - 1) x S - P) and ends.")


GENERATORS.register("conv-params", Generator("Parameters of a conv layer", _conv_params))
GENERATORS.register("dense-params", Generator("Parameters of a dense layer", _dense_params))
GENERATORS.register("receptive-field", Generator("Receptive field", _receptive_field))
GENERATORS.register("floor", Generator("Where the floor loses pixels", _floor_loss))
