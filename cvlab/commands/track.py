"""``python -m cvlab track VIDEO --model NAME``: detection with tracking through a clip.

VIDEO is a video file (mp4, webm, avi, mov, mkv; the page's limits apply) or ``shapes:SEED``
(``shapes:SEED:FRAMES:OBJECTS`` to choose more) for the generated clip of moving shapes,
whose true tracks score the result (CLEAR MOT). With ``--json`` it prints one object:
``{"clip", "model", "tracker", "imgsz", "fps", "frames": [{"index", "boxes": [{"track_id",
"xyxy", "conf", "cls", "name"}], "timings", "wall_ms"}], "tracks": [{"track_id", "class",
"frames", "first", "last", "path": [[frame, x, y]...]}], "mean_ms", "score"}``: an object per
frame and one per track. ``--out FILE.webm`` writes the annotated clip.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.commands._clip_arg import CLIP_HELP, load_clip_argument


def _configure(parser: argparse.ArgumentParser) -> None:
    from cvlab.detection.tracking import TRACKERS

    parser.add_argument("video", metavar="VIDEO", help=CLIP_HELP)
    parser.add_argument("--model", default="shapes-yolo", help="a detector name (python -m cvlab detect --list)")
    parser.add_argument("--tracker", default="bytetrack", choices=list(TRACKERS))
    parser.add_argument("--conf", type=float, default=0.25, help="confidence threshold, 0..1")
    parser.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold, 0..1")
    parser.add_argument("--imgsz", type=int, default=None, help="network input size in px (default: training size)")
    parser.add_argument("--out", type=Path, default=None, help="write the annotated clip here (.webm)")


def _run(args: argparse.Namespace):
    from dataclasses import asdict

    from cvlab.data.video import encode_webm
    from cvlab.detection.mot import score_shapes_clip
    from cvlab.detection.tracking import track_clip
    from cvlab.errors import InvalidInput
    from cvlab.viz.tracking import annotated_frames

    if args.out is not None and args.out.suffix.lower() != ".webm":
        raise InvalidInput(f"--out {args.out}: the annotated clip is written as WebM; name it something.webm.")
    clip, truth = load_clip_argument(args.video, 60, 5)  # the Video section's default clip
    result = track_clip(args.model, clip.frames, fps=clip.fps, tracker=args.tracker, conf=args.conf, iou=args.iou,
                        imgsz=args.imgsz)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(encode_webm(annotated_frames(clip.frames, result), clip.fps))
    classes = result.track_classes()
    score = score_shapes_clip(truth, result) if truth is not None else None
    return {"clip": clip.name, "width": clip.size[0], "height": clip.size[1], "model": result.model,
            "tracker": result.tracker, "imgsz": result.imgsz, "fps": clip.fps,
            "frames": [asdict(frame) for frame in result.frames],
            "tracks": [{"track_id": tid, "class": classes[tid], "frames": len(path), "first": path[0][0],
                        "last": path[-1][0], "path": [[f, round(x, 1), round(y, 1)] for f, x, y in path]}
                       for tid, path in result.paths().items()],
            "mean_ms": {k: round(v, 2) for k, v in result.mean_ms().items()},
            "score": None if score is None else {**asdict(score), "mota": score.mota},
            "out": str(args.out) if args.out is not None else None}


def _render(data: dict) -> str:
    mean = data["mean_ms"]
    lines = [f"{data['clip']}: {len(data['frames'])} frames of {data['width']}x{data['height']} px, {data['model']} "
             f"at {data['imgsz']} px with {data['tracker']}: {mean['wall']:.1f} ms a frame "
             f"({mean['inference']:.1f} in the network, {mean['tracking']:.1f} in the tracker and the rest)"]
    rows = [{"track": f"#{t['track_id']}", "class": t["class"], "frames": t["frames"],
             "first": t["first"], "last": t["last"]} for t in data["tracks"]]
    lines.append(text_table(rows) if rows else "(no tracks)")
    if data["score"]:
        s = data["score"]
        lines.append(f"against the true tracks: MOTA {s['mota']:.3f}, MOTP {s['motp']:.3f}, {s['id_switches']} "
                     f"identity switches, {s['misses']} misses, {s['false_positives']} false positives "
                     f"of {s['objects']} true boxes")
    if data["out"]:
        lines.append(f"annotated clip: {data['out']}")
    return "\n".join(lines)


COMMANDS.register("track", Command("track", "YOLO detection with tracking through a video or the generated clip",
                                   _configure, _run, _render))
