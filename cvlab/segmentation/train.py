"""What the training engine needs to train a segmentation model: builder, loss, metrics, one step.

The engine owns the loop, the run folder and the job queue (its recipe for this task is
``TrainConfig.for_task("segment")``); these functions own the segmentation: images go in as uint8
``(N, 3, H, W)`` (normalised here with ImageNet's mean and std, which pretrained encoders expect and random
ones do not mind) and masks as class ids ``(N, H, W)``. Metrics are hard: the prediction is thresholded
(binary) or arg-maxed.

    model = build_segmentation_model("unet", "resnet18", classes=1)
    loss = segmentation_loss("0.5*bce+0.5*dice")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    train_step(model, images, masks, loss, optimizer)           # -> float
    evaluate(model, val_images, val_masks, loss, classes=1)     # -> {"loss", "iou", "dice"}
"""

from __future__ import annotations


import torch
from torch import nn

from cvlab.segmentation.architectures import build_segmentation_model, check_input_size
from cvlab.segmentation.losses import SegmentationLoss, parse_loss_spec

__all__ = ["build_segmentation_model", "segmentation_loss",
           "to_model_input", "binary_or_class_ids", "segmentation_metrics", "train_step", "predict_masks",
           "evaluate", "check_input_size"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def segmentation_loss(spec: str) -> SegmentationLoss:
    """A loss from its text, e.g. ``"0.5*bce+0.5*dice"``; see cvlab.segmentation.losses."""
    return parse_loss_spec(spec)


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) 0..255 -> float (N, 3, H, W) normalised with ImageNet's mean and std.

    Float input is taken as already 0..1 and only normalised.
    """
    values = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    mean = torch.tensor(IMAGENET_MEAN, device=values.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=values.device).view(1, 3, 1, 1)
    return (values - mean) / std


def binary_or_class_ids(masks: torch.Tensor, classes: int) -> torch.Tensor:
    """Class-id masks as the model's output needs them: any object -> 1 for a binary model."""
    return (masks > 0).long() if classes == 1 else masks.long()


def _hard_prediction(logits: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) logits -> (N, H, W) class ids: logit > 0 (p > 0.5) for binary, else argmax."""
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(dim=1)


def segmentation_metrics(logits: torch.Tensor, masks: torch.Tensor, classes: int) -> dict[str, float]:
    """Hard IoU and Dice over the batch, averaged over the object classes.

    Binary: of class 1. Multi-class: mean over classes 1..C-1 (background left out, as its
    huge area would flatter every model) that appear in the truth or the prediction.
    A batch with no object anywhere, predicted as such, scores 1.
    """
    predicted = _hard_prediction(logits)
    truth = binary_or_class_ids(masks.to(predicted.device), classes)
    ious, dices = [], []
    for cls in range(1, max(classes, 2)):
        pred_c, true_c = predicted == cls, truth == cls
        intersection = (pred_c & true_c).sum().item()
        total = pred_c.sum().item() + true_c.sum().item()
        if total == 0:
            continue
        ious.append(intersection / (total - intersection))
        dices.append(2 * intersection / total)
    if not ious:
        return {"iou": 1.0, "dice": 1.0}
    return {"iou": sum(ious) / len(ious), "dice": sum(dices) / len(dices)}


def _output_classes(model: nn.Module) -> int:
    head = getattr(model, "segmentation_head", None)
    conv = head[0] if head is not None else None
    return int(conv.out_channels) if isinstance(conv, nn.Conv2d) else 1


def train_step(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, loss: SegmentationLoss,
               optimizer: torch.optim.Optimizer) -> float:
    """One optimisation step on a batch; returns the loss before the step.

    images: (N, 3, H, W) uint8 or float 0..1; masks: (N, H, W) class ids (any object > 0 is
    the object of a binary model). Both are moved to the model's device here.
    """
    device = next(model.parameters()).device
    model.train()
    logits = model(to_model_input(images.to(device)))  # (N, C, H, W)
    value = loss(logits, binary_or_class_ids(masks.to(device), logits.shape[1]))
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    optimizer.step()
    return float(value.detach())


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Logits (N, C, H, W) on the CPU, in eval mode, a batch at a time."""
    device = next(model.parameters()).device
    model.eval()
    chunks = [model(to_model_input(images[i:i + batch_size].to(device))).float().cpu()
              for i in range(0, len(images), batch_size)]
    return torch.cat(chunks)


def predict_masks(model: nn.Module, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Predicted class ids (N, H, W) uint8 (binary: 0/1)."""
    return _hard_prediction(predict_logits(model, images, batch_size)).to(torch.uint8)


def evaluate(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, loss: SegmentationLoss,
             classes: int | None = None, batch_size: int = 32) -> dict[str, float]:
    """Validation loss, IoU and Dice of the whole set, without gradients."""
    logits = predict_logits(model, images, batch_size)
    classes = classes or _output_classes(model)
    value = float(loss(logits, binary_or_class_ids(masks, logits.shape[1])))
    return {"loss": value, **segmentation_metrics(logits, masks, classes)}
