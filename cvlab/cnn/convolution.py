"""Convolution by hand: named kernels, typed kernels, one conv layer on an image, and one output pixel worked out.

What a conv layer computes is cross-correlation, exactly as ``torch.nn.functional.conv2d``
and the lecture write it: y[i, j] = sum_m sum_n x[i*S + m*d, j*S + n*d] * k[m, n] + b
(the lecture's x[i+m, j+n] with stride S = 1 and dilation d = 1). The kernel is not flipped,
so a Sobel-x kernel written [-1 0 1] is positive where the image gets brighter to the right.

Numbers cross the boundary as numpy; torch runs the convolution itself, in float64 so that
the step-through (numpy, float64) agrees with the output to about 1e-12, not just 1e-6.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F

from cvlab.sizes import arithmetic as shapes
from cvlab.errors import InvalidInput
from cvlab.registry import Registry

TYPED_KERNEL_SIZES = (3, 5)  # sizes a person may type: odd, so the window has a centre pixel
KERNEL_EXAMPLE = "1 0 -1; 2 0 -2; 1 0 -1"


@dataclass(frozen=True)
class Kernel:
    """A named kernel and what it teaches."""

    name: str
    title: str
    detects: str  # what a strong response means, in one sentence
    grid: tuple[tuple[float, ...], ...]  # (K, K) weights, rows top to bottom
    bias: float = 0.0  # suggested bias b

    @property
    def array(self) -> np.ndarray:
        return np.array(self.grid, dtype=np.float64)  # (K, K)

    @property
    def size(self) -> int:
        return len(self.grid)

    @property
    def text(self) -> str:
        """The grid as parse_kernel reads it back ("1/16 1/8 1/16; ...")."""
        return format_kernel(self.array)


KERNELS: Registry[Kernel] = Registry("kernel")


def _register(name: str, title: str, detects: str, grid: np.ndarray | list) -> None:
    rows = tuple(tuple(float(v) for v in row) for row in np.asarray(grid, dtype=np.float64))
    KERNELS.register(name, Kernel(name, title, detects, rows))


_binomial5 = np.array([1, 4, 6, 4, 1], dtype=np.float64)
_register("identity", "Identity", "Nothing: the output is the input, a check that the layer is wired right.",
          [[0, 0, 0], [0, 1, 0], [0, 0, 0]])
_register("edge", "Edge (Laplacian outline)", "Outlines in every direction: a pixel that differs from its 8 "
          "neighbours; flat regions give 0.", [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
_register("sobel_x", "Sobel x", "Vertical edges: positive where the image gets brighter to the right, "
          "negative where it gets darker.", [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
_register("sobel_y", "Sobel y", "Horizontal edges: positive where the image gets brighter downwards, "
          "negative where it gets darker.", [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
_register("sharpen", "Sharpen", "Nothing new: the image plus its edges, so detail stands out (weights sum to 1).",
          [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
_register("box_blur_3x3", "Box blur 3x3", "Averages: the mean of the 3x3 neighbourhood, removing fine detail.",
          np.full((3, 3), 1 / 9))
_register("box_blur_5x5", "Box blur 5x5", "Averages: the mean of the 5x5 neighbourhood, a stronger blur.",
          np.full((5, 5), 1 / 25))
_register("gaussian_blur_3x3", "Gaussian blur 3x3", "Weighted averages, the centre counting most: a softer "
          "blur than the box, without its blocky artefacts.", np.outer([1, 2, 1], [1, 2, 1]) / 16)
_register("gaussian_blur_5x5", "Gaussian blur 5x5", "Weighted averages over 5x5 (binomial weights, close to a "
          "Gaussian with sigma about 1).", np.outer(_binomial5, _binomial5) / 256)
_register("emboss", "Emboss", "Diagonal edges as relief: positive on edges lit from the bottom right, negative "
          "from the top left (weights sum to 1).", [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])


# ---- kernels a person types ----------------------------------------------------------------


def _number(word: str) -> float:
    try:
        value = float(Fraction(word)) if "/" in word else float(word)
    except (ValueError, ZeroDivisionError):
        raise InvalidInput(f"{word!r} is not a number. Type the kernel's rows with numbers (fractions such as "
                           f"1/9 are fine), rows separated by ';' or new lines, e.g. {KERNEL_EXAMPLE}") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{word!r} is not a finite number; use ordinary numbers such as 2 or -0.5.")
    return value


def parse_kernel(text: str) -> np.ndarray:
    """A square kernel typed as rows: "1 0 -1; 2 0 -2; 1 0 -1", or one row per line.

    Numbers are separated by spaces or commas and may be fractions (1/16); brackets as in
    [[1, 0, -1], [2, 0, -2], [1, 0, -1]] are accepted. One row of 9 or 25 numbers is read
    as 3x3 or 5x5. Returns a (K, K) float64 array, K in TYPED_KERNEL_SIZES.
    """
    flat = str(text).replace("[", " ").replace("]", ";")
    rows = [[_number(w) for w in re.split(r"[,\s]+", line) if w] for line in re.split(r"[;\n]+", flat)]
    rows = [row for row in rows if row]
    allowed = " or ".join(f"{k}x{k}" for k in TYPED_KERNEL_SIZES)
    if not rows:
        raise InvalidInput(f"Type a {allowed} kernel, rows separated by ';' or new lines, e.g. {KERNEL_EXAMPLE}")
    if len(rows) == 1 and len(rows[0]) in {k * k for k in TYPED_KERNEL_SIZES}:
        k = math.isqrt(len(rows[0]))
        rows = [rows[0][i * k:(i + 1) * k] for i in range(k)]
    lengths = sorted({len(row) for row in rows})
    if len(lengths) > 1:
        raise InvalidInput(f"Every row needs the same number of values; yours have {', '.join(map(str, lengths))}. "
                           f"Type a {allowed} kernel, e.g. {KERNEL_EXAMPLE}")
    if lengths[0] != len(rows):
        raise InvalidInput(f"The kernel must be square: you typed {len(rows)} rows of {lengths[0]} values. "
                           f"Type a {allowed} kernel, e.g. {KERNEL_EXAMPLE}")
    if len(rows) not in TYPED_KERNEL_SIZES:
        raise InvalidInput(f"A {len(rows)}x{len(rows)} kernel is not offered: type a {allowed} kernel (odd sizes "
                           f"have a centre pixel), e.g. {KERNEL_EXAMPLE}")
    return np.array(rows, dtype=np.float64)


def format_kernel(kernel: np.ndarray) -> str:
    """A kernel as text parse_kernel reads back: rows joined by "; ", simple fractions kept as 1/16."""

    def word(value: float) -> str:
        fraction = Fraction(value).limit_denominator(1024)
        if fraction.denominator > 1 and abs(float(fraction) - value) < 1e-12:
            return f"{fraction.numerator}/{fraction.denominator}"
        return f"{value:g}"

    return "; ".join(" ".join(word(float(v)) for v in row) for row in np.asarray(kernel, dtype=np.float64))


# ---- one conv layer on an image -------------------------------------------------------------


@dataclass(frozen=True)
class ConvResult:
    output: np.ndarray  # (H', W') for a grayscale image, (H', W', C) for a colour one; float64
    kernel: np.ndarray  # (K, K)
    stride: int
    padding: shapes.Padding  # as asked: pixels per side, "same" or "valid"
    pad: tuple[int, int]  # zero pixels actually added (before, after) on each axis: top/left, bottom/right
    dilation: int
    bias: float
    input_shape: tuple[int, ...]  # (H, W) or (H, W, C)
    min: float  # of the output, for colour scales
    max: float


def _as_kernel(kernel: np.ndarray | str) -> np.ndarray:
    array = KERNELS.get(kernel).array if isinstance(kernel, str) else np.asarray(kernel, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] < 1 or not np.all(np.isfinite(array)):
        raise InvalidInput(f"A kernel must be a square grid of finite numbers, got shape {array.shape}. "
                           f"Choose a named kernel ({', '.join(KERNELS.names())}) or type one, e.g. {KERNEL_EXAMPLE}")
    return array


def _as_image(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float64)
    if array.ndim not in (2, 3) or min(array.shape[:2]) < 1 or (array.ndim == 3 and array.shape[2] < 1):
        raise InvalidInput(f"Expected a grayscale (H, W) or colour (H, W, C) image, got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise InvalidInput("The image holds NaN or infinite values; give pixel values in [0, 1].")
    return array


def _as_bias(bias: float) -> float:
    if not math.isfinite(float(bias)):
        raise InvalidInput(f"The bias must be a finite number, got {bias!r}; 0 is the usual start.")
    return float(bias)


def _output_size(image: np.ndarray, k: int, stride: int, padding: shapes.Padding, dilation: int) -> tuple[int, int]:
    """(H', W') by cvlab.sizes.arithmetic, which raises InvalidLayer for anything PyTorch would reject."""
    return (shapes.conv_output_size(image.shape[0], k, stride, padding, dilation),
            shapes.conv_output_size(image.shape[1], k, stride, padding, dilation))


def convolve(image: np.ndarray, kernel: np.ndarray | str, *, stride: int = 1, padding: shapes.Padding = 0,
             dilation: int = 1, bias: float = 0.0) -> ConvResult:
    """One conv layer with a single kernel, as nn.Conv2d computes it (cross-correlation, zero padding).

    ``image`` is (H, W) in [0, 1], or (H, W, C): then each channel is convolved with the same
    kernel on its own (a depthwise conv, groups=C) and the output is (H', W', C). ``kernel`` is a
    (K, K) array or a KERNELS name. ``padding`` is pixels per side, or "same" / "valid"; "same"
    puts an odd extra pixel at the bottom/right, as PyTorch does. Output sizes are
    cvlab.sizes.arithmetic.conv_output_size's; impossible settings raise InvalidLayer.
    """
    x, k, bias = _as_image(image), _as_kernel(kernel), _as_bias(bias)
    out_h, out_w = _output_size(x, len(k), stride, padding, dilation)
    before, after = shapes.conv_padding(len(k), stride, padding, dilation)
    channels = 1 if x.ndim == 2 else x.shape[2]
    tensor = torch.from_numpy(np.ascontiguousarray(x.reshape(*x.shape[:2], channels).transpose(2, 0, 1)))[None]
    tensor = F.pad(tensor, (before, after, before, after))  # (1, C, H + pads, W + pads), zeros
    weight = torch.from_numpy(k).expand(channels, 1, len(k), len(k))  # (C, 1, K, K): depthwise
    with torch.no_grad():
        y = F.conv2d(tensor, weight, torch.full((channels,), bias, dtype=torch.float64),
                     stride=stride, dilation=dilation, groups=channels)[0]  # (C, H', W')
    assert y.shape[1:] == (out_h, out_w), "torch and cvlab.sizes.arithmetic disagree on the output size"
    output = y[0].numpy() if x.ndim == 2 else y.permute(1, 2, 0).numpy()
    return ConvResult(output, k, stride, padding, (before, after), dilation, bias, x.shape,
                      float(output.min()), float(output.max()))


# ---- one output pixel, worked out ---------------------------------------------------------------


@dataclass(frozen=True)
class ConvStep:
    row: int  # the output pixel (row, col)
    col: int
    top_left_padded: tuple[int, int]  # (y, x) of the window's first tap in the padded input
    top_left: tuple[int, int]  # the same in the original image; negative inside the top/left padding
    tap_y: np.ndarray  # (K, K) image row of each tap (original coordinates; padding is outside 0..H-1)
    tap_x: np.ndarray  # (K, K) image column of each tap
    is_padding: np.ndarray  # (K, K) bool: the tap reads a zero of the padding
    window: np.ndarray  # (K, K) input values under the taps, 0 on padding
    kernel: np.ndarray  # (K, K)
    products: np.ndarray  # (K, K) window * kernel, element by element
    total: float  # sum of the products
    bias: float
    output: float  # total + bias: equals convolve(...).output[row, col]
    stride: int
    dilation: int
    pad: tuple[int, int]  # (before, after) zero pixels on each axis

    def equation(self) -> str:
        """The last step in words: "sum of 9 products = 1.234, + bias 0 = 1.234" (4 significant digits)."""
        return f"sum of {self.products.size} products = {self.total:.4g}, + bias {self.bias:.4g} = {self.output:.4g}"


def step_through(image: np.ndarray, kernel: np.ndarray | str, row: int, col: int, *, stride: int = 1,
                 padding: shapes.Padding = 0, dilation: int = 1, bias: float = 0.0, channel: int = 0) -> ConvStep:
    """The arithmetic of output pixel (row, col) of ``convolve`` with the same settings, tap by tap.

    ``channel`` picks the channel of a colour (H, W, C) image. Rows and columns count from 0.
    """
    x, k, bias = _as_image(image), _as_kernel(kernel), _as_bias(bias)
    if x.ndim == 3:
        if not 0 <= channel < x.shape[2]:
            raise InvalidInput(f"channel must be between 0 and {x.shape[2] - 1}, got {channel}.")
        x = x[:, :, channel]
    out_h, out_w = _output_size(x, len(k), stride, padding, dilation)
    for name, value, size in (("row", row, out_h), ("col", col, out_w)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < size:
            raise InvalidInput(f"{name} must be a whole number between 0 and {size - 1} (the output is "
                               f"{out_h}x{out_w}), got {value!r}.")
    before, after = shapes.conv_padding(len(k), stride, padding, dilation)
    top, left = row * stride, col * stride  # in the padded input
    taps = np.arange(len(k)) * dilation  # (K,) offsets of the taps from the window's corner
    tap_y, tap_x = np.meshgrid(top - before + taps, left - before + taps, indexing="ij")  # (K, K) each
    inside = (tap_y >= 0) & (tap_y < x.shape[0]) & (tap_x >= 0) & (tap_x < x.shape[1])
    window = np.where(inside, x[tap_y.clip(0, x.shape[0] - 1), tap_x.clip(0, x.shape[1] - 1)], 0.0)
    products = window * k
    total = float(products.sum())
    return ConvStep(int(row), int(col), (top, left), (top - before, left - before), tap_y, tap_x, ~inside, window,
                    k, products, total, bias, total + bias, stride, dilation, (before, after))


# ---- why convolutions: parameters against a dense layer -----------------------------------------


@dataclass(frozen=True)
class ConvVsDense:
    input_shape: tuple[int, int, int]  # (H, W, C_in)
    output_shape: tuple[int, int, int]  # (H', W', C_out): the conv's, which the dense layer must also make
    conv_params: int  # K*K*C_in*C_out weights + C_out biases: shared over every position
    dense_params: int  # (H*W*C_in) * (H'*W'*C_out) weights + H'*W'*C_out biases: one weight per pair
    ratio: float  # dense_params / conv_params
    conv_macs: int  # multiply-accumulates for one image
    dense_macs: int


def conv_vs_dense_params(in_h: int, in_w: int, in_c: int, out_c: int, kernel_size: int, *, stride: int = 1,
                         padding: shapes.Padding = "same") -> ConvVsDense:
    """Parameters of a KxK conv layer against a fully connected layer with the same input and output volumes."""
    out_h = shapes.conv_output_size(in_h, kernel_size, stride, padding)
    out_w = shapes.conv_output_size(in_w, kernel_size, stride, padding)
    conv = shapes.conv_params(in_c, out_c, kernel_size)
    n_in, n_out = in_h * in_w * in_c, out_h * out_w * out_c
    dense = shapes.linear_params(n_in, n_out)
    return ConvVsDense((in_h, in_w, in_c), (out_h, out_w, out_c), conv, dense, dense / conv,
                       shapes.conv_macs(in_c, out_c, kernel_size, out_h, out_w), n_in * n_out)
