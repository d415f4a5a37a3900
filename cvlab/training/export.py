"""Take the lab home: a finished run as a standalone PyTorch script and a Jupyter notebook that recreate it.

The exported code needs no CV Lab: it draws the same data (the shapes generator's own code, scikit-learn's
digits, torchvision's CIFAR-10, or your ImageFolder), splits it the same way, builds the same model from the
same random draws, and trains it with the run's optimizer, schedule, augmentation and seed, so on the same
machine it reaches the run's validation accuracy. The last line it prints is ``val_accuracy 0.973``.

A run.json can be edited by whoever may write the runs folder, so nothing from it is pasted into code:
every value is checked (numbers finite and within the training limits, names looked up in the registries)
and written as the ``repr`` of the checked literal into the templates of ``cvlab.training.export_code``.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from pathlib import Path

from cvlab.errors import InvalidInput
from cvlab.training import export_code as code
from cvlab.training.config import TrainConfig
from cvlab.training.tasks import task_spec

BUILT_IN_DATA = {"shapes": code.SHAPES, "digits": code.DIGITS, "cifar10": code.CIFAR10}
DEFAULT_IMAGE_SIZE = {"shapes": 32, "digits": 32, "cifar10": 32}  # px; an ImageFolder's is 64
FOLDER_IMAGE_SIZE = 64
SAFE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")  # what a checked name may still look like before repr


class NotExportable(InvalidInput):
    """A run whose setup cannot be recreated outside CV Lab; the message names the setting."""


@dataclass(frozen=True)
class ExportPlan:
    """A run, checked, as the parts of its exported code."""

    run_id: str
    summary: str  # one markdown paragraph: model, data, optimizer, schedule, epochs
    recorded_accuracy: float | None  # the run's final validation accuracy, as CV Lab measured it
    parts: tuple[code.CodePart, ...]
    entry: str  # the script's last lines (the notebook calls main() in a cell of its own)


@dataclass(frozen=True)
class ExportedFiles:
    run_id: str
    script: str | None  # the path written, or None
    script_bytes: int
    notebook: str | None
    notebook_bytes: int


def _literal(value) -> str:
    """``repr`` of a value that can only be a literal: a bool, None, an int, a finite float or a plain name."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotExportable(f"The run's setting {value!r} is not a finite number; it cannot be exported.")
        return repr(float(value))
    if isinstance(value, str) and SAFE_NAME.fullmatch(value):
        return repr(value)
    raise NotExportable(f"The run's setting {value!r} is not a plain name; it cannot be exported.")


def _fill(template: str, **values) -> str:
    return string.Template(template).substitute(values)


def plan_export(info) -> ExportPlan:
    """The export of a finished classification run (a ``runs.RunInfo``), or NotExportable naming the setting."""
    from cvlab.jobs.status import RunStatus
    from cvlab.training import runs

    run_id = info.run_dir.name
    if not runs.RUN_ID.fullmatch(run_id):
        raise NotExportable(f"{run_id!r} is not a run id this lab makes; it cannot be exported.")
    if info.unreadable:
        raise NotExportable(f"Run {run_id} cannot be exported: {info.unreadable}.")
    if info.status != RunStatus.FINISHED:
        raise NotExportable(f"Run {run_id} is {info.status}: only a finished run can be exported, since the script "
                            "recreates the whole run. Export it once it has finished.")
    config = TrainConfig.from_dict(info.config.to_dict())  # every limit checked again, whatever run.json says
    if not task_spec(config.task).exportable:
        raise NotExportable(f"Run {run_id} is a {config.task} run: export covers classification runs, whose whole "
                            "loop is the lecture's; segmentation and detection train through smp and ultralytics.")
    _refuse_hand_changes(info.run_dir, run_id)
    data_part, size, folder = _data_part(config)
    model_parts, model_title = _model_parts(config)
    settings = _fill(code.SETTINGS, **{name: _literal(getattr(config, name)) for name in (
        "seed", "epochs", "batch_size", "limit", "val_fraction", "lr", "backbone_lr_scale", "momentum",
        "weight_decay", "label_smoothing", "grad_clip", "warmup_epochs", "step_size", "gamma", "pretrained",
        "freeze_backbone", "amp", "channels_last")}, image_size=_literal(size),
        data_dir=_literal("my-dataset" if folder else None),
        device_line=code.DEVICE_CPU if config.device.strip().lower() == "cpu" else code.DEVICE_AUTO)
    recorded = info.record.get("final_val_accuracy")
    recorded = float(recorded) if isinstance(recorded, (int, float)) and math.isfinite(recorded) else None
    parts = (
        code.CodePart("Imports", "Only PyTorch, NumPy and the libraries Colab already has: no CV Lab.", code.IMPORTS),
        code.CodePart("The run's settings", _SETTINGS_TEXT + (_FOLDER_TEXT if folder else ""), settings),
        code.CodePart("The data", _data_text(config.data if not folder else "folder"),
                      code.SPLITS + "\n\n" + data_part + "\n\n" + (
                          code.NORMALISATION_CIFAR if config.data == "cifar10" else code.NORMALISATION_MEASURED)),
        code.CodePart("Data augmentation", _AUGMENT_TEXT, _augmentation_part(config.augmentation)),
        code.CodePart("The model", model_title, "\n\n".join(model_parts)),
        code.CodePart("Optimizer and learning-rate schedule", _OPTIMIZER_TEXT, _optimizer_part(config)),
        code.CodePart("The training loop", _LOOP_TEXT, code.LOOP),
        code.CodePart("Train", _MAIN_TEXT, code.MAIN),
    )
    summary = (f"Run `{run_id}`: **{config.model}** on **{'your ImageFolder dataset' if folder else config.data}** "
               f"at {size} px, {config.epochs} epochs of batches of {config.batch_size}, {config.optimizer} at a "
               f"learning rate of {config.lr:g} with the {config.scheduler} schedule, {config.augmentation} "
               f"augmentation, seed {config.seed}.")
    return ExportPlan(run_id, summary, recorded, parts, code.SCRIPT_ENTRY_FOLDER if folder else code.SCRIPT_ENTRY)


def _refuse_hand_changes(run_dir: Path, run_id: str) -> None:
    """A learning rate changed by hand during the run follows no schedule the script could write down."""
    from cvlab.training import runs

    changes = [r for r in runs.read_metrics(run_dir) if r.get("kind") == "event" and r.get("what") == "lr"]
    if changes:
        raise NotExportable(f"Run {run_id}'s learning rate was changed by hand during training "
                            f"({len(changes)} time{'s' * (len(changes) != 1)}), which the exported script cannot "
                            "replay: start a new run with the learning rate you settled on, and export that one.")


def _data_part(config: TrainConfig) -> tuple[str, int, bool]:
    """(the data's code, the image size, whether it is the user's own ImageFolder)."""
    if config.data in BUILT_IN_DATA:
        return BUILT_IN_DATA[config.data], config.image_size or DEFAULT_IMAGE_SIZE[config.data], False
    from cvlab.training.tasks import task_spec

    if config.data in task_spec("classify").data_choices:  # a built-in set this export has no code for
        raise NotExportable(f"The dataset {config.data!r} has no exported loader yet; export covers "
                            f"{', '.join(BUILT_IN_DATA)} and your own ImageFolder.")
    return code.IMAGE_FOLDER, config.image_size or FOLDER_IMAGE_SIZE, True


def _model_parts(config: TrainConfig) -> tuple[list[str], str]:
    """The model's code, and its explanation, for a model name checked against the registries."""
    from cvlab.training.model_builder import LECTURE_NETS

    name = config.model
    if name in LECTURE_NETS:
        block = code.LECTURE_VGG if name == "lecture-vgg" else code.LECTURE_RESIDUAL
        return [block, code.PARAM_GROUPS, code.LECTURE_NET], _LECTURE_MODEL_TEXT[name]
    if name.startswith("timm:"):
        import timm

        timm_name = name.removeprefix("timm:")
        if timm_name not in timm.list_models():
            raise NotExportable(f"timm has no model {timm_name!r}; the run cannot be exported.")
        return ([_fill(code.TIMM_MODEL, timm_name=_literal(timm_name)), code.PARAM_GROUPS],
                _TIMM_TEXT.format(name=timm_name))
    from cvlab.zoo.architectures import ARCHITECTURES

    if name not in ARCHITECTURES or name == "overview":
        raise NotExportable(f"The model {name!r} has no exported builder: export covers the lecture's nets, "
                            "torchvision's and timm's networks.")
    entry = ARCHITECTURES.get(name)
    if entry.timm_name:
        if entry.timm_name not in __import__("timm").list_models():
            raise NotExportable(f"timm has no model {entry.timm_name!r}; the run cannot be exported.")
        part = _fill(code.TIMM_REGISTRY_MODEL, timm_name=_literal(entry.timm_name))
    else:
        import torchvision.models

        if not (name.isidentifier() and callable(getattr(torchvision.models, name, None))):
            raise NotExportable(f"The model {name!r} is not one of torchvision's builders; it cannot be exported.")
        part = _fill(code.TORCHVISION_MODEL, builder=name, weights=_literal(entry.weights))
    return [code.REPLACE_LAST_LINEAR, part, code.PARAM_GROUPS], _REGISTRY_TEXT.format(title=entry.title)


def _augmentation_part(name: str) -> str:
    from cvlab.data.augment import get_augmentation

    aug = get_augmentation(name)
    if aug.is_identity:
        return (f"def augment(x, generator):\n    \"\"\"The {name!r} augmentation: the images as they are.\"\"\"\n"
                "    return x\n")
    steps, parts = [], [_fill(code.AUGMENT_HEAD, crop_padding=_literal(aug.crop_padding),
                              pad_mode=_literal(aug.pad_mode))]
    if aug.crop_padding:
        parts.append(code.RANDOM_CROP)
        steps.append("x = random_crop(x, CROP_PADDING, PAD_MODE, generator)")
    if aug.hflip or aug.vflip:
        parts.append(code.RANDOM_FLIP)
    if aug.hflip:
        steps.append("x = random_flip(x, 3, generator)  # left-right")
    if aug.vflip:
        steps.append("x = random_flip(x, 2, generator)  # top-bottom")
    if aug.color_jitter:
        parts.append(code.COLOR_JITTER)
        steps.append(f"x = color_jitter(x, {_literal(float(aug.color_jitter))}, generator)")
    if aug.cutout:
        parts.append(code.CUTOUT)
        steps.append(f"x = cutout(x, {_literal(float(aug.cutout))}, generator)")
    body = "".join(f"    {step}\n" for step in steps)
    parts.append(f"def augment(x, generator):\n    \"\"\"The {name!r} augmentation of a float batch (B, 3, H, W) "
                 f"in [0, 1], in this order.\"\"\"\n{body}    return x\n")
    return "\n\n".join(parts) + "\n\n" + code.INPUT


def _optimizer_part(config: TrainConfig) -> str:
    from cvlab.training.optimizers import OPTIMIZERS
    from cvlab.training.schedulers import SCHEDULERS

    if config.optimizer not in OPTIMIZERS or config.optimizer not in code.OPTIMIZERS:
        raise NotExportable(f"The optimizer {config.optimizer!r} has no exported code; the run cannot be exported.")
    if config.scheduler not in SCHEDULERS or config.scheduler not in code.SCHEDULERS:
        raise NotExportable(f"The scheduler {config.scheduler!r} has no exported code; the run cannot be exported.")
    return _fill(code.OPTIMIZER_AND_SCHEDULER, per_batch=_literal(SCHEDULERS.get(config.scheduler).per_batch),
                 scheduler=SCHEDULERS.get(config.scheduler).title, optimizer_call=code.OPTIMIZERS[config.optimizer],
                 scheduler_call=code.SCHEDULERS[config.scheduler])


def script_source(plan: ExportPlan) -> str:
    """The whole run as one Python file: a docstring, then each part under a numbered comment."""
    measured = f" CV Lab measured {plan.recorded_accuracy:.3f}." if plan.recorded_accuracy is not None else ""
    header = (f'"""CV Lab run {plan.run_id}, exported: it trains the same model on the same data again.\n\n'
              f"Needs only torch, torchvision, numpy, Pillow (and timm or scikit-learn where used).\n"
              f"The last line printed is the final validation accuracy, 'val_accuracy 0.xxx'.{measured}\n\"\"\"\n\n")
    body = [f"# ---- {number}. {part.title} " + "-" * max(4, 100 - len(part.title)) + "\n\n" + part.code.rstrip()
            for number, part in enumerate(plan.parts, 1)]
    return header + "\n\n\n".join(body) + "\n\n\n" + plan.entry


def notebook_source(plan: ExportPlan) -> str:
    """The same code as a Jupyter notebook (nbformat 4): a markdown cell before each part, main() last."""
    import nbformat
    from nbformat import v4

    measured = (f" In CV Lab it reached a validation accuracy of **{plan.recorded_accuracy:.3f}**; run all cells to "
                "train it again." if plan.recorded_accuracy is not None else "")
    cells = [v4.new_markdown_cell(f"# CV Lab run {plan.run_id}\n\n{plan.summary}{measured}")]
    for number, part in enumerate(plan.parts, 1):
        cells += [v4.new_markdown_cell(f"## {number}. {part.title}\n\n{part.explanation}"),
                  v4.new_code_cell(part.code.rstrip())]
    cells.append(v4.new_code_cell("model = main()"))
    notebook = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.validate(notebook)
    return nbformat.writes(notebook)


def export_run(run_id: str, *, script: Path | None = None, notebook: Path | None = None,
               store=None) -> ExportedFiles:
    """Write the run's script and/or notebook to the paths given; the paths and sizes written."""
    from cvlab.data.in_place import write_atomically
    from cvlab.training import runs

    if script is None and notebook is None:
        raise InvalidInput("Say what to export: --script OUT.py, --notebook OUT.ipynb, or both.")
    for path in (script, notebook):
        if path is not None and not Path(path).expanduser().parent.is_dir():
            raise InvalidInput(f"{Path(path).expanduser().parent} is not a folder: create it first, or write the "
                               "export somewhere else.")
    plan = plan_export((store or runs.RunStore()).info(run_id))
    written = {}
    for path, make in ((script, script_source), (notebook, notebook_source)):
        if path is not None:
            data = make(plan).encode()
            write_atomically(Path(path).expanduser(), data)
            written[path] = len(data)
    return ExportedFiles(plan.run_id, str(script) if script else None, written.get(script, 0),
                         str(notebook) if notebook else None, written.get(notebook, 0))


_SETTINGS_TEXT = ("The run's hyper-parameters, exactly as it was trained. Change one and run again to see what it "
                  "does: the seed fixes the data, the split, the initial weights, the batch order and the "
                  "augmentation's draws, so any difference comes from your change.")
_FOLDER_TEXT = ("\n\nThe run trained on your own ImageFolder dataset (`dataset/<class name>/<images>`): set "
                "`DATA_DIR` to that folder here (on Colab, upload it first); the script takes it as its argument.")
_AUGMENT_TEXT = ("Augmentation works on whole batches on the device, each transform a few tensor operations with "
                 "one random draw per image, all from one seeded generator (random crop after padding, flips, "
                 "colour jitter, cutout), then normalisation with the channel mean and std.")
_OPTIMIZER_TEXT = ("The optimizer updates the weights from the gradients; the scheduler sets the learning rate of "
                   "every step. Some schedulers step after every batch (OneCycle, cosine), others after every "
                   "epoch (StepLR, ReduceLROnPlateau), exactly as the run did.")
_LOOP_TEXT = ("The lecture's training loop: `model.train()`; for each batch, forward, loss, `zero_grad`, "
              "`backward`, gradient clipping, `optimizer.step()`, `scheduler.step()`; then `model.eval()` and "
              "validation under `torch.no_grad()`.")
_MAIN_TEXT = "All together: data, model, optimizer, the epochs, and the final validation accuracy on the last line."
_LECTURE_MODEL_TEXT = {
    "lecture-vgg": ("Exercise 1 of the lecture's lab: a VGG-like network of `VGGBlock`s (two 3x3 conv-BN-ReLU and a "
                    "2x2 max-pool), 32 -> 64 -> 128 channels, then global average pooling and one linear layer."),
    "lecture-residual": ("Exercise 2 of the lecture's lab: the VGG-like network with each pair of convolutions a "
                         "`ResidualBlock` (y = ReLU(F(x) + x), a 1x1 projection where the channels change)."),
}
_REGISTRY_TEXT = ("{title}, built by its library with its classifier replaced by a new linear layer for our classes "
                  "(transfer learning); the backbone and the head are two parameter groups, so the backbone can "
                  "learn at its own rate or be frozen.")
_TIMM_TEXT = ("timm's `{name}` with a new classifier for our classes (transfer learning); the backbone and the head "
              "are two parameter groups, so the backbone can learn at its own rate or be frozen.")


def _data_text(kind: str) -> str:
    return {
        "shapes": ("The lab's synthetic shapes: the generator's own code, so the images are the run's very pixels "
                   "(each image drawn from its own seeded stream), split with about the same share of every class "
                   "in validation."),
        "digits": "scikit-learn's handwritten digits (8x8 scans) enlarged and copied to three channels.",
        "cifar10": ("CIFAR-10, downloaded by torchvision: its training images to train on and its test images to "
                    "validate on."),
        "folder": ("Your ImageFolder dataset: each image centre-cropped to a square and resized, split as the lab "
                   "splits it (its own train/ and val/ folders, or stratified by the seed)."),
    }[kind]
