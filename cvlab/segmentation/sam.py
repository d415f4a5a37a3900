"""Segment Anything through ultralytics' SAM family: encode an image once, decode a mask per click.

SAM is three networks: a heavy image encoder (a ViT, or MobileSAM's TinyViT) that turns the
image into a 64x64x256 embedding, a prompt encoder for points and boxes, and a light mask
decoder. The point of the design, and of this module: the encoder runs once per image and its
embedding is cached here (keyed by the image's hash and the model), so each click pays only
for the prompt encoder and the decoder (tens of milliseconds on a CPU). The cache is shared and
small, so a caller that must never wait for the encoder again (a page's click) keeps the
``EncodedImage`` that ``encode`` returns and hands it back to ``segment``: it holds the embedding
itself, whatever the cache has evicted since.

Weights come through ``cvlab.weights`` (CVLAB_WEIGHTS_DIR, ultralytics' weights folder, a
download); without them the model is built with random weights by ultralytics' own builders,
and ``SamModel.weights`` says so and where the checkpoint goes. The masks of a random model
mean nothing, but its timings are the real ones. One model per process is shared by every
session; a lock serialises its calls (torch modules are not safe to run from two threads at once).

    sam = load_sam("mobile_sam")
    encoded = sam.encode(pixels)                         # once per image, ~1 s on a CPU
    result = sam.segment(pixels, SamPrompt(points=((320, 200, True),)), encoded=encoded)
    result.masks, result.scores, result.decoder_seconds
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cvlab.data.image_decoding import pixels_hash
from cvlab.errors import InvalidInput
from cvlab.registry import Registry
from cvlab.segmentation import sam_backend
from cvlab.settings import Settings, get_settings

ASSETS_URL = "https://github.com/ultralytics/assets/releases/download/v8.4.0/"
EMBEDDINGS_KEPT = 4  # per model, all sessions together: MobileSAM's is 4 MB, SAM 2's about 16 MB
MAX_POINTS = 32


@dataclass(frozen=True)
class SamVariant:
    name: str  # registry key, also the ?sam= value
    display_name: str
    checkpoint: str  # file name of ultralytics' release asset
    builder: str  # function in ultralytics.models.sam.build that makes it without a checkpoint
    family: str  # "sam" or "sam2": the two decoders take their inputs differently
    encoder: str  # what the image encoder is
    paper: str
    cpu_encoder_note: str  # measured on 2 CPU cores, to set expectations


SAM_MODELS: Registry[SamVariant] = Registry("SAM model")
for _variant in (
    SamVariant("mobile_sam", "MobileSAM", "mobile_sam.pt", "build_mobile_sam", "sam",
               "TinyViT-5M, distilled from SAM's ViT-H", "Zhang et al. (2023), Faster Segment Anything",
               "about 1 s per image"),
    SamVariant("sam_b", "SAM ViT-B", "sam_b.pt", "build_sam_vit_b", "sam", "ViT-B/16, 86 M parameters",
               "Kirillov et al. (2023), Segment Anything", "about 12 s per image"),
    SamVariant("sam2_t", "SAM 2 tiny", "sam2_t.pt", "build_sam2_t", "sam2", "Hiera-T, hierarchical",
               "Ravi et al. (2024), SAM 2: Segment Anything in Images and Videos", "about 2 s per image"),
):
    SAM_MODELS.register(_variant.name, _variant)
DEFAULT_SAM = "mobile_sam"  # the only one fast enough to encode on a CPU while a student waits


@dataclass(frozen=True)
class SamWeights:
    random: bool  # True: built without a checkpoint, masks are meaningless
    source: str  # "random weights", "local folder", "library cache", "downloaded"
    path: str | None
    message: str  # for people: where the weights came from, or where to put them


@dataclass(frozen=True)
class SamPrompt:
    points: tuple[tuple[float, float, bool], ...] = ()  # (x, y, positive) in image pixels
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in image pixels

    def check(self, width: int, height: int) -> None:
        if not self.points and self.box is None:
            raise InvalidInput("Give SAM a prompt: click a point on the object, or draw or type a box.")
        if len(self.points) > MAX_POINTS:
            raise InvalidInput(f"{len(self.points)} points is more than {MAX_POINTS}; clear some and try again.")
        for x, y, _ in self.points:
            if not (0 <= x < width and 0 <= y < height):
                raise InvalidInput(f"Point ({x:g}, {y:g}) lies outside the {width}x{height} image.")
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                raise InvalidInput(f"Box {self.box} must have x0 < x1 and y0 < y1 inside the {width}x{height} "
                                   "image (x0, y0 is the top-left corner).")


@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class SamResult:
    masks: np.ndarray  # (K, H, W) bool; K = 3 with multimask output, else 1
    scores: tuple[float, ...]  # SAM's own estimate of each mask's IoU
    model: str
    random_weights: bool
    embedding_cached: bool  # True: this call reused the image's embedding
    encoder_seconds: float  # what encoding this image took (when it was encoded)
    decoder_seconds: float  # this call: prompt encoder + mask decoder + upsampling to the image

    @property
    def best(self) -> int:
        return int(np.argmax(self.scores))

    @property
    def areas(self) -> tuple[int, ...]:
        return tuple(int(m.sum()) for m in self.masks)


@dataclass(frozen=True)
class EncodedImage:
    key: str  # "<model>:<image hash>"
    seconds: float  # encoder time when it was computed
    cached: bool  # True: it was in the cache already
    embedding: Any = field(default=None, repr=False, compare=False)  # the tensors; holding them keeps them

    def matches(self, model: str, pixels: np.ndarray) -> bool:
        """True when this is the embedding of ``pixels`` by ``model`` (one hash of the image, a few ms)."""
        return self.embedding is not None and self.key == f"{model}:{pixels_hash(pixels)}"


class SamModel:
    """One SAM shared by every session of a process: embeddings cached, calls serialised."""

    def __init__(self, variant: SamVariant, module: Any, weights: SamWeights, device: Any) -> None:
        self.variant, self.weights, self.device = variant, weights, device
        self._module = module
        self._lock = threading.RLock()
        self._embeddings: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self.encoder_calls = 0  # how many times the image encoder really ran

    def encode(self, pixels: np.ndarray) -> EncodedImage:
        """The image's embedding, computed now or taken from the cache."""
        key = f"{self.variant.name}:{pixels_hash(pixels)}"
        with self._lock:
            if key in self._embeddings:
                self._embeddings.move_to_end(key)
                embedding, seconds = self._embeddings[key]
                return EncodedImage(key, seconds, True, embedding)
            start = time.perf_counter()
            embedding = sam_backend.encode(self._module, self.variant.family, _checked_rgb(pixels), self.device)
            seconds = time.perf_counter() - start
            self.encoder_calls += 1
            self._embeddings[key] = (embedding, seconds)
            while len(self._embeddings) > EMBEDDINGS_KEPT:
                self._embeddings.popitem(last=False)
            return EncodedImage(key, seconds, False, embedding)

    def segment(self, pixels: np.ndarray, prompt: SamPrompt, *, multimask: bool = True,
                encoded: EncodedImage | None = None) -> SamResult:
        """Masks for a prompt. ``encoded`` (what ``encode`` returned for these pixels) is used as it is;
        without it the image is encoded first, unless the cache holds it."""
        height, width = _checked_rgb(pixels).shape[:2]
        prompt.check(width, height)
        if encoded is not None and not encoded.matches(self.variant.name, pixels):
            raise InvalidInput(f"The embedding given is not {self.variant.display_name}'s of this image; "
                               "encode the image with this model and pass what encode returned.")
        with self._lock:
            if encoded is None:
                encoded = self.encode(pixels)
            else:
                encoded = EncodedImage(encoded.key, encoded.seconds, True, encoded.embedding)
            start = time.perf_counter()
            masks, scores = sam_backend.decode(self._module, self.variant.family, encoded.embedding,
                                               (height, width), prompt.points, prompt.box, multimask, self.device)
            seconds = time.perf_counter() - start
        return SamResult(masks, tuple(float(s) for s in scores), self.variant.name, self.weights.random,
                         encoded.cached, encoded.seconds, seconds)


def _checked_rgb(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise InvalidInput(f"SAM takes an (H, W, 3) uint8 RGB image; got {pixels.shape} {pixels.dtype}. "
                           "Decode it with cvlab.data.images.decode_image first.")
    return pixels


def _library_dirs(settings: Settings) -> list[Path]:
    from cvlab.detection.ultralytics_env import library_weights_dir

    return [library_weights_dir(settings)]


def _load_checkpoint(module: Any, path: Path, settings: Settings) -> None:
    """A state dict read with weights_only=True: a checkpoint file never runs code here."""
    import torch

    from cvlab.weights import WeightsUnavailable

    try:
        state = torch.load(path, map_location="cpu", weights_only=not settings.allow_unsafe_weights)
    except Exception as err:
        raise WeightsUnavailable(f"{path} is not a plain state dict ({type(err).__name__}). Put the checkpoint "
                                 "from ultralytics' releases there, or set CVLAB_ALLOW_UNSAFE_WEIGHTS=1 if "
                                 "you trust the file.") from None
    state = state.get("model", state) if isinstance(state, dict) else state
    module.load_state_dict(state)


def build_sam_model(name: str, *, settings: Settings | None = None, device: Any = None) -> SamModel:
    """A new SamModel: the checkpoint when it can be had, random weights (labelled) otherwise."""
    import torch

    from cvlab.detection.ultralytics_env import ultralytics_ready
    from cvlab.device import pick_device
    from cvlab.weights import WeightsUnavailable, resolve_weights_file

    variant = SAM_MODELS.get(name)
    settings = settings or get_settings()
    ultralytics_ready(settings)  # before the first import: no pip installs, no analytics, its log on stderr
    from ultralytics.models.sam import build

    module = getattr(build, variant.builder)()  # no checkpoint: random weights, nothing downloaded
    try:
        path, source = resolve_weights_file(variant.checkpoint, url=ASSETS_URL + variant.checkpoint,
                                            library_dirs=_library_dirs(settings), what=variant.display_name,
                                            settings=settings)
        _load_checkpoint(module, path, settings)
        weights = SamWeights(False, source, str(path), f"{variant.display_name} weights from {path} ({source}).")
    except WeightsUnavailable as err:
        weights = SamWeights(True, "random weights", None, f"{variant.display_name} has RANDOM weights: its masks "
                             f"are meaningless, its timings are real. {err}")
    device = torch.device(device) if device is not None else pick_device(settings.device)
    return SamModel(variant, module.to(device).eval(), weights, device)


_MODELS: dict[tuple[str, str], SamModel] = {}
_MODELS_LOCK = threading.Lock()


def load_sam(name: str = DEFAULT_SAM, *, settings: Settings | None = None, device: Any = None) -> SamModel:
    """The process-wide SamModel of a variant (built on first use), shared read-only."""
    settings = settings or get_settings()
    key = (name, str(device or settings.device), str(settings.weights_dir))
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = build_sam_model(name, settings=settings, device=device)
        return _MODELS[key]


def parse_point(text: str) -> tuple[float, float, bool]:
    """``"x,y"`` or ``"x,y,+"`` (object) / ``"x,y,-"`` (background) -> (x, y, positive)."""
    parts = [p.strip() for p in text.split(",")]
    sign = parts.pop() if len(parts) == 3 else "+"
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(f"Write a point as x,y or x,y,+ / x,y,- (got {text!r}).") from None
    if sign not in ("+", "-", "1", "0"):
        raise InvalidInput(f"A point's third value is + (object) or - (background); got {sign!r}.")
    return x, y, sign in ("+", "1")


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"x0,y0,x1,y1"`` (top-left and bottom-right corners, pixels) -> a tuple."""
    try:
        x0, y0, x1, y1 = (float(p) for p in text.split(","))
    except ValueError:
        raise InvalidInput(f"Write a box as x0,y0,x1,y1 in pixels (got {text!r}).") from None
    return x0, y0, x1, y1


def parse_points(text: str) -> tuple[tuple[float, float, bool], ...]:
    """``"120,80,+; 200,90,-"`` -> points; an empty text is no points."""
    return tuple(parse_point(part) for part in text.replace("\n", ";").split(";") if part.strip())


def format_points(points: tuple[tuple[float, float, bool], ...]) -> str:
    return "; ".join(f"{x:g},{y:g},{'+' if positive else '-'}" for x, y, positive in points)


def mask_png(mask: np.ndarray) -> bytes:
    """A mask (H, W) bool as a black-and-white PNG (255 = object)."""
    return _png(mask.astype(np.uint8) * 255)


def cutout_png(pixels: np.ndarray, mask: np.ndarray) -> bytes:
    """The masked object as an RGBA PNG: transparent outside the mask."""
    return _png(np.dstack([pixels, mask.astype(np.uint8) * 255]))


def _png(array: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()
