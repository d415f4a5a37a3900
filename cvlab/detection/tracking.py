"""YOLO with a tracker over a clip: ultralytics' ``model.track``, frame by frame, as cvlab dataclasses.

A tracker keeps state between frames (the tracks it holds, their motion model), and
ultralytics keeps that state on the model's predictor. The facade's cached models serve
every user's still pictures, one call at a time; a clip would hold one of them for seconds
and leave tracker callbacks on it. So each clip is tracked by a model object of its own,
loaded for that clip (tens of milliseconds for the lab's models; weights come from the same
files the cached models use) and dropped after it.

The time of each frame is ultralytics' own three stages (``Results.speed``) plus the rest of
the call measured around it, which is mostly the tracker's association step. What the page
shows per frame and what a benchmark compares against a bare ``model.track`` loop is the same
figure: the wall time of one ``track`` call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from cvlab.detection.facade import StageTimings, _check_options, training_size
from cvlab.errors import InvalidInput
from cvlab.settings import Settings, get_settings

# The trackers offered, by the name the lab shows, and the configuration file inside ultralytics each one uses.
# Only these names reach ultralytics: what a user types picks an entry here, never a file.
TRACKERS = {"bytetrack": "bytetrack.yaml", "botsort": "botsort.yaml"}
TRACKER_TITLES = {"bytetrack": "ByteTrack", "botsort": "BoT-SORT"}
TRACKER_HELP = ("ByteTrack links boxes by predicted motion (a Kalman filter) and IoU, low-scoring boxes included in "
                "a second round; BoT-SORT adds camera-motion compensation (sparse optical flow) on top.")


@dataclass(frozen=True)
class TrackedBox:
    track_id: int
    xyxy: tuple[float, float, float, float]  # px of the frame
    conf: float
    cls: int
    name: str

    @property
    def centre(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.xyxy
        return (x1 + x2) / 2, (y1 + y2) / 2


@dataclass(frozen=True)
class FrameTracks:
    index: int
    boxes: tuple[TrackedBox, ...]
    timings: StageTimings  # ultralytics' preprocess, inference and postprocess (NMS) of this frame
    wall_ms: float  # the whole track() call: the stages, the tracker's association and the call's overhead

    @property
    def tracking_ms(self) -> float:
        """What the call took beyond ultralytics' three timed stages: the tracker, mostly."""
        return max(0.0, self.wall_ms - self.timings.total)


@dataclass(frozen=True)
class TrackingResult:
    model: str
    weights_note: str
    tracker: str
    imgsz: int
    imgsz_reason: str
    width: int
    height: int
    fps: float
    names: tuple[str, ...]
    frames: tuple[FrameTracks, ...]

    def paths(self) -> dict[int, list[tuple[int, float, float]]]:
        """Each track id's (frame, centre x, centre y), in frame order."""
        paths: dict[int, list[tuple[int, float, float]]] = {}
        for frame in self.frames:
            for box in frame.boxes:
                paths.setdefault(box.track_id, []).append((frame.index, *box.centre))
        return paths

    def track_classes(self) -> dict[int, str]:
        """Each track id's most frequent class name."""
        votes: dict[int, dict[str, int]] = {}
        for frame in self.frames:
            for box in frame.boxes:
                counts = votes.setdefault(box.track_id, {})
                counts[box.name] = counts.get(box.name, 0) + 1
        return {tid: max(counts, key=counts.get) for tid, counts in sorted(votes.items())}

    def counts_per_frame(self) -> dict[str, list[int]]:
        """Boxes per class name in each frame (classes seen anywhere in the clip)."""
        seen = sorted({box.name for frame in self.frames for box in frame.boxes})
        return {name: [sum(box.name == name for box in frame.boxes) for frame in self.frames] for name in seen}

    def mean_ms(self) -> dict[str, float]:
        n = max(1, len(self.frames))
        return {"preprocess": sum(f.timings.preprocess for f in self.frames) / n,
                "inference": sum(f.timings.inference for f in self.frames) / n,
                "postprocess": sum(f.timings.postprocess for f in self.frames) / n,
                "tracking": sum(f.tracking_ms for f in self.frames) / n,
                "wall": sum(f.wall_ms for f in self.frames) / n}


def tracker_file(tracker: str) -> str:
    if tracker not in TRACKERS:
        raise InvalidInput(f"Unknown tracker {tracker!r}; choose one of {', '.join(TRACKERS)}.")
    return TRACKERS[tracker]


def _own_model(name: str, settings: Settings):
    """A YOLO object for this clip alone (see the module docstring), with the spec it came from."""
    from cvlab.detection.catalogue import get_detector, load_yolo

    spec = get_detector(name, settings)
    return spec, load_yolo(spec, settings)


def track_clip(name: str, frames: np.ndarray, *, fps: float = 30.0, tracker: str = "bytetrack", conf: float = 0.25,
               iou: float = 0.7, imgsz: int | None = None, classes: Sequence[int] | None = None,
               max_det: int = 300, agnostic_nms: bool = False, settings: Settings | None = None,
               device: str | None = None,
               progress: Callable[[FrameTracks], None] | None = None) -> TrackingResult:
    """Detect and track objects through ``frames`` ((T, H, W, 3) uint8 RGB) with model ``name``.

    ``device`` (a job's device slot) overrides the settings' device. ``progress`` is called with each
    frame's tracks as soon as it is done (a job writes it to disk).
    """
    from cvlab.detection.facade import _device

    settings = settings or get_settings()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8 or frames.shape[0] == 0:
        raise InvalidInput(f"Tracking needs (T, H, W, 3) uint8 RGB frames, got {frames.dtype} {frames.shape}.")
    config = tracker_file(tracker)
    spec, yolo = _own_model(name, settings)
    names = tuple(str(yolo.model.names[i]) for i in range(len(yolo.model.names)))
    own_size, reason = training_size(spec, yolo)
    size = own_size if imgsz is None else int(imgsz)
    if imgsz is not None:
        reason = f"chosen by hand ({spec.name} was trained at {own_size} px)"
    _check_options(_Names(spec, names), conf, iou, size, max_det, classes)
    device = device if device not in (None, "auto") else _device(settings)
    options = dict(conf=conf, iou=iou, imgsz=size, max_det=max_det, agnostic_nms=agnostic_nms, verbose=False,
                   device=device, tracker=config, classes=list(map(int, classes)) if classes is not None else None)
    # One untimed call first: the predictor's set-up and the first allocations (0.6 s on a CPU) would otherwise be
    # frame 0's time. Its tracker state is then cleared, so the clip starts from nothing, ids from 1.
    yolo.track(np.zeros((64, 64, 3), np.uint8), persist=True, **options)
    for tracker_state in getattr(yolo.predictor, "trackers", []):
        tracker_state.reset()
    tracked = []
    for index, rgb in enumerate(frames):
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        start = time.perf_counter()
        result = yolo.track(bgr, persist=True, **options)[0]
        wall_ms = (time.perf_counter() - start) * 1000
        frame = _frame_tracks(index, result, names, wall_ms)
        tracked.append(frame)
        if progress is not None:
            progress(frame)
    return TrackingResult(model=spec.name, weights_note=spec.weights_note, tracker=tracker, imgsz=size,
                          imgsz_reason=reason, width=int(frames.shape[2]), height=int(frames.shape[1]),
                          fps=float(fps), names=names, frames=tuple(tracked))


@dataclass(frozen=True)
class _Names:
    """What the facade's option check reads of a loaded model."""

    spec: object
    names: tuple[str, ...]


def _frame_tracks(index: int, result, names: tuple[str, ...], wall_ms: float) -> FrameTracks:
    boxes = result.boxes
    speed = result.speed
    timings = StageTimings(float(speed.get("preprocess") or 0.0), float(speed.get("inference") or 0.0),
                           float(speed.get("postprocess") or 0.0))
    if boxes is None or boxes.id is None or len(boxes) == 0:  # nothing tracked (yet) in this frame
        return FrameTracks(index, (), timings, wall_ms)
    xyxy = boxes.xyxy.cpu().numpy()
    ids = boxes.id.cpu().numpy().astype(int)
    scores = boxes.conf.cpu().numpy()
    labels = boxes.cls.cpu().numpy().astype(int)
    tracked = tuple(TrackedBox(int(tid), tuple(round(float(v), 2) for v in box), round(float(score), 4),
                               int(label), names[int(label)])
                    for tid, box, score, label in zip(ids, xyxy, scores, labels))
    return FrameTracks(index, tracked, timings, wall_ms)


def result_to_dict(result: TrackingResult) -> dict:
    """Plain JSON data of a result (a job writes it; ``result_from_dict`` reads it back)."""
    from dataclasses import asdict

    return asdict(result)


def result_from_dict(data: dict) -> TrackingResult:
    """A result from ``result_to_dict``'s data, every field converted to its type (the file is data, not code)."""
    frames = tuple(
        FrameTracks(int(f["index"]),
                    tuple(TrackedBox(int(b["track_id"]), tuple(float(v) for v in b["xyxy"][:4]), float(b["conf"]),
                                     int(b["cls"]), str(b["name"])) for b in f["boxes"]),
                    StageTimings(*(float(f["timings"][k]) for k in ("preprocess", "inference", "postprocess"))),
                    float(f["wall_ms"]))
        for f in data["frames"])
    return TrackingResult(model=str(data["model"]), weights_note=str(data["weights_note"]),
                          tracker=str(data["tracker"]), imgsz=int(data["imgsz"]),
                          imgsz_reason=str(data["imgsz_reason"]), width=int(data["width"]),
                          height=int(data["height"]), fps=float(data["fps"]),
                          names=tuple(str(n) for n in data["names"]), frames=frames)
