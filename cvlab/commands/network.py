"""``python -m cvlab network``: a photo through a real network: stage shapes, top-5 and Grad-CAM."""

from __future__ import annotations

import argparse

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.commands._image_arg import add_image_argument, load_image_argument


def _configure(parser: argparse.ArgumentParser) -> None:
    add_image_argument(parser)
    parser.add_argument("--arch", default="resnet18", help="an architecture name, e.g. overview, vgg16, resnet18")
    parser.add_argument("--no-pretrained", action="store_true", help="random weights even when pretrained ones exist")
    parser.add_argument("--cam-class", type=int, default=None, help="Grad-CAM for this class (default: the top one)")


def _run(args: argparse.Namespace) -> dict:
    import numpy as np

    from cvlab.cnn.inside_network import grad_cam, load_network, prediction_note, trace

    image = load_image_argument(args)
    net = load_network(args.arch, pretrained=not args.no_pretrained)
    result = trace(net, image.pixels)
    data = {"arch": args.arch, "image": image.caption, "pretrained": net.pretrained, "weights": net.weights_note,
            "stages": [{"stage": s.name, "shape": list(s.shape)} for s in result.stages],
            "top5": [{"class": i, "name": n, "probability": p} for i, n, p in result.top5],
            "top5_note": prediction_note(net, result)}  # why the top-5 means nothing, or null
    if result.attention is not None:  # a vision transformer: no conv map after the patch embedding to weigh
        peak = np.unravel_index(int(result.attention.argmax()), result.attention.shape)
        return {**data, "grad_cam": None, "attention": {
            "block": net.architecture.attention_block, "grid": list(result.attention.shape),
            "peak_patch_row": int(peak[0]), "peak_patch_col": int(peak[1]), "max": float(result.attention.max())}}
    cam, target = grad_cam(net, image.pixels, args.cam_class)
    peak = np.unravel_index(int(cam.argmax()), cam.shape)
    return {**data, "grad_cam": {"class": target, "peak_row": int(peak[0]), "peak_col": int(peak[1]),
                                 "mean": float(cam.mean())}}


def _render(data: dict) -> str:
    stages = text_table([{"stage": s["stage"], "shape": "x".join(map(str, s["shape"]))} for s in data["stages"]])
    top5 = data["top5_note"] or "\n".join(f"  {t['probability']:6.1%}  {t['name']}" for t in data["top5"])
    if data["grad_cam"] is None:
        att = data["attention"]
        where = (f"Class-token attention in {att['block']}: strongest on patch row {att['peak_patch_row']}, "
                 f"column {att['peak_patch_col']} of {att['grid'][0]}x{att['grid'][1]} ({att['max']:.1%})")
    else:
        cam = data["grad_cam"]
        where = f"Grad-CAM for class {cam['class']}: strongest at row {cam['peak_row']}, column {cam['peak_col']}"
    return (f"{data['arch']} on {data['image']}\nweights: {data['weights']}\n\n{stages}\n\ntop-5:\n{top5}\n\n"
            f"{where}")


COMMANDS.register("network", Command("network", "a photo through a real network: stage shapes, top-5, Grad-CAM",
                                     _configure, _run, _render))
