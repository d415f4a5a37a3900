"""A training run's settings as one typed, JSON-friendly dataclass; the same for the page, the CLI and the worker."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from cvlab.errors import InvalidInput

from cvlab.training.tasks import task_spec

# One run holds a device of a shared server: these bound what a single run may ask for. The
# memory a batch takes is checked against the device separately (cvlab.training.memory).
MAX_EPOCHS = 300  # ultralytics' own long COCO recipes stop at 300; at a minute an epoch, five hours
MAX_BATCH = 512  # the form's largest; ResNet-18 at 512 px already needs ~86 GiB for it on a CPU


@dataclass(frozen=True)
class TrainConfig:
    task: str = "classify"
    data: str = "shapes"  # "shapes", "digits", "cifar10", a .zip or a folder in ImageFolder layout
    model: str = "lecture-vgg"  # a model name (see cvlab.training.model_builder), or "timm:<name>"
    pretrained: bool = False  # ImageNet weights when they can be had, else random init (said in the run's note)
    freeze_backbone: bool = False  # train only the new classifier head
    epochs: int = 3  # the default preset reaches >= 95% on shapes within a minute on 2 CPU cores
    batch_size: int = 64  # more steps per epoch: the shapes preset converges within 3 epochs
    optimizer: str = "sgd"
    lr: float = 0.05  # the head's learning rate, and the backbone's times backbone_lr_scale
    backbone_lr_scale: float = 1.0  # < 1 gives the pretrained layers a smaller rate (per-layer learning rates)
    momentum: float = 0.9  # SGD only
    weight_decay: float = 5e-4
    scheduler: str = "onecycle"
    warmup_epochs: float = 1.0  # warmup + cosine only
    step_size: int = 2  # StepLR: epochs between drops
    gamma: float = 0.1  # StepLR and plateau: the factor of each drop
    label_smoothing: float = 0.0
    grad_clip: float = 0.0  # max gradient norm; 0 turns clipping off
    augmentation: str = "standard"
    image_size: int = 0  # pixels per side; 0 takes the dataset's own size
    val_fraction: float = 0.2
    limit: int = 0  # 0 uses the whole dataset; N takes N images for a quick run
    seed: int = 0
    amp: bool = True  # bf16/fp16 autocast on a GPU; ignored on a CPU, where it did not help
    channels_last: bool = True
    device: str = "auto"
    encoder: str = "resnet18"  # segment: the smp encoder under the decoder named by ``model``
    loss: str = "0.5*bce+0.5*dice"  # segment: the mask loss (see cvlab.segmentation.losses)
    binary_masks: bool = True  # segment: object vs background; False keeps one class per mask value

    @classmethod
    def for_task(cls, task: str = "classify", **changes: Any) -> "TrainConfig":
        """The task's own recipe (its defaults over the dataclass's), with ``changes`` on top, validated."""
        return cls.from_dict({"task": task, **changes})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def lenient(cls, values: Any) -> "TrainConfig":
        """The settings a stored record had, as far as they can be read, without the checks: for showing a run
        this version no longer accepts, never for training it."""
        from cvlab.training.tasks import TASKS

        values = values if isinstance(values, dict) else {}
        task = values.get("task") if values.get("task") in TASKS else "classify"
        config = replace(cls(), task=task, **TASKS.get(task).defaults)
        typed = {}
        for f in fields(cls):
            default = getattr(config, f.name)
            try:
                if f.name in values:
                    typed[f.name] = _as_bool(values[f.name]) if isinstance(default, bool) else type(default)(
                        values[f.name])
            except (TypeError, ValueError):
                continue
        return replace(config, **typed)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InvalidInput(f"Unknown training settings {unknown}; known ones: {sorted(known)}.")
        config = replace(cls(), task=str(values.get("task", "classify")))
        config = replace(config, **task_spec(config.task).defaults)
        typed = {}
        for name, value in values.items():
            default = getattr(config, name)
            try:
                typed[name] = type(default)(value) if not isinstance(default, bool) else _as_bool(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"Training setting {name}={value!r} should be a {type(default).__name__}.") from None
        return replace(config, **typed).validated()

    def validated(self) -> "TrainConfig":
        spec = task_spec(self.task)
        recipe = replace(TrainConfig(), task=self.task, **spec.defaults)
        foreign = [f.name for f in fields(self) if f.name not in spec.settings
                   and getattr(self, f.name) != getattr(recipe, f.name)]
        checks = [
            (not foreign, f"{', '.join(foreign)}: not a setting of {spec.title.lower()} runs "
                          f"(theirs are {', '.join(spec.settings[1:])})"),
            (1 <= self.epochs <= MAX_EPOCHS, f"epochs must be between 1 and {MAX_EPOCHS} (MAX_EPOCHS: one run holds "
                                             "a device of a shared server)"),
            (1 <= self.batch_size <= MAX_BATCH, f"batch size must be between 1 and {MAX_BATCH} (MAX_BATCH)"),
            (0 < self.lr <= 10, "the learning rate must be above 0 and at most 10"),
            (0 <= self.backbone_lr_scale <= 10, "the backbone's learning-rate scale must be between 0 and 10"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (0 <= self.weight_decay < 1, "weight decay must be in [0, 1)"),
            (0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)"),
            (self.grad_clip >= 0, "the gradient-clipping norm must be 0 (off) or positive"),
            (0 < self.val_fraction < 1, "the validation fraction must be between 0 and 1"),
            (self.image_size == 0 or 8 <= self.image_size <= 1024, "image size must be 0 (dataset's own) or 8..1024"),
            (self.limit >= 0, "limit must be 0 (all) or a positive number of images"),
            *(spec.hook("checks") or (lambda config: []))(self),
            (0 < self.gamma <= 1, "gamma must be in (0, 1]"),
            (self.step_size >= 1, "the step size must be at least one epoch"),
            (self.scheduler != "warmup_cosine" or 0 <= self.warmup_epochs < self.epochs,
             f"warmup must be shorter than the run (a {self.warmup_epochs:g}-epoch warmup in a {self.epochs}-epoch "
             "run): lower 'Warmup epochs' (--warmup-epochs)"),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidInput(f"Invalid training settings: {message}.")
        _check_data_name(self, spec)
        if spec.deep_check:
            spec.hook("deep_check")(self)
        return self

    def with_recipe(self, changes: dict[str, Any]) -> tuple["TrainConfig", str]:
        """This config with a recipe's ``changes`` on top, validated, and what was adapted, in words ("" if
        nothing). A recipe that switches to warmup + cosine without naming a warmup keeps the form's, shortened
        to a quarter of the run when the run is too short for it (one epoch: a quarter-epoch warmup)."""
        config = replace(self, **changes)
        note = ""
        if (config.scheduler == "warmup_cosine" and "warmup_epochs" not in changes
                and config.warmup_epochs >= config.epochs):
            warmup = config.epochs / 4
            note = (f"Warmup shortened from {config.warmup_epochs:g} to {warmup:g} epochs to fit a "
                    f"{config.epochs}-epoch run.")
            config = replace(config, warmup_epochs=warmup)
        return config.validated(), note

    def check_data(self) -> "TrainConfig":
        """Refuse a dataset path that is not there, or not a kind the task reads. Called before a run folder is
        made, not by ``validated``: a finished run's record stays readable after its data moved."""
        from pathlib import Path

        spec = task_spec(self.task)
        if self.data in spec.data_choices:
            return self
        path = Path(self.data).expanduser()
        readable = spec.data_files
        if path.is_dir() or (path.is_file() and path.suffix.lower() in readable):
            return self
        found = "is not a " + "/".join(readable) + " file" if path.is_file() else "does not exist"
        raise InvalidInput(f"Dataset {self.data!r} {found}. Use {', '.join(spec.data_choices)}, or the path of a "
                           f"{' or '.join(readable)} file or of a dataset folder.")


def _check_data_name(config: TrainConfig, spec) -> None:
    """A built-in dataset of another task ("digits" for a segmentation run) is refused by name."""
    from cvlab.training.tasks import TASKS

    others = {name for _, task in TASKS.items() for name in task.data_choices} - set(spec.data_choices)
    if config.data in others:
        raise InvalidInput(f"Invalid training settings: {config.data!r} is not a {spec.title.lower()} dataset; "
                           f"use {', '.join(spec.data_choices)} or the path of your own.")


def segmentation_checks(config: TrainConfig) -> list[tuple[bool, str]]:
    return [
        (config.image_size % 32 == 0,
         "a segmentation image size must be a multiple of 32 (the encoder halves the image five times)"),
        # DeepLabV3's, UPerNet's and PAN's BatchNorm after global pooling sees one value per channel from a
        # single image, which torch refuses in training
        (config.batch_size >= 2, "a segmentation batch needs at least 2 images"),
    ]


def detection_checks(config: TrainConfig) -> list[tuple[bool, str]]:
    return [(32 <= config.image_size <= 1280, "a detection image size must be 32..1280")]


def check_segmentation(config: TrainConfig) -> None:
    """The architecture, encoder and loss by name (each registry's error lists the choices), and the image
    size against the architecture's own minimum, so a run that could not start is never queued."""
    from cvlab.segmentation.architectures import ARCHITECTURES, ENCODERS, check_input_size
    from cvlab.segmentation.losses import parse_loss_spec

    ARCHITECTURES.get(config.model)
    ENCODERS.get(config.encoder)
    parse_loss_spec(config.loss)
    if config.image_size:
        check_input_size(config.model, config.image_size, config.image_size)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if value.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(value)
    return bool(value)
