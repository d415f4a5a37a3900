"""``python -m cvlab sam-video VIDEO --point x,y --frame N --out masks/``: SAM 2 through a clip.

VIDEO is a video file (mp4, webm, avi, mov, mkv; the page's limits apply) or ``shapes:SEED``
(``shapes:SEED:FRAMES:OBJECTS`` to choose more) for the generated clip of moving shapes. The
prompt (points and/or a box) is on frame N; ``--correct M:x,y[,+|-]`` adds a correction point on
frame M (repeatable). ``--out`` gets one PNG per frame (``mask_0000.png`` ..., 255 = object): the
folder is created, and one holding anything but such masks is refused. With ``--json`` it prints
one object: ``{"clip", "frames", "width", "height", "frame_ms", "state_bytes", "peak_state_bytes",
"peak_rss_bytes", "peak_cuda_bytes", "prompted_frames", "passes", "input_side", "device",
"weights", "random_weights", "mask_pixels", "iou", "mean_iou", "track_id", "out"}``; ``iou`` (per
frame, against the true mask of the object under the first point) only for the generated clip
with real weights, else null.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.commands._clip_arg import CLIP_HELP, load_clip_argument
from cvlab.errors import InvalidInput

EXAMPLES = """examples:
  python -m cvlab sam-video shapes:0 --point 128,128 --frame 12 --out masks/ --json
  python -m cvlab sam-video clip.mp4 --box 40,30,200,160 --frame 0 --correct 20:90,80,- --out masks/"""
DEFAULT_FRAMES, DEFAULT_OBJECTS = 24, 3  # the page's generated clip: 24 frames at 256 px
MASK_NAME = re.compile(r"mask_\d{4}\.png")


@dataclass(frozen=True)
class SamVideoReport:
    clip: str
    frames: int
    width: int
    height: int
    frame_ms: tuple[float, ...]
    state_bytes: tuple[int, ...]
    peak_state_bytes: int
    peak_rss_bytes: int
    peak_cuda_bytes: int | None
    prompted_frames: tuple[int, ...]
    passes: int
    input_side: int
    device: str
    weights: str
    random_weights: bool
    mask_pixels: tuple[int, ...]  # per frame
    iou: tuple[float, ...] | None  # per frame, the generated clip with real weights only
    mean_iou: float | None
    track_id: int | None  # the generated clip's object under the first prompt
    out: str | None


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog, parser.formatter_class = EXAMPLES, argparse.RawDescriptionHelpFormatter
    parser.add_argument("video", metavar="VIDEO", help=CLIP_HELP)
    parser.add_argument("--frame", type=int, default=0, help="the frame the prompt is on (default 0)")
    parser.add_argument("--point", action="append", default=[], metavar="X,Y[,+|-]",
                        help="a point on the object (+, the default) or the background (-); repeatable")
    parser.add_argument("--box", metavar="X0,Y0,X1,Y1", help="a box around the object, in pixels")
    parser.add_argument("--correct", action="append", default=[], metavar="M:X,Y[,+|-]",
                        help="a correction point on a later (or earlier) frame M; repeatable")
    parser.add_argument("--input-size", type=int, default=None, choices=(256, 512, 1024),
                        help="the side SAM 2 sees, px (default 1024 on a GPU, 256 on a CPU)")
    parser.add_argument("--out", type=Path, default=None, help="a folder for one mask PNG per frame")


def parse_correction(text: str):
    """``"M:x,y[,+|-]"`` -> a FramePrompt with one point on frame M."""
    from cvlab.segmentation.sam import parse_point
    from cvlab.segmentation.sam_video import FramePrompt

    frame, _, point = text.partition(":")
    if not frame.strip().isdigit() or not point:
        raise InvalidInput(f"Write a correction as FRAME:x,y or FRAME:x,y,- (got {text!r}).")
    return FramePrompt(int(frame), (parse_point(point),))


def check_out_folder(out: Path) -> None:
    """A folder to write masks into: new, empty, or holding only masks from an earlier run."""
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out} is a file; give a folder for the mask PNGs.")
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir() if not MASK_NAME.fullmatch(p.name))
        if others:
            named = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
            raise InvalidInput(f"--out {out} holds other files ({named}); give an empty or new folder: masks are "
                               "never written over other files.")


def _run(args: argparse.Namespace) -> SamVideoReport:
    from cvlab.segmentation import sam, sam_video

    prompt = sam_video.parse_frame_prompt(args.frame, args.point, args.box)
    corrections = tuple(parse_correction(c) for c in args.correct)
    if args.out is not None:
        check_out_folder(args.out)
    clip, truth = load_clip_argument(args.video, DEFAULT_FRAMES, DEFAULT_OBJECTS)
    result = sam_video.propagate(clip, prompt, corrections, input_side=args.input_size)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for old in args.out.glob("mask_*.png"):  # an earlier, maybe longer, run's masks
            old.unlink()
        for t, mask in enumerate(result.masks):
            (args.out / sam_video.mask_file_name(t)).write_bytes(sam.mask_png(mask))
    track = sam_video.track_under_prompt(truth.instances, prompt) if truth is not None else None
    iou = None
    if track is not None and not result.random_weights:
        iou = tuple(float(v) for v in sam_video.mask_iou_per_frame(result.masks, truth.instances == track))
    width, height = clip.size
    return SamVideoReport(clip.name, result.n_frames, width, height, result.frame_ms, result.state_bytes,
                          result.peak_state_bytes, result.peak_rss_bytes, result.peak_cuda_bytes,
                          result.prompted_frames, result.passes, result.input_side, result.device,
                          result.weights_label, result.random_weights,
                          tuple(int(m.sum()) for m in result.masks), iou,
                          None if iou is None else sum(iou) / len(iou), track, str(args.out) if args.out else None)


def _render(report: SamVideoReport) -> str:
    rows = [{"frame": t, "ms": f"{ms:.0f}", "state MB": f"{b / 2**20:.1f}", "mask px": px,
             **({"IoU": f"{report.iou[t]:.3f}"} if report.iou else {}),
             "prompt": "*" if t in report.prompted_frames else ""}
            for t, (ms, b, px) in enumerate(zip(report.frame_ms, report.state_bytes, report.mask_pixels))]
    iou = f"\nmean IoU against the true masks: {report.mean_iou:.3f}" if report.mean_iou is not None else ""
    out = f"\nwrote {report.frames} masks to {report.out}" if report.out else ""
    return (f"SAM 2 tiny ({report.weights}) on {report.clip}: {report.frames} frames of {report.width}x"
            f"{report.height} px at {report.input_side} px on {report.device}, {report.passes} pass(es)\n"
            f"{text_table(rows)}\npeak state {report.peak_state_bytes / 2**20:.1f} MB, process peak "
            f"{report.peak_rss_bytes / 2**20:.0f} MB{iou}{out}")


COMMANDS.register("sam-video", Command("sam-video", "SAM 2 through a clip: a prompt on one frame propagated to "
                                                    "every frame, mask PNGs, time and memory per frame",
                                       _configure, _run, _render))
