"""Detection: the facade's inference time against a bare ``YOLO(...).predict`` on the same images, and the
shipped shapes model's mAP@0.5 on generator scenes of a seed it never saw and on shapes drawn by other tools.

Timing: for each model, the same weights are loaded twice (a random model from one
seed), once through ``cvlab.detection.facade`` (validation, RGB->BGR, the per-model
lock, results turned into dataclasses) and once bare, as the lecture writes it; each
run times one image through each, alternating, so both see the same machine load.
Both must keep the same number of boxes, or the line says they are not alike. Medians per
image in ms, and the ratio facade / bare (target: within 1.10). The timed facade calls name no
picture, so it runs the network every time as the bare call does; beside it, the time of a
threshold moved on a picture the page named (what a slider costs there). On a GPU both run in
fp32 (ultralytics' default ``half=False``; the facade asks for no half precision
either), so the ratio compares like with like, and the GPU is synchronised before
each clock is read, so no kernel still in flight is left out of a time.

mAP: ultralytics' own validator (``YOLO.val``) on ``--eval-images`` scenes written
by ``cvlab.data.writers.write_yolo_dataset`` with ``--eval-seed`` (the model was
trained on seed 0). Target: mAP@0.5 >= 0.9.

Held-out mAP: ``--heldout-images`` scenes drawn by OpenCV and Pillow primitives instead of
the generator (``benchmarks/shapes_heldout.py``), detected through the facade at its
default settings (the model's training size, confidence 0.25), scored per class by
``cvlab.detection.mean_ap``. Target: mAP@0.5 >= 0.85.

Usage: python benchmarks/detection.py [--runs 20] [--device cpu|cuda|auto] [--models shapes-yolo yolov8n-random]
       [--eval-images 300] [--eval-seed 2024] [--heldout-images 200] [--threads 2]
A quick check that it runs: --runs 1 --models shapes-yolo --imgsz 192 --eval-images 16 --heldout-images 16
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402


def test_images() -> list[tuple[str, np.ndarray]]:
    """Two photos and two shapes scenes, (H, W, 3) uint8 RGB."""
    from cvlab.data.images import load_sample
    from cvlab.data.shapes import shapes_detection

    photos = [(name, load_sample(name).pixels) for name in ("bus", "zidane")]
    scenes = [(f"scene {i}", s.image) for i, s in enumerate(shapes_detection(2, 99, size=192))]
    return photos + scenes


def bare_yolo(name: str):
    """The same model, loaded the plain ultralytics way (a stored model through its YAML + state dict)."""
    from ultralytics import YOLO

    from cvlab.detection.catalogue import get_detector
    from cvlab.detection.stored import load_stored

    spec = get_detector(name)
    if spec.kind == "random":
        return YOLO(f"{spec.config}.yaml")
    if spec.path is not None:
        return load_stored(spec.path)
    return YOLO(f"{spec.config}.pt")


def synchronised_clock(device: str) -> float:
    """perf_counter after the GPU has finished its queued work (CUDA kernels run asynchronously)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)
    return time.perf_counter()


def time_model(name: str, images, runs: int, device: str, imgsz: int) -> dict:
    import torch

    from cvlab.detection import facade

    torch.manual_seed(0)  # a "random" model draws its weights as it is built: the same seed gives
    bare = bare_yolo(name)  # both copies the same weights, so both keep the same boxes and NMS does
    torch.manual_seed(0)  # the same work
    facade.load_detector(name)
    options = dict(conf=0.25, iou=0.7, imgsz=imgsz, max_det=300)
    bgr = [np.ascontiguousarray(pixels[..., ::-1]) for _, pixels in images]
    for (_, pixels), image in zip(images, bgr):  # warm both: model fusion, first allocations
        facade.detect(name, pixels, **options)
        bare.predict(image, verbose=False, device=device, **options)
    ours, theirs, threshold_moves, boxes = [], [], [], [0, 0]  # boxes: facade, bare over the last pass
    for index, (_, pixels) in enumerate(images):  # the page names each picture: its network output is kept
        facade.detect(name, pixels, picture_key=f"picture-{index}", **options)
    for _ in range(runs):
        boxes = [0, 0]
        for index, ((_, pixels), image) in enumerate(zip(images, bgr)):
            start = synchronised_clock(device)
            boxes[0] += len(facade.detect(name, pixels, **options).detections)
            ours.append(synchronised_clock(device) - start)
            start = synchronised_clock(device)  # a student moving the confidence slider on a picture
            facade.detect(name, pixels, picture_key=f"picture-{index}", **{**options, "conf": 0.3})
            threshold_moves.append(synchronised_clock(device) - start)
            start = synchronised_clock(device)
            result = bare.predict(image, verbose=False, device=device, **options)[0]
            _ = (result.boxes.xyxy.cpu().numpy(), result.boxes.conf.cpu().numpy(), result.boxes.cls.cpu().numpy())
            theirs.append(synchronised_clock(device) - start)
            boxes[1] += len(result.boxes)
    facade_ms, bare_ms = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
    return {"model": name, "imgsz": imgsz, "images": len(images), "runs": runs, "facade_ms": round(facade_ms, 2),
            "bare_ms": round(bare_ms, 2), "ratio": round(facade_ms / bare_ms, 3),
            "threshold_move_ms": round(statistics.median(threshold_moves) * 1e3, 2), "boxes": boxes}


def shapes_map(images: int, seed: int, device: str) -> dict:
    """mAP@0.5 and mAP@0.5:0.95 of shapes-yolo on freshly drawn scenes, by ultralytics' validator."""
    import yaml

    from cvlab.data.writers import write_yolo_dataset
    from cvlab.detection.catalogue import get_detector
    from cvlab.detection.stored import read_header

    spec = get_detector("shapes-yolo")
    imgsz = read_header(spec.path).imgsz or 192
    with tempfile.TemporaryDirectory(prefix="shapes-eval-") as scratch:
        data_yaml = write_yolo_dataset(Path(scratch) / "data", images, seed, size=imgsz, val_fraction=0.0)
        config = yaml.safe_load(data_yaml.read_text())
        data_yaml.write_text(yaml.safe_dump(dict(config, val=config["train"]), sort_keys=False))  # every scene
        with contextlib.redirect_stdout(sys.stderr):  # its progress bar; stdout keeps the results only
            metrics = bare_yolo("shapes-yolo").val(data=str(data_yaml), imgsz=imgsz, batch=16, device=device,
                                                   plots=False, verbose=False, project=scratch, name="val")
    return {"images": images, "seed": seed, "imgsz": imgsz, "mAP50": round(float(metrics.box.map50), 4),
            "mAP50-95": round(float(metrics.box.map), 4)}


def heldout_map(images: int) -> dict:
    """mAP@0.5 per class of shapes-yolo at its defaults on shapes drawn by OpenCV and Pillow (shapes_heldout.py)."""
    from benchmarks.shapes_heldout import detect_all, heldout_scenes, score

    scenes = heldout_scenes(images, 31337)
    found, (imgsz, reason) = detect_all("shapes-yolo", scenes)
    report = score(scenes, found)
    return {"images": images, "imgsz": imgsz, "imgsz_reason": reason, "mAP50": round(report.mean, 4),
            "per_class": {name: round(ap, 4) for name, ap in report.per_class.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "),
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="timed passes over the 4 test images")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto (the GPU when there is one)")
    parser.add_argument("--models", nargs="+", default=["shapes-yolo", "yolov8n-random"], help="detector names")
    parser.add_argument("--imgsz", type=int, default=640, help="network input side for the timing, px")
    parser.add_argument("--eval-images", type=int, default=300, help="fresh shapes scenes for mAP; 0 skips it")
    parser.add_argument("--eval-seed", type=int, default=2024, help="seed of those scenes (training used 0)")
    parser.add_argument("--heldout-images", type=int, default=200,
                        help="shapes drawn by OpenCV and Pillow for the held-out mAP; 0 skips it")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    import os

    import torch

    from cvlab.detection.ultralytics_env import ultralytics_ready
    from cvlab.device import pick_device
    from cvlab.errors import CvlabError

    try:
        chosen = pick_device(args.device)
    except CvlabError as error:  # "cuda" on a machine without a GPU, a misspelt device
        parser.error(str(error))
    device = f"cuda:{chosen.index or 0}" if chosen.type == "cuda" else chosen.type  # as the facade names it
    os.environ["CVLAB_DEVICE"] = device  # the facade reads it; the bare model is given the same
    torch.set_num_threads(args.threads)
    ultralytics_ready()
    images = test_images()
    rows = [time_model(name, images, args.runs, device, args.imgsz) for name in args.models]
    where = f"{device} ({torch.cuda.get_device_name(chosen)})" if chosen.type == "cuda" else device
    for row in rows:
        print(f"{row['model']:>16} @ {row['imgsz']} px on {where}: facade {row['facade_ms']:.1f} ms, "
              f"bare YOLO.predict {row['bare_ms']:.1f} ms per image -> ratio {row['ratio']:.3f} (target <= 1.10); "
              f"a threshold moved on the same picture {row['threshold_move_ms']:.1f} ms")
        if row["boxes"][0] != row["boxes"][1]:  # different weights or options: the times compare unlike work
            print(f"{'':>16}   warning: facade kept {row['boxes'][0]} boxes, bare {row['boxes'][1]}; "
                  "not the same model")
    quality = shapes_map(args.eval_images, args.eval_seed, device) if args.eval_images else None
    if quality:
        print(f"shapes-yolo on {quality['images']} fresh scenes (seed {quality['seed']}): "
              f"mAP@0.5 {quality['mAP50']:.3f} (target >= 0.9), mAP@0.5:0.95 {quality['mAP50-95']:.3f}")
    heldout = heldout_map(args.heldout_images) if args.heldout_images else None
    if heldout:
        classes = ", ".join(f"{name} {ap:.3f}" for name, ap in heldout["per_class"].items())
        print(f"shapes-yolo on {heldout['images']} shapes drawn by OpenCV and Pillow, default settings "
              f"({heldout['imgsz']} px: {heldout['imgsz_reason']}): mAP@0.5 {heldout['mAP50']:.3f} "
              f"(target >= 0.85); per class {classes}")
    print(json.dumps({"device": where, "torch_threads": args.threads, "timing": rows, "shapes_map": quality,
                      "heldout_map": heldout}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
