"""Train a YOLO detector with ultralytics, report every epoch, stop on request, export as safetensors.

``train_yolo`` is what a queue task (or a script) calls. It keeps ultralytics inside
the run folder (``project=run_dir``), away from the network (no pip installs, no
analytics, no AMP-check download) and quiet on disk (``plots=False``), and hands
each epoch's losses and mAP to ``on_epoch`` as a plain dict. ``should_stop`` is
polled after every batch; when it answers True the epoch ends early, is validated
and saved, and training stops. The result is the CV Lab format of ``stored.py``
(``detector.safetensors`` in the run folder), which the playground finds and lists.

The dict given to ``on_epoch``::

    {"epoch": 3, "epochs": 20, "box_loss": 1.21, "cls_loss": 0.93, "dfl_loss": 1.10,   # training, mean of the epoch
     "val_box_loss": ..., "val_cls_loss": ..., "val_dfl_loss": ...,
     "precision": 0.81, "recall": 0.77, "mAP50": 0.85, "mAP50-95": 0.61, "lr": 0.0012, "seconds": 41.2,
     "final": False}   # True once, after training: the best checkpoint validated again
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from cvlab.detection.catalogue import EXPORTED_WEIGHTS
from cvlab.errors import InvalidInput
from cvlab.settings import get_settings

AMP_CHECK_WEIGHTS = "yolo26n.pt"  # ultralytics' AMP self-test loads this, downloading it into the working dir
_METRIC_NAMES = {"metrics/precision(B)": "precision", "metrics/recall(B)": "recall",
                 "metrics/mAP50(B)": "mAP50", "metrics/mAP50-95(B)": "mAP50-95",
                 "val/box_loss": "val_box_loss", "val/cls_loss": "val_cls_loss", "val/dfl_loss": "val_dfl_loss"}


def epoch_report(trainer, started: float, final: bool = False) -> dict:
    """The plain-dict summary of the trainer's latest epoch (see the module docstring)."""
    report: dict = {"epoch": int(trainer.epoch) + (0 if final else 1), "epochs": int(trainer.epochs)}
    for key, value in trainer.label_loss_items(trainer.tloss, prefix="train").items():
        report[key.removeprefix("train/")] = round(float(value), 5)
    for key, value in (trainer.metrics or {}).items():
        if key in _METRIC_NAMES:
            report[_METRIC_NAMES[key]] = round(float(value), 5)
    lrs = list((getattr(trainer, "lr", None) or {}).values())
    report |= {"lr": float(lrs[0]) if lrs else None, "seconds": round(time.perf_counter() - started, 2),
               "final": final}
    return report


def _resolved_data_yaml(data_yaml: Path, run_dir: Path) -> Path:
    """A copy of data.yaml whose ``path`` is absolute (ultralytics resolves a relative one elsewhere), holding
    only the keys a dataset needs: ultralytics acts on others (``download:`` runs as code)."""
    import yaml

    from cvlab.detection.yolo_data import trainable_data

    data_yaml = Path(data_yaml).resolve()
    if not data_yaml.is_file():
        raise InvalidInput(f"{data_yaml} does not exist: write a YOLO dataset first "
                           "(python -m cvlab data shapes --task detect --out DIR).")
    data = yaml.safe_load(data_yaml.read_text()) or {}
    if not isinstance(data, dict) or "names" not in data or "train" not in data:
        raise InvalidInput(f"{data_yaml} is not a YOLO data.yaml: it needs at least `train` and `names`.")
    root = Path(str(data.get("path") or "."))
    target = run_dir / "data.yaml"
    target.write_text(yaml.safe_dump(trainable_data(data, root if root.is_absolute() else data_yaml.parent / root),
                                     sort_keys=False))
    return target


def _class_names(data_yaml: Path) -> list[str]:
    import yaml

    names = yaml.safe_load(data_yaml.read_text())["names"]
    return [str(names[i]) for i in sorted(names)] if isinstance(names, dict) else [str(n) for n in names]


def _amp_allowed(device: str) -> bool:
    """AMP on a GPU only when ultralytics' self-test weights are already on disk (no download from inside it)."""
    from cvlab.detection.ultralytics_env import library_weights_dir

    return device not in ("cpu", "mps") and (library_weights_dir() / AMP_CHECK_WEIGHTS).is_file()


def _start_model(model: str, pretrained: bool):
    from cvlab.detection import catalogue as models

    spec = models.get_detector(model if pretrained else model.removesuffix(models.RANDOM_SUFFIX))
    if spec.kind in ("shipped", "trained") or (pretrained and spec.kind == "pretrained"):
        yolo = models.load_yolo(spec)
        if not yolo.ckpt:  # a stored model is built from its config and given its tensors, with no checkpoint;
            yolo.ckpt = {"model": yolo.model}  # without one, YOLO.train() rebuilds it with random weights
        return yolo
    from cvlab.detection.stored import build_detector

    return build_detector(spec.config)  # random init from the packaged config


def _add_callbacks(yolo, on_epoch: Callable[[dict], None] | None, should_stop: Callable[[], bool] | None) -> None:
    """Report each epoch through ``on_epoch``; set ultralytics' own stop flag when ``should_stop()`` says so."""
    started = time.perf_counter()
    after_last_epoch = [False]  # the loop stops after an epoch that set trainer.stop; a later call is the final eval

    def report(trainer) -> None:
        final, after_last_epoch[0] = after_last_epoch[0], bool(trainer.stop)
        if on_epoch is not None:
            on_epoch(epoch_report(trainer, started, final=final))

    def maybe_stop(trainer) -> None:
        if should_stop is not None and should_stop():
            trainer.stop = True  # checked after every batch; the epoch is then validated and saved

    yolo.add_callback("on_fit_epoch_end", report)
    yolo.add_callback("on_train_batch_end", maybe_stop)


def train_yolo(data_yaml: Path, *, model: str, epochs: int, imgsz: int, batch: int, run_dir: Path, device: str,
               on_epoch: Callable[[dict], None] | None = None, should_stop: Callable[[], bool] | None = None,
               pretrained: bool = False, amp: bool | None = None, seed: int = 0, half: bool = False,
               callbacks: dict[str, Callable] | None = None, resume: bool = False, **overrides) -> Path:
    """Train ``model`` (a detector name: ``yolov8n`` starts from random weights unless ``pretrained``;
    ``shapes-yolo`` or ``trained-...`` fine-tune) on ``data_yaml``; return the exported safetensors path.

    ``device`` is "cpu", "cuda:0" or "0"; ``amp`` None turns mixed precision on for a GPU
    when that is possible without a download. ``overrides`` go to ultralytics' ``train``
    (e.g. ``mosaic=0.5``, ``lr0=0.01``); ``half`` stores the weights as float16.
    ``callbacks`` adds ultralytics callbacks by event name (``on_train_batch_end``...), each
    given the trainer. ``resume`` continues from ``run_dir``'s last.pt (our own checkpoint).
    """
    from cvlab.detection.catalogue import load_checkpoint_file
    from cvlab.detection.stored import save_detector
    from cvlab.detection.ultralytics_env import ultralytics_ready

    if epochs < 1 or batch < 1 or not 32 <= imgsz <= 1280:
        raise InvalidInput(f"epochs ({epochs}) and batch ({batch}) must be at least 1, imgsz ({imgsz}) 32..1280 px.")
    settings = get_settings()
    ultralytics_ready(settings)
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    data = _resolved_data_yaml(data_yaml, run_dir)
    last = run_dir / "ultralytics" / "weights" / "last.pt"
    if resume and last.is_file():
        from ultralytics import YOLO

        yolo = YOLO(str(last), task="detect")  # written by this run's own trainer
    else:
        resume = False
        yolo = _start_model(model, pretrained)
    _add_callbacks(yolo, on_epoch, should_stop)
    for event, function in (callbacks or {}).items():
        yolo.add_callback(event, function)
    if resume:
        yolo.train(resume=True, data=str(data), device=device, workers=0, plots=False)
    else:
        yolo.train(data=str(data), epochs=epochs, imgsz=imgsz, batch=batch, device=device, project=str(run_dir),
                   name="ultralytics", exist_ok=True, workers=0, plots=False, seed=seed, verbose=False,
                   amp=_amp_allowed(device) if amp is None else amp, **overrides)
    best = run_dir / "ultralytics" / "weights" / "best.pt"
    best = best if best.is_file() else best.with_name("last.pt")
    trained = load_checkpoint_file(best, trusted=True, settings=settings)  # our own checkpoint, just written
    return save_detector(trained.model, run_dir / EXPORTED_WEIGHTS, names=_class_names(data), imgsz=imgsz,
                         extra={"data": str(Path(data_yaml).resolve()), "epochs": epochs, "start": model,
                                "pretrained": pretrained}, half=half)
