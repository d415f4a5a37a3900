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

    from cvlab.network import grad_cam, load_network, trace

    image = load_image_argument(args)
    net = load_network(args.arch, pretrained=not args.no_pretrained)
    result = trace(net, image.pixels)
    cam, target = grad_cam(net, image.pixels, args.cam_class)
    peak = np.unravel_index(int(cam.argmax()), cam.shape)
    return {"arch": args.arch, "image": image.caption, "pretrained": net.pretrained, "weights": net.weights_note,
            "stages": [{"stage": s.name, "shape": list(s.shape)} for s in result.stages],
            "top5": [{"class": i, "name": n, "probability": p} for i, n, p in result.top5],
            "grad_cam": {"class": target, "peak_row": int(peak[0]), "peak_col": int(peak[1]),
                         "mean": float(cam.mean())}}


def _render(data: dict) -> str:
    stages = text_table([{"stage": s["stage"], "shape": "x".join(map(str, s["shape"]))} for s in data["stages"]])
    top5 = "\n".join(f"  {t['probability']:6.1%}  {t['name']}" for t in data["top5"])
    cam = data["grad_cam"]
    return (f"{data['arch']} on {data['image']}\nweights: {data['weights']}\n\n{stages}\n\ntop-5:\n{top5}\n\n"
            f"Grad-CAM for class {cam['class']}: strongest at row {cam['peak_row']}, column {cam['peak_col']}")


COMMANDS.register("network", Command("network", "a photo through a real network: stage shapes, top-5, Grad-CAM",
                                     _configure, _run, _render))
