"""The three things a run can learn: classify images, detect objects, segment pixels.

One run folder, job queue, live page and command line serve all three; what differs
per task is written down here once: the task's default recipe, which settings apply
to it, the figures its curves show, the function that trains it, and everything else
the code does differently per task, as fields (``per_pixel``, ``own_trainer``...) and
hooks (``checks``, ``start_models``, ``data_summary``, ``results_view``): code asks the
spec, never compares the task's name.

- ``classify``: the lab's own loop (cvlab.training.engine), cross-entropy, accuracy.
- ``segment``: the same loop with an smp model, a mask loss (0.5 BCE + 0.5 Dice by
  default), IoU and Dice.
- ``detect``: ultralytics' trainer (cvlab.detection.training_run), driven through callbacks
  that write the same metrics file and obey the same pause / stop / learning-rate requests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from cvlab.registry import Registry

# Settings every task uses; each task adds its own below.
COMMON = ("task", "data", "model", "pretrained", "epochs", "batch_size", "optimizer", "lr", "momentum",
          "weight_decay", "image_size", "val_fraction", "limit", "seed", "amp", "device")
SEGMENT_SHAPES = 1280  # scenes in a segmentation run on the shapes generator, unless it sets a limit
DETECT_SHAPES = 400  # scenes in a detection run on the shapes generator (see the recipe below)
_LOOP = ("scheduler", "warmup_epochs", "step_size", "gamma", "grad_clip", "channels_last")


@dataclass(frozen=True)
class Metric:
    """A quality figure: ``val_<key>`` in epoch records, and ``<key>`` in step records when it is tracked live."""

    key: str
    label: str
    live: bool = True  # also measured on the training batches as they go


@dataclass(frozen=True)
class TaskSpec:
    name: str
    title: str
    runner: str  # "module:function" that trains a run folder: (run_dir, config, metrics, control) -> status
    settings: tuple[str, ...]  # TrainConfig fields that mean something for this task
    defaults: dict = field(default_factory=dict)  # this task's recipe on top of TrainConfig's defaults
    metrics: tuple[Metric, ...] = ()  # the first is the headline figure
    data_choices: tuple[str, ...] = ("shapes",)  # built-in datasets; uploads come on top
    shapes_count: int | None = None  # scenes drawn for a run on "shapes" with no limit (None: the dataset's own)
    # What the task does differently, as data...
    per_pixel: bool = False  # a class per pixel (masks): one output for binary masks, mask previews and exports
    data_on_device: bool = False  # the whole dataset sits on the device as uint8 tensors for the run
    own_trainer: bool = False  # trained by a library's own loop (ultralytics), not the lab's engine
    resumes_after_stop: bool = True  # False: a stopped run's checkpoints are closed for good
    data_files: tuple[str, ...] = (".zip",)  # the files an upload of its data may be, besides a folder
    list_label: str = ""  # before the model in run lists ("" for the page's own task)
    key_prefix: str = ""  # before its settings' widget keys and address names ("" for the page's own task)
    form_sizes: tuple[int, int, int] = (32, 512, 32)  # the form's image size: lowest (0: the data's own), top, step
    limit_step: int = 64  # the form's step for the number of images
    limit_label: str = "Images (scenes drawn for shapes; 0 = all of an upload)"
    counted: str = "images"  # what a dataset's count per class counts
    fine_tune_offered: bool = False  # the page offers the lab's fine-tuning recipe and exercises
    exportable: bool = False  # a finished run writes out as a standalone script and notebook (cvlab.training.export)
    # ...and as hooks, "module:function" (imported when called, so this registry stays light for pages):
    checks: str = ""  # (config) -> [(ok, message)]: its settings' limits, beside the common ones
    deep_check: str = ""  # (config) -> None: names looked up in their registries, raising their errors
    start_models: str = "cvlab.training.model_builder:model_choices"  # () -> the models a run can start from
    data_summary: str = ""  # (config) -> the data the form previews; "" for the classification preview
    results_view: str = "cvlab.ui.training_results:classification_results"  # (RunInfo) -> None, on a page

    @property
    def headline(self) -> str:
        return f"val_{self.metrics[0].key}"

    def hook(self, name: str) -> Callable | None:
        """The function a hook field names, imported now; None when the task has none."""
        target = getattr(self, name)
        if not target:
            return None
        module, function = target.split(":")
        return getattr(importlib.import_module(module), function)


TASKS: Registry[TaskSpec] = Registry("task")
for _spec in (
    TaskSpec(
        "classify", "Classification", "cvlab.training.engine:train_loop",
        (*COMMON, *_LOOP, "freeze_backbone", "backbone_lr_scale", "label_smoothing", "augmentation"),
        metrics=(Metric("accuracy", "Accuracy"),), data_choices=("shapes", "digits", "cifar10"),
        data_on_device=True, form_sizes=(0, 512, 8), limit_step=100, limit_label="Images (0 = all)",
        fine_tune_offered=True, exportable=True),
    TaskSpec(
        "segment", "Segmentation", "cvlab.training.engine:train_loop",
        (*COMMON, *_LOOP, "encoder", "loss", "binary_masks"),
        # The U-Net preset of cvlab.segmentation.train: IoU above 0.9 on the shapes masks in about two CPU minutes.
        defaults=dict(model="unet", epochs=6, batch_size=8, optimizer="adamw", lr=3e-3, weight_decay=1e-4,
                      scheduler="cosine", image_size=64, limit=SEGMENT_SHAPES, augmentation="none"),
        metrics=(Metric("iou", "IoU"), Metric("dice", "Dice")), shapes_count=SEGMENT_SHAPES,
        per_pixel=True, list_label="segmentation", key_prefix="segment_",
        checks="cvlab.training.config:segmentation_checks", deep_check="cvlab.training.config:check_segmentation",
        start_models="cvlab.training.model_builder:segmentation_start_models",
        data_summary="cvlab.ui.training_form:mask_summary",
        results_view="cvlab.ui.training_results:segmentation_results"),
    TaskSpec(
        "detect", "Detection", "cvlab.detection.training_run:train_detection_run", COMMON,
        # ultralytics' own SGD recipe on 400 scenes at 160 px, from random weights: mAP@0.5 climbs from 0 to
        # about 0.4 in 30 epochs, about 3 minutes on 2 CPU cores (assets/models/shapes-yolo is the long recipe).
        defaults=dict(model="yolov8n", epochs=30, batch_size=8, optimizer="sgd", lr=0.01, momentum=0.937,
                      weight_decay=5e-4, image_size=160, limit=DETECT_SHAPES, augmentation="none", channels_last=False),
        metrics=(Metric("map50", "mAP@0.5", live=False), Metric("map50_95", "mAP@0.5:0.95", live=False)),
        shapes_count=DETECT_SHAPES, own_trainer=True, resumes_after_stop=False,
        data_files=(".zip", ".yaml", ".yml"), counted="objects", list_label="detection", key_prefix="detect_",
        form_sizes=(32, 1024, 32),
        checks="cvlab.training.config:detection_checks",
        start_models="cvlab.training.model_builder:detection_start_models",
        data_summary="cvlab.ui.training_form:yolo_summary",
        results_view="cvlab.ui.training_results:detection_results"),
):
    TASKS.register(_spec.name, _spec)


def task_spec(name: str) -> TaskSpec:
    return TASKS.get(name)
