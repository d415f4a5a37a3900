"""SAM 2 across a clip: a prompt on one frame, the mask carried through every frame by SAM 2's memory.

SAM 2 treats a video as a stream. Each frame is encoded once (Hiera); a memory attention
module lets the frame's features look at a small bank of earlier results (the prompted,
"conditioning" frames and the last few tracked ones), the mask decoder answers, and a
memory encoder turns the answer into the next frames' memory. Nothing is re-encoded per
click, but every frame costs a whole image encoder, so the clip's length times its input
size is the work, and it is bounded before it starts (``check_work``).

This module drives ultralytics' ``SAM2VideoPredictor`` on frames held in memory: its own
prompt scaling, ``add_new_prompts``, ``propagate_in_video_preflight``, ``inference`` (one
frame forward, with its memory pruning) and ``_run_single_frame_inference`` with
``reverse=True`` going back. The prompt frame is tracked forward to the clip's end first,
then backward to its start, so a prompt on a middle frame reaches every frame.

A correction is a prompt on a frame that has been tracked already. As in SAM 2's own
interactive loop, its clicks go to the decoder together with the mask tracked there
(``add_new_prompts`` reads it as ``prev_sam_mask_logits``), the frame becomes a conditioning
frame, and the clip is tracked again (one more pass for all corrections together).

SAM 2 runs at ``input_side`` px (the frame letterboxed to a square; ultralytics'
``set_imgsz`` resizes Hiera's position embeddings): 1024 px, its training size, on a
GPU; on a CPU 256 px, 0.3 s a frame on 2 cores against 11 s at 1024 (``CPU_SECONDS_PER_FRAME``).

    result = propagate(clip, FramePrompt(12, points=((120, 80, True),)))
    result.masks  # (T, H, W) bool
"""

from __future__ import annotations

import math
import resource
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from cvlab.data.video import Clip
from cvlab.errors import InvalidInput
from cvlab.segmentation.sam import SamPrompt
from cvlab.settings import Settings, get_settings

MODEL = "sam2_t"  # SAM 2 tiny: the only SAM 2 in the lab's catalogue
INPUT_SIDES = (256, 512, 1024)  # px; 1024 is what SAM 2 was trained at
# Seconds per frame of SAM 2 tiny on 2 CPU cores (load about 1), forward or backward, all of it: the
# encoder is ~90 % of a frame. Measured with the generated 256 px clip; the estimate of a clip's time.
CPU_SECONDS_PER_FRAME = {256: 0.3, 512: 1.4, 1024: 11.0}
MAX_CPU_SECONDS = 180.0  # a clip estimated to take longer on a CPU is refused before any frame is encoded
MAX_FRAMES = 300  # the state keeps each conditioning frame and a window of recent ones, masks are kept per frame
MAX_CORRECTIONS = 8
ProgressFn = Callable[[int, int], None]  # (frames done, frames to do) over all passes


@dataclass(frozen=True)
class FramePrompt:
    """Points and/or a box on one frame, in the frame's pixels."""
    frame: int
    points: tuple[tuple[float, float, bool], ...] = ()  # (x, y, positive)
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1

    def check(self, clip: Clip) -> None:
        if not isinstance(self.frame, (int, np.integer)) or not 0 <= self.frame < clip.n_frames:
            raise InvalidInput(f"Frame {self.frame!r} is not in the clip: its frames are 0 to {clip.n_frames - 1}.")
        width, height = clip.size
        SamPrompt(self.points, self.box).check(width, height)


@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class VideoMasks:
    masks: np.ndarray  # (T, H, W) bool: the object's mask in every frame
    frame_ms: tuple[float, ...]  # per frame, its last pass: encoder + memory attention + decoder + memory encoder
    state_bytes: tuple[int, ...]  # per frame: bytes of the tensors the propagation state held once it was tracked
    peak_rss_bytes: int  # the process's resident peak so far (includes everything else it ran)
    peak_cuda_bytes: int | None  # torch's peak allocation during this propagation; None on a CPU
    prompted_frames: tuple[int, ...]  # conditioning frames: the first prompt's and every correction's
    passes: int  # 1, or 2 when corrections sent the clip through again
    seconds: float
    input_side: int
    device: str
    random_weights: bool
    weights_label: str  # "random weights: masks are meaningless" or the checkpoint's name

    @property
    def n_frames(self) -> int:
        return int(self.masks.shape[0])

    @property
    def peak_state_bytes(self) -> int:
        return max(self.state_bytes, default=0)


def merged_by_frame(corrections: tuple[FramePrompt, ...]) -> tuple[FramePrompt, ...]:
    """One prompt per frame: SAM 2 takes a frame's clicks all at once (a second call replaces the first's)."""
    frames: dict[int, FramePrompt] = {}
    for c in corrections:
        before = frames.get(c.frame, FramePrompt(c.frame))
        frames[c.frame] = FramePrompt(c.frame, before.points + c.points, c.box if c.box is not None else before.box)
    return tuple(frames[t] for t in sorted(frames))


def default_input_side(device_type: str) -> int:
    return 1024 if device_type == "cuda" else 256


def estimated_cpu_seconds(n_frames: int, input_side: int, passes: int = 1) -> float:
    return n_frames * passes * CPU_SECONDS_PER_FRAME[input_side]


def check_work(clip: Clip, input_side: int, device_type: str, passes: int = 1,
               max_cpu_seconds: float = MAX_CPU_SECONDS) -> None:
    """Refuse a clip too long for SAM 2 on this device before any frame is encoded."""
    if input_side not in INPUT_SIDES:
        raise InvalidInput(f"SAM 2 runs at {', '.join(map(str, INPUT_SIDES))} px here, not {input_side!r}.")
    if clip.n_frames > MAX_FRAMES:
        raise InvalidInput(f"{clip.n_frames} frames is more than SAM 2 propagates here ({MAX_FRAMES}); trim the clip.")
    if device_type != "cpu":
        return
    seconds = estimated_cpu_seconds(clip.n_frames, input_side, passes)
    if seconds > max_cpu_seconds:
        per_frame = CPU_SECONDS_PER_FRAME[input_side]
        fits = int(max_cpu_seconds / (per_frame * passes))
        passes_text = f" per pass, {passes} passes with the corrections" if passes > 1 else ""
        raise InvalidInput(
            f"This clip is too long for SAM 2 on this CPU: {clip.n_frames} frames at {input_side} px would take about "
            f"{seconds:.0f} s ({per_frame:g} s a frame{passes_text}); the limit is {max_cpu_seconds:.0f} s. Trim it "
            f"to {fits} frames" + (", or run SAM 2 at 256 px." if input_side > 256 else ", or use a GPU."))


def propagate(clip: Clip, prompt: FramePrompt, corrections: tuple[FramePrompt, ...] = (), *,
              input_side: int | None = None, settings: Settings | None = None, device: Any = None,
              progress: ProgressFn | None = None, max_cpu_seconds: float = MAX_CPU_SECONDS) -> VideoMasks:
    """The object under ``prompt`` segmented in every frame of ``clip``, corrected by ``corrections``."""
    prompt.check(clip)
    if len(corrections) > MAX_CORRECTIONS:
        raise InvalidInput(f"{len(corrections)} corrections is more than {MAX_CORRECTIONS}; clear some.")
    for correction in corrections:
        correction.check(clip)
        if correction.frame == prompt.frame:
            raise InvalidInput(f"Frame {prompt.frame} holds the first prompt: change that prompt instead of "
                               "correcting it, or correct another frame.")
    corrections = merged_by_frame(corrections)
    tracker = video_tracker(settings or get_settings(), device)
    side = input_side or default_input_side(tracker.device.type)
    passes = 2 if corrections else 1
    check_work(clip, side, tracker.device.type, passes, max_cpu_seconds)
    with tracker.lock:
        start = time.perf_counter()
        run = tracker.run(clip, side, prompt, corrections, progress)
        seconds = time.perf_counter() - start
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux gives KiB
    prompted = tuple(sorted({prompt.frame, *(c.frame for c in corrections)}))
    return VideoMasks(run.masks, run.frame_ms, run.state_bytes, peak_rss, run.peak_cuda_bytes, prompted, passes,
                      seconds, side, str(tracker.device), tracker.weights.random, weights_label(tracker.weights))


def weights_label(weights: Any) -> str:
    if weights.random:
        return "random weights: masks are meaningless"
    return str(weights.path).rsplit("/", 1)[-1]


def mask_iou_per_frame(masks: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(T,) IoU of each frame's mask with the true one; a frame where both are empty scores 1 (nothing to find)."""
    if masks.shape != truth.shape:
        raise InvalidInput(f"Masks {masks.shape} and true masks {truth.shape} differ in shape.")
    inter = np.logical_and(masks, truth).sum(axis=(1, 2))
    union = np.logical_or(masks, truth).sum(axis=(1, 2))
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def track_under_prompt(instances: np.ndarray, prompt: FramePrompt) -> int | None:
    """The true track id a prompt points at in a generated clip's instance map (T, H, W): the pixel under the
    first object point, else the most common object inside the box; None when it is background."""
    frame = instances[prompt.frame]
    for x, y, positive in prompt.points:
        if positive:
            track = int(frame[min(int(y), frame.shape[0] - 1), min(int(x), frame.shape[1] - 1)])
            return track or None
    if prompt.box is not None:
        x0, y0, x1, y1 = (int(v) for v in (math.floor(prompt.box[0]), math.floor(prompt.box[1]),
                                           math.ceil(prompt.box[2]), math.ceil(prompt.box[3])))
        ids, counts = np.unique(frame[y0:y1, x0:x1], return_counts=True)
        counts[ids == 0] = 0
        return int(ids[np.argmax(counts)]) if counts.max(initial=0) > 0 else None
    return None


def masks_zip(masks: np.ndarray) -> bytes:
    """One black-and-white PNG per frame (``mask_0000.png`` ...) in a zip; 255 is the object."""
    import io
    import zipfile

    from cvlab.segmentation.sam import mask_png

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for t, mask in enumerate(masks):
            archive.writestr(mask_file_name(t), mask_png(mask))
    return buffer.getvalue()


def mask_file_name(t: int) -> str:
    return f"mask_{t:04d}.png"


OBJECT_ID = 1  # one object per propagation; SAM 2 keeps its memory per object id


@dataclass(frozen=True, eq=False)
class _Run:
    masks: np.ndarray
    frame_ms: tuple[float, ...]
    state_bytes: tuple[int, ...]
    peak_cuda_bytes: int | None


class VideoTracker:
    """SAM 2's video predictor of one device, shared by a process; its lock lets one clip through at a time.
    Its model is its own, never the still-image section's: ``set_imgsz`` changes the encoder in place."""

    def __init__(self, predictor: Any, weights: Any, device: Any) -> None:
        self.predictor, self.weights, self.device = predictor, weights, device
        self.lock = threading.Lock()

    def run(self, clip: Clip, side: int, prompt: FramePrompt, corrections: tuple[FramePrompt, ...],
            progress: ProgressFn | None) -> _Run:
        import torch

        p, n = self.predictor, clip.n_frames
        p.imgsz = [side, side]
        p.model.set_imgsz(p.imgsz)
        # the sizes of the encoder's three feature levels, as SAM2Predictor.setup_source sets them
        p._bb_feat_sizes = [[int(x / (p.stride * i)) for x in p.imgsz] for i in (1 / 4, 1 / 2, 1)]
        p.dataset = SimpleNamespace(frame=prompt.frame, mode="video", frames=n)  # what inference() reads
        state = p.inference_state = p._init_state(n)
        logits: list[Any] = [None] * n
        frame_ms, state_bytes = [0.0] * n, [0] * n
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        passes = 2 if corrections else 1
        try:
            with torch.inference_mode():
                for pass_index in range(passes):
                    # a prompted frame's time includes its prompt's own decoding (and its frame's encoding)
                    prompt_ms = {given.frame: self._add_prompt(clip, given)
                                 for given in (corrections if pass_index else (prompt,))}
                    for step, (t, reverse) in enumerate(_order(prompt.frame, n)):
                        start = time.perf_counter()
                        logits[t] = self._track(clip, t, reverse, prompt.frame).float().cpu()
                        frame_ms[t] = 1000 * (time.perf_counter() - start) + prompt_ms.get(t, 0.0)
                        state_bytes[t] = tensor_bytes(state)
                        if progress:
                            progress(pass_index * n + step + 1, passes * n)
            peak = int(torch.cuda.max_memory_allocated(self.device)) if cuda else None
        finally:  # the state holds every frame's memory: never keep it past the call
            p.inference_state, p.dataset, p.batch, p.im = {}, None, None, None
        masks = np.stack([_to_frame(logit, clip.size, side) for logit in logits])
        return _Run(masks, tuple(frame_ms), tuple(state_bytes), peak)

    def _frame(self, clip: Clip, t: int) -> Any:
        """Frame ``t`` as SAM 2's input: letterboxed to the square, normalised (ultralytics' preprocess)."""
        p = self.predictor
        bgr = np.ascontiguousarray(clip.frames[t][..., ::-1])  # ultralytics' predictors take OpenCV's BGR
        p.im, p.batch = None, (None, [bgr], None)
        return p.preprocess([bgr])

    def _add_prompt(self, clip: Clip, prompt: FramePrompt) -> float:
        """Send a prompt to SAM 2's decoder on its frame; the milliseconds it took."""
        start = time.perf_counter()
        p = self.predictor
        image = p.inference_state["im"] = self._frame(clip, prompt.frame)
        width, height = clip.size
        points = [[[x, y] for x, y, _ in prompt.points]] if prompt.points else None  # (1 object, n, 2)
        labels = [[int(positive) for *_, positive in prompt.points]] if prompt.points else None
        boxes = [list(prompt.box)] if prompt.box is not None else None
        points, labels, _ = p._prepare_prompts(image.shape[2:], (height, width), boxes, points, labels)
        p.add_new_prompts(obj_id=OBJECT_ID, points=points, labels=labels, frame_idx=prompt.frame)
        return 1000 * (time.perf_counter() - start)

    def _track(self, clip: Clip, t: int, reverse: bool, start: int) -> Any:
        """(1, side/4, side/4) mask logits of frame ``t``: forward through the predictor's own per-frame step;
        backward through the same single-frame inference with SAM 2's reverse memory order."""
        p = self.predictor
        image = self._frame(clip, t)
        if not reverse:
            p.dataset.frame = t
            return p.inference(image)[0]
        state = p.inference_state
        state["im"] = image
        outputs = state["output_dict"]
        if t in state["consolidated_frame_inds"]["cond_frame_outputs"]:
            key, out = "cond_frame_outputs", outputs["cond_frame_outputs"][t]
        else:
            key = "non_cond_frame_outputs"
            out = p._run_single_frame_inference(
                output_dict=outputs, frame_idx=t, batch_size=len(state["obj_idx_to_id"]), is_init_cond_frame=False,
                point_inputs=None, mask_inputs=None, reverse=True, run_mem_encoder=True)
            outputs[key][t] = out
            self._prune_behind(t, start)
        p._add_output_per_object(t, out, key)
        state["frames_already_tracked"].add(t)
        return out["pred_masks"].flatten(0, 1)

    def _prune_behind(self, t: int, start: int) -> None:
        """Going backward, drop the memory of frames past SAM 2's window, as the predictor does going forward."""
        model, state = self.predictor.model, self.predictor.inference_state
        window = model.num_maskmem * model.memory_temporal_stride_for_eval
        for outputs in (state["output_dict"], *state["output_dict_per_obj"].values()):
            for k in [k for k in outputs["non_cond_frame_outputs"] if t + window < k < start]:
                outputs["non_cond_frame_outputs"].pop(k)


def _order(start: int, n_frames: int) -> list[tuple[int, bool]]:
    """(frame, backward?) in tracking order: the prompt frame to the end, then back to frame 0."""
    return [(t, False) for t in range(start, n_frames)] + [(t, True) for t in range(start - 1, -1, -1)]


def _to_frame(logits: Any, size: tuple[int, int], side: int) -> np.ndarray:
    """(1, side/4, side/4) logits -> (H, W) bool: upsampled to the square, the letterbox's padding (right and
    bottom) cropped off, resized to the frame."""
    import torch.nn.functional as F

    width, height = size
    scale = min(side / height, side / width)
    square = F.interpolate(logits[None].float(), size=(side, side), mode="bilinear", align_corners=False)
    cropped = square[..., :round(height * scale), :round(width * scale)]
    return (F.interpolate(cropped, size=(height, width), mode="bilinear", align_corners=False)[0, 0] > 0).numpy()


def tensor_bytes(tree: Any) -> int:
    """Bytes of the tensors in a nest of dicts, lists and tuples, each storage counted once (the per-object
    outputs are views of the joint ones)."""
    import torch

    seen: set[int] = set()
    total, stack = 0, [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            storage = item.untyped_storage()
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                total += storage.nbytes()
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return total


_TRACKERS: dict[tuple[str, str], VideoTracker] = {}
_TRACKERS_LOCK = threading.Lock()


def video_tracker(settings: Settings, device: Any = None) -> VideoTracker:
    """The process-wide tracker (built on first use). One is kept: another device or weights folder replaces it
    (a run still using the old one keeps it until it ends), so the process holds one SAM 2 for video."""
    key = (str(device or settings.device), str(settings.weights_dir))
    with _TRACKERS_LOCK:
        if key not in _TRACKERS:
            _TRACKERS.clear()
            _TRACKERS[key] = _build_tracker(settings, device)
        return _TRACKERS[key]


def _build_tracker(settings: Settings, device: Any) -> VideoTracker:
    from cvlab.segmentation.sam import build_sam_model

    sam = build_sam_model(MODEL, settings=settings, device=device)  # the checkpoint as for stills, else random
    from ultralytics.models.sam.predict import SAM2VideoPredictor

    module = sam._module  # a fresh model, this tracker's alone
    module.set_binarize(True)  # as SAM2VideoPredictor.get_model does: clicked masks enter memory binarised
    index = "cpu" if sam.device.type == "cpu" else str(sam.device.index or 0)
    predictor = SAM2VideoPredictor(overrides={"device": index, "verbose": False, "save": False, "imgsz": 1024})
    predictor.setup_model(model=module, verbose=False)
    return VideoTracker(predictor, sam.weights, sam.device)


def parse_frame_prompt(frame: int, points: list[str] | tuple[str, ...] = (), box: str | None = None) -> FramePrompt:
    """The command line's ``--frame N --point x,y[,+|-] --box x0,y0,x1,y1`` as a FramePrompt."""
    from cvlab.segmentation.sam import parse_box, parse_point

    return FramePrompt(frame, tuple(parse_point(p) for p in points), parse_box(box) if box else None)
