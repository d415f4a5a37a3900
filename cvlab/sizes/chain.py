"""Layer chains: the shape, parameters, MACs and receptive field after every layer of a CNN.

A chain is a tuple of small frozen layer dataclasses (Conv, MaxPool, Linear...).
Its text form, used by the command line and the page's address bar, lives in
cvlab.sizes.chain_text with the preset chains:

    conv(64,k=7,s=2,p=3)|maxpool(k=3,s=2,p=1)|gap|flatten|linear(1000)

Shapes are (C, H, W) as in PyTorch, or (features,) after flatten; the batch is
left out. MACs count the multiply-accumulates of conv and linear layers only
(bias adds, pooling, BN and activations are not counted), the convention of
torchvision's `_ops`.

Receptive field follows the standard recurrence, in input pixels per side:
r_out = r_in + (k_eff - 1) * j_in and j_out = j_in * s, padding ignored (a border
window partly sees padding). A transposed conv divides the jump by its stride and
adds the input steps its taps reach; gap and linear make every output depend on
the whole input (None); flatten, relu and bn change nothing.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from fractions import Fraction
from typing import ClassVar, Sequence, Union

from cvlab.sizes import arithmetic as shapes
from cvlab.errors import InvalidInput, InvalidLayer

Shape = tuple[int, ...]  # (C, H, W) feature map or (features,) vector, batch left out
MAX_LAYERS = 256  # a page reruns on every edit; no real CNN stem-to-head is longer


def _arg(key: str, default=MISSING, *, positional: bool = False, hint: str = ""):
    """A layer field written as `key=value` in a spec (or bare, for the positional one)."""
    return field(default=default, metadata={"key": key, "positional": positional, "hint": hint})


# Receptive field state: (r, j) = (pixels of the chain's input one value sees, input pixels between
# neighbouring values), per side; None once every value sees the whole input.
RF = Union[tuple[Fraction, Fraction], None]


def _window_rf(rf: RF, effective_kernel: int, stride: int) -> RF:
    """The standard recurrence: r_out = r_in + (k_eff - 1) * j_in, j_out = j_in * s."""
    return None if rf is None else (rf[0] + (effective_kernel - 1) * rf[1], rf[1] * stride)


def _feature_map(shape: Shape, layer: "Layer") -> tuple[int, int, int]:
    if len(shape) != 3:
        raise InvalidLayer(f"{layer.name} needs a C x H x W feature map but gets {shape[0]} flat features: "
                           f"move it before flatten (or remove flatten).")
    return shape  # type: ignore[return-value]


@dataclass(frozen=True)
class Conv:
    name: ClassVar[str] = "conv"
    out_channels: int = _arg("c", positional=True, hint="C")
    kernel_size: int = _arg("k", hint="K")
    stride: int = _arg("s", 1)
    padding: int | str = _arg("p", 0, hint="p=0|same|valid")
    dilation: int = _arg("d", 1)
    groups: int = _arg("g", 1)
    bias: bool = _arg("bias", True)

    def apply(self, shape: Shape) -> tuple[Shape, int, int]:
        c, h, w = _feature_map(shape, self)
        oh, ow = (shapes.conv_output_size(n, self.kernel_size, self.stride, self.padding, self.dilation)
                  for n in (h, w))
        params = shapes.conv_params(c, self.out_channels, self.kernel_size, self.groups, self.bias)
        macs = shapes.conv_macs(c, self.out_channels, self.kernel_size, oh, ow, self.groups)
        return (self.out_channels, oh, ow), params, macs

    def receptive(self, rf: RF) -> RF:
        return _window_rf(rf, shapes.effective_kernel(self.kernel_size, self.dilation), self.stride)


@dataclass(frozen=True)
class ConvTranspose:
    name: ClassVar[str] = "convt"
    out_channels: int = _arg("c", positional=True, hint="C")
    kernel_size: int = _arg("k", hint="K")
    stride: int = _arg("s", 1)
    padding: int = _arg("p", 0)
    output_padding: int = _arg("op", 0)
    dilation: int = _arg("d", 1)
    groups: int = _arg("g", 1)
    bias: bool = _arg("bias", True)

    def apply(self, shape: Shape) -> tuple[Shape, int, int]:
        c, h, w = _feature_map(shape, self)
        oh, ow = (shapes.conv_transpose_output_size(n, self.kernel_size, self.stride, self.padding,
                                                    self.output_padding, self.dilation) for n in (h, w))
        params = shapes.conv_params(c, self.out_channels, self.kernel_size, self.groups, self.bias)
        macs = shapes.conv_transpose_macs(c, self.out_channels, self.kernel_size, h, w, self.groups)
        return (self.out_channels, oh, ow), params, macs

    def receptive(self, rf: RF) -> RF:
        """Upsampling: j shrinks by s; one output sees the input steps its taps come from.

        Taps t that reach the same output differ in t*d by multiples of s, so one output
        pulls from at most max_span / s + 1 neighbouring inputs (k=2, s=2: exactly one).
        """
        if rf is None:
            return None
        by_residue: dict[int, list[int]] = {}
        for tap in range(self.kernel_size):
            by_residue.setdefault(tap * self.dilation % self.stride, []).append(tap * self.dilation)
        span = max((max(offsets) - min(offsets)) // self.stride for offsets in by_residue.values())
        return rf[0] + span * rf[1], rf[1] / self.stride


@dataclass(frozen=True)
class MaxPool:
    name: ClassVar[str] = "maxpool"
    kernel_size: int = _arg("k", hint="K")
    stride: int | None = _arg("s", None, hint="s=k")  # None: PyTorch's default, stride = kernel_size
    padding: int = _arg("p", 0)
    dilation: int = _arg("d", 1)
    ceil_mode: bool = _arg("ceil", False)

    def apply(self, shape: Shape) -> tuple[Shape, int, int]:
        c, h, w = _feature_map(shape, self)
        size = lambda n: shapes.pool_output_size(  # noqa: E731
            n, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
        return (c, size(h), size(w)), 0, 0

    def receptive(self, rf: RF) -> RF:
        stride = self.kernel_size if self.stride is None else self.stride
        return _window_rf(rf, shapes.effective_kernel(self.kernel_size, self.dilation), stride)


@dataclass(frozen=True)
class AvgPool:
    name: ClassVar[str] = "avgpool"
    kernel_size: int = _arg("k", hint="K")
    stride: int | None = _arg("s", None, hint="s=k")
    padding: int = _arg("p", 0)
    ceil_mode: bool = _arg("ceil", False)

    def apply(self, shape: Shape) -> tuple[Shape, int, int]:
        c, h, w = _feature_map(shape, self)
        size = lambda n: shapes.avg_pool_output_size(n, self.kernel_size, self.stride, self.padding, self.ceil_mode)
        return (c, size(h), size(w)), 0, 0

    def receptive(self, rf: RF) -> RF:
        return _window_rf(rf, self.kernel_size, self.kernel_size if self.stride is None else self.stride)


@dataclass(frozen=True)
class GlobalAvgPool:
    """nn.AdaptiveAvgPool2d(1): C x H x W -> C x 1 x 1; every output averages the whole map."""

    name: ClassVar[str] = "gap"

    def apply(self, shape: Shape) -> tuple[Shape, int, int]:
        return (_feature_map(shape, self)[0], 1, 1), 0, 0

    def receptive(self, rf: RF) -> RF:
        return None


@dataclass(frozen=True)
class Flatten:
    """C x H x W -> C*H*W features; each feature is still one pixel, so the receptive field stays."""

    name: ClassVar[str] = "flatten"

    def apply(self, shape: Shape) -> tuple[Shape, int, int]:
        total = 1
        for n in shape:
            total *= n
        return (total,), 0, 0

    def receptive(self, rf: RF) -> RF:
        return rf


@dataclass(frozen=True)
class Linear:
    """Fully connected; in_features comes from the input. Every output mixes all inputs: RF = whole input."""

    name: ClassVar[str] = "linear"
    out_features: int = _arg("n", positional=True, hint="N")
    bias: bool = _arg("bias", True)

    def apply(self, shape: Shape) -> tuple[Shape, int, int]:
        if len(shape) != 1:
            c, h, w = shape
            fix = "it is already 1x1" if h == w == 1 else f"or gap | flatten to average each channel into {c} features"
            raise InvalidLayer(f"linear needs a flat vector of features but gets a {format_shape(shape)} feature map: "
                               f"add flatten before linear ({fix}).")
        params = shapes.linear_params(shape[0], self.out_features, self.bias)
        return (self.out_features,), params, shape[0] * self.out_features  # in_features MACs per output

    def receptive(self, rf: RF) -> RF:
        return None


@dataclass(frozen=True)
class ReLU:
    """Zero-cost shape-wise: same shape, no parameters."""

    name: ClassVar[str] = "relu"

    def apply(self, shape: Shape) -> tuple[Shape, int, int]:
        return shape, 0, 0

    def receptive(self, rf: RF) -> RF:
        return rf


@dataclass(frozen=True)
class BatchNorm:
    """BatchNorm2d on a feature map, BatchNorm1d on features: a learned scale and shift per channel."""

    name: ClassVar[str] = "bn"

    def apply(self, shape: Shape) -> tuple[Shape, int, int]:
        return shape, 2 * shape[0], 0

    def receptive(self, rf: RF) -> RF:
        return rf


Layer = Union[Conv, ConvTranspose, MaxPool, AvgPool, GlobalAvgPool, Flatten, Linear, ReLU, BatchNorm]
LAYER_TYPES: dict[str, type] = {cls.name: cls for cls in Layer.__args__}  # type: ignore[attr-defined]


# ---- text form -------------------------------------------------------------------------------------


def value_text(value: object) -> str:
    """A field value as the spec writes it: booleans as 1/0."""
    return str(int(value)) if isinstance(value, bool) else str(value)


def layer_spec(layer: Layer) -> str:
    """The shortest spec text of one layer: the positional value, then keys that differ from their default."""
    args = []
    for f in fields(layer):
        value = getattr(layer, f.name)
        if f.metadata["positional"]:
            args.append(value_text(value))
        elif f.default is MISSING or value != f.default:
            args.append(f"{f.metadata['key']}={value_text(value)}")
    return f"{layer.name}({','.join(args)})" if args else layer.name


def format_shape(shape: Shape) -> str:
    """(64, 112, 112) -> '64x112x112' (C x H x W); (512,) -> '512'."""
    return "x".join(map(str, shape))


# ---- the chain, row by row ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainRow:
    """One layer of a chain and what it does to the tensor."""

    index: int  # 1-based position in the chain
    layer: str  # the layer's spec text, e.g. "conv(64,k=3,p=1)"
    kind: str  # its type name: conv, convt, maxpool, avgpool, gap, flatten, linear, relu, bn
    input_shape: Shape
    output_shape: Shape
    params: int  # learnable numbers: weights + biases
    macs: int  # multiply-accumulates for one image
    receptive_field: int | float | None  # input pixels per side that one output value sees; None: all of them
    jump: int | float | None  # input pixels between neighbouring output values; None after gap or linear


def _check_input_shape(shape: Sequence[int]) -> Shape:
    shape = tuple(shape)
    if len(shape) not in (1, 3) or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        raise InvalidInput(f"The input shape must be C x H x W (or a number of features) in positive whole numbers, "
                           f"got {shape}. For an RGB image of 224x224 pixels use 3x224x224.")
    return shape


def _plain(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else round(float(value), 4)


def chain_rows(input_shape: Sequence[int], layers: Sequence[Layer]) -> list[ChainRow]:
    """The arithmetic of every layer in turn; an impossible layer raises InvalidLayer naming its position."""
    shape, rf, rows = _check_input_shape(input_shape), (Fraction(1), Fraction(1)), []
    if len(layers) > MAX_LAYERS:
        raise InvalidInput(f"The chain has {len(layers)} layers; keep it to {MAX_LAYERS} or fewer.")
    for index, layer in enumerate(layers, start=1):
        try:
            out, params, macs = layer.apply(shape)
        except (InvalidLayer, InvalidInput) as err:
            got = format_shape(shape) if len(shape) == 3 else f"{shape[0]}-feature"
            raise InvalidLayer(f"Layer {index}, {layer_spec(layer)}, on a {got} input: {err}") from None
        rf = layer.receptive(rf)
        field_, jump = (None, None) if rf is None else map(_plain, rf)
        rows.append(ChainRow(index, layer_spec(layer), layer.name, shape, out, params, macs, field_, jump))
        shape = out
    return rows


def chain_table(input_shape: Shape, rows: Sequence[ChainRow]) -> list[dict]:
    """The rows as a table for people, the input first; every column of one type (for st.dataframe)."""
    table = [{"#": 0, "layer": "input", "output": format_shape(tuple(input_shape)), "params": 0, "MACs": 0,
              "receptive field": "1", "jump": "1"}]
    for r in rows:
        table.append({"#": r.index, "layer": r.layer, "output": format_shape(r.output_shape), "params": r.params,
                      "MACs": r.macs, "receptive field": "all" if r.receptive_field is None else str(r.receptive_field),
                      "jump": "-" if r.jump is None else str(r.jump)})
    return table
