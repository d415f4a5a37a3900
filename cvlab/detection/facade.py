"""YOLO inference that returns cvlab dataclasses, over a bounded per-process cache of loaded models.

The page, the command line and the benchmark all call ``detect``. What comes back
is plain data (boxes in pixels of the image given, scores, class ids and names,
the time of each stage) and never an ultralytics object.

One loaded model serves every session of the server, read-only. Ultralytics'
``YOLO.predict`` is not safe to call from two threads at once: it keeps one
predictor per model and rewrites that predictor's settings (confidence, IoU, image
size...) before taking its own lock, so a second user's slider could change the
first user's result. Each cached model therefore carries a lock, and one
prediction runs through it at a time; different models run in parallel.

Each model also keeps the network's raw output for the last few pictures a caller
named (``picture_key``: the page passes the picture's content hash, made when it
was loaded). The thresholds (confidence, NMS IoU, max detections, classes,
class-agnostic NMS) only act after the network, in ultralytics' own postprocessing:
moving a slider re-runs that postprocessing on the kept output instead of the
network (on a CPU, seconds for a 640 px picture, against milliseconds). A call
without a key (the command line, a benchmark) runs the network and keeps nothing.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cvlab.detection.catalogue import DetectorSpec, get_detector, load_yolo
from cvlab.errors import InvalidInput
from cvlab.settings import Settings, get_settings

NETWORK_OUTPUTS_KEPT = 4  # pictures per model whose raw output is kept (COCO: 2.7 MB at 640 px, 11 at 1280)
MAX_LOADED_MODELS = 3  # and within Settings.detector_cache_bytes: yolov8x's weights alone are 270 MB
DEFAULT_IMGSZ = 640  # px: ultralytics' default, the size its COCO models were trained at
ASKED = "chosen by hand"  # the reason given for an input size the caller set
IMGSZ_RANGE = (32, 1280)  # px; ultralytics rounds up to a multiple of the stride (32)
CANDIDATE_CONF = 0.01  # the NMS section's "before NMS" confidence floor
MAX_CANDIDATES = 300  # ... and its cap: the highest-scoring boxes only


@dataclass(frozen=True)
class Detection:
    xyxy: tuple[float, float, float, float]  # x1, y1, x2, y2 in px of the input image
    conf: float  # the class score, 0..1
    cls: int
    name: str


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds per image in each stage, as ultralytics' predictor measures them."""

    preprocess: float  # letterbox resize, HWC->CHW, /255
    inference: float  # the network's forward pass
    postprocess: float  # confidence filter, NMS, boxes scaled back to the image

    @property
    def total(self) -> float:
        return self.preprocess + self.inference + self.postprocess


@dataclass(frozen=True)
class DetectionResult:
    model: str
    weights_note: str
    width: int  # of the input image, px
    height: int
    imgsz: int  # the network's input side, px
    imgsz_reason: str  # why that size: the model's training size when none was asked for
    detections: tuple[Detection, ...]  # highest score first
    names: tuple[str, ...]  # every class the model knows, by id
    timings: StageTimings
    nms_free: bool  # YOLO26 / YOLOv10 heads: one box per object without NMS
    notes: tuple[str, ...] = ()  # what decoding changed in the image (grayscale copied to RGB...)

    def counts(self) -> dict[str, int]:
        """Detections per class name, most frequent first."""
        counts: dict[str, int] = {}
        for det in self.detections:
            counts[det.name] = counts.get(det.name, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True)
class ModelInfo:
    name: str
    title: str
    kind: str
    weights_note: str
    names: tuple[str, ...]
    nms_free: bool
    parameters: int
    imgsz: int  # px: its default input size, the one it was trained at (640 for ultralytics' COCO models)
    imgsz_reason: str  # where that size comes from, for people


class LoadedDetector:
    """A YOLO object with its lock; only the facade touches the YOLO object itself."""

    def __init__(self, spec: DetectorSpec, yolo, device: str) -> None:
        self.spec = spec
        self.device = device
        self.lock = threading.Lock()
        self._yolo = yolo
        names = yolo.model.names
        self.names = tuple(str(names[i]) for i in range(len(names)))
        self.nms_free = bool(getattr(yolo.model, "end2end", False))
        self.parameters = sum(p.numel() for p in yolo.model.parameters())
        self.nbytes = sum(t.numel() * t.element_size() for t in (*yolo.model.parameters(), *yolo.model.buffers()))
        self.imgsz, self.imgsz_reason = training_size(spec, yolo)
        self._outputs: OrderedDict[tuple, list] = OrderedDict()  # picture -> [raw output, inference ms]
        self._picture: tuple | None = None  # (picture key, input size) being predicted; set under the lock
        self._reused_ms: float | None = None
        self.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64)  # set the predictor up now, so no result's
        # timing carries the one-off model fusion and first allocations

    def info(self) -> ModelInfo:
        return ModelInfo(self.spec.name, self.spec.title, self.spec.kind, self.spec.weights_note, self.names,
                         self.nms_free, self.parameters, self.imgsz, self.imgsz_reason)

    def input_size(self, imgsz: int | None) -> tuple[int, str]:
        """The network input side for a request (None: the model's own default) and why it is that."""
        if imgsz is None:
            return self.imgsz, self.imgsz_reason
        return int(imgsz), f"{ASKED} ({self.spec.name} was trained at {self.imgsz} px)"

    def predict(self, bgr: np.ndarray, picture_key: str | None = None, **options):
        """One image (H, W, 3) uint8 BGR, as ultralytics takes numpy input; its Results object.

        With ``picture_key`` (a content hash of the picture) the network runs once per picture and input size,
        and the time per stage is the time it took then."""
        with self.lock:
            # The key holds what the network's input depends on: the picture and the input size. (An NMS-free
            # head would also take max_det and agnostic_nms, but ultralytics runs every head with NMS unless
            # predict is given nms=False, which nothing here does.)
            self._picture = (picture_key, options.get("imgsz")) if picture_key else None
            self._reused_ms = None
            result = self._yolo.predict(bgr, verbose=False, device=self.device, **options)[0]
            self._keep_outputs_of(self._yolo.predictor)
            if self._reused_ms is not None:
                result.speed["inference"] = self._reused_ms
            elif self._picture in self._outputs:
                self._outputs[self._picture][1] = result.speed["inference"]
            return result

    def _keep_outputs_of(self, predictor) -> None:
        """Wrap the predictor's network call (once) so that a picture seen lately gets its kept output."""
        if predictor is None or getattr(predictor, "cvlab_keeps_outputs", False):
            return
        run_network = predictor.inference
        detector = weakref.ref(self)  # the predictor must not keep an evicted model alive

        def inference(im, *args, **kwargs):
            me = detector()
            if me is None or me._picture is None or args or kwargs:
                return run_network(im, *args, **kwargs)
            kept = me._outputs.get(me._picture)
            if kept is not None and kept[1] is not None:
                me._outputs.move_to_end(me._picture)
                me._reused_ms = kept[1]
                return kept[0]  # ultralytics' NMS filters into new tensors: the kept output stays as it was
            preds = run_network(im, *args, **kwargs)
            # only the boxes and scores NMS reads, not the feature maps beside them (several times their size)
            me._outputs[me._picture] = [preds[0] if isinstance(preds, (list, tuple)) else preds, None]
            while len(me._outputs) > NETWORK_OUTPUTS_KEPT:
                me._outputs.popitem(last=False)
            return preds

        predictor.inference = inference
        predictor.cvlab_keeps_outputs = True


def training_size(spec: DetectorSpec, yolo) -> tuple[int, str]:
    """The input side a model sees unless asked otherwise, and why: the size it was trained at.

    A network is only good at the object sizes it was trained on. Letterboxing every picture
    to the training side shows each object at the scale training gave it relative to the
    scene; a smaller side (the picture's own, say) shrinks objects below anything it saw.
    """
    if spec.kind == "random":
        return DEFAULT_IMGSZ, f"random weights, never trained: ultralytics' default {DEFAULT_IMGSZ} px"
    if spec.path is not None and spec.path.suffix == ".safetensors":
        from cvlab.detection.stored import read_header

        stored = read_header(spec.path).imgsz
        if stored:
            return stored, f"the size {spec.name} was trained at (from its weights file)"
    trained_at = (getattr(yolo.model, "args", None) or {}).get("imgsz")  # a checkpoint's training settings
    if isinstance(trained_at, int) and IMGSZ_RANGE[0] <= trained_at <= IMGSZ_RANGE[1]:
        return trained_at, f"the size {spec.name} was trained at (from its checkpoint's training settings)"
    return DEFAULT_IMGSZ, (f"ultralytics' default {DEFAULT_IMGSZ} px: "
                           "the weights do not say what size they were trained at")


_cache: OrderedDict[tuple, LoadedDetector] = OrderedDict()
_cache_lock = threading.Lock()  # guards _cache and _load_locks only: held for microseconds, never during a load
_load_locks: dict[tuple, threading.Lock] = {}  # one per model being loaded: two users asking for yolov8x load it once


def _device(settings: Settings) -> str:
    from cvlab.device import pick_device

    device = pick_device(settings.device)
    return f"cuda:{device.index or 0}" if device.type == "cuda" else device.type


def _cached(key: tuple) -> LoadedDetector | None:
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        return None


def load_detector(name: str, *, settings: Settings | None = None) -> LoadedDetector:
    """The cached model for ``name``, loading it (and evicting the least recently used) when needed.

    A load (a network check, maybe a download, unpickling) holds only that model's lock, so
    users of models already loaded never wait for it.
    """
    settings = settings or get_settings()
    spec = get_detector(name, settings)
    key = (spec.name, str(spec.path), _device(settings), str(settings.data_home))
    if (loaded := _cached(key)) is not None:
        return loaded
    with _cache_lock:
        load_lock = _load_locks.setdefault(key, threading.Lock())
    with load_lock:
        if (loaded := _cached(key)) is not None:  # loaded by another user while this one waited
            return loaded
        loaded = LoadedDetector(spec, load_yolo(spec, settings), key[2])
        with _cache_lock:
            _cache[key] = loaded
            # at most MAX_LOADED_MODELS, and their weights within the budget (two of the x-size models are
            # 0.55 GB before a picture is run); the model just loaded always stays
            while len(_cache) > 1 and (len(_cache) > MAX_LOADED_MODELS or
                                       sum(d.nbytes for d in _cache.values()) > settings.detector_cache_bytes):
                _cache.popitem(last=False)
            _load_locks.pop(key, None)
        return loaded


def model_info(name: str, *, settings: Settings | None = None) -> ModelInfo:
    return load_detector(name, settings=settings).info()


def _check_pixels(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise InvalidInput(f"Detection needs an (H, W, 3) uint8 RGB image, got {pixels.dtype} {pixels.shape}: "
                           "decode it with cvlab.data.images.decode_image first.")
    return np.ascontiguousarray(pixels[..., ::-1])  # RGB -> BGR, the channel order ultralytics expects


def _check_options(detector: LoadedDetector, conf: float, iou: float, imgsz: int, max_det: int,
                   classes: Sequence[int] | None) -> None:
    if not (0.0 <= conf <= 1.0 and 0.0 <= iou <= 1.0):
        raise InvalidInput(f"Confidence ({conf}) and IoU ({iou}) thresholds must both be between 0 and 1.")
    if not IMGSZ_RANGE[0] <= imgsz <= IMGSZ_RANGE[1]:
        raise InvalidInput(f"Image size {imgsz} px is outside {IMGSZ_RANGE[0]}..{IMGSZ_RANGE[1]} px.")
    if max_det < 1:
        raise InvalidInput(f"Max detections must be at least 1, got {max_det}.")
    bad = [c for c in classes or () if not 0 <= int(c) < len(detector.names)]
    if bad:
        raise InvalidInput(f"Class ids {bad} are not classes of {detector.spec.name}, which knows "
                           f"{len(detector.names)} (0..{len(detector.names) - 1}).")


def detect(name: str, pixels: np.ndarray, *, conf: float = 0.25, iou: float = 0.7, imgsz: int | None = None,
           classes: Sequence[int] | None = None, max_det: int = 300, agnostic_nms: bool = False,
           picture_key: str | None = None, settings: Settings | None = None) -> DetectionResult:
    """Detect objects in one (H, W, 3) uint8 RGB image with model ``name``.

    ``imgsz`` None (default) takes the size the model was trained at (``training_size``);
    ``classes`` keeps only those class ids (None: all); ``agnostic_nms`` lets boxes of
    different classes suppress each other. The other defaults are ultralytics' own.
    ``picture_key``, the pixels' content hash (``LoadedImage.content_hash``), lets a later
    call on the same picture and size reuse the network's output.
    """
    detector = load_detector(name, settings=settings)
    imgsz, reason = detector.input_size(imgsz)
    _check_options(detector, conf, iou, imgsz, max_det, classes)
    bgr = _check_pixels(pixels)
    result = detector.predict(bgr, picture_key, conf=conf, iou=iou, imgsz=imgsz, max_det=max_det,
                              agnostic_nms=agnostic_nms,
                              classes=list(map(int, classes)) if classes is not None else None)
    return _to_result(detector, result, imgsz, reason, bgr.shape)


def _arrays(result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 4) xyxy px of the input image, (N,) scores, (N,) class ids, highest score first."""
    boxes = result.boxes
    return (boxes.xyxy.cpu().numpy().astype(np.float32), boxes.conf.cpu().numpy().astype(np.float32),
            boxes.cls.cpu().numpy().astype(np.int64))


def _to_result(detector: LoadedDetector, result, imgsz: int, reason: str, shape: tuple[int, ...]) -> DetectionResult:
    xyxy, scores, labels = _arrays(result)
    detections = tuple(Detection(tuple(round(float(v), 2) for v in box), round(float(score), 4), int(label),
                                 detector.names[int(label)])
                       for box, score, label in zip(xyxy, scores, labels))
    speed = result.speed
    return DetectionResult(
        model=detector.spec.name, weights_note=detector.spec.weights_note, width=int(shape[1]),
        height=int(shape[0]), imgsz=imgsz, imgsz_reason=reason, detections=detections, names=detector.names,
        timings=StageTimings(float(speed["preprocess"]), float(speed["inference"]), float(speed["postprocess"])),
        nms_free=detector.nms_free)


@dataclass(frozen=True, eq=False)
class Candidates:
    """The model's boxes before NMS: every box whose best class score is above a low floor."""

    model: str
    boxes: np.ndarray  # (N, 4) xyxy px of the input image, highest score first
    scores: np.ndarray  # (N,)
    classes: np.ndarray  # (N,) int
    names: tuple[str, ...]
    conf_floor: float
    nms_free: bool


def candidates(name: str, pixels: np.ndarray, *, imgsz: int | None = None, conf_floor: float = CANDIDATE_CONF,
               max_candidates: int = MAX_CANDIDATES, classes: Sequence[int] | None = None,
               picture_key: str | None = None, settings: Settings | None = None) -> Candidates:
    """The boxes NMS starts from, through the real pipeline: an IoU threshold of 1 suppresses nothing.

    (Suppression needs IoU strictly above the threshold, and IoU never exceeds 1.) ``imgsz``
    None takes the model's training size, as ``detect`` does.
    """
    detector = load_detector(name, settings=settings)
    imgsz, _ = detector.input_size(imgsz)
    _check_options(detector, conf_floor, 1.0, imgsz, max_candidates, classes)
    result = detector.predict(_check_pixels(pixels), picture_key, conf=conf_floor, iou=1.0, imgsz=imgsz,
                              max_det=max_candidates, classes=list(map(int, classes)) if classes is not None else None)
    boxes, scores, labels = _arrays(result)
    return Candidates(model=name, boxes=boxes, scores=scores, classes=labels, names=detector.names,
                      conf_floor=conf_floor, nms_free=detector.nms_free)
