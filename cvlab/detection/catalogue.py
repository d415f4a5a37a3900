"""The detector catalogue: every model the playground offers, and how each one loads.

Four kinds, one name each (the name travels in the address bar and on the command line):

- ``pretrained``: ``yolov8n``, ``yolo11s``, ``yolo26m``... ultralytics' COCO weights, found
  through ``cvlab.weights.resolve_weights_file`` (local weights folder, ultralytics'
  own weights folder, a download into the weights folder when online). Listed when
  the file is here or could be downloaded.
- ``random``: ``yolov8n-random``... the same architecture built from the YAML that
  ships inside ultralytics, with random weights: always available, visibly labelled.
- ``shipped``: ``shapes-yolo``, trained on the shapes generator's data and stored in
  ``assets/models`` as safetensors (see ``stored.py``), so an offline class sees real boxes.
- ``trained``: models trained in this app, found as ``detector.safetensors`` in run
  folders under ``CVLAB_RUNS_DIR``, or registered with ``register_trained_model``.

COCO weights are ultralytics ``.pt`` pickles from its own release page; they load
because they come from the library's publisher (or the administrator's weights
folder). A ``.pt`` a user uploads is refused unless ``CVLAB_ALLOW_UNSAFE_WEIGHTS=1``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from cvlab.detection.stored import BadWeights, UnsafeWeights
from cvlab.errors import UnknownName
from cvlab.settings import Settings, get_settings
from cvlab.syllabus import REPO_ROOT
from cvlab.zoo.task_families import YOLO_CONFIGS

SHAPES_MODEL = "shapes-yolo"
SHIPPED_DIR = REPO_ROOT / "assets" / "models"
RANDOM_SUFFIX = "-random"
TRAINED_PREFIX = "trained-"
EXPORTED_WEIGHTS = "detector.safetensors"  # what training writes into a run folder
# The release ultralytics' own downloader uses (ultralytics.utils.downloads.attempt_download_asset).
ULTRALYTICS_RELEASE = "v8.4.0"
WEIGHTS_URL = "https://github.com/ultralytics/assets/releases/download/{release}/{file}"
# Generations whose COCO detection weights ultralytics publishes (YOLOv6 has none).
_PUBLISHED = ("YOLOv3", "YOLOv5", "YOLOv8", "YOLOv9", "YOLOv10", "YOLO11", "YOLO12", "YOLO26")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

__all__ = ["BadWeights", "UnsafeWeights", "DetectorSpec", "SHAPES_MODEL", "available_detectors",
           "get_detector", "register_trained_model", "pretrained_names", "weights_file_name"]


@dataclass(frozen=True)
class DetectorSpec:
    name: str  # what the page, the URL and the command line use
    kind: str  # "pretrained", "random", "shipped" or "trained"
    title: str  # for people: "YOLOv8 n, COCO weights"
    config: str = ""  # the YOLO_CONFIGS name for pretrained and random models
    path: Path | None = None  # the safetensors file of shipped and trained models

    @property
    def random_weights(self) -> bool:
        return self.kind == "random"

    @property
    def weights_note(self) -> str:
        notes = {"pretrained": "COCO weights (80 classes) from ultralytics",
                 "random": "random weights: the architecture only, its boxes mean nothing",
                 "shipped": "trained on the lab's synthetic shapes (see assets/models)",
                 "trained": f"trained in this lab ({self.path})"}
        return notes[self.kind]


_trained: dict[str, Path] = {}
_trained_lock = threading.Lock()


def weights_file_name(config: str) -> str:
    return f"{config}.pt"


def pretrained_names() -> list[str]:
    """YOLO configs that ultralytics publishes COCO detection weights for."""
    return [name for name, entry in YOLO_CONFIGS.items() if entry.generation in _PUBLISHED]


def _title(config: str, weights: str) -> str:
    entry = YOLO_CONFIGS.get(config)
    return f"{entry.generation} {entry.size}, {weights}"


def register_trained_model(name: str, path: Path) -> DetectorSpec:
    """Make a stored model (a CV Lab ``.safetensors``) selectable as ``trained-<name>`` in this process."""
    from cvlab.detection.stored import read_header

    if not _NAME.match(name):
        raise BadWeights(f"Model name {name!r} must be letters, digits, '.', '_' or '-' (up to 64).")
    path = Path(path).resolve()
    read_header(path)  # refuse a file that is not a stored model now, not at first use
    with _trained_lock:
        _trained[name] = path
    return DetectorSpec(TRAINED_PREFIX + name, "trained", f"{name}, trained here", path=path)


def uploads_dir(settings: Settings) -> Path:
    return settings.data_home / "detection" / "uploads"


def trained_models(settings: Settings | None = None) -> list[DetectorSpec]:
    """Every ``detector.safetensors`` one or two folders down the runs folder, uploads, then registered models."""
    settings = settings or get_settings()
    found: dict[str, Path] = {}
    if settings.runs_dir.is_dir():
        for pattern in (f"*/{EXPORTED_WEIGHTS}", f"*/*/{EXPORTED_WEIGHTS}"):
            for weights in sorted(settings.runs_dir.glob(pattern)):
                run = weights.parent.relative_to(settings.runs_dir).parts[0]
                if _NAME.match(run):
                    found.setdefault(run, weights)
    for folder in (settings.data_home / "uploads", uploads_dir(settings)):  # the upload store; earlier versions
        for weights in sorted(folder.glob("*/*.safetensors")):
            found.setdefault(f"upload-{weights.parent.name}", weights)
    with _trained_lock:
        found.update(_trained)
    return [DetectorSpec(TRAINED_PREFIX + run, "trained", f"{run}, trained here", path=path)
            for run, path in found.items()]


def _shipped() -> list[DetectorSpec]:
    weights = SHIPPED_DIR / SHAPES_MODEL / "weights.safetensors"
    return [DetectorSpec(SHAPES_MODEL, "shipped", "Shapes YOLO, trained on the lab's shapes", path=weights)] \
        if weights.is_file() else []


def _pretrained_available(config: str, settings: Settings, library_dir: Path | None) -> bool:
    file = weights_file_name(config)
    places = [settings.weights_dir / file] + ([library_dir / file] if library_dir else [])
    return not settings.offline or any(place.is_file() for place in places)


def available_detectors(settings: Settings | None = None, *, library_dir: Path | None = None) -> list[DetectorSpec]:
    """Everything selectable here, in the page's order: shipped, trained, pretrained, random.

    Pretrained models are listed when their file is on disk, or whenever the server is
    not in offline mode (the download is tried, and fails with a message, on first use).
    """
    settings = settings or get_settings()
    specs = _shipped() + trained_models(settings)
    specs += [DetectorSpec(name, "pretrained", _title(name, "COCO weights"), config=name)
              for name in pretrained_names() if _pretrained_available(name, settings, library_dir)]
    specs += [DetectorSpec(name + RANDOM_SUFFIX, "random", _title(name, "random weights"), config=name)
              for name in YOLO_CONFIGS.names()]
    return specs


def get_detector(name: str, settings: Settings | None = None) -> DetectorSpec:
    """The spec of ``name``, whether or not its weights are here (loading says so); UnknownName lists the choices."""
    settings = settings or get_settings()
    if name.endswith(RANDOM_SUFFIX) and name[: -len(RANDOM_SUFFIX)] in YOLO_CONFIGS:
        config = name[: -len(RANDOM_SUFFIX)]
        return DetectorSpec(name, "random", _title(config, "random weights"), config=config)
    if name in pretrained_names():
        return DetectorSpec(name, "pretrained", _title(name, "COCO weights"), config=name)
    for spec in _shipped() + trained_models(settings):
        if spec.name == name:
            return spec
    choices = [spec.name for spec in available_detectors(settings)]
    raise UnknownName(f"Unknown detector {name!r}. Choose one of: {', '.join(choices)}.")


def coco_names() -> dict[int, str]:
    """COCO's 80 class names as ultralytics ships them (cfg/datasets/coco.yaml), without a download."""
    import ultralytics
    import yaml

    path = Path(ultralytics.__file__).parent / "cfg" / "datasets" / "coco.yaml"
    return {int(k): str(v) for k, v in yaml.safe_load(path.read_text())["names"].items()}


def load_yolo(spec: DetectorSpec, settings: Settings | None = None):
    """An ultralytics YOLO object for ``spec`` (not shared: the facade caches it and serialises its use)."""
    from cvlab.detection.ultralytics_env import library_weights_dir, ultralytics_ready

    settings = settings or get_settings()
    ultralytics_ready(settings)
    if spec.kind == "random":
        from cvlab.detection.stored import build_detector

        yolo = build_detector(spec.config, settings=settings)  # the YAML inside the ultralytics package
        if len(yolo.model.names) == 80:  # the COCO classes these configs are built for, instead of "0".."79"
            yolo.model.names = coco_names()
        return yolo
    if spec.kind in ("shipped", "trained"):
        from cvlab.detection.stored import load_stored

        if spec.path is None or not spec.path.is_file():
            raise BadWeights(f"The weights of {spec.name} are gone ({spec.path}); train or export it again.")
        return load_stored(spec.path, settings)
    return _load_pretrained(spec, settings, library_weights_dir(settings))


def _load_pretrained(spec: DetectorSpec, settings: Settings, library_dir: Path):
    from cvlab.weights import resolve_weights_file

    file = weights_file_name(spec.config)
    path, _source = resolve_weights_file(
        file, url=WEIGHTS_URL.format(release=ULTRALYTICS_RELEASE, file=file), library_dirs=[library_dir],
        what=f"{spec.name} (COCO)", settings=settings)
    return load_checkpoint_file(path, trusted=True, settings=settings)


def load_checkpoint_file(path: Path, *, trusted: bool = False, settings: Settings | None = None):
    """A YOLO object from an ultralytics ``.pt`` (a pickle) or a CV Lab ``.safetensors``.

    ``trusted`` is for files from ultralytics' release page or the administrator's
    weights folder; anything else unpickles only where ``CVLAB_ALLOW_UNSAFE_WEIGHTS`` is on.
    """
    from cvlab.detection.stored import load_stored
    from cvlab.detection.ultralytics_env import ultralytics_ready

    settings = settings or get_settings()
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        return load_stored(path, settings)
    if path.suffix.lower() not in (".pt", ".pth"):
        raise BadWeights(f"{path.name}: use a .safetensors file exported by CV Lab (or, where the server allows "
                         "it, an ultralytics .pt checkpoint).")
    if not (trusted or settings.allow_unsafe_weights):
        raise UnsafeWeights(
            f"{path.name} is a full pickle checkpoint, and loading one can run any code it contains, so this "
            "server refuses it. Upload the .safetensors file that CV Lab training writes instead, or ask the "
            "administrator to set CVLAB_ALLOW_UNSAFE_WEIGHTS=1 if everyone who can upload is trusted.")
    ultralytics_ready(settings)
    from ultralytics import YOLO

    try:
        yolo = YOLO(str(path), task="detect")
    except Exception as err:  # a text file named .pt, a truncated download, another library's checkpoint
        raise BadWeights(f"{path.name} could not be read as an ultralytics checkpoint ({type(err).__name__}: "
                         f"{str(err)[:200]}). Delete it and get a fresh copy, or choose another model.") from None
    if getattr(yolo, "task", "detect") != "detect":
        raise BadWeights(f"{path.name} is a YOLO {yolo.task} model; the playground needs a detection model.")
    return yolo


def accept_weights_upload(data: bytes, filename: str, settings: Settings | None = None, *,
                          owner: str = "local") -> DetectorSpec:
    """Check an uploaded weights file, then keep it in the upload store and make it selectable.

    The bytes are checked in a scratch folder of their own first: loaded once, so a broken
    file fails now with its reason and nothing is kept, and two users uploading the same
    file never touch each other's scratch. A pickle is refused unless the server allows it,
    and is then kept converted to safetensors, the format the lab lists. What is kept lands
    in ``cvlab.data.uploads.UploadStore`` (``<data home>/uploads/<hash>/``), counted against
    ``owner``'s disk quota, and is listed as ``trained-upload-<hash>``.
    """
    import shutil
    import tempfile

    from cvlab.data.uploads import UploadStore

    settings = settings or get_settings()
    shown = Path(filename).name[:120]
    suffix = Path(shown).suffix.lower()
    if suffix in (".pt", ".pth") and not settings.allow_unsafe_weights:
        load_checkpoint_file(Path(shown), settings=settings)  # raises UnsafeWeights before a byte is kept
    if suffix not in (".pt", ".pth", ".safetensors"):
        raise BadWeights(f"{shown}: upload a .safetensors file exported by CV Lab training.")
    settings.data_home.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="weights-check-", dir=settings.data_home))
    try:
        path = scratch / f"upload{suffix}"
        path.write_bytes(data)
        try:
            yolo = load_checkpoint_file(path, settings=settings)
        except BadWeights as err:  # named after the file the user uploaded, not the scratch copy
            raise type(err)(str(err).replace(path.name, shown)) from None
        if suffix != ".safetensors":
            from cvlab.detection.stored import save_detector

            names = [str(yolo.model.names[i]) for i in range(len(yolo.model.names))]
            data = save_detector(yolo.model, scratch / "converted.safetensors", names=names).read_bytes()
        kept = UploadStore(settings).save_file(data, f"{Path(shown).stem or 'weights'}.safetensors", owner)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return DetectorSpec(f"{TRAINED_PREFIX}upload-{kept.parent.name}", "trained", f"upload {shown}", path=kept)
