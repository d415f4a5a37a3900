"""After a run: the final weights, the confusion matrix, the misclassified images, and using the model.

``finish_run`` writes ``model.safetensors`` (weights plus what it takes to use them:
classes, input size, normalisation, config), ``eval.json`` and ``misclassified.npz``
(plain arrays, read back with ``allow_pickle=False``). ``load_trained`` rebuilds the
model from those files alone, for the page's "try it" panel, the ONNX export and the CLI.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cvlab.errors import InvalidInput
from cvlab.training import runs
from cvlab.training.checkpoints import load_model_weights, read_checkpoint, save_checkpoint
from cvlab.training.config import TrainConfig

MISCLASSIFIED_KEPT = 36  # images in the gallery


@dataclass(frozen=True)
class Evaluation:
    classes: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted class
    per_class_accuracy: tuple[float, ...]
    accuracy: float


@dataclass(frozen=True)
class Misclassified:
    images: np.ndarray  # uint8 (K, H, W, 3)
    true: tuple[int, ...]
    predicted: tuple[int, ...]


def finish_run(p, run_dir: Path, status: str, reason: str) -> None:
    """Write the final model and its evaluation, then the run's final status."""
    import torch

    from cvlab.training.engine import evaluate

    size = int(p.train_x.shape[-1])
    save_checkpoint(run_dir / "model.safetensors", p.model, config=p.config.to_dict(),
                    classes=list(p.data.class_names), image_size=size,
                    mean=p.mean.flatten().tolist(), std=p.std.flatten().tolist())
    val_loss, accuracy, predicted = evaluate(p)
    n = len(p.data.class_names)
    truth = p.val_y.cpu()
    predicted = predicted.cpu()
    confusion = torch.bincount(truth * n + predicted, minlength=n * n).view(n, n)
    per_class = (confusion.diag().float() / confusion.sum(1).clamp_min(1)).tolist()
    (run_dir / "eval.json").write_text(json.dumps({
        "classes": list(p.data.class_names), "confusion": confusion.tolist(), "per_class_accuracy": per_class,
        "accuracy": accuracy, "val_loss": val_loss}))
    wrong = torch.nonzero(predicted != truth).flatten()[:MISCLASSIFIED_KEPT]
    np.savez_compressed(run_dir / "misclassified.npz",
                        images=p.val_x[wrong.to(p.val_x.device)].permute(0, 2, 3, 1).cpu().numpy(),
                        true=truth[wrong].numpy(), predicted=predicted[wrong].numpy())
    runs.update_record(run_dir, status=status, reason=reason, final_val_accuracy=accuracy,
                       **{f"{status}_at": time.time()})


def read_evaluation(run_dir: Path) -> Evaluation | None:
    try:
        data = json.loads((run_dir / "eval.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return Evaluation(tuple(data["classes"]), tuple(tuple(row) for row in data["confusion"]),
                      tuple(data["per_class_accuracy"]), float(data["accuracy"]))


def read_misclassified(run_dir: Path) -> Misclassified | None:
    try:
        with np.load(run_dir / "misclassified.npz", allow_pickle=False) as data:
            return Misclassified(data["images"], tuple(int(v) for v in data["true"]),
                                 tuple(int(v) for v in data["predicted"]))
    except FileNotFoundError:
        return None


@dataclass
class TrainedModel:
    model: object  # torch.nn.Module in eval mode, on the CPU
    classes: tuple[str, ...]
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


def load_trained(weights: Path) -> TrainedModel:
    """A model saved by ``finish_run`` (from a run folder or a downloaded file), rebuilt without pickle."""
    from cvlab.training.models import build_model

    state, meta, _, _ = read_checkpoint(Path(weights))
    if "config" not in meta or "classes" not in meta:
        raise InvalidInput(f"{Path(weights).name} was not written by this lab's trainer: it lacks the model's config.")
    config = TrainConfig.from_dict({**meta["config"], "pretrained": False})
    built = build_model(config, len(meta["classes"]))
    load_model_weights(built.module, state, Path(weights).name)
    built.module.eval()
    return TrainedModel(built.module, tuple(meta["classes"]), int(meta["image_size"]),
                        tuple(meta["mean"]), tuple(meta["std"]))


@dataclass(frozen=True)
class Prediction:
    classes: tuple[str, ...]
    probabilities: tuple[float, ...]  # in class order

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(self.classes[i], float(self.probabilities[i])) for i in order]


def predict(trained: TrainedModel, pixels: np.ndarray) -> Prediction:
    """Class probabilities for an RGB uint8 image (H, W, 3), resized to the model's input size."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.array(pixels, dtype=np.float32)).permute(2, 0, 1)[None] / 255  # a copy: pixels are read-only
    x = F.interpolate(x, size=(trained.image_size, trained.image_size), mode="bilinear", antialias=True,
                      align_corners=False)
    x = (x - torch.tensor(trained.mean).view(1, 3, 1, 1)) / torch.tensor(trained.std).view(1, 3, 1, 1)
    with torch.no_grad():
        probabilities = trained.model(x).softmax(1)[0].tolist()
    return Prediction(trained.classes, tuple(probabilities))


def export_onnx(run_dir: Path) -> Path:
    """The run's final model as ONNX (opset 18), written beside it once and reused."""
    import torch

    target = run_dir / "model.onnx"
    source = run_dir / "model.safetensors"
    if not source.is_file():
        raise InvalidInput("This run has no final model yet: ONNX export needs a finished or stopped run.")
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    trained = load_trained(source)
    dummy = torch.zeros(1, 3, trained.image_size, trained.image_size)
    tmp = target.with_name(".model.onnx.tmp")
    torch.onnx.export(trained.model, (dummy,), str(tmp), input_names=["image"], output_names=["logits"],
                      dynamo=False, opset_version=18)
    tmp.replace(target)
    return target
