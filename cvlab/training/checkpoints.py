"""Checkpoints in safetensors: model, optimizer and scheduler state, loaded back without unpickling.

safetensors holds only named tensors plus a string-to-string metadata map, so the
optimizer's tensors go in as ``optim/<param index>/<name>`` and everything that is
not a tensor (param groups, scheduler state, epoch, config) goes into the metadata
as JSON. Loading therefore never runs code from the file.

A run keeps two epoch checkpoints, not one per epoch (ResNet-18 with SGD momentum is
~90 MB a checkpoint, 18 GB for 200 epochs): the newest, which a resumed run continues
from, and the best by validation loss (``keep_newest_and_best``, called once the new
one is whole on disk, so a worker killed at any moment leaves the newest finished epoch).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from cvlab.errors import CvlabError
from cvlab.data.in_place import write_atomically

MODEL, OPTIM = "model/", "optim/"
EPOCH_PREFIX = "epoch_"


class BadCheckpoint(CvlabError):
    """A weights file that is not a checkpoint this lab wrote, or does not fit the model."""


def _contiguous(state: dict) -> dict:
    # safetensors refuses shared or strided storage (tied weights, views): save plain copies
    return {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}


def save_checkpoint(path: Path, model, optimizer=None, scheduler=None, **meta: Any) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {MODEL + k: v for k, v in _contiguous(model.state_dict()).items()}
    metadata = {"meta": json.dumps(meta, default=str)}
    if optimizer is not None:
        state = optimizer.state_dict()
        plain_state: dict[str, dict[str, Any]] = {}
        for index, values in state["state"].items():
            for name, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{OPTIM}{index}/{name}"] = value.detach().cpu().contiguous().clone()
                else:
                    plain_state.setdefault(str(index), {})[name] = value
        metadata["optimizer"] = json.dumps({"param_groups": state["param_groups"], "plain": plain_state})
    if scheduler is not None:
        metadata["scheduler"] = json.dumps(scheduler.state_dict(), default=_not_json)
    # a checkpoint is either whole or absent, even if the worker dies mid-write
    write_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def epoch_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(epoch, path) of every epoch checkpoint in ``folder``, in epoch order (numbers, not text:
    epoch_999 before epoch_1000)."""
    found = []
    for path in Path(folder).glob(f"{EPOCH_PREFIX}*.safetensors"):
        number = path.stem.removeprefix(EPOCH_PREFIX)
        if number.isdigit():
            found.append((int(number), path))
    return sorted(found)


def checkpoint_meta(path: Path) -> dict:
    """The ``meta`` of a checkpoint, read from its header alone (no tensor is loaded); {} if unreadable."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return json.loads((handle.metadata() or {}).get("meta", "{}"))
    except (SafetensorError, OSError, ValueError):
        return {}


def best_epoch(folder: Path) -> int | None:
    """The epoch with the lowest validation loss among the checkpoints (the later one on a tie)."""
    scored = []
    for epoch, path in epoch_checkpoints(folder):
        loss = checkpoint_meta(path).get("val_loss")
        if isinstance(loss, (int, float)) and math.isfinite(loss):
            scored.append((loss, -epoch))
    return -min(scored)[1] if scored else None


def keep_newest_and_best(folder: Path) -> list[int]:
    """Delete every epoch checkpoint but the newest and the best; returns the epochs kept."""
    found = epoch_checkpoints(folder)
    if not found:
        return []
    keep = {found[-1][0], best_epoch(folder)}
    for epoch, path in found:
        if epoch not in keep:
            path.unlink(missing_ok=True)
    return sorted(e for e in keep if e is not None)


def _not_json(value):
    raise TypeError(f"scheduler state holds a {type(value).__name__}, which a checkpoint cannot keep")


def read_checkpoint(path: Path) -> tuple[dict, dict, dict | None, dict | None]:
    """(model state, meta, optimizer state or None, scheduler state or None), with no pickle involved."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from safetensors import safe_open

    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise BadCheckpoint(f"{Path(path).name} is not a readable safetensors file ({err}).") from None
    model = {k[len(MODEL):]: v for k, v in tensors.items() if k.startswith(MODEL)}
    if not model:
        model = dict(tensors)  # a bare state dict written by another tool
    meta = json.loads(metadata.get("meta", "{}"))
    optimizer = None
    if "optimizer" in metadata:
        saved = json.loads(metadata["optimizer"])
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith(OPTIM):
                index, name = key[len(OPTIM):].split("/", 1)
                state.setdefault(int(index), {})[name] = value
        for index, values in saved["plain"].items():
            state.setdefault(int(index), {}).update(values)
        optimizer = {"state": state, "param_groups": saved["param_groups"]}
    scheduler = json.loads(metadata["scheduler"]) if "scheduler" in metadata else None
    return model, meta, optimizer, scheduler


def load_model_weights(model, state: dict, source: str = "the weights file") -> None:
    """Load a state dict strictly, turning a mismatch into a message that names what does not fit."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0:3]
        raise BadCheckpoint(f"{source} does not fit this model: {' '.join(first)[:400]}") from None
