"""The text form of layer chains: its grammar both ways, small edits, and the preset chains written in it.

One line of text holds a whole chain, so the command line takes it as an argument
and the page keeps it in the address bar (short, no spaces needed):

    conv(64,k=7,s=2,p=3)|maxpool(k=3,s=2,p=1)|gap|flatten|linear(1000)

    chain := item ("|" item)*        item := layer ["*" N]   (N copies in a row)
    layer := name ["(" arg ("," arg)* ")"]          arg := value | key=value
    names:  conv convt maxpool avgpool gap flatten linear relu bn
    keys:   k kernel, s stride, p padding (conv also same/valid), d dilation,
            g groups, op output_padding, ceil 0/1, bias 0/1
    bare values fill the fields in order: conv(64,3,2,1) = conv(64,k=3,s=2,p=1);
    conv/convt start with out channels, linear with out features.

Spaces and case are ignored; format_chain writes the shortest form, which
parse_chain reads back to the same layers.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, Field, dataclass, fields
from typing import Sequence

from cvlab.errors import InvalidInput, InvalidLayer
from cvlab.sizes.chain import LAYER_TYPES, MAX_LAYERS, Conv, Layer, layer_spec, value_text
from cvlab.registry import Registry

ALIASES = {"conv2d": "conv", "convtranspose": "convt", "convtranspose2d": "convt", "deconv": "convt",
           "maxpool2d": "maxpool", "avgpool2d": "avgpool", "globalavgpool": "gap", "fc": "linear",
           "dense": "linear", "batchnorm": "bn"}
EXAMPLES = {"conv": "conv(64,k=3,p=1)", "convt": "convt(64,k=2,s=2)", "maxpool": "maxpool(k=2)",
            "avgpool": "avgpool(k=2)", "gap": "gap", "flatten": "flatten", "linear": "linear(1000)",
            "relu": "relu", "bn": "bn"}
MAX_REPEAT = 64
_ITEM = re.compile(r"(?P<name>[a-z][a-z0-9]*)(?:\((?P<args>[^()]*)\))?(?:\*(?P<count>\d+))?")
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


def usage(layer_type: type) -> str:
    """The expected form of one layer type, e.g. 'conv(C, k=K[, s=1, p=0|same|valid, d=1, g=1, bias=1])'."""
    required, optional = [], []
    for f in fields(layer_type):
        key, hint = f.metadata["key"], f.metadata["hint"]
        if f.default is MISSING:
            required.append(hint if f.metadata["positional"] else f"{key}={hint}")
        else:
            optional.append(hint or f"{key}={value_text(f.default)}")
    inner = ", ".join(required) + (f"[, {', '.join(optional)}]" if optional else "")
    return f"{layer_type.name}({inner})" if inner else layer_type.name


def _value(layer_type: type, f: Field, raw: str) -> object:
    is_flag = f.type == "bool"  # annotations are strings here (from __future__ import annotations)
    if is_flag and raw in _TRUE + _FALSE:
        return raw in _TRUE
    if not is_flag and re.fullmatch(r"-?\d+", raw):
        return int(raw)  # zero and negatives pass: cvlab.sizes.arithmetic rejects them with PyTorch's rule
    if layer_type is Conv and f.name == "padding" and raw in ("same", "valid"):
        return raw
    expected = "0 or 1" if is_flag else "a whole number"
    raise InvalidLayer(f"{f.metadata['key']}={raw} should be {expected}. Write {usage(layer_type)}.")


def _field_for(order: tuple[Field, ...], position: int, arg: str, keyed: bool) -> tuple[Field | None, str, str]:
    """(field, raw value, problem) for one argument; keyed says whether a key=value came before."""
    key, has_key, raw = arg.partition("=")
    if has_key:
        f = next((f for f in order if key in (f.metadata["key"], f.name)), None)
        return f, raw, "" if f else f"unknown key {key!r}" if key else f"cannot read {arg!r}"
    if keyed:
        return None, key, "put bare values before key=value ones"
    if position >= len(order):
        return None, key, "too many values"
    return order[position], key, ""


def _build(name: str, args: str | None) -> Layer:
    layer_type = LAYER_TYPES.get(ALIASES.get(name, name))
    if layer_type is None:
        raise InvalidLayer(f"Unknown layer {name!r}. Use one of: {', '.join(EXAMPLES.values())}.")
    order, values, keyed = fields(layer_type), {}, False
    for position, arg in enumerate(args.split(",") if args else []):
        f, raw, problem = _field_for(order, position, arg, keyed)
        keyed = keyed or "=" in arg
        if not problem and (f.name in values or not raw):
            problem = f"{f.metadata['key']} is given twice" if f.name in values else f"{f.metadata['key']} has no value"
        if problem:
            raise InvalidLayer(f"{name}({args}): {problem}. "
                               f"Write {usage(layer_type)}, e.g. {EXAMPLES[layer_type.name]}.")
        values[f.name] = _value(layer_type, f, raw)
    missing = [f.metadata["key"] for f in order if f.default is MISSING and f.name not in values]
    if missing:
        what = "out channels" if missing[0] == "c" else "out features" if missing[0] == "n" else f"{missing[0]}="
        raise InvalidLayer(f"{name} needs {what}: write {usage(layer_type)}, e.g. {EXAMPLES[layer_type.name]}.")
    return layer_type(**values)


def parse_chain(spec: str) -> tuple[Layer, ...]:
    """Layers from spec text such as 'conv(64,k=3,p=1)*2 | maxpool(k=2)'; empty text is an empty chain."""
    layers: list[Layer] = []
    for item in filter(None, re.sub(r"\s+", "", spec.lower()).split("|")):
        match = _ITEM.fullmatch(item)
        if match is None:
            raise InvalidInput(f"Cannot read {item!r}: write each layer as name(values), e.g. conv(64,k=3,p=1), "
                               "and put | between layers.")
        count = int(match["count"] or 1)
        if not 1 <= count <= MAX_REPEAT:
            raise InvalidInput(f"{item}: repeat a layer 1 to {MAX_REPEAT} times, not {count}.")
        layers += [_build(match["name"], match["args"])] * count
    if len(layers) > MAX_LAYERS:
        raise InvalidInput(f"The chain has {len(layers)} layers; keep it to {MAX_LAYERS} or fewer.")
    return tuple(layers)


def parse_layer(text: str) -> Layer:
    """Exactly one layer from its spec text, e.g. 'maxpool(k=3,s=2,p=1)'."""
    layers = parse_chain(text)
    if len(layers) != 1:
        raise InvalidInput(f"Give exactly one layer, e.g. {EXAMPLES['conv']}; got {len(layers)} from {text!r}.")
    return layers[0]


def format_chain(layers: Sequence[Layer]) -> str:
    """The chain's shortest spec text: a run of identical layers is written once with *N."""
    runs: list[list] = []  # [layer, count]
    for layer in layers:
        if runs and runs[-1][0] == layer:
            runs[-1][1] += 1
        else:
            runs.append([layer, 1])
    return "|".join(layer_spec(layer) + (f"*{count}" if count > 1 else "") for layer, count in runs)


MAX_SIDE = 100_000  # channels or pixels per side: the arithmetic is exact at any size, the page's text is not


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """'3x224x224' -> (3, 224, 224), channels first as in PyTorch; 'HxW' and a lone 'N' (NxN) mean 3 channels."""
    parts = [p for p in re.split(r"[x×,*\s()]+", text.strip().lower()) if p]
    if len(parts) in (1, 2, 3) and all(re.fullmatch(r"[0-9]{1,7}", p) and 0 < int(p) <= MAX_SIDE for p in parts):
        numbers = tuple(int(p) for p in parts)
        return {1: (3, *numbers, *numbers), 2: (3, *numbers), 3: numbers}[len(numbers)]  # type: ignore[return-value]
    raise InvalidInput(f"Cannot read the input shape {text[:40]!r}: write C x H x W in whole numbers from 1 to "
                       f"{MAX_SIDE:,}, channels first as in PyTorch, e.g. 3x224x224 (or HxW for 3 channels).")


# ---- edits, for the page's add / move / remove buttons (index: 0-based position in the chain) ----------


def append_layers(spec: str, addition: str) -> str:
    return format_chain(parse_chain(spec) + parse_chain(addition))


def move_layer(spec: str, index: int, offset: int) -> str:
    """Swap layer `index` with its neighbour `offset` (-1 up, +1 down) places away; no-op at the ends."""
    layers, target = list(parse_chain(spec)), index + offset
    if 0 <= index < len(layers) and 0 <= target < len(layers):
        layers[index], layers[target] = layers[target], layers[index]
    return format_chain(layers)


def remove_layer(spec: str, index: int) -> str:
    layers = list(parse_chain(spec))
    return format_chain(layers[:index] + layers[index + 1 :])


# ---- presets -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A named chain and its input, with where it comes from."""

    title: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    spec: str
    note: str  # the source, and any choice made where the source is silent

    @property
    def layers(self) -> tuple[Layer, ...]:
        return parse_chain(self.spec)


# VGG-16 is configuration "D": blocks of 2, 2, 3, 3, 3 3x3 convs, each block closed by a 2x2 max pool.
_VGG16 = "|".join(f"conv({c},k=3,p=1)*{n}|maxpool(k=2)" for c, n in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)))
_NO_RELU = "ReLUs are left out for a shorter table: they change no shape or count (add relu after a conv to see them)."
_OVERVIEW = ("conv(64,k=3,s=2,p=1)|relu|maxpool(k=2)|conv(128,k=3,p=1)|relu|maxpool(k=2)|"
             "conv(256,k=3,p=1)|relu|maxpool(k=2)|conv(512,k=3,p=1)|relu|maxpool(k=2)")

PRESETS: Registry[Preset] = Registry("layer-chain preset")
PRESETS.register("resnet-stem", Preset(
    "ResNet stem", (3, 224, 224), "conv(64,k=7,s=2,p=3,bias=0)|bn|relu|maxpool(k=3,s=2,p=1)",
    "conv1, bn1, relu and maxpool of torchvision's ResNet-18 to -152: 224 -> 112 -> 56."))
PRESETS.register("vgg16-features", Preset(
    "VGG-16 features", (3, 224, 224), _VGG16,
    f"The 13 convs and 5 pools of torchvision's vgg16: 224x224x3 -> 7x7x512. {_NO_RELU}"))
PRESETS.register("vgg16", Preset(
    "VGG-16", (3, 224, 224), f"{_VGG16}|flatten|linear(4096)*2|linear(1000)",
    f"VGG-16 with its FC-4096, FC-4096, FC-1000 classifier: 138,357,544 parameters, as torchvision's vgg16. "
    f"{_NO_RELU}"))
PRESETS.register("overview", Preset(
    "The lecture's overview CNN", (3, 224, 224), f"{_OVERVIEW}|gap|flatten|linear(1000)",
    "The lecture's flowchart: 224x224x3 -> 112x112x64 -> 56x56x64 -> 56x56x128 -> 28x28x128 -> ... -> 7x7x512 "
    "-> GAP 1x1x512 -> FC 512->1000. The lecture leaves '...' open: here it is two more conv 3x3 + max 2x2 "
    "steps (to 256, then 512 channels), one of many ways to reach 7x7x512. Flatten turns GAP's 1x1x512 into "
    "the 512 features FC needs."))
PRESETS.register("exercise-3", Preset(
    "Quick Exercise 3, as written", (3, 224, 224), "conv(64,k=7,s=2,p=3)|maxpool(k=3,s=2)",
    "The question gives the pool no padding: 224 -> 112 -> 55. ResNet's real pool pads by 1 (resnet-stem): 56."))
