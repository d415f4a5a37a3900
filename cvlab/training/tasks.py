"""The three things a run can learn: classify images, detect objects, segment pixels.

One run folder, job queue, live page and command line serve all three; what differs
per task is written down here once: the task's default recipe, which settings apply
to it, the figures its curves show, and the function that trains it.

- ``classify``: the lab's own loop (cvlab.training.engine), cross-entropy, accuracy.
- ``segment``: the same loop with an smp model, a mask loss (0.5 BCE + 0.5 Dice by
  default), IoU and Dice.
- ``detect``: ultralytics' trainer (cvlab.detection.training_run), driven through callbacks
  that write the same metrics file and obey the same pause / stop / learning-rate requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    @property
    def headline(self) -> str:
        return f"val_{self.metrics[0].key}"


TASKS: Registry[TaskSpec] = Registry("task")
for _spec in (
    TaskSpec(
        "classify", "Classification", "cvlab.training.engine:train_loop",
        (*COMMON, *_LOOP, "freeze_backbone", "backbone_lr_scale", "label_smoothing", "augmentation"),
        metrics=(Metric("accuracy", "Accuracy"),), data_choices=("shapes", "digits", "cifar10")),
    TaskSpec(
        "segment", "Segmentation", "cvlab.training.engine:train_loop",
        (*COMMON, *_LOOP, "encoder", "loss", "binary_masks"),
        # The U-Net preset of cvlab.segmentation.train: IoU above 0.9 on the shapes masks in about two CPU minutes.
        defaults=dict(model="unet", epochs=6, batch_size=8, optimizer="adamw", lr=3e-3, weight_decay=1e-4,
                      scheduler="cosine", image_size=64, limit=SEGMENT_SHAPES, augmentation="none"),
        metrics=(Metric("iou", "IoU"), Metric("dice", "Dice")), shapes_count=SEGMENT_SHAPES),
    TaskSpec(
        "detect", "Detection", "cvlab.detection.training_run:train_detection_run", COMMON,
        # ultralytics' own SGD recipe on 400 scenes at 160 px, from random weights: mAP@0.5 climbs from 0 to
        # about 0.4 in 30 epochs, about 3 minutes on 2 CPU cores (assets/models/shapes-yolo is the long recipe).
        defaults=dict(model="yolov8n", epochs=30, batch_size=8, optimizer="sgd", lr=0.01, momentum=0.937,
                      weight_decay=5e-4, image_size=160, limit=DETECT_SHAPES, augmentation="none", channels_last=False),
        metrics=(Metric("map50", "mAP@0.5", live=False), Metric("map50_95", "mAP@0.5:0.95", live=False)),
        shapes_count=DETECT_SHAPES),
):
    TASKS.register(_spec.name, _spec)


def task_spec(name: str) -> TaskSpec:
    return TASKS.get(name)
