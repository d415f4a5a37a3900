"""A prepared run's images into its model: the normalised input, mixed precision, the validation pass.

Used by the engine's epochs and by ``evaluation.finish_run`` for the final scores; the
benchmarks time the same input path.
"""

from __future__ import annotations

from contextlib import nullcontext

from cvlab.training.preparation import Prepared


def to_input(p: Prepared, x_uint8, augment=None, generator=None):
    """uint8 (B, 3, H, W) on the device -> normalised float, augmented when training."""
    import torch

    from cvlab.data.augment import augment_batch, to_float

    x = to_float(x_uint8)
    if augment is not None:
        x = augment_batch(x, augment, generator)
    x = (x - p.mean) / p.std
    return x.contiguous(memory_format=torch.channels_last) if p.config.channels_last else x


def evaluate(p: Prepared, batch_size: int = 256) -> tuple[float, dict, object]:
    """Validation loss, scores (``{"accuracy": ...}`` or ``{"iou": ..., "dice": ...}``) and the
    predictions, with no gradients and the model in eval mode."""
    import torch

    p.model.eval()
    predictions, total_loss, counts = [], 0.0, None
    with torch.no_grad(), autocast(p):
        for start in range(0, len(p.val_y), batch_size):
            x = to_input(p, p.val_x[start:start + batch_size])
            y = p.objective.target(p.val_y[start:start + batch_size])
            logits = p.model(x).float()
            total_loss += float((p.objective.eval_loss or p.objective.loss)(logits, y)) * len(y)  # means -> sums
            batch_counts = p.objective.counts(logits, y)
            counts = batch_counts if counts is None else counts + batch_counts
            predictions.append(p.objective.predict(logits))
    predicted = torch.cat(predictions) if predictions else p.val_y[:0]
    n = max(1, len(p.val_y))
    scores = p.objective.scores(counts, n) if counts is not None else {}
    return total_loss / n, scores, predicted


def autocast(p: Prepared):
    """The run's mixed precision (bf16/fp16 autocast on its device), or nothing when it trains in float32."""
    import torch

    if p.autocast_dtype is None:
        return nullcontext()
    return torch.autocast(p.device.type, dtype=p.autocast_dtype)
