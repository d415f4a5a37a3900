"""The measured columns of the architecture tables: every network of a suite timed here, cached, in the background.

Three suites share one mechanism:
- ``classification``: the ARCHITECTURES registry, each network at its own resolution;
- ``yolo``: every YOLO generation and size, built from the config YAMLs ultralytics
  ships (no weights), with Conv+BN folded as ultralytics' predictor runs them,
  at 640 px by default (320 px for a quicker CPU pass);
- ``segmentation``: the smp U-Nets and their relatives at 256 px.
How one model is timed (warm-up, medians, inference mode) is ``cvlab.zoo.timing``.

The cache is one JSON file per suite, library versions and device under
``data_home/zoo``, entries keyed ``<name>@<pixels>``. ``measure_all`` is the whole
job as one plain function and saves after every model, so a killed run loses nothing
finished. ``cvlab.zoo.measure_job`` puts it on the job queue for pages that must never block.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from cvlab.errors import UnknownName
from cvlab.data.in_place import write_atomically
from cvlab.zoo.architectures import ARCHITECTURES
from cvlab.registry import Registry
from cvlab.settings import get_settings
from cvlab.zoo.facts import library_versions, read_cache, write_cache
from cvlab.zoo.timing import (CPU_MEMORY_SOURCE, CUDA_MEMORY_SOURCE, Measurement, cpu_cores, device_name,
                               measure_model)

__all__ = ["CPU_MEMORY_SOURCE", "CUDA_MEMORY_SOURCE", "Measurement", "SUITES", "Suite", "cache_file",
           "busy_note", "cached_measurements", "device_name", "forget_measurements", "measure",
           "measure_all", "measure_model"]


# ---- what can be measured ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    name: str
    title: str  # for progress messages: "classification networks"
    names: Callable[[], list[str]]  # every model of the suite, in table order
    default_size: Callable[[str], int]  # pixels per side a model is measured at unless asked otherwise
    build: Callable[[str], object]  # -> torch.nn.Module with random weights, nothing downloaded
    versions: Callable[[], dict[str, str]]  # the libraries whose change makes old measurements stale
    note: str  # how the models are built, for the page
    family: Callable[[str], str]  # a model's family (ResNet, YOLOv8, Unet...), from its registry, uncounted
    table: Callable[[list[str], dict, int | None], list]  # (names, measurements, size) -> the suite's table rows


def _yolo_names() -> list[str]:
    from cvlab.zoo.task_families import yolo_names

    return yolo_names(None)


def _build_yolo(name: str):
    from cvlab.zoo.task_families import build_yolo

    return build_yolo(name).fuse(verbose=False)  # Conv+BN folded, as ultralytics' predictor runs it


def _seg_names() -> list[str]:
    from cvlab.zoo.task_families import SEGMENTATION_MODELS

    return SEGMENTATION_MODELS.names()


def _build_segmentation(name: str):
    from cvlab.zoo.task_families import build_segmentation

    return build_segmentation(name)


def _task_versions() -> dict[str, str]:
    from cvlab.zoo import task_families as zoo_tasks

    return zoo_tasks.library_versions()


def _task_size(attribute: str) -> Callable[[str], int]:
    def size(_name: str) -> int:
        from cvlab.zoo import task_families as zoo_tasks

        return getattr(zoo_tasks, attribute)
    return size


def _classification_family(name: str) -> str:
    return ARCHITECTURES.get(name).family


def _yolo_family(name: str) -> str:
    from cvlab.zoo.task_families import YOLO_CONFIGS

    return YOLO_CONFIGS.get(name).generation


def _seg_family(name: str) -> str:
    from cvlab.zoo.task_families import SEGMENTATION_MODELS

    return SEGMENTATION_MODELS.get(name).architecture


def _classification_table(names: list[str], measured: dict, size: int | None) -> list:
    from cvlab.zoo.facts import with_measurements, zoo_table

    return with_measurements(zoo_table(names), measured)


def _task_table(facts_of: Callable[[list[str]], list]) -> Callable[[list[str], dict, int | None], list]:
    """Rows of a task family's table (``facts_of(names)``) with the measured columns beside each."""
    def table(names: list[str], measured: dict, size: int | None) -> list:
        from cvlab.zoo.facts import measured_columns

        wanted = set(names)
        return [{**asdict(f), **measured_columns(measured.get(f.name)),
                 "latency_input_size": m.input_size if (m := measured.get(f.name)) else size}
                for f in facts_of(names) if f.name in wanted]
    return table


def _yolo_facts(names: list[str]) -> list:
    from cvlab.zoo.task_families import yolo_evolution_table

    return yolo_evolution_table(names=names)


def _seg_facts(names: list[str]) -> list:
    from cvlab.zoo.task_families import segmentation_table

    return segmentation_table(names=names)


SUITES: Registry[Suite] = Registry("measurement suite")
SUITES.register("classification", Suite(
    "classification", "classification networks", ARCHITECTURES.names,
    lambda name: ARCHITECTURES.get(name).input_size, lambda name: ARCHITECTURES.get(name).build(),
    lambda: library_versions(), "torchvision / timm / cvlab builders with random weights, each at its own resolution",
    _classification_family, _classification_table))
SUITES.register("yolo", Suite(
    "yolo", "YOLO detectors", _yolo_names, _task_size("YOLO_INPUT_SIZE"), _build_yolo, _task_versions,
    "ultralytics DetectionModel from the bundled config YAML, random weights, Conv+BN fused (model.fuse())",
    _yolo_family, _task_table(_yolo_facts)))
SUITES.register("segmentation", Suite(
    "segmentation", "segmentation networks", _seg_names, _task_size("SEG_INPUT_SIZE"), _build_segmentation,
    _task_versions, "segmentation_models_pytorch with encoder_weights=None", _seg_family,
    _task_table(_seg_facts)))


# ---- the cache --------------------------------------------------------------------------------------------


def cache_key(device, suite: str = "classification") -> dict[str, str]:
    return {**SUITES.get(suite).versions(), "device": device_name(device)}


def cache_file(device=None, data_home: Path | None = None, suite: str = "classification") -> Path:
    """One file per suite, library versions and device; the key is written inside it too."""
    from cvlab.device import pick_device

    device = device or pick_device()
    digest = hashlib.sha1(json.dumps(cache_key(device, suite), sort_keys=True).encode()).hexdigest()[:12]
    return Path(data_home or get_settings().data_home) / "zoo" / f"measured-{suite}-{device.type}-{digest}.json"


def entry_key(name: str, input_size: int) -> str:
    return f"{name}@{input_size}"


def cached_measurements(device=None, suite: str = "classification",
                        input_size: int | None = None) -> dict[str, Measurement]:
    """``{name: Measurement}`` already on disk for this suite at ``input_size`` (each model's own by default)."""
    spec = SUITES.get(suite)
    out = {}
    for key, entry in read_cache(cache_file(device, suite=suite)).items():
        if key.startswith("_"):
            continue
        try:
            measurement = Measurement(**entry)
            wanted = input_size or spec.default_size(measurement.name)
        except (TypeError, UnknownName):  # an older format, or a model no longer registered
            continue
        if measurement.input_size == wanted:
            out[measurement.name] = measurement
    return out


def forget_measurements(names: list[str] | None = None, *, suite: str = "classification",
                        input_size: int | None = None, device=None) -> None:
    """Drop the measurements of ``names`` (all of the suite's) at ``input_size`` so the next run makes them again."""
    path = cache_file(device, suite=suite)
    table = read_cache(path)
    doomed = {key for key, entry in table.items() if not key.startswith("_") and
              (names is None or entry.get("name") in names) and
              (input_size is None or entry.get("input_size") == input_size)}
    if doomed:
        write_atomically(path, json.dumps({k: v for k, v in table.items() if k not in doomed}, indent=1,
                                          sort_keys=True))


def busy_note(measurements, cores: int | None = None) -> str | None:
    """A warning when CPU measurements were taken while other work kept the machine busy, else None.

    The load average counts the measuring threads too; what is left over is other work. At least one
    core's worth of it is enough to spoil a multi-threaded CPU timing.
    """
    cores = cores or cpu_cores()
    busy = [m for m in measurements if m.device == "cpu" and (m.load_average or 0) - m.threads >= 1]
    if not busy:
        return None
    peak = max(m.load_average for m in busy)
    return (f"{len(busy)} of these were measured while other work kept this machine busy (load average up to "
            f"{peak:.1f} on {cores} cores, the measurement's own threads included), so they read high. "
            "Measure again when it is quieter.")


# ---- measuring ---------------------------------------------------------------------------------------------


def measure(name: str, *, device=None, input_size: int | None = None, suite: str = "classification",
            **options) -> Measurement:
    """Measure one model of ``suite``, built with random weights, at its default size unless asked."""
    spec = SUITES.get(suite)
    size = input_size or spec.default_size(name)
    return measure_model(spec.build(name), size, name=name, device=device, versions=spec.versions(), **options)


def measure_all(names: list[str] | None = None, *, suite: str = "classification", input_size: int | None = None,
                device=None, progress: Callable[[int, int, str], None] | None = None,
                stop: threading.Event | None = None) -> dict[str, Measurement]:
    """Measure every model of ``suite`` (or ``names``) not cached yet at ``input_size``; save after each one.

    ``progress(done, total, name)`` is called before each model is measured (``name`` is the one
    starting) and once at the end with ``name == ""``. Setting ``stop`` ends the run between models.
    Returns the cached measurements of ``names``, new ones included. This is the whole background
    job in one call: a thread (``start_measuring``) or a queue worker can run it as it is.
    """
    from cvlab.device import pick_device

    spec = SUITES.get(suite)
    device = device if device is not None else pick_device()
    names = list(spec.names() if names is None else names)
    path, key = cache_file(device, suite=suite), cache_key(device, suite)
    cached = cached_measurements(device, suite, input_size)
    todo = [n for n in names if n not in cached]
    done = len(names) - len(todo)
    for name in todo:
        if progress:
            progress(done, len(names), name)
        if stop is not None and stop.is_set():
            break
        measurement = measure(name, device=device, input_size=input_size, suite=suite)
        write_cache(path, "_key", key)
        write_cache(path, entry_key(name, measurement.input_size), asdict(measurement))
        cached[name] = measurement
        done += 1
    if progress:
        progress(done, len(names), "")
    return {n: cached[n] for n in names if n in cached}
