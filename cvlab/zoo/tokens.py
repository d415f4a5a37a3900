"""ViT vs Swin: patches as tokens, windows and shifted windows, and what attention costs as images grow.

ViT-B/16 cuts the image into 16x16 patches and lets every token attend to every
other: N = (H/16)(W/16) + 1 tokens (the +1 is the CLS token) and N^2 attention
scores per head and layer, so attention grows with the square of the pixel count.

Swin-T starts from 4x4 patches (56x56 tokens at 224 px) and attends only inside
7x7-token windows; every second block shifts the windows by half a window so
information crosses window borders. A token sees 49 others whatever the image
size, so the attention cost grows linearly with the pixel count (Liu et al., 2021).

Costs are counted, not derived: the real torchvision models are built on the meta
device at each size and traced with ``torch.utils.flop_counter``. The attention
part is the batched matrix products (``aten.bmm``: Q K^T and softmax(.) V); the
projections and MLPs are ``addmm``/``mm``, the patch embedding a convolution.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from cvlab.errors import InvalidInput, UnknownName

VIT_PATCH = 16  # vit_b_16's patch side, pixels
SWIN_PATCH = 4  # swin_t's patch side, pixels
SWIN_WINDOW = 7  # swin_t's window side, tokens
SWIN_MULTIPLE = 32  # Swin-T halves the token grid three times after 4x4 patches: 4 * 2^3
COST_MODELS = ("vit_b_16", "swin_t")
DEFAULT_SIZES = (224, 320, 448, 640, 896, 1024)  # multiples of 32 suit both models
ATTENTION_OPS = ("aten.bmm", "aten.baddbmm")  # Q K^T and A V; the fused sdpa kernel is off while counting


@dataclass(frozen=True)
class Rect:
    """A rectangle in pixel coordinates, x to the right and y down; x1 and y1 are exclusive."""
    x0: int
    y0: int
    x1: int
    y1: int


@dataclass(frozen=True)
class Window:
    rect: Rect  # pixels, clipped to the image
    row: int  # grid position of this region in the drawn partition
    col: int
    batch_window: tuple[int, int]  # (row, col) of the 7x7 window that computes it after the cyclic shift


@dataclass(frozen=True)
class CostPoint:
    model: str
    image_size: int  # pixels per side (square input)
    pixels: int  # image_size^2
    tokens: int  # ViT: patches + CLS; Swin: stage-1 tokens (H/4)(W/4)
    macs: int  # whole forward pass of one image, counted
    attention_macs: int  # the Q K^T and A V products alone


@dataclass(frozen=True)
class CostFit:
    model: str
    total_exponent: float  # slope of log(MACs) against log(pixels)
    attention_exponent: float  # the same for the attention products alone


def _side_pair(image_size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    if min(h, w) <= 0:
        raise InvalidInput(f"Image sides must be positive pixel counts, got {h}x{w}.")
    return h, w


def vit_tokens(image_size: int | tuple[int, int], patch: int = VIT_PATCH) -> tuple[int, int, int]:
    """(grid_h, grid_w, tokens including CLS) of a ViT; 224 px and 16 px patches give (14, 14, 197)."""
    h, w = _side_pair(image_size)
    if patch <= 0 or h % patch or w % patch:
        raise InvalidInput(
            f"{h}x{w} px does not cut into {patch}x{patch} patches: torchvision's ViT requires each side "
            f"to be a multiple of the patch size (it raises 'Input shape indivisible by patch size!') "
            f"and builds for one square image_size. Try {max(patch, round(h / patch) * patch)} px.")
    return h // patch, w // patch, (h // patch) * (w // patch) + 1


def describe_vit_tokens(image_size: int, patch: int = VIT_PATCH) -> str:
    """'ViT-B/16: 14x14 = 196 patches + 1 CLS = 197 tokens' for a square image of ``image_size`` px."""
    rows, cols, count = vit_tokens(image_size, patch)
    return f"ViT-B/{patch}: {rows}x{cols} = {rows * cols} patches + 1 CLS = {count} tokens"


def patch_grid(h: int, w: int, patch: int = VIT_PATCH) -> list[Rect]:
    """The ViT patches of an h x w image as pixel rectangles, row by row (one per token, CLS aside)."""
    rows, cols, _ = vit_tokens((h, w), patch)
    return [Rect(c * patch, r * patch, (c + 1) * patch, (r + 1) * patch) for r in range(rows) for c in range(cols)]


def _cuts(tokens: int, window: int, shift: int) -> list[tuple[int, int]]:
    """Token intervals of one axis: regular windows, or the regions a shift of ``shift`` tokens cuts."""
    padded = math.ceil(tokens / window) * window  # torchvision pads the grid bottom/right to whole windows
    edges = sorted({0, padded} | {e for e in range(shift, padded, window) if e > 0})
    return [(a, b) for a, b in zip(edges, edges[1:]) if a < tokens]


def swin_windows(h: int, w: int, patch: int = SWIN_PATCH, window: int = SWIN_WINDOW,
                 shift: bool = False) -> list[Window]:
    """Stage-1 attention windows of Swin over an h x w image, as pixel rectangles.

    Regular: whole windows of ``window`` x ``window`` tokens (8x8 = 64 at 224 px).
    Shifted: the partition moves by window//2 tokens. Swin computes it by rolling
    the token grid cyclically and cutting regular windows, so in the image it cuts
    (n+1) x (n+1) regions (9x9 = 81 at 224 px) whose edge pieces share a window
    with the pieces on the opposite edge (a mask keeps them from attending to each
    other); ``batch_window`` says which. Windows past the image (padding) are clipped.
    """
    if patch <= 0 or window <= 0 or h % patch or w % patch:
        raise InvalidInput(f"{h}x{w} px does not cut into {patch}x{patch} patches; use multiples of "
                           f"{patch} px ({SWIN_MULTIPLE} px for every stage of Swin-T).")
    rows, cols = h // patch, w // patch
    axes = []
    for tokens in (rows, cols):
        # torchvision drops the shift on an axis that fits into one window
        offset = window // 2 if shift and tokens > window else 0
        padded = math.ceil(tokens / window) * window
        axes.append([(a, b, ((a - offset) % padded) // window) for a, b in _cuts(tokens, window, offset)])
    return [Window(Rect(x0 * patch, y0 * patch, min(x1, cols) * patch, min(y1, rows) * patch), r, c, (wy, wx))
            for r, (y0, y1, wy) in enumerate(axes[0]) for c, (x0, x1, wx) in enumerate(axes[1])]


def _check_size(model: str, size: int) -> None:
    if model == "vit_b_16":
        vit_tokens(size)
    elif model == "swin_t":
        if size <= 0 or size % SWIN_MULTIPLE:
            raise InvalidInput(f"swin_t needs a side that is a multiple of {SWIN_MULTIPLE} px (4x4 patches, "
                               f"then three 2x merges); {size} is not. Try {max(32, round(size / 32) * 32)}.")
    else:
        raise UnknownName(f"No attention cost for {model!r}: choose one of {', '.join(COST_MODELS)}.")


@functools.cache
def _count(model: str, size: int) -> tuple[int, int]:
    """(total MACs, attention MACs) of one size x size image through the real model, shapes only."""
    import torch
    import torchvision.models as tvm
    from cvlab.zoo.facts import flop_counter

    with torch.device("meta"):
        net = (tvm.vit_b_16(image_size=size) if model == "vit_b_16" else tvm.swin_t()).eval()
        x = torch.empty(1, 3, size, size)  # (B, C, H, W)
    counter = flop_counter(net, x)
    by_op = {str(op): flops for op, flops in counter.get_flop_counts()["Global"].items()}
    attention = sum(by_op.get(op, 0) for op in ATTENTION_OPS)
    return int(counter.get_total_flops()) // 2, int(attention) // 2


def attention_cost(sizes: tuple[int, ...] = DEFAULT_SIZES,
                   models: tuple[str, ...] = COST_MODELS) -> list[CostPoint]:
    """MACs of the real ViT-B/16 and Swin-T at each image side, whole model and attention alone."""
    for model in models:
        for size in sizes:
            _check_size(model, size)
    points = []
    for model in models:
        for size in sizes:
            macs, attention = _count(model, size)
            tokens = vit_tokens(size)[2] if model == "vit_b_16" else (size // SWIN_PATCH) ** 2
            points.append(CostPoint(model, size, size * size, tokens, macs, attention))
    return points


def _slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def fit_exponents(points: list[CostPoint]) -> list[CostFit]:
    """Per model, the k of MACs ~ pixels^k by least squares on log-log: ~2 is quadratic, ~1 linear."""
    fits = []
    for model in dict.fromkeys(p.model for p in points):
        mine = [p for p in points if p.model == model]
        if len({p.pixels for p in mine}) < 2:
            raise InvalidInput(f"Fitting an exponent for {model} needs at least two different image sizes.")
        pixels = [p.pixels for p in mine]
        fits.append(CostFit(model, _slope(pixels, [p.macs for p in mine]),
                            _slope(pixels, [p.attention_macs for p in mine])))
    return fits
