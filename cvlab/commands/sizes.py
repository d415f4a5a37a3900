"""``python -m cvlab sizes``: output size, parameters, MACs and receptive field of a layer chain.

``shapes`` is the same command under its old name, kept so scripts that use it still work.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from cvlab.sizes import working as size_working
from cvlab.commands import COMMANDS, Command, text_table
from cvlab.errors import InvalidInput
from cvlab.sizes.chain import AvgPool, ChainRow, Conv, ConvTranspose, Layer, MaxPool, Shape, chain_rows, format_shape
from cvlab.sizes.chain_text import PRESETS, format_chain, parse_chain, parse_input_shape

DEFAULT_INPUT = (3, 224, 224)  # an ImageNet-sized RGB image, the lecture's running example
_KIND = {Conv: "conv", MaxPool: "maxpool", AvgPool: "avgpool", ConvTranspose: "convtranspose"}

EPILOG = """\
layers, one argument each or one argument with | between them:
  conv(C,k=K[,s=1,p=0|same|valid,d=1,g=1,bias=1])   convt(C,k=K[,s=1,p=0,op=0,d=1,g=1,bias=1])
  maxpool(k=K[,s=k,p=0,d=1,ceil=0])   avgpool(k=K[,s=k,p=0,ceil=0])   gap   flatten   linear(N)   relu   bn
  bare values fill the fields in order (conv(64,3,2,1) = conv(64,k=3,s=2,p=1)); layer*N repeats a layer

examples:
  python -m cvlab sizes --input 3x224x224 "conv(64,k=7,s=2,p=3)" "maxpool(k=3,s=2,p=1)"
  python -m cvlab sizes --preset vgg16 --verify
  python -m cvlab sizes --input 32 "conv(16,k=3,s=2,p=1)" --explain      (one layer, with the working)
"""


@dataclass(frozen=True)
class LayerWorking:
    index: int  # position in the chain, from 1
    axis: str  # "H", "W" or "H = W"
    working: size_working.SizeWorking


@dataclass(frozen=True)
class ShapesReport:
    input_shape: Shape
    spec: str  # the chain in its shortest text form: paste it into the page
    rows: list[ChainRow]
    total_params: int
    total_macs: int
    workings: list[LayerWorking] | None = None  # --explain
    verified: list | None = None  # --verify: cvlab.sizes.frameworks.VerifiedRow per layer
    code: str | None = None  # --code


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("layers", nargs="*", metavar="LAYER",
                        help="layers in the text form below (after --preset: appended)")
    parser.add_argument("--input", metavar="CxHxW", help="input shape, channels first, e.g. 3x224x224; a lone N "
                                                         "means 3xNxN (default: the preset's, else 3x224x224)")
    parser.add_argument("--preset", metavar="NAME", help=f"start from a preset chain: {', '.join(PRESETS.names())}")
    parser.add_argument("--explain", action="store_true", help="show the arithmetic of each conv and pool layer")
    parser.add_argument("--verify", action="store_true", help="run real PyTorch layers on a real tensor and compare")
    parser.add_argument("--code", choices=("pytorch", "keras"), help="print the chain as PyTorch or Keras code")


def _workings(index: int, layer: Layer, in_shape: Shape) -> list[LayerWorking]:
    kind = _KIND.get(type(layer))
    if kind is None:
        return []
    params = dict(kernel_size=layer.kernel_size, stride=layer.stride, padding=layer.padding,
                  dilation=getattr(layer, "dilation", 1), ceil_mode=getattr(layer, "ceil_mode", False),
                  output_padding=getattr(layer, "output_padding", 0))
    h, w = in_shape[1:]
    if h == w:
        return [LayerWorking(index, "H = W", size_working.explain_output_size(kind, h, **params))]
    return [LayerWorking(index, axis, size_working.explain_output_size(kind, n, **params))
            for axis, n in (("H", h), ("W", w))]


def run(args: argparse.Namespace) -> ShapesReport:
    preset = PRESETS.get(args.preset) if args.preset else None
    layers = (preset.layers if preset else ()) + parse_chain("|".join(args.layers))
    if not layers:
        raise InvalidInput('Give some layers or a preset, e.g. python -m cvlab sizes "conv(64,k=3,p=1)" or '
                           f"--preset resnet-stem. Presets: {', '.join(PRESETS.names())}.")
    input_shape = parse_input_shape(args.input) if args.input else preset.input_shape if preset else DEFAULT_INPUT
    rows = chain_rows(input_shape, layers)
    report = dict(input_shape=input_shape, spec=format_chain(layers), rows=rows,
                  total_params=sum(r.params for r in rows), total_macs=sum(r.macs for r in rows))
    if args.explain:
        report["workings"] = [w for row, layer in zip(rows, layers)
                              for w in _workings(row.index, layer, row.input_shape)]
    if args.verify or args.code:
        from cvlab.sizes import frameworks as frameworks  # noqa: PLC0415 - torch only for --verify

        if args.verify:
            report["verified"] = frameworks.verify_chain(input_shape, layers)
        if args.code:
            to_code = frameworks.pytorch_code if args.code == "pytorch" else frameworks.keras_code
            report["code"] = to_code(input_shape, layers)
    return ShapesReport(**report)


def _number(value: object, none: str = "all") -> str:
    return none if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def render(report: ShapesReport) -> str:
    table = [dict(layer=f"{r.index} {r.layer}", output=format_shape(r.output_shape), params=_number(r.params),
                  MACs=_number(r.macs), RF=_number(r.receptive_field), jump=_number(r.jump, "-")) for r in report.rows]
    lines = [f"input  {format_shape(report.input_shape)} (C x H x W)", "",
             text_table([dict(layer="0 input", output=format_shape(report.input_shape), RF="1", jump="1"), *table],
                        columns=("layer", "output", "params", "MACs", "RF", "jump")), "",
             f"total  {report.total_params:,} parameters, {report.total_macs:,} MACs ({report.total_macs / 1e9:.3f} G)",
             "RF: receptive field, input pixels per side one output sees (all: the whole input); "
             "jump: input pixels between neighbouring outputs",
             f"spec   {report.spec}"]
    for item in report.workings or []:
        lines += ["", f"layer {item.index} ({item.axis}):", *item.working.steps]
        if item.working.dropped:
            lines.append(f"  note: the floor drops the last {item.working.dropped} input pixel(s): "
                         "no window reaches them")
    if report.verified is not None:
        matched = sum(v.matches for v in report.verified)
        lines += ["", f"PyTorch check: {matched} of {len(report.verified)} layers match in shape and parameters"]
        lines += [f"  {v.index} {v.layer}: torch {format_shape(v.torch_shape)}, {v.torch_params:,} params"
                  + ("" if v.matches else f"  MISMATCH (predicted {format_shape(v.predicted_shape)}, "
                                          f"{v.predicted_params:,})") for v in report.verified]
    if report.code:
        lines += ["", report.code]
    return "\n".join(lines)


COMMANDS.register(
    "sizes",
    Command(
        name="sizes",
        help="output size, parameters, MACs and receptive field of conv/pool/linear layers (one or a chain)",
        configure=_configure,
        run=run,
        render=render,
        aliases=("shapes",),
    ),
)
