"""YOLO models stored without pickle: safetensors weights + the model's YAML config + class names.

An ultralytics ``.pt`` checkpoint is a full pickle, and unpickling runs whatever
code the file names. The lab's own models (the shipped ``shapes-yolo``, models
trained here, safe uploads) are stored instead as one ``.safetensors`` file of
plain tensors whose header metadata holds:

- ``format``: ``cvlab-yolo/1``
- ``config`` / ``config_yaml``: the model's YAML file name and text (what
  ``DetectionModel`` is built from; the name carries the scale letter, as in
  ``yolov8n.yaml``, because ultralytics reads the scale from it)
- ``names``: the class names as a JSON list; ``imgsz``: the training image size

A copy of the YAML is written beside the weights for people to read. Loading
builds the model from the YAML and loads the tensors strictly: a missing,
unexpected or mis-shaped tensor is an error, never a half-loaded model.

A YAML config is code of a kind: ultralytics ``eval``s its ``activation`` and
looks its layer names up among module globals. ``check_config`` therefore admits
only torch / ultralytics layer classes and a fixed list of activations.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cvlab.errors import CvlabError
from cvlab.settings import Settings, get_settings

FORMAT = "cvlab-yolo/1"
_ACTIVATION = re.compile(r"^nn\.(SiLU|ReLU|ReLU6|LeakyReLU|GELU|Hardswish|Mish|Sigmoid|Tanh)\(\s*[0-9.]*\s*\)$")
_CONFIG_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}\.ya?ml$")


class BadWeights(CvlabError):
    """A weights file that cannot be used; the message says what is wrong with it and what to do."""


class UnsafeWeights(BadWeights):
    """A full-pickle checkpoint refused because this server does not allow unpickling uploads."""


@dataclass(frozen=True)
class StoredHeader:
    """What a stored model's safetensors header says, read without loading a tensor."""

    path: Path
    config_name: str  # "yolov8n.yaml"
    config_yaml: str
    names: tuple[str, ...]
    imgsz: int | None  # px per side it was trained at
    extra: dict  # anything else the writer recorded (dataset, epochs, command)


def read_header(path: Path) -> StoredHeader:
    """The metadata of a stored model; BadWeights when the file is not one."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise BadWeights(f"{path.name} is not a readable safetensors file ({err}). Export the model again, "
                         "or choose another model.") from None
    if meta.get("format") != FORMAT:
        raise BadWeights(f"{path.name} is a safetensors file but not a YOLO model saved by CV Lab (its header has "
                         f"no format={FORMAT}). Train or export the model here, or upload the .safetensors file "
                         "that training wrote.")
    try:
        names = tuple(str(n) for n in json.loads(meta["names"]))
        extra = json.loads(meta.get("extra", "{}"))
        config_name, config_yaml = meta["config"], meta["config_yaml"]
    except (KeyError, ValueError, TypeError) as err:
        raise BadWeights(f"{path.name}: its header lacks or garbles {err}; export the model again.") from None
    if not _CONFIG_NAME.match(config_name):
        raise BadWeights(f"{path.name}: the config name {config_name!r} is not a plain .yaml file name.")
    imgsz = int(meta["imgsz"]) if str(meta.get("imgsz", "")).isdigit() else None
    return StoredHeader(path, config_name, config_yaml, names, imgsz, extra)


def check_config(cfg: dict, names: tuple[str, ...]) -> None:
    """Refuse configs that would make ultralytics run arbitrary code or disagree with the class names."""
    import torch
    import torchvision.ops  # noqa: F401 - ultralytics resolves "torchvision.ops.X" layers through it
    from ultralytics.nn import tasks

    activation = cfg.get("activation")
    if activation is not None and not _ACTIVATION.match(str(activation)):
        raise BadWeights(f"The model config's activation {activation!r} is not one of the plain torch activations "
                         "(nn.SiLU(), nn.ReLU(), ...); it is refused because ultralytics evaluates it as code.")
    layers = list(cfg.get("backbone") or []) + list(cfg.get("head") or [])
    if not layers:
        raise BadWeights("The model config has no backbone/head layers; it is not a YOLO model config.")
    for layer in layers:
        module = str(layer[2]) if isinstance(layer, (list, tuple)) and len(layer) == 4 else ""
        if module.startswith("nn."):
            found = getattr(torch.nn, module[3:], None)
        elif module.startswith("torchvision.ops."):
            found = getattr(__import__("torchvision").ops, module[16:], None)
        else:
            found = vars(tasks).get(module)
        if not (isinstance(found, type) and issubclass(found, torch.nn.Module)):
            raise BadWeights(f"The model config names layer {module or layer!r}, which is not a torch or "
                             "ultralytics layer class; the file is refused.")
    if int(cfg.get("nc", -1)) != len(names):
        raise BadWeights(f"The model config says nc={cfg.get('nc')} classes but the file names {len(names)}; "
                         "export the model again.")


def save_detector(model, path: Path, *, names: tuple[str, ...] | list[str], imgsz: int | None = None,
                  extra: dict | None = None, half: bool = False) -> Path:
    """Write an ultralytics DetectionModel as safetensors (+ its YAML beside it); return the weights path.

    ``half`` stores float16 (half the file; loading converts back to the model's float32).
    """
    import yaml
    from safetensors.torch import save_file

    config = {k: v for k, v in dict(model.yaml).items() if k != "yaml_file"}
    config["nc"] = len(names)
    config_name = Path(str(model.yaml.get("yaml_file") or "yolo.yaml")).name
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


def _config_file(header: StoredHeader, settings: Settings) -> Path:
    """The YAML to build from: the copy beside the weights, else the header's text written to the data home."""
    beside = header.path.parent / header.config_name
    if beside.is_file() and beside.read_text() == header.config_yaml:
        return beside
    digest = hashlib.blake2b(header.config_yaml.encode(), digest_size=8).hexdigest()
    target = settings.data_home / "detection" / "configs" / digest / header.config_name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(header.config_yaml)
    return target


def load_stored(path: Path, settings: Settings | None = None):
    """An ultralytics YOLO object built from a stored model's config, with its tensors loaded strictly."""
    import yaml
    from safetensors.torch import load_file

    settings = settings or get_settings()
    header = read_header(path)
    try:
        cfg = yaml.safe_load(header.config_yaml)
    except yaml.YAMLError as err:
        raise BadWeights(f"{path.name}: its model config is not valid YAML ({err}).") from None
    if not isinstance(cfg, dict):
        raise BadWeights(f"{path.name}: its model config is not a YAML mapping.")
    check_config(cfg, header.names)
    from ultralytics import YOLO

    yolo = YOLO(str(_config_file(header, settings)), task="detect")
    _load_tensors(yolo.model, load_file(str(path)), path.name)
    yolo.model.names = dict(enumerate(header.names))
    return yolo


def _load_tensors(model, tensors: dict, shown: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if tuple(expected[k].shape) != tuple(tensors[k].shape))
    if missing or unexpected or wrong:
        parts = [f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
                 f"{len(unexpected)} unexpected (e.g. {unexpected[0]})" if unexpected else "",
                 f"{len(wrong)} of the wrong shape (e.g. {wrong[0]})" if wrong else ""]
        raise BadWeights(f"{shown} does not fit its model config: tensors {', '.join(p for p in parts if p)}. "
                         "The weights belong to another model; export them again with their own config.")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, strict=True)
