"""After a run: the final weights, its evaluation, and using the model.

``finish_run`` writes ``model.safetensors`` (weights plus what it takes to use them:
classes, input size, normalisation, config) and ``eval.json``; for a classifier also
``misclassified.npz``, for a segmentation model ``preview.npz`` (validation images,
true and predicted masks, rewritten after every epoch so the live page shows masks as
training goes). The .npz files are plain arrays, read back with ``allow_pickle=False``.
``load_trained`` rebuilds the model from those files alone, for the page's "try it"
panel, the ONNX export and the CLI.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cvlab.errors import InvalidInput
from cvlab.data.in_place import write_atomically
from cvlab.training import runs
from cvlab.training.checkpoints import load_model_weights, read_checkpoint, save_checkpoint
from cvlab.training.config import TrainConfig
from cvlab.training.tasks import task_spec

MISCLASSIFIED_KEPT = 36  # images in the gallery
PREVIEW_KEPT = 6  # validation images whose masks the segmentation pages draw


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


@dataclass(frozen=True)
class SegmentationEvaluation:
    classes: tuple[str, ...]
    iou: float
    dice: float
    per_class_iou: tuple[float | None, ...]  # None: the class appears in neither truth nor prediction
    val_loss: float


@dataclass(frozen=True)
class MaskPreview:
    epoch: int
    images: np.ndarray  # uint8 (K, H, W, 3)
    truth: np.ndarray  # uint8 (K, H, W) class ids (binary runs: 0/1)
    predicted: np.ndarray  # uint8 (K, H, W)


def _atomic_savez(path: Path, **arrays) -> None:
    write_atomically(path, lambda tmp: np.savez_compressed(tmp, **arrays), suffix=".tmp.npz")


def write_preview(p, run_dir: Path, predicted, epoch: int) -> None:
    """A segmentation run's first validation images with their true and predicted masks (others: nothing)."""
    if not task_spec(p.config.task).per_pixel:
        return
    k = min(PREVIEW_KEPT, len(p.val_y))
    _atomic_savez(run_dir / "preview.npz", epoch=np.array(epoch),
                  images=p.val_x[:k].permute(0, 2, 3, 1).cpu().numpy(),
                  truth=p.objective.target(p.val_y[:k]).to("cpu").numpy().astype(np.uint8),
                  predicted=predicted[:k].cpu().numpy().astype(np.uint8))


def read_preview(run_dir: Path) -> MaskPreview | None:
    try:
        with np.load(run_dir / "preview.npz", allow_pickle=False) as data:
            return MaskPreview(int(data["epoch"]), data["images"], data["truth"], data["predicted"])
    except (FileNotFoundError, OSError, ValueError, KeyError):  # absent, or replaced while being read
        return None


def finish_run(p, run_dir: Path, status: str, reason: str) -> None:
    """Write the final model and its evaluation, then the run's final status."""
    from cvlab.training.validation import evaluate

    size = int(p.train_x.shape[-1])
    save_checkpoint(run_dir / "model.safetensors", p.model, config=p.config.to_dict(),
                    classes=list(p.class_names), image_size=size,
                    mean=p.mean.flatten().tolist(), std=p.std.flatten().tolist())
    val_loss, scores, predicted = evaluate(p)
    if task_spec(p.config.task).per_pixel:
        _segmentation_evaluation(p, run_dir, val_loss, scores, predicted)
    else:
        _classification_evaluation(p, run_dir, val_loss, scores["accuracy"], predicted)
    runs.update_record(run_dir, status=status, reason=reason, **{f"final_val_{k}": v for k, v in scores.items()},
                       **{f"{status}_at": time.time()})


def _segmentation_evaluation(p, run_dir: Path, val_loss: float, scores: dict, predicted) -> None:
    target = p.objective.target(p.val_y).to(predicted.device)
    per_class = []
    for cls in range(1, max(len(p.class_names), 2)):
        pred_c, true_c = predicted == cls, target == cls
        intersection, total = int((pred_c & true_c).sum()), int(pred_c.sum() + true_c.sum())
        per_class.append(intersection / (total - intersection) if total else None)
    write_atomically(run_dir / runs.EVAL_FILE, json.dumps({
        "task": "segment", "classes": list(p.class_names), "iou": scores["iou"], "dice": scores["dice"],
        "per_class_iou": per_class, "val_loss": val_loss}))
    write_preview(p, run_dir, predicted, int(runs.read_info(run_dir).epochs_done))


def _classification_evaluation(p, run_dir: Path, val_loss: float, accuracy: float, predicted) -> None:
    import torch

    n = len(p.class_names)
    truth = p.val_y.cpu()
    predicted = predicted.cpu()
    confusion = torch.bincount(truth * n + predicted, minlength=n * n).view(n, n)
    per_class = (confusion.diag().float() / confusion.sum(1).clamp_min(1)).tolist()
    write_atomically(run_dir / runs.EVAL_FILE, json.dumps({
        "task": "classify", "classes": list(p.class_names), "confusion": confusion.tolist(),
        "per_class_accuracy": per_class, "accuracy": accuracy, "val_loss": val_loss}))
    wrong = torch.nonzero(predicted != truth).flatten()[:MISCLASSIFIED_KEPT]
    _atomic_savez(run_dir / "misclassified.npz",
                        images=p.val_x[wrong.to(p.val_x.device)].permute(0, 2, 3, 1).cpu().numpy(),
                        true=truth[wrong].numpy(), predicted=predicted[wrong].numpy())


def read_evaluation(run_dir: Path) -> Evaluation | SegmentationEvaluation | None:
    data = runs.read_final_scores(run_dir)
    if data is None:
        return None
    if data.get("task") == "segment":
        return SegmentationEvaluation(tuple(data["classes"]), float(data["iou"]), float(data["dice"]),
                                      tuple(data["per_class_iou"]), float(data["val_loss"]))
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
    task: str = "classify"


def load_trained(weights: Path) -> TrainedModel:
    """A model saved by ``finish_run`` (from a run folder or a downloaded file), rebuilt without pickle."""
    from cvlab.training.model_builder import build_model, model_outputs

    state, meta, _, _ = read_checkpoint(Path(weights))
    if "config" not in meta or "classes" not in meta:
        raise InvalidInput(f"{Path(weights).name} was not written by this lab's trainer: it lacks the model's config.")
    config = TrainConfig.from_dict({**meta["config"], "pretrained": False})
    built = build_model(config, model_outputs(config, len(meta["classes"])))
    load_model_weights(built.module, state, Path(weights).name)
    built.module.eval()
    return TrainedModel(built.module, tuple(meta["classes"]), int(meta["image_size"]),
                        tuple(meta["mean"]), tuple(meta["std"]), config.task)


@dataclass(frozen=True)
class Prediction:
    classes: tuple[str, ...]
    probabilities: tuple[float, ...]  # in class order

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(self.classes[i], float(self.probabilities[i])) for i in order]


def _model_input(trained: TrainedModel, pixels: np.ndarray):
    """RGB uint8 (H, W, 3) -> the normalised (1, 3, S, S) float the model was trained on."""
    import torch
    import torch.nn.functional as F

    # a copy: pixels are read-only
    x = torch.from_numpy(np.array(pixels, dtype=np.float32)).permute(2, 0, 1)[None] / 255
    x = F.interpolate(x, size=(trained.image_size, trained.image_size), mode="bilinear", antialias=True,
                      align_corners=False)
    return (x - torch.tensor(trained.mean).view(1, 3, 1, 1)) / torch.tensor(trained.std).view(1, 3, 1, 1)


def predict(trained: TrainedModel, pixels: np.ndarray) -> Prediction:
    """Class probabilities for an RGB uint8 image (H, W, 3), resized to the model's input size."""
    import torch

    with torch.no_grad():
        probabilities = trained.model(_model_input(trained, pixels)).softmax(1)[0].tolist()
    return Prediction(trained.classes, tuple(probabilities))


def predict_mask(trained: TrainedModel, pixels: np.ndarray) -> np.ndarray:
    """A segmentation model's class ids (H, W) uint8 for an RGB image, at the image's own size.

    The image is resized to the training size, segmented, and the logits are resized back
    (bilinear, before the threshold or arg-max) so the mask's edges follow the image.
    """
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        logits = trained.model(_model_input(trained, pixels))
        logits = F.interpolate(logits, size=pixels.shape[:2], mode="bilinear", align_corners=False)
    ids = (logits[0, 0] > 0).long() if logits.shape[1] == 1 else logits[0].argmax(0)
    return ids.to(torch.uint8).numpy()


ONNX_EXPORT = "batch-and-size-dynamic"  # written into the file; an export made another way is made again


def _takes_other_sizes(trained: TrainedModel) -> bool:
    """Whether the model runs at twice its training size with the output that size should give: a
    global-pooling classifier or a fully convolutional segmenter does; a flatten + linear head does not."""
    import torch

    size = 2 * trained.image_size  # a multiple of the training size keeps an encoder's stride constraint
    try:
        with torch.no_grad():
            out = trained.model(torch.zeros(2, 3, size, size))
    except (RuntimeError, ValueError, AssertionError):
        return False
    if task_spec(trained.task).per_pixel:
        return tuple(out.shape[-2:]) == (size, size) and out.shape[0] == 2
    return tuple(out.shape) == (2, len(trained.classes))


def _exported_by_this_version(path: Path) -> bool:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - unreadable: export again
        return False
    return any(p.key == "cvlab_export" and p.value == ONNX_EXPORT for p in model.metadata_props)


def export_onnx(run_dir: Path) -> Path:
    """The run's final model as ONNX (opset 18), written beside it once and reused.

    The batch is always a free dimension ("batch"); height and width are free too ("height",
    "width") where the model takes other sizes (checked by running it at twice its training
    size), else fixed at the training size. The file's metadata says which, and the size trained at.
    """
    import onnx
    import torch

    target = run_dir / "model.onnx"
    source = run_dir / "model.safetensors"
    if not source.is_file():
        raise InvalidInput("This run has no final model yet: ONNX export needs a finished or stopped run.")
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime and _exported_by_this_version(target):
        return target
    trained = load_trained(source)
    any_size = _takes_other_sizes(trained)
    per_pixel = task_spec(trained.task).per_pixel
    output = "mask_logits" if per_pixel else "logits"
    free = {0: "batch", 2: "height", 3: "width"} if any_size else {0: "batch"}
    dynamic = {"image": free, output: free if per_pixel else {0: "batch"}}
    dummy = torch.zeros(2, 3, trained.image_size, trained.image_size)  # (B, C, H, W); 2, so no size-1 shortcut

    def export(tmp: Path) -> None:
        torch.onnx.export(trained.model, (dummy,), str(tmp), input_names=["image"], output_names=[output],
                          dynamic_axes=dynamic, dynamo=False, opset_version=18)
        model = onnx.load(str(tmp))
        for key, value in (("cvlab_export", ONNX_EXPORT), ("trained_image_size", str(trained.image_size)),
                           ("any_image_size", "yes" if any_size else f"no: {trained.image_size} px only"),
                           ("classes", json.dumps(trained.classes))):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(model, str(tmp))

    return write_atomically(target, export)
