"""YOLO models stored without pickle: safetensors weights + the name of a known architecture + class names.

An ultralytics ``.pt`` checkpoint is a full pickle, and unpickling runs whatever
code the file names. The lab's own models (the shipped ``shapes-yolo``, models
trained here, safe uploads) are stored instead as one ``.safetensors`` file of
plain tensors whose header metadata holds:

- ``format``: ``cvlab-yolo/1``
- ``config``: the architecture's config file name, ``yolov8n.yaml``: a name of the
  ``YOLO_CONFIGS`` registry (the configs that ship inside ultralytics) plus ``.yaml``
- ``names``: the class names as a JSON list; ``imgsz``: the training image size
- ``config_yaml``: the config's text, for people to read (a copy is written beside
  the weights too). It is never built from.

Why a name and not the YAML: ultralytics builds a model from a config by
``eval``-ing its strings (``activation``, layer names and arguments, nested model
classes) and by instantiating any ``torch.nn`` class it names, with any sizes. A
config that came in an uploaded file is code, and its sizes decide how much
memory the build takes. So the file only picks one of the architectures the lab
knows, by name; the class count comes from its list of names (capped). Before a
byte of it is allocated, the model is laid out on the ``meta`` device and every
tensor shape in the file's header is compared with it, and the parameter count is
capped: a file that does not fit is refused having cost a few kilobytes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cvlab.errors import CvlabError
from cvlab.settings import Settings

FORMAT = "cvlab-yolo/1"
MAX_CLASSES = 1000  # COCO has 80, Objects365 365, LVIS 1203 (not a YOLO config the lab ships)
MAX_CLASS_NAME = 100  # characters
MAX_PARAMETERS = 150_000_000  # the largest architecture the lab knows, YOLOv3u, has ~104 M
_CONFIG_NAME = re.compile(r"^([a-z0-9-]{1,40})\.ya?ml$")
_STORED_DTYPES = {"F16", "BF16", "F32", "F64", "I64"}  # floats of any width; BatchNorm's counter is an int64


class BadWeights(CvlabError):
    """A weights file that cannot be used; the message says what is wrong with it and what to do."""


class UnsafeWeights(BadWeights):
    """A full-pickle checkpoint refused because this server does not allow unpickling uploads."""


@dataclass(frozen=True)
class StoredHeader:
    """What a stored model's safetensors header says, read without loading a tensor."""

    path: Path
    architecture: str  # "yolov8n": a YOLO_CONFIGS name
    names: tuple[str, ...]
    imgsz: int | None  # px per side it was trained at
    extra: dict  # anything else the writer recorded (dataset, epochs, command)
    shapes: dict[str, tuple[int, ...]]  # tensor name -> shape, from the header alone

    @property
    def config_name(self) -> str:
        return f"{self.architecture}.yaml"


def _known_architectures() -> list[str]:
    from cvlab.zoo.task_families import YOLO_CONFIGS

    return list(YOLO_CONFIGS.names())


def read_header(path: Path) -> StoredHeader:
    """The metadata and tensor shapes of a stored model; BadWeights when the file is not one the lab can use."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            shapes, dtypes = {}, set()
            for key in handle.keys():
                tensor = handle.get_slice(key)
                shapes[key] = tuple(int(n) for n in tensor.get_shape())
                dtypes.add(str(tensor.get_dtype()))
    except (SafetensorError, OSError, ValueError) as err:
        raise BadWeights(f"{path.name} is not a readable safetensors file ({err}). Export the model again, "
                         "or choose another model.") from None
    if meta.get("format") != FORMAT:
        raise BadWeights(f"{path.name} is a safetensors file but not a YOLO model saved by CV Lab (its header has "
                         f"no format={FORMAT}). Train or export the model here, or upload the .safetensors file "
                         "that training wrote.")
    try:
        names = tuple(json.loads(meta["names"]))
        extra = json.loads(meta.get("extra", "{}"))
        config_name = meta["config"]
    except (KeyError, ValueError, TypeError, RecursionError) as err:  # RecursionError: JSON nested 100,000 deep
        raise BadWeights(f"{path.name}: its header lacks or garbles {str(err)[:80]}; export the model again.") from None
    if not (1 <= len(names) <= MAX_CLASSES and all(isinstance(n, str) and 0 < len(n) <= MAX_CLASS_NAME
                                                     for n in names)):
        raise BadWeights(f"{path.name}: its class names must be 1 to {MAX_CLASSES} strings of up to "
                         f"{MAX_CLASS_NAME} characters; export the model again.")
    if not dtypes <= _STORED_DTYPES:
        raise BadWeights(f"{path.name} holds tensors of type {', '.join(sorted(dtypes - _STORED_DTYPES))}; "
                         "a YOLO model stores floats only. Export the model again.")
    match = _CONFIG_NAME.match(str(config_name))
    architecture = match.group(1) if match else ""
    if architecture not in _known_architectures():
        raise BadWeights(f"{path.name} says it is a {str(config_name)[:60]!r} model, which is not an architecture "
                         f"this lab knows; it loads only {', '.join(_known_architectures())}. Train the model here, "
                         "or export it from one of those.")
    imgsz = int(meta["imgsz"]) if re.fullmatch(r"[0-9]{2,4}", str(meta.get("imgsz", ""))) else None  # 32..1280
    return StoredHeader(path, architecture, names, imgsz, extra if isinstance(extra, dict) else {}, shapes)


def build_detector(architecture: str, classes: int | None = None, settings: Settings | None = None):
    """An ultralytics ``YOLO`` of a known architecture with random weights (``classes`` classes, else the
    config's own), built from the config that ships inside ultralytics by its explicit path.

    ``YOLO("yolov8n.yaml")`` would look for that name in the working directory before the
    package, and build from whatever it found there; and wrapping a model of our own in
    ``YOLO(...)`` would build a second one to throw away (1.3 GB for YOLOv3u). So the
    wrapper's one step that builds (``Model._new``, taken for a ``.yaml`` name) is given
    the model built here instead.
    """
    from cvlab.detection.ultralytics_env import ultralytics_ready

    ultralytics_ready(settings)
    from ultralytics import YOLO
    from ultralytics.cfg import DEFAULT_CFG_DICT
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel(_architecture_config(architecture, classes), verbose=False)

    class _BuiltHere(YOLO):
        def _new(self, cfg: str, task: str | None = None, verbose: bool = False) -> None:
            self.cfg, self.task, self.model, self.model_name = cfg, "detect", model, cfg
            self.overrides.update(model=cfg, task="detect")
            model.args, model.task = {**DEFAULT_CFG_DICT, **self.overrides}, "detect"

    return _BuiltHere(f"{architecture}.yaml", task="detect")


def _architecture_config(architecture: str, classes: int | None) -> dict:
    """The config of ``architecture`` as ultralytics ships it, with its scale letter and class count set."""
    import copy

    from ultralytics.utils import YAML

    from cvlab.zoo.task_families import YOLO_CONFIGS, config_path

    cfg = copy.deepcopy(YAML.load(config_path(architecture)))
    cfg["scale"] = YOLO_CONFIGS.get(architecture).scale
    cfg["yaml_file"] = f"{architecture}.yaml"
    if classes is not None:
        cfg["nc"] = classes  # in the config itself: ultralytics logs an "overriding nc" line for the argument
    return cfg


@lru_cache(maxsize=32)
def expected_shapes(architecture: str, classes: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of ``architecture`` with ``classes`` classes, laid out on the meta device (nothing allocated).

    Only the layers are built (``_initialize_yolo_model``, what ``DetectionModel``
    starts with); its stride probe and bias initialisation need real numbers and
    change no shape.
    """
    import torch
    from ultralytics.nn.tasks import DetectionModel, _initialize_yolo_model

    skeleton = DetectionModel.__new__(DetectionModel)
    torch.nn.Module.__init__(skeleton)
    with torch.device("meta"):
        _initialize_yolo_model(skeleton, _architecture_config(architecture, classes), 3, None, False)
    return {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}


def check_fits(header: StoredHeader) -> None:
    """Refuse a file whose tensors are not exactly those of its architecture, before anything is allocated."""
    expected = expected_shapes(header.architecture, len(header.names))
    parameters = sum(math.prod(shape) for shape in expected.values())
    if parameters > MAX_PARAMETERS:
        raise BadWeights(f"{header.path.name}: a {header.architecture} with {len(header.names)} classes has "
                         f"{parameters:,} parameters, over the lab's limit of {MAX_PARAMETERS:,}.")
    found = header.shapes
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    if missing or unexpected or wrong:
        parts = [f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
                 f"{len(unexpected)} unexpected (e.g. {unexpected[0][:80]})" if unexpected else "",
                 f"{len(wrong)} of the wrong shape (e.g. {wrong[0]})" if wrong else ""]
        raise BadWeights(f"{header.path.name} does not fit its model config ({header.architecture}, "
                         f"{len(header.names)} classes): tensors {', '.join(p for p in parts if p)}. The weights "
                         "belong to another model; export them again with their own config.")


def save_detector(model, path: Path, *, names: tuple[str, ...] | list[str], imgsz: int | None = None,
                  extra: dict | None = None, half: bool = False) -> Path:
    """Write an ultralytics DetectionModel as safetensors (+ its YAML beside it); return the weights path.

    ``half`` stores float16 (half the file; loading converts back to the model's float32).
    The model must be one of the lab's known architectures, so that what is saved can be loaded.
    """
    import yaml
    from safetensors.torch import save_file

    config_name = Path(str(model.yaml.get("yaml_file") or "yolo.yaml")).name
    match = _CONFIG_NAME.match(config_name)
    if not match or match.group(1) not in _known_architectures():
        raise BadWeights(f"A model built from {config_name!r} cannot be stored: the lab stores and loads only "
                         f"its known architectures ({', '.join(_known_architectures())}).")
    config = {k: v for k, v in dict(model.yaml).items() if k != "yaml_file"}
    config["nc"] = len(names)
    config_yaml = yaml.safe_dump(config, sort_keys=False)
    # fresh copies: safetensors refuses tensors that share storage
    tensors = {key: _stored_dtype(value.detach(), half).contiguous().clone()
               for key, value in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": FORMAT, "config": config_name, "config_yaml": config_yaml,
                "names": json.dumps(list(names)), "extra": json.dumps(extra or {})}
    if imgsz:
        metadata["imgsz"] = str(int(imgsz))
    save_file(tensors, str(path), metadata=metadata)
    (path.parent / config_name).write_text(config_yaml)
    return path


def _stored_dtype(tensor, half: bool):
    if not tensor.is_floating_point():
        return tensor  # BatchNorm's num_batches_tracked is an integer count
    return tensor.half() if half else tensor.float()


def load_stored(path: Path, settings: Settings | None = None):
    """An ultralytics YOLO object of the file's architecture, with its tensors loaded strictly.

    The model is built from the config that ships with ultralytics for the named
    architecture (``build_detector``), never from text in the file, and only once
    ``check_fits`` has compared every shape.
    """
    from safetensors.torch import load_file

    header = read_header(path)
    check_fits(header)
    yolo = build_detector(header.architecture, len(header.names), settings)
    state = yolo.model.state_dict()
    tensors = load_file(str(path))
    yolo.model.load_state_dict({k: v.to(state[k].dtype) for k, v in tensors.items()}, strict=True)
    yolo.model.names = dict(enumerate(header.names))
    return yolo
