"""Architecture facts: what this machine counts (params, MACs, FLOPs) beside what the weights publish.

Counting needs no weights and no download: the model is built on PyTorch's
``meta`` device (shapes only, no memory, no arithmetic), so parameters are
summed and ``torch.utils.flop_counter`` traces one forward pass at the model's
own resolution in well under a second even for EfficientNet-B7 at 600 px.

FLOPs or MACs? A multiply-accumulate (MAC) is two floating-point operations.
``flop_counter`` reports FLOPs; torchvision publishes ``_ops`` under the name
"GFLOPS", yet those are GMACs (half as many). Both are kept here, labelled.

Published facts come from torchvision's weights metadata or timm's pretrained
configs, which ship inside the installed packages (a Hugging Face row names its Hub
id only: the model card is not installed). Measured latency, throughput
and memory come later (a background job, ``cvlab.zoo.measure``); until then
they are None, and ``with_measurement`` fills them in.

Counted against published MACs: ``flop_counter`` below switches off the fused
attention paths it cannot see, so ViT-B/16 and Swin count within 0.01% of
``_ops`` on the meta device and on real CPU tensors alike (with torch's defaults
a real-tensor count of ViT-B/16 is 4% low: the attention matmuls run in a fused
CPU kernel). What differences remain are rounding in the published figure:
MobileNetV3-Small's ``_ops`` of 0.057 is 0.0565 counted, 0.9% apart, and
MobileNetV3-Large 0.2% apart. ``mac_difference`` shows each one.

One ViT-B/16, three codebases: torchvision's ``vit_b_16``, timm's ``vit_base_patch16_224``
and Hugging Face's ``ViTForImageClassification`` (google/vit-base-patch16-224) count the
same 86,567,656 parameters and 17.56 GMACs at 224 px, exactly torchvision's published
``num_params`` and within 0.01% of its ``_ops``: the same layers (a 16x16 stride-16 conv,
12 blocks of 12-head attention and a 3072-wide MLP, a 1000-class head on the class token),
only their names differ (``encoder.layers.encoder_layer_5``, ``blocks.5``, ``hf.vit.layers.5``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cvlab.data.in_place import write_atomically
from cvlab.zoo.architectures import ARCHITECTURES, Architecture
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
    block: str = ""  # the building block the network repeats
    # Measured on this machine (None until measured; see with_measurement)
    latency_ms: float | None = None  # batch 1, median
    throughput_ips: float | None = None  # images per second at throughput_batch
    throughput_batch: int | None = None  # the largest batch that fitted
    peak_memory_mb: float | None = None  # MiB at batch 1
    memory_source: str | None = None  # how peak_memory_mb was obtained (a CPU figure is an estimate)

    @property
    def mac_difference(self) -> float | None:
        """Counted MACs relative to the published ones (0.01 = 1% more counted), None where none are published."""
        return None if not self.published_macs else self.macs / self.published_macs - 1


@dataclass(frozen=True)
class Counts:
    params: int
    macs: int
    flops: int
    built_on: str  # "meta" or "cpu" (a builder that computes its widths with real tensors)


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import timm
    import torch
    import torchvision

    try:  # read from its metadata: importing transformers costs a second the table may not need
        transformers = version("transformers")
    except PackageNotFoundError:
        transformers = "none"
    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "timm": timm.__version__,
            "transformers": transformers}


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

    Two fused paths hide attention from flop_counter, so both are closed meanwhile:
    in eval mode nn.MultiheadAttention takes a fast path whose projections and
    matmuls it never sees (a ViT-B/16 counts about a third low), and on real CPU
    tensors scaled_dot_product_attention runs one fused kernel it does not count
    (the attention matmuls, 4% of a ViT-B/16). The math backend spells them out.
    """
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
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
    write_atomically(path, json.dumps(table, indent=1, sort_keys=True))


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
    if arch.hub_id:
        # The Hub's model card is not in any installed package: the weights are named, nothing more.
        return {"published_params": None, "published_macs": None, "top1": None, "top5": None,
                "file_size_mb": None, "weights": arch.hub_id, "published_source": f"Hugging Face Hub {arch.hub_id}"}
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
        block=arch.block, **_published(arch))


def measured_columns(measurement) -> dict:
    """The measured columns every architecture table shares, from a ``cvlab.zoo.timing.Measurement`` (None: empty)."""
    m = measurement
    return {"latency_ms": m and m.latency_ms, "throughput_ips": m and m.throughput,
            "throughput_batch": m and m.throughput_batch, "peak_memory_mb": m and m.memory_mb,
            "memory_source": m and m.memory_source}


def with_measurement(facts: ArchitectureFacts, measurement) -> ArchitectureFacts:
    """``facts`` with the measured columns of a ``cvlab.zoo.timing.Measurement`` (None leaves them empty)."""
    return facts if measurement is None else dataclasses.replace(facts, **measured_columns(measurement))


def with_measurements(table: list[ArchitectureFacts], measured: dict) -> list[ArchitectureFacts]:
    """Each row of ``table`` with its measurement from ``{name: Measurement}`` where there is one."""
    return [with_measurement(f, measured.get(f.name)) for f in table]


def zoo_table(names: list[str] | None = None) -> list[ArchitectureFacts]:
    """Facts of ``names`` (every registered architecture by default), in registry order."""
    return [facts(name) for name in (ARCHITECTURES.names() if names is None else names)]
