"""Tracking: the facade's time per frame against a bare ``model.track`` loop on the same frames, and how well the
shipped shapes model and each tracker follow the generated clip's true tracks (CLEAR MOT).

Timing: the same clip is tracked through ``cvlab.detection.tracking.track_clip`` and through
a bare loop as ultralytics' documentation writes it (``model.track(frame, persist=True,
tracker=...)`` on BGR frames, a model loaded once before the clock starts), alternating whole
clips, ``--rounds`` times each, so both see the same machine load. A facade frame's time is the
time between its progress calls (everything the facade does for that frame, its own work
included); a bare frame's is its loop iteration. Frame 0 (the tracker's and predictor's set-up)
is left out of both. Printed: the median ms per frame of each, and the ratio facade / bare
(target: within 1.10), then the facade's whole-clip time, its own model load included.

Quality: MOTA, MOTP, identity switches, misses and false positives of each tracker on
``--seeds`` generated clips (``cvlab.data.shapes_clip``), IoU >= 0.5.

Usage: python benchmarks/tracking.py [--frames 60] [--rounds 5] [--seeds 0 1 2] [--model shapes-yolo]
A quick check that it runs: --frames 16 --rounds 1 --seeds 0
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402


def facade_frame_ms(model: str, frames: np.ndarray, fps: float, tracker: str) -> tuple[list[float], float]:
    """(ms of each frame after the first, seconds for the whole clip with the model's load)."""
    from cvlab.detection.tracking import track_clip

    stamps: list[float] = []
    start = time.perf_counter()
    track_clip(model, frames, fps=fps, tracker=tracker, progress=lambda _f: stamps.append(time.perf_counter()))
    total = time.perf_counter() - start
    return [1000 * (b - a) for a, b in zip(stamps, stamps[1:])], total


def bare_frame_ms(model: str, frames: np.ndarray, tracker: str, imgsz: int) -> list[float]:
    from cvlab.detection.catalogue import get_detector, load_yolo
    from cvlab.detection.tracking import tracker_file

    yolo = load_yolo(get_detector(model))
    bgr_frames = [np.ascontiguousarray(f[..., ::-1]) for f in frames]  # what cv2.VideoCapture would give
    times = []
    for frame in bgr_frames:
        start = time.perf_counter()
        yolo.track(frame, persist=True, tracker=tracker_file(tracker), imgsz=imgsz, device="cpu", verbose=False)
        times.append(1000 * (time.perf_counter() - start))
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--model", default="shapes-yolo")
    args = parser.parse_args()

    import torch

    from cvlab.data.shapes_clip import shapes_clip
    from cvlab.detection.mot import score_shapes_clip
    from cvlab.detection.tracking import TRACKERS, track_clip

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f}")
    clip = shapes_clip(args.seeds[0], args.frames, 256, 5)
    imgsz = track_clip(args.model, clip.clip.frames[:1]).imgsz  # also warms the library up for both sides
    facade, bare, wholes = [], [], []
    for _ in range(args.rounds):
        per_frame, whole = facade_frame_ms(args.model, clip.clip.frames, clip.clip.fps, "bytetrack")
        facade += per_frame
        wholes.append(whole)
        bare += bare_frame_ms(args.model, clip.clip.frames, "bytetrack", imgsz)
    f_med, b_med = statistics.median(facade), statistics.median(bare)
    print(f"\n{args.model} at {imgsz} px, bytetrack, {args.frames} frames x {args.rounds} rounds "
          f"(load {os.getloadavg()[0]:.2f})")
    print(f"  per frame, median: facade {f_med:.2f} ms, bare model.track {b_med:.2f} ms, "
          f"ratio {f_med / b_med:.3f} (target <= 1.10)")
    print(f"  whole clip through the facade, its model load included: {statistics.median(wholes):.2f} s "
          f"({statistics.median(wholes) * 1000 / args.frames:.1f} ms a frame)")

    print("\nTracking quality on generated clips (IoU >= 0.5)")
    print(f"  {'seed':>4} {'tracker':<10} {'MOTA':>6} {'MOTP':>6} {'IDSW':>5} {'FN':>4} {'FP':>4} {'objects':>8} "
          f"{'tracks':>7}/{'true':<4}")
    motas: dict[str, list[float]] = {name: [] for name in TRACKERS}
    for seed in args.seeds:
        made = shapes_clip(seed, args.frames, 256, 5)
        for tracker in TRACKERS:
            score = score_shapes_clip(made, track_clip(args.model, made.clip.frames, fps=made.clip.fps,
                                                       tracker=tracker))
            motas[tracker].append(score.mota)
            print(f"  {seed:>4} {tracker:<10} {score.mota:>6.3f} {score.motp:>6.3f} {score.id_switches:>5} "
                  f"{score.misses:>4} {score.false_positives:>4} {score.objects:>8} {score.tracks:>7}/"
                  f"{score.true_tracks:<4}")
    for tracker, values in motas.items():
        print(f"  mean MOTA {tracker}: {statistics.mean(values):.3f}")


if __name__ == "__main__":
    main()
