"""``python -m cvlab detect IMAGE... --model NAME``: YOLO detections, one result per image.

With ``--json`` it prints a JSON list holding one object per image, in the order
given: ``{"image", "model", "width", "height", "imgsz", "imgsz_reason", "detections":
[{"xyxy", "conf", "cls", "name"}...], "timings": {"preprocess", "inference",
"postprocess"}}`` (pixels, the network's input side in px and why it was chosen, 0..1,
class id, class name, milliseconds). Without ``--imgsz`` each model sees the size it
was trained at (shapes-yolo 192 px, COCO models 640 px). Among several images, one that cannot be
read gives an ``{"image", "error"}`` object and the others still run; a single bad
image (or an unknown model) is an error with exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.errors import CvlabError


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="image files or sample photo names (e.g. bus)")
    parser.add_argument("--model", default="shapes-yolo", help="a detector name (see --list)")
    parser.add_argument("--conf", type=float, default=0.25, help="confidence threshold, 0..1")
    parser.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold, 0..1")
    parser.add_argument("--imgsz", type=int, default=None,
                        help="network input size in px (default: the size the model was trained at)")
    parser.add_argument("--max-det", type=int, default=300, help="at most this many boxes per image")
    parser.add_argument("--classes", type=int, nargs="+", default=None, help="keep only these class ids")
    parser.add_argument("--agnostic-nms", action="store_true", help="boxes of different classes suppress each other")
    parser.add_argument("--list", action="store_true", help="list the detectors available here and exit")


def _load(name: str):
    from cvlab.data.images import SAMPLE_IMAGES, decode_image, load_sample
    from cvlab.errors import InvalidInput

    path = Path(name)
    if path.is_file():
        return decode_image(path.read_bytes(), path.name, max_side=None)
    if name in SAMPLE_IMAGES:
        return load_sample(name)
    raise InvalidInput(f"{name!r} is neither an image file nor a sample photo ({', '.join(SAMPLE_IMAGES.names())}).")


def _one(name: str, args: argparse.Namespace) -> dict:
    from cvlab.detection import facade
    from cvlab.commands.jsonable import to_jsonable

    image = _load(name)
    result = facade.detect(args.model, image.pixels, conf=args.conf, iou=args.iou, imgsz=args.imgsz,
                           classes=args.classes, max_det=args.max_det, agnostic_nms=args.agnostic_nms)
    return {"image": name, "model": result.model, "width": result.width, "height": result.height,
            "imgsz": result.imgsz, "imgsz_reason": result.imgsz_reason, "detections": to_jsonable(result.detections),
            "timings": to_jsonable(result.timings), "notes": list(image.notes)}


def _run(args: argparse.Namespace):
    from cvlab.detection.catalogue import available_detectors, get_detector
    from cvlab.errors import InvalidInput

    if args.list:
        return [{"name": s.name, "kind": s.kind, "title": s.title} for s in available_detectors()]
    if not args.images:
        raise InvalidInput("Give at least one image file or sample name, e.g. python -m cvlab detect bus --model "
                           "yolov8n, or --list to see the detectors.")
    get_detector(args.model)  # an unknown model stops here, once, with the list of choices
    batch = []
    for name in args.images:
        try:
            batch.append(_one(name, args))
        except CvlabError as err:
            if len(args.images) == 1:
                raise
            batch.append({"image": name, "error": str(err)})
    return batch


def _render(data) -> str:
    if data and "kind" in data[0]:  # --list
        return text_table(data)
    blocks = []
    for item in data:
        if "error" in item:
            blocks.append(f"{item['image']}: error: {item['error']}")
            continue
        t = item["timings"]
        rows = [{"class": d["name"], "conf": f"{d['conf']:.2f}", "x1 y1 x2 y2": " ".join(f"{v:.0f}" for v in d["xyxy"])}
                for d in item["detections"]]
        blocks.append(f"{item['image']} ({item['width']}x{item['height']}): {len(rows)} detections at "
                      f"{item['imgsz']} px ({item['imgsz_reason']}), "
                      f"{t['preprocess']:.1f} + {t['inference']:.1f} + {t['postprocess']:.1f} ms\n"
                      + (text_table(rows) if rows else "(none)"))
    return "\n\n".join(blocks)


COMMANDS.register("detect", Command("detect", "YOLO object detection on images: boxes in pixels, scores, classes",
                                    _configure, _run, _render))
