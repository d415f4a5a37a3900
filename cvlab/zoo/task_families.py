"""Detection and segmentation families of the architecture comparison: YOLO generations and smp U-Nets.

Every YOLO model is built from the config YAML that the installed ultralytics ships
(``ultralytics/cfg/models``), never from weights, so nothing is downloaded. The
YAML is read here and its scale letter set explicitly (ultralytics would take it
from a file name such as ``yolov8n.yaml``: the first of n/s/m/l/x after the
version digits), then ``ultralytics.nn.tasks.DetectionModel`` builds it on CPU.

FLOPs or MACs? ``torch.utils.flop_counter`` traces one forward pass at 640 px
and reports FLOPs (a multiply-accumulate is 2 FLOPs); MACs are half. ultralytics'
own ``model.info`` prints "GFLOPs" from thop, which are 2 x thop's MACs and so
FLOPs too; they are kept beside ours (``ultralytics_gflops``). Ours are a little
lower (YOLOv8n 8.74 against 8.86, YOLO12n 7.47 against 7.63) because thop also
counts each BatchNorm's arithmetic on the unfused model, where flop_counter counts
only convolutions and matmuls. Once Conv+BN are folded (``model.fuse()``, as the
predictor runs) the two agree to the last digit for both.

Published facts: ultralytics' config YAMLs carry a "summary" comment per scale
(its own parameter count and GFLOPs); those are reported as published. The
package carries no COCO mAP, so ``coco_map`` is None rather than a number copied
from elsewhere. Years are the lecture's (v3 2018, v5 2020, v8 2023, v11 2024);
the package names no release year, so the others are None.

Counts are cached in memory and in ``data_home/zoo/tasks-<versions>.json``.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cvlab.registry import Registry
from cvlab.settings import get_settings
from cvlab.zoo.facts import cached_entry, versioned_cache_file
from cvlab.zoo.facts import library_versions as facts_versions

YOLO_INPUT_SIZE = 640
SEG_INPUT_SIZE = 256
LECTURE_YEAR_SOURCE = "the lecture's YOLO evolution table (session 4)"


# ---- the YOLO registry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class YoloConfig:
    name: str  # "yolov8n": the name ultralytics' own weights and configs use
    generation: str  # "YOLOv8"
    size: str  # scale letter "n".."x", or the variant ("t", "c", "e", "b", "tiny", "spp", "full")
    year: int | None  # None where neither the lecture nor the package says
    year_source: str | None
    feature: str  # the generation's key idea, in a few words
    config: str  # the YAML under ultralytics/cfg/models, e.g. "v8/yolov8.yaml"
    scale: str  # the scale letter passed to the YAML's `scales`, "" for a config without scales


YOLO_CONFIGS: Registry[YoloConfig] = Registry("YOLO config")

# generation, year, key feature, [(name, size, config, scale)]
_GENERATIONS: list[tuple[str, int | None, str, list[tuple[str, str, str, str]]]] = [
    ("YOLOv3", 2018, "Darknet-53 backbone, predictions at three scales (here with the anchor-free 'u' head)",
     [("yolov3-tinyu", "tiny", "v3/yolov3-tiny.yaml", ""), ("yolov3u", "full", "v3/yolov3.yaml", ""),
      ("yolov3-sppu", "spp", "v3/yolov3-spp.yaml", "")]),
    ("YOLOv5", 2020, "PyTorch native, CSP (C3) blocks, compound depth/width scales (anchor-free 'u' head)",
     [(f"yolov5{s}u", s, "v5/yolov5.yaml", s) for s in "nsmlx"]),
    ("YOLOv6", None, "RepVGG-style re-parameterisable blocks for fast inference",
     [(f"yolov6{s}", s, "v6/yolov6.yaml", s) for s in "nsmlx"]),
    ("YOLOv8", 2023, "anchor-free decoupled head, C2f blocks",
     [(f"yolov8{s}", s, "v8/yolov8.yaml", s) for s in "nsmlx"]),
    ("YOLOv9", None, "GELAN backbone with programmable gradient information",
     [(f"yolov9{s}", s, f"v9/yolov9{s}.yaml", "") for s in "tsmce"]),
    ("YOLOv10", None, "NMS-free: one-to-one head trained beside one-to-many",
     [(f"yolov10{s}", s, f"v10/yolov10{s}.yaml", s) for s in "nsmblx"]),
    ("YOLO11", 2024, "C3k2 blocks and a spatial-attention (C2PSA) stage; fewer parameters than v8",
     [(f"yolo11{s}", s, "11/yolo11.yaml", s) for s in "nsmlx"]),
    ("YOLO12", None, "attention-centric: area attention (A2C2f) blocks",
     [(f"yolo12{s}", s, "12/yolo12.yaml", s) for s in "nsmlx"]),
    ("YOLO26", None, "end-to-end NMS-free head without DFL (reg_max 1), built for edge devices",
     [(f"yolo26{s}", s, "26/yolo26.yaml", s) for s in "nsmlx"]),
]

for _generation, _year, _feature, _variants in _GENERATIONS:
    for _name, _size, _config, _scale in _variants:
        YOLO_CONFIGS.register(_name, YoloConfig(
            name=_name, generation=_generation, size=_size, year=_year,
            year_source=LECTURE_YEAR_SOURCE if _year is not None else None,
            feature=_feature, config=_config, scale=_scale))


# ---- the segmentation registry ------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentationConfig:
    name: str  # "unet-resnet34"
    architecture: str  # the smp class name: "Unet"
    encoder: str  # smp encoder name: "resnet34"
    year: int  # of the decoder architecture's paper
    feature: str
    hub_id: str | None = None  # a Hugging Face model (cvlab.zoo.huggingface) instead of an smp one


SEGMENTATION_MODELS: Registry[SegmentationConfig] = Registry("segmentation model")

_SEG_ARCHITECTURES = [
    ("Unet", "unet", 2015, "encoder-decoder with skip connections concatenating encoder features"),
    ("UnetPlusPlus", "unetplusplus", 2018, "nested, dense skip pathways between encoder and decoder"),
    ("FPN", "fpn", 2017, "feature pyramid: top-down pathway summed with lateral connections"),
    ("DeepLabV3Plus", "deeplabv3plus", 2018, "atrous spatial pyramid pooling plus a light decoder"),
]
SEG_ENCODERS = ("resnet34", "efficientnet-b3")  # the lecture's two encoders

for _arch, _slug, _year, _feature in _SEG_ARCHITECTURES:
    for _encoder in SEG_ENCODERS:
        _name = f"{_slug}-{_encoder}"
        SEGMENTATION_MODELS.register(_name, SegmentationConfig(_name, _arch, _encoder, _year, _feature))
# The lecture's Hugging Face SegFormer beside smp's models: its own Mix Transformer encoder, one output as smp's.
SEGMENTATION_MODELS.register("segformer-b0-hf", SegmentationConfig(
    "segformer-b0-hf", "Segformer-HF", "MiT-B0", 2021,
    "hierarchical transformer encoder, all-MLP decoder at 1/4 resolution", "nvidia/segformer-b0-finetuned-ade-512-512"))


# ---- facts ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectionFacts:
    name: str
    generation: str
    size: str
    year: int | None
    year_source: str | None
    feature: str
    config: str  # YAML under ultralytics/cfg/models
    input_size: int  # pixels per side the counts were made at
    params: int  # counted here: sum of p.numel() of the built model
    params_source: str
    macs: int  # multiply-accumulates of one image = flops // 2
    flops: int  # floating-point operations of one image, counted by torch.utils.flop_counter
    flops_source: str
    ultralytics_gflops: float  # what ultralytics' model.info prints as "GFLOPs": thop, 2 x MACs
    ultralytics_gflops_source: str
    published_params: int | None  # the config YAML's own "summary" comment
    published_gflops: float | None
    published_source: str | None
    coco_map: float | None  # COCO mAP50-95 of published weights: the package carries none
    coco_map_source: str | None
    seconds: float  # wall time of the count when it was made (cached afterwards)


@dataclass(frozen=True)
class SegmentationFacts:
    name: str
    architecture: str
    encoder: str
    year: int
    feature: str
    input_size: int
    params: int
    params_source: str
    macs: int
    flops: int
    flops_source: str
    seconds: float


def library_versions() -> dict[str, str]:
    import segmentation_models_pytorch as smp
    import torch
    import ultralytics

    return {"torch": torch.__version__, "ultralytics": ultralytics.__version__, "smp": smp.__version__,
            "transformers": facts_versions()["transformers"]}


def cache_file(data_home: Path) -> Path:
    return versioned_cache_file(data_home, "tasks", library_versions())


def _offline_ultralytics() -> None:
    """Before ultralytics is imported: settings in a temp dir, no downloads, no pip installs."""
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "cvlab-ultralytics"))
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"


def config_path(name: str) -> Path:
    """The YAML file inside the installed ultralytics package."""
    _offline_ultralytics()
    import ultralytics

    return Path(ultralytics.__file__).parent / "cfg" / "models" / YOLO_CONFIGS.get(name).config


def build_yolo(name: str):
    """The detection model of ``name`` with random weights, in eval mode, on CPU; nothing downloaded."""
    _offline_ultralytics()
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils import YAML

    entry = YOLO_CONFIGS.get(name)
    cfg = copy.deepcopy(YAML.load(config_path(name)))
    cfg["scale"] = entry.scale  # what ultralytics would guess from "yolov8n.yaml"
    cfg["yaml_file"] = f"{name}.yaml"
    return DetectionModel(cfg, verbose=False).eval()


def published_summary(name: str) -> tuple[int, float] | None:
    """(parameters, GFLOPs) from the config YAML's own "summary" comment, where it has one."""
    entry = YOLO_CONFIGS.get(name)
    text = config_path(name).read_text()
    number = r"([\d,]+) parameters.*?([\d.]+) GFLOP"
    if entry.scale:
        match = re.search(rf"^\s*{entry.scale}:\s*\[[^\]]*\].*?{number}", text, re.MULTILINE | re.IGNORECASE)
    else:
        match = re.search(rf"^#.*?{number}", text, re.MULTILINE | re.IGNORECASE)
    return (int(match.group(1).replace(",", "")), float(match.group(2))) if match else None


def _flop_count(model, input_size: int) -> int:
    import torch

    from cvlab.zoo.facts import flop_counter

    x = torch.zeros(1, 3, input_size, input_size)  # (B, C, H, W)
    return int(flop_counter(model, x).get_total_flops())


def count_yolo(name: str, input_size: int = YOLO_INPUT_SIZE) -> dict:
    """Params, FLOPs (flop_counter, on CPU) and ultralytics' thop GFLOPs of one YOLO model, uncached."""
    from ultralytics.utils.torch_utils import get_flops

    started = time.perf_counter()
    model = build_yolo(name)
    params = sum(p.numel() for p in model.parameters())
    flops = _flop_count(model, input_size)
    thop_gflops = float(get_flops(model, input_size))
    return {"params": params, "flops": flops, "ultralytics_gflops": thop_gflops,
            "seconds": round(time.perf_counter() - started, 3)}


def build_segmentation(name: str):
    entry = SEGMENTATION_MODELS.get(name)
    if entry.hub_id:
        from cvlab.zoo.hub_modules import HubSegmenter
        from cvlab.zoo.huggingface import HUB_MODELS, build_random

        return HubSegmenter(build_random(HUB_MODELS.get(entry.hub_id), num_labels=1)).eval()
    import segmentation_models_pytorch as smp

    return getattr(smp, entry.architecture)(encoder_name=entry.encoder, encoder_weights=None).eval()


def count_segmentation(name: str, input_size: int = SEG_INPUT_SIZE) -> dict:
    started = time.perf_counter()
    model = build_segmentation(name)
    params = sum(p.numel() for p in model.parameters())
    flops = _flop_count(model, input_size)
    return {"params": params, "flops": flops, "seconds": round(time.perf_counter() - started, 3)}


COUNTERS = {"yolo": count_yolo, "seg": count_segmentation}


@functools.cache
def _cached(kind: str, name: str, input_size: int, data_home: str) -> dict:
    entry = cached_entry(cache_file(Path(data_home)), f"{kind}:{name}@{input_size}",
                         lambda: COUNTERS[kind](name, input_size))
    return dict(entry)


def yolo_facts(name: str, input_size: int = YOLO_INPUT_SIZE) -> DetectionFacts:
    """Counted and published facts of one YOLO model; counts cached in memory and on disk."""
    entry = YOLO_CONFIGS.get(name)
    counts = _cached("yolo", name, input_size, str(get_settings().data_home))
    summary = published_summary(name)
    return DetectionFacts(
        name=name, generation=entry.generation, size=entry.size, year=entry.year,
        year_source=entry.year_source, feature=entry.feature, config=entry.config, input_size=input_size,
        params=counts["params"],
        params_source=f"counted here: sum of p.numel() of ultralytics DetectionModel built from {entry.config}",
        macs=counts["flops"] // 2, flops=counts["flops"],
        flops_source=f"counted here: torch.utils.flop_counter, one CPU forward at {input_size} px; "
                     "MACs = FLOPs / 2",
        ultralytics_gflops=counts["ultralytics_gflops"],
        ultralytics_gflops_source="ultralytics.utils.torch_utils.get_flops (thop MACs x 2), as model.info prints",
        published_params=summary[0] if summary else None,
        published_gflops=summary[1] if summary else None,
        published_source=f"summary comment in ultralytics/cfg/models/{entry.config}" if summary else None,
        coco_map=None, coco_map_source="not carried by the installed ultralytics package",
        seconds=counts["seconds"])


def _seg_builder_text(entry: SegmentationConfig) -> str:
    if entry.hub_id:
        return f"transformers' SegformerForSemanticSegmentation with {entry.hub_id}'s config, 1 output, random weights"
    return f"smp.{entry.architecture}(encoder_name={entry.encoder!r}, encoder_weights=None)"


def seg_facts(name: str, input_size: int = SEG_INPUT_SIZE) -> SegmentationFacts:
    """Params and MACs/FLOPs at ``input_size`` of one smp model (random weights); cached like yolo_facts."""
    entry = SEGMENTATION_MODELS.get(name)
    counts = _cached("seg", name, input_size, str(get_settings().data_home))
    return SegmentationFacts(
        name=name, architecture=entry.architecture, encoder=entry.encoder, year=entry.year,
        feature=entry.feature, input_size=input_size, params=counts["params"],
        params_source=f"counted here: sum of p.numel() of {_seg_builder_text(entry)}",
        macs=counts["flops"] // 2, flops=counts["flops"],
        flops_source=f"counted here: torch.utils.flop_counter, one CPU forward at {input_size} px; "
                     "MACs = FLOPs / 2",
        seconds=counts["seconds"])


def yolo_names(smallest: int | None = 2) -> list[str]:
    """Registry order; per generation only its ``smallest`` sizes (as registered, smallest first), None: all."""
    seen: dict[str, int] = {}
    names = []
    for name, entry in YOLO_CONFIGS.items():
        seen[entry.generation] = seen.get(entry.generation, 0) + 1
        if smallest is None or seen[entry.generation] <= smallest:
            names.append(name)
    return names


def yolo_evolution_table(smallest: int | None = 2, names: list[str] | None = None,
                         input_size: int = YOLO_INPUT_SIZE) -> list[DetectionFacts]:
    """One row per generation and size: the two smallest sizes of each by default, ``smallest=None`` all."""
    return [yolo_facts(name, input_size) for name in (yolo_names(smallest) if names is None else names)]


def segmentation_table(names: list[str] | None = None, input_size: int = SEG_INPUT_SIZE) -> list[SegmentationFacts]:
    return [seg_facts(name, input_size) for name in (SEGMENTATION_MODELS.names() if names is None else names)]
