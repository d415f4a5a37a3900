"""Everything a run needs on its device, built once from its config: data, model, optimizer, objective.

Classification and segmentation differ only here: where the images and labels come from
(cvlab.data.datasets or cvlab.segmentation.mask_data), which network is built, and the
``Objective`` (loss, target and scores) the engine's loop optimises and reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from cvlab.errors import InvalidInput
from cvlab.training.config import TrainConfig
from cvlab.training.tasks import SEGMENT_SHAPES, task_spec

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass
class Prepared:
    """Everything a run needs on its device, built once (also by the benchmark's reference loop)."""

    config: TrainConfig
    device: object
    class_names: tuple[str, ...]
    data_note: str  # where the data came from, for the run's note
    train_x: object  # uint8 (N, 3, H, W) on the device
    train_y: object  # class ids (N,), or masks (N, H, W) of class ids
    val_x: object
    val_y: object
    mean: object  # (1, 3, 1, 1) float on the device
    std: object
    model: object
    built: object  # cvlab.training.model_builder.BuiltModel
    optimizer: object
    scheduler: object
    objective: "Objective"
    steps_per_epoch: int
    autocast_dtype: object  # None: full precision

    def loss_fn(self, logits, y):
        return self.objective.loss(logits, self.objective.target(y))


@dataclass(frozen=True)
class Objective:
    """What the loop minimises and how it scores a batch, for one task.

    ``counts(logits, target)`` returns a 1-D tensor of sums that add up over batches
    (correct answers; or per-class intersections and areas), so a window's or the
    validation set's scores are exact, not an average of batch averages.
    """

    loss: Callable  # (float logits, target) -> scalar tensor
    target: Callable  # stored labels (uint8 masks, int64 ids) -> what the loss takes
    counts: Callable  # (logits, target) -> 1-D float tensor
    scores: Callable  # (summed counts, images seen) -> {"accuracy": ...} or {"iou": ..., "dice": ...}
    predict: Callable  # logits -> class ids (N,) or masks (N, H, W)
    eval_loss: Callable | None = None  # the validation loss when it differs (no label smoothing there)


def classification_objective(config: TrainConfig) -> Objective:
    import torch

    return Objective(
        loss=torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing),
        target=lambda y: y,
        counts=lambda logits, y: (logits.argmax(1) == y).sum().float().view(1),
        scores=lambda counts, seen: {"accuracy": float(counts[0]) / max(1, seen)},
        predict=lambda logits: logits.argmax(1), eval_loss=torch.nn.CrossEntropyLoss())


def segmentation_objective(config: TrainConfig, classes: int) -> Objective:
    """``classes`` logits per pixel (1: binary). IoU and Dice as cvlab.segmentation.train defines them:
    of the object class, or averaged over the object classes present (background left out)."""
    import torch

    from cvlab.segmentation.train import binary_or_class_ids, segmentation_loss

    loss = segmentation_loss(config.loss)
    object_classes = range(1, max(classes, 2))

    def hard(logits):
        return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(1)

    def counts(logits, target):
        predicted = hard(logits)
        sums = []
        for cls in object_classes:
            p, t = predicted == cls, target == cls
            sums += [(p & t).sum(), p.sum() + t.sum()]
        return torch.stack(sums).float()

    def scores(summed, seen):
        pairs = summed.view(-1, 2).tolist()
        present = [(i, total) for i, total in pairs if total > 0]
        if not present:
            return {"iou": 1.0, "dice": 1.0}  # nothing to find, and nothing found
        return {"iou": sum(i / (total - i) for i, total in present) / len(present),
                "dice": sum(2 * i / total for i, total in present) / len(present)}

    return Objective(loss=loss, target=lambda y: binary_or_class_ids(y, classes), counts=counts, scores=scores,
                     predict=lambda logits: hard(logits).to(torch.uint8))


def _classification_data(config: TrainConfig):
    """(train_x, train_y, val_x, val_y, class names, note, model, mean/std, objective) for a classifier."""
    from cvlab.data.augment import dataset_mean_std
    from cvlab.data.datasets import load_dataset
    from cvlab.training.model_builder import build_model

    data = load_dataset(config.data, image_size=config.image_size or None, seed=config.seed,
                        val_fraction=config.val_fraction, limit=config.limit or None)
    built = build_model(config, len(data.class_names))
    if "ImageNet" in built.note:
        mean_std = IMAGENET_MEAN, IMAGENET_STD  # what the pretrained weights saw
    else:
        mean_std = dataset_mean_std(data)  # published (CIFAR-10) or measured on the training images
    return ((data.train_x, data.train_y, data.val_x, data.val_y), tuple(data.class_names), data.note, built,
            mean_std, classification_objective(config))


def _segmentation_data(config: TrainConfig):
    """The same for a segmentation model: images and class-id masks, an smp model, a mask loss."""
    from cvlab.segmentation.architectures import check_input_size
    from cvlab.segmentation.mask_data import load_mask_dataset
    from cvlab.training.model_builder import build_model

    size = config.image_size or None
    if config.data == "shapes":
        data = load_mask_dataset("shapes", n=config.limit or SEGMENT_SHAPES, seed=config.seed, size=size or 64,
                                 binary=config.binary_masks, val_fraction=config.val_fraction)
    else:
        from cvlab.data.uploads import display_name

        name = display_name(config.data)  # an upload as the user named it, never its hash folder
        try:
            data = load_mask_dataset(config.data, size=size, seed=config.seed, val_fraction=config.val_fraction)
        except InvalidInput as err:  # say which of the user's files it is about
            raise err if name in str(err) else InvalidInput(f"{name}: {err}") from None
    tensors = [data.train_images, data.train_masks, data.val_images, data.val_masks]
    if config.limit and config.data != "shapes" and config.limit < data.report.pairs:
        keep_train, keep_val = limited_split(config.limit, config.val_fraction)
        tensors = [t[:keep] for t, keep in zip(tensors, (keep_train, keep_train, keep_val, keep_val))]
    check_input_size(config.model, *tensors[0].shape[-2:])
    names = ("background", "object") if config.binary_masks else tuple(data.report.class_names)
    classes = 1 if config.binary_masks else len(names)
    built = build_model(config, classes)
    note = data.report.text().splitlines()[0]
    # ImageNet statistics always: pretrained encoders need them, and random ones do not mind
    return (tuple(tensors), names, note, built, (IMAGENET_MEAN, IMAGENET_STD),
            segmentation_objective(config, classes))


def limited_split(limit: int, val_fraction: float) -> tuple[int, int]:
    """(training, validation) images kept of an uploaded mask set cut to ``limit`` pairs."""
    keep_val = max(1, round(limit * val_fraction))
    return max(1, limit - keep_val), keep_val


def batch_count(images: int, batch_size: int) -> int:
    """Batches per epoch as ``engine.batches`` cuts them: a lone last image joins the batch before it."""
    count = max(1, math.ceil(images / batch_size))
    return count - 1 if count > 1 and images % batch_size == 1 else count


def prepare(config: TrainConfig) -> Prepared:
    import torch

    from cvlab.device import amp_dtype, pick_device
    from cvlab.training.model_builder import param_groups
    from cvlab.training.optimizers import build_optimizer
    from cvlab.training.schedulers import build_scheduler

    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    load = _segmentation_data if task_spec(config.task).per_pixel else _classification_data
    (train_x, train_y, val_x, val_y), names, note, built, (mean, std), objective = load(config)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = built.module.to(device, memory_format=memory_format)
    optimizer = build_optimizer(config.optimizer, param_groups(built, config), lr=config.lr,
                                momentum=config.momentum, weight_decay=config.weight_decay)
    steps = batch_count(len(train_y), config.batch_size)
    as_device = lambda t: t.to(device)
    return Prepared(
        config, device, names, note, as_device(train_x), as_device(train_y), as_device(val_x), as_device(val_y),
        torch.tensor(mean, device=device).view(1, 3, 1, 1), torch.tensor(std, device=device).view(1, 3, 1, 1),
        model, built, optimizer, build_scheduler(optimizer, config, steps), objective,
        steps, amp_dtype(device) if config.amp else None,
    )
