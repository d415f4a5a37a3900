"""``python -m cvlab losses | sam | unet``: the segmentation page's loss explorer, SAM prompts and U-Net anatomy.

torch, smp and ultralytics are imported inside run(), never when the command line starts.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.commands._image_arg import load_image_argument
from cvlab.errors import InvalidInput

LOSS_EXAMPLES = """examples:
  python -m cvlab losses --list
  python -m cvlab losses bce dice "0.5*bce+0.5*dice" --prob 0.1 0.5 0.9
  python -m cvlab losses --toy 6,4,24 --confidence 0.9
  python -m cvlab losses --focal 0.25,2 --json"""
SAM_EXAMPLES = """examples:
  python -m cvlab sam chelsea --point 200,150 --point 60,40,- --json
  python -m cvlab sam photo.jpg --box 40,30,300,260 --out mask.png --cutout object.png"""


@dataclass(frozen=True)
class LossesReport:
    mode: str  # "list", "pixel", "toy" or "focal"
    result: Any


@dataclass(frozen=True)
class SamReport:
    model: str
    random_weights: bool
    weights: str  # where the weights came from, or where to put them
    image: str
    width: int
    height: int
    points: tuple[tuple[float, float, bool], ...]
    box: tuple[float, float, float, float] | None
    scores: tuple[float, ...]  # SAM's predicted IoU of each mask
    areas: tuple[int, ...]  # pixels in each mask
    best: int  # index of the highest score
    encoder_seconds: float  # once per image
    decoder_seconds: float  # per prompt
    mask_file: str | None
    cutout_file: str | None


def _configure_losses(parser: argparse.ArgumentParser) -> None:
    parser.epilog, parser.formatter_class = LOSS_EXAMPLES, argparse.RawDescriptionHelpFormatter
    parser.add_argument("specs", nargs="*", metavar="LOSS", help="losses or weighted sums such as 0.5*bce+0.5*dice "
                                                                 "(default: bce dice iou focal)")
    parser.add_argument("--list", action="store_true", help="every loss with its formula")
    parser.add_argument("--prob", nargs="+", type=float,
                        help="predicted probabilities of the pixel (default 0.1 0.5 0.9)")
    parser.add_argument("--toy", metavar="DX,DY,SIDE", help="a predicted square shifted by DX, DY px from the true "
                                                            "24 px square, SIDE px wide")
    parser.add_argument("--confidence", type=float, default=0.9, help="--toy: p inside the predicted square")
    parser.add_argument("--focal", metavar="ALPHA,GAMMA", help="focal loss against BCE on an imbalanced mask")


def _numbers(text: str, count: int, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise InvalidInput(f"Write {what} as {count} numbers separated by commas (got {text!r}).")
    return values


def _pixel_losses(specs: list[str], probs: list[float]) -> list[dict]:
    import torch

    from cvlab.segmentation.losses import parse_loss_spec

    if any(not 0 < p < 1 for p in probs):
        raise InvalidInput("--prob values must lie strictly between 0 and 1.")
    rows = []
    for spec in specs:
        loss = parse_loss_spec(spec)
        for p in probs:
            logit = torch.logit(torch.tensor(p, dtype=torch.float64)).view(1, 1, 1, 1)
            rows.append({"loss": loss.spec, "p": p,
                         "object pixel (y=1)": float(loss(logit, torch.ones(1, 1, 1, dtype=torch.long))),
                         "background pixel (y=0)": float(loss(logit, torch.zeros(1, 1, 1, dtype=torch.long)))})
    return rows


def _run_losses(args: argparse.Namespace) -> LossesReport:
    from cvlab.segmentation import loss_explorer as lx
    from cvlab.segmentation.losses import LOSSES

    if args.list:
        return LossesReport("list", [entry.facts() for _, entry in LOSSES.items()])
    if args.toy:
        dx, dy, side = (int(v) for v in _numbers(args.toy, 3, "--toy DX,DY,SIDE"))
        target = (16, 16, 24)
        pair = lx.toy_pair(target=target, prediction=(target[0] + dx, target[1] + dy, side), confidence=args.confidence)
        return LossesReport("toy", {"losses": pair.losses, "hard_iou": pair.hard_iou, "hard_dice": pair.hard_dice,
                                    "target_xyside": target, "prediction_xyside": (16 + dx, 16 + dy, side)})
    if args.focal:
        alpha, gamma = _numbers(args.focal, 2, "--focal ALPHA,GAMMA")
        return LossesReport("focal", lx.focal_vs_bce(alpha, gamma))
    return LossesReport("pixel", _pixel_losses(args.specs or list(lx.BINARY_LOSSES), args.prob or [0.1, 0.5, 0.9]))


def _render_losses(report: LossesReport) -> str:
    if report.mode == "list":
        return text_table([{"name": f["name"], "formula": f["formula"], "use": f["use"]} for f in report.result])
    if report.mode == "pixel":
        return text_table([{k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()}
                           for row in report.result])
    if report.mode == "toy":
        r = report.result
        rows = [{"loss": name, "value": f"{value:.4f}"} for name, value in r["losses"].items()]
        return f"{text_table(rows)}\nthresholded masks: IoU {r['hard_iou']:.4f}, Dice {r['hard_dice']:.4f}"
    c = report.result
    rows = [{"group": g.name, "pixels": g.count, "p": g.probability, "BCE share": f"{sb:.1%}",
             "focal share": f"{sf:.1%}"}
            for g, sb, sf in zip(c.groups, c.shares(c.bce), c.shares(c.focal))]
    return f"focal loss (alpha {c.alpha:g}, gamma {c.gamma:g}) against BCE\n{text_table(rows)}"


def _configure_sam(parser: argparse.ArgumentParser) -> None:
    parser.epilog, parser.formatter_class = SAM_EXAMPLES, argparse.RawDescriptionHelpFormatter
    parser.add_argument("image", help="a sample photo name or an image file")
    parser.add_argument("--max-side", type=int, default=1024, help="shrink the image to at most this many pixels")
    parser.add_argument("--model", default="mobile_sam", help="mobile_sam (default), sam_b or sam2_t")
    parser.add_argument("--point", action="append", default=[], metavar="X,Y[,+|-]",
                        help="a point on the object (+, the default) or on the background (-); repeatable")
    parser.add_argument("--box", metavar="X0,Y0,X1,Y1", help="a box around the object, in pixels")
    parser.add_argument("--single", action="store_true", help="one mask instead of three candidates")
    parser.add_argument("--out", type=Path, help="write the best mask as a PNG here")
    parser.add_argument("--cutout", type=Path, help="write the object on a transparent background (RGBA PNG) here")


def _run_sam(args: argparse.Namespace) -> SamReport:
    from cvlab.segmentation import sam

    image = load_image_argument(args)
    prompt = sam.SamPrompt(tuple(sam.parse_point(p) for p in args.point),
                           sam.parse_box(args.box) if args.box else None)
    prompt.check(image.width, image.height)  # before the model is built
    model = sam.load_sam(args.model)
    result = model.segment(image.pixels, prompt, multimask=not args.single)
    mask = result.masks[result.best]
    if args.out:
        args.out.write_bytes(sam.mask_png(mask))
    if args.cutout:
        args.cutout.write_bytes(sam.cutout_png(image.pixels, mask))
    return SamReport(model.variant.name, model.weights.random, model.weights.message, image.name, image.width,
                     image.height, prompt.points, prompt.box, result.scores, result.areas, result.best,
                     result.encoder_seconds, result.decoder_seconds,
                     str(args.out) if args.out else None, str(args.cutout) if args.cutout else None)


def _render_sam(report: SamReport) -> str:
    rows = [{"mask": i + 1, "score": f"{s:.3f}", "pixels": a, "best": "*" if i == report.best else ""}
            for i, (s, a) in enumerate(zip(report.scores, report.areas))]
    files = "".join(f"\nwrote {f}" for f in (report.mask_file, report.cutout_file) if f)
    return (f"{report.model} on {report.image} ({report.width}x{report.height} px)\n{report.weights}\n"
            f"{text_table(rows)}\nimage encoder {1000 * report.encoder_seconds:.0f} ms (once per image), "
            f"prompt + mask decoder {1000 * report.decoder_seconds:.0f} ms{files}")


def _configure_unet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoder", default="resnet18", help="smp encoder (resnet18, resnet34, mobilenet_v2, ...)")
    parser.add_argument("--size", type=int, default=128, help="input side in px, divisible by 32")
    parser.add_argument("--classes", type=int, default=1, help="output channels: 1 binary, 2+ class ids")
    parser.add_argument("--architectures", action="store_true", help="list the architectures and encoders instead")


def _run_unet(args: argparse.Namespace) -> Any:
    from cvlab.segmentation import architectures

    if args.architectures:
        return {"architectures": [a for _, a in architectures.ARCHITECTURES.items()],
                "encoders": [e for _, e in architectures.ENCODERS.items()]}
    from cvlab.segmentation.unet_anatomy import unet_anatomy

    return unet_anatomy(args.encoder, args.size, args.classes)


def _render_unet(result: Any) -> str:
    if isinstance(result, dict):
        return text_table([{"name": a.name, "architecture": a.display_name, "year": a.year, "idea": a.idea}
                           for a in result["architectures"]]) + "\n\nencoders: " + \
            ", ".join(e.name for e in result["encoders"])
    rows = [{"stage": s.name, "C x H x W": f"{s.channels}x{s.height}x{s.width}", "skip from": s.skip_from or "",
             "params": "" if s.params is None else f"{s.params:,}"} for s in result.stages]
    return (f"U-Net, {result.encoder} encoder, {result.input_size} px input\n{text_table(rows)}\n"
            f"parameters: encoder {result.encoder_params:,}, decoder {result.decoder_params:,}, "
            f"head {result.head_params:,}")


COMMANDS.register("losses", Command("losses", "segmentation losses: formulas, per-pixel values, a toy mask pair, "
                                              "focal loss on imbalance",
                                    _configure_losses, _run_losses, _render_losses))
COMMANDS.register("sam", Command("sam", "Segment Anything: masks for point and box prompts, with encoder and "
                                        "decoder times", _configure_sam, _run_sam, _render_sam))
COMMANDS.register("unet", Command("unet", "a U-Net's encoder, bottleneck and decoder shapes at an input size",
                                  _configure_unet, _run_unet, _render_unet))
