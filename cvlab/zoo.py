"""Architecture facts: what this machine counts (params, MACs, FLOPs) beside what the weights publish.

Counting needs no weights and no download: the model is built on PyTorch's
``meta`` device (shapes only, no memory, no arithmetic), so parameters are
summed and ``torch.utils.flop_counter`` traces one forward pass at the model's
own resolution in well under a second even for EfficientNet-B7 at 600 px.

FLOPs or MACs? A multiply-accumulate (MAC) is two floating-point operations.
``flop_counter`` reports FLOPs; torchvision publishes ``_ops`` under the name
"GFLOPS", yet those are GMACs (half as many). Both are kept here, labelled.

Published facts come from torchvision's weights metadata or timm's pretrained
configs, which ship inside the installed packages. Measured latency, throughput
and memory come later (a background job); until then ``latency_ms`` is None.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cvlab.models import ARCHITECTURES, Architecture
from cvlab.settings import get_settings



@dataclass(frozen=True)
class ArchitectureFacts:
    name: str
    title: str
    family: str
    year: int
    input_size: int  # pixels per side the counts were made at
    params: int  # counted from the model definition
    params_source: str
    macs: int  # multiply-accumulates of one image, counted
    flops: int  # floating-point operations of one image = 2 * macs, counted
    flops_source: str
    published_params: int | None  # from the weights' metadata, where published
    published_macs: int | None  # torchvision's `_ops` (named GFLOPS there, GMACs in fact) * 1e9
    top1: float | None  # ImageNet-1K accuracy of the published weights, percent
    top5: float | None
    file_size_mb: float | None  # the weights file as published
    weights: str | None  # which published weights these facts belong to
    published_source: str | None  # where top1 / top5 / file size / published counts were read
    latency_ms: float | None = None  # measured on this machine: not yet (a later background job)


@dataclass(frozen=True)
class Counts:
    params: int
    macs: int
    flops: int
    built_on: str  # "meta" or "cpu" (a builder that computes its widths with real tensors)


def library_versions() -> dict[str, str]:
    import timm
    import torch
    import torchvision

    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "timm": timm.__version__}


def versioned_cache_file(data_home: Path, prefix: str, versions: dict[str, str]) -> Path:
    """One JSON file per set of library versions: a new torch may count differently."""
    key = "-".join(f"{lib}{version}" for lib, version in versions.items()).replace("+", "_")
    return Path(data_home) / "zoo" / f"{prefix}-{key}.json"


def cache_file(data_home: Path) -> Path:
    return versioned_cache_file(data_home, "counts", library_versions())


def _build_shapes_only(arch: Architecture):
    """The model on the meta device; on CPU when its builder needs real tensors (RegNet computes widths)."""
    import torch

    try:
        with torch.device("meta"):
            return arch.build().eval(), "meta"
    except (NotImplementedError, RuntimeError):
        return arch.build().eval(), "cpu"


def flop_counter(model, x):
    """Run ``model(x)`` under torch's FlopCounterMode and return the counter (FLOPs = 2 x MACs).

    In eval mode nn.MultiheadAttention takes a fused kernel that flop_counter cannot
    see (a ViT-B/16 then counts about a third low), so the fast path is off meanwhile.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return counter


def count(arch: Architecture) -> Counts:
    """Parameters, MACs and FLOPs of one image at ``arch.input_size``, from the real definition."""
    import torch

    model, built_on = _build_shapes_only(arch)
    params = sum(p.numel() for p in model.parameters())
    device = next(model.parameters()).device
    x = torch.empty(1, 3, arch.input_size, arch.input_size, device=device)  # (B, C, H, W)
    flops = int(flop_counter(model, x).get_total_flops())
    return Counts(params, flops // 2, flops, built_on)


def read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_cache(path: Path, name: str, entry: dict) -> None:
    """Merge one entry and replace the file atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = read_cache(path)
    table[name] = entry
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        json.dump(table, out, indent=1, sort_keys=True)
    os.replace(tmp, path)


def cached_entry(path: Path, key: str, compute: Callable[[], dict]) -> dict:
    """``key``'s entry in the JSON cache at ``path``, computed and stored the first time."""
    entry = read_cache(path).get(key)
    if entry is None:
        entry = compute()
        write_cache(path, key, entry)
    return entry


@functools.cache
def _cached_counts(name: str, input_size: int, data_home: str) -> Counts:
    entry = cached_entry(cache_file(Path(data_home)), f"{name}@{input_size}",
                         lambda: vars(count(ARCHITECTURES.get(name))))
    return Counts(**entry)


def _published(arch: Architecture) -> dict:
    """Facts that ship with the library's weights metadata; nothing is downloaded."""
    if arch.weights:
        from torchvision.models import get_weight

        meta = get_weight(arch.weights).meta
        metrics = meta.get("_metrics", {}).get("ImageNet-1K", {})
        ops = meta.get("_ops")
        return {"published_params": meta.get("num_params"),
                "published_macs": round(ops * 1e9) if ops is not None else None,
                "top1": metrics.get("acc@1"), "top5": metrics.get("acc@5"),
                "file_size_mb": meta.get("_file_size"), "weights": arch.weights,
                "published_source": f"torchvision {arch.weights}"}
    if arch.timm_name:
        import timm

        cfg = timm.models.get_pretrained_cfg(arch.timm_name)
        tag = cfg.hf_hub_id.split("/")[-1] if cfg and cfg.hf_hub_id else arch.timm_name
        # timm's configs name the weights but carry no accuracy, size or op counts.
        return {"published_params": None, "published_macs": None, "top1": None, "top5": None,
                "file_size_mb": None, "weights": tag, "published_source": f"timm pretrained_cfg {tag}"}
    return {"published_params": None, "published_macs": None, "top1": None, "top5": None,
            "file_size_mb": None, "weights": None, "published_source": None}


def facts(name: str) -> ArchitectureFacts:
    """Counted and published facts of one architecture; counts are cached in memory and on disk."""
    arch = ARCHITECTURES.get(name)
    counts = _cached_counts(name, arch.input_size, str(get_settings().data_home))
    where = "on the meta device" if counts.built_on == "meta" else "on CPU (builder needs real tensors)"
    return ArchitectureFacts(
        name=name, title=arch.title, family=arch.family, year=arch.year, input_size=arch.input_size,
        params=counts.params, params_source=f"counted here from the model definition, {where}",
        macs=counts.macs, flops=counts.flops,
        flops_source=f"counted here: torch.utils.flop_counter at {arch.input_size} px, FLOPs = 2 x MACs",
        **_published(arch))


def zoo_table(names: list[str] | None = None) -> list[ArchitectureFacts]:
    """Facts of ``names`` (every registered architecture by default), in registry order."""
    return [facts(name) for name in (ARCHITECTURES.names() if names is None else names)]
