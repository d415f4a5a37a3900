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

import logging
import time
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from cvlab.detection.models import EXPORTED_WEIGHTS
from cvlab.errors import InvalidInput
from cvlab.settings import get_settings

if TYPE_CHECKING:
    from cvlab.detection.yolo_data import DatasetReport

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
    """A copy of data.yaml whose ``path`` is absolute (ultralytics resolves a relative one elsewhere)."""
    import yaml

    data_yaml = Path(data_yaml).resolve()
    if not data_yaml.is_file():
        raise InvalidInput(f"{data_yaml} does not exist: write a YOLO dataset first "
                           "(python -m cvlab data shapes --task detect --out DIR).")
    data = yaml.safe_load(data_yaml.read_text()) or {}
    if not isinstance(data, dict) or "names" not in data or "train" not in data:
        raise InvalidInput(f"{data_yaml} is not a YOLO data.yaml: it needs at least `train` and `names`.")
    root = Path(data.get("path") or ".")
    data["path"] = str(root if root.is_absolute() else (data_yaml.parent / root).resolve())
    data.setdefault("val", data["train"])
    target = run_dir / "data.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False))
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
    from cvlab.detection import models

    spec = models.get_detector(model if pretrained else model.removesuffix(models.RANDOM_SUFFIX))
    if spec.kind in ("shipped", "trained") or (pretrained and spec.kind == "pretrained"):
        return models.load_yolo(spec)
    from ultralytics import YOLO

    return YOLO(f"{spec.config}.yaml", task="detect")  # random init from the packaged config


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
    from cvlab.detection.models import load_checkpoint_file
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


# ---- the run-folder runner: what a queue worker or `python -m cvlab train --task detect` calls ----

OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}  # ours -> ultralytics'
LOGS_PER_EPOCH = 20


def run_dataset(run_dir: Path, config) -> tuple[Path, "DatasetReport"]:
    """The run's data.yaml, validated: the shapes generator's scenes (written once into the run
    folder), an uploaded zip (unpacked safely into it), a dataset folder or a data.yaml path."""
    from cvlab.detection.yolo_data import find_data_yaml, require_valid, validate_yolo_dataset

    target = run_dir / "data"
    if target.is_dir():  # a resumed run: its data is already here
        data_yaml = find_data_yaml(target)
    elif config.data == "shapes":
        from cvlab.data.writers import write_yolo_dataset

        data_yaml = write_yolo_dataset(target, config.limit or 400, config.seed, size=config.image_size,
                                       val_fraction=config.val_fraction)
    else:
        source = Path(config.data).expanduser()
        if source.is_file() and source.suffix.lower() == ".zip":
            data_yaml = _unpacked(source, target)
        elif source.is_file() and source.suffix.lower() in (".yaml", ".yml"):
            data_yaml = source
        elif source.is_dir():
            data_yaml = find_data_yaml(source)
        else:
            raise InvalidInput(f"{config.data!r} is neither 'shapes', a YOLO dataset zip, a data.yaml nor a "
                               "dataset folder.")
    return data_yaml, require_valid(validate_yolo_dataset(data_yaml))


def _unpacked(archive: Path, target: Path) -> Path:
    """A zip unpacked safely beside ``target`` and moved there only once it is a valid dataset."""
    import shutil

    from cvlab.detection.yolo_data import require_valid, validate_yolo_archive

    scratch = target.with_name("data-unpacking")
    shutil.rmtree(scratch, ignore_errors=True)
    report = require_valid(validate_yolo_archive(archive, scratch))
    scratch.replace(target)
    return target / report.data_yaml.relative_to(scratch)


class _LiveRun:
    """ultralytics callbacks that write the run's metrics file and obey the app's requests.

    A new learning rate is a factor on ultralytics' own schedule (its ``lf``), so warmup
    and the linear decay keep their shape, as in the classification engine.
    """

    def __init__(self, control, metrics, train_images: int, epochs: int, done: int):
        self.control, self.metrics, self.train_images, self.epochs = control, metrics, train_images, epochs
        self.done, self.step, self.batches = done, 0, 1
        self.stopped = ""
        self.final: dict = {}
        self.per_class: list[dict] = []  # AP per class of the final evaluation
        self._window = (time.perf_counter(), 0)
        self._epoch_started = time.perf_counter()

    def callbacks(self) -> dict:
        return {"on_train_start": self.on_train_start, "on_train_batch_end": self.on_batch,
                "on_train_epoch_start": self.on_epoch_start, "on_train_end": self.on_train_end}

    def on_train_end(self, trainer) -> None:
        """Per-class AP of the final evaluation (the best weights), for the results table."""
        box = getattr(getattr(getattr(trainer, "validator", None), "metrics", None), "box", None)
        if box is None or not len(box.ap_class_index):
            return
        names = getattr(trainer.validator, "names", None) or trainer.data.get("names", {})
        self.per_class = [{"class": str(names[int(c)]), "ap50": round(float(ap50), 5), "ap50_95": round(float(ap), 5)}
                          for c, ap50, ap in zip(box.ap_class_index, box.ap50, box.ap)]

    def on_train_start(self, trainer) -> None:
        self.batches = len(trainer.train_loader)
        self.step = self.done * self.batches
        schedule = trainer.lf
        trainer.lf = lambda x: self.control.factor * schedule(x)
        trainer.scheduler.lr_lambdas = [trainer.lf for _ in trainer.scheduler.lr_lambdas]

    def on_epoch_start(self, trainer) -> None:
        self._epoch_started = time.perf_counter()
        self._window = (time.perf_counter(), 0)

    def on_batch(self, trainer) -> None:
        from cvlab.training.control import Stopped

        self.step += 1
        started, seen = self._window
        self._window = (started, seen + int(trainer.batch_size))
        in_epoch = self.step - int(trainer.epoch) * self.batches
        if in_epoch % max(1, self.batches // LOGS_PER_EPOCH) == 0 or in_epoch == self.batches:
            losses = {key.removeprefix("train/"): round(float(value), 5) for key, value in
                      trainer.label_loss_items(trainer.tloss, prefix="train").items()} if trainer.tloss else {}
            seconds = max(1e-9, time.perf_counter() - started)
            self.metrics.write("step", epoch=int(trainer.epoch), step=self.step, loss=sum(losses.values()), **losses,
                               lr=[g["lr"] for g in trainer.optimizer.param_groups],
                               images_per_second=self._window[1] / seconds,
                               progress=self.step / (self.epochs * self.batches))
            self._window = (time.perf_counter(), 0)
            try:  # a new rate replaces the schedule's rate of this epoch, not the warmup's ramp towards it
                last = trainer.optimizer.param_groups[-1]
                self.control.poll(trainer.optimizer, global_step=self.step,
                                  scheduled_lr=last["initial_lr"] * trainer.lf(trainer.epoch))
            except Stopped as stop:
                self.stopped = str(stop)
                trainer.stop = True  # ultralytics validates and saves the epoch, then ends

    def on_epoch(self, report: dict) -> None:
        """``train_yolo``'s per-epoch report, as an epoch record (the final one is the evaluation)."""
        if report["final"]:
            self.final = report
            return
        seconds = time.perf_counter() - self._epoch_started
        losses = {k: report[k] for k in ("box_loss", "cls_loss", "dfl_loss") if k in report}
        val_losses = [report[k] for k in ("val_box_loss", "val_cls_loss", "val_dfl_loss") if k in report]
        self.metrics.write(
            "epoch", epoch=report["epoch"], step=report["epoch"] * self.batches, train_loss=sum(losses.values()),
            **losses, val_loss=sum(val_losses) if val_losses else None, **_scores(report), seconds=seconds,
            lr=[report["lr"]], images_per_second=self.train_images / max(1e-9, seconds))
        self.done = report["epoch"]


def _scores(report: dict) -> dict:
    names = {"mAP50": "val_map50", "mAP50-95": "val_map50_95", "precision": "val_precision", "recall": "val_recall"}
    return {ours: report[theirs] for theirs, ours in names.items() if theirs in report}


@contextmanager
def _logs_to_stderr():
    """ultralytics logs and draws progress bars on stdout; send both to stderr for the duration."""
    import sys

    from ultralytics.utils import LOGGER

    handlers = [h for h in LOGGER.handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(sys.stderr) for h in handlers]
    try:
        with redirect_stdout(sys.stderr):  # progress bars take sys.stdout when they are made
            yield
    finally:
        for handler, stream in zip(handlers, streams):
            handler.setStream(stream)


def _ultralytics_device(device) -> str:
    return "cpu" if device.type == "cpu" else ("mps" if device.type == "mps" else str(device.index or 0))


def train_detection_run(run_dir: Path, config, on_record=None) -> tuple[str, str]:
    """Train the detector a run folder describes, with live metrics and control; (status, reason)."""
    import json

    from cvlab.device import pick_device
    from cvlab.training import runs
    from cvlab.training.control import LiveControl

    device = pick_device(config.device)
    data_yaml, report = run_dataset(run_dir, config)
    train_images = next((s.images for s in report.splits if s.name == "train"), 0)
    val_images = next((s.images for s in report.splits if s.name == "val"), 0)
    fraction = min(1.0, config.limit / train_images) if config.data != "shapes" and config.limit else 1.0
    runs.update_record(run_dir, classes=list(report.names), device=str(device), train_size=train_images,
                       val_size=val_images, note=report.summary().removeprefix("Valid YOLO dataset: "))
    last = run_dir / "ultralytics" / "weights" / "last.pt"
    done = runs.read_info(run_dir).epochs_done if last.is_file() else 0
    runs.truncate_metrics_after(run_dir, done)
    metrics = runs.MetricsWriter(run_dir, on_record)
    live = _LiveRun(LiveControl(run_dir, metrics), metrics, round(train_images * fraction), config.epochs, done)
    if done:
        metrics.write("event", what="resumed", step=done, epoch=done)
    try:
        def on_epoch(report: dict) -> None:
            live.on_epoch(report)
            if not report["final"]:
                runs.update_record(run_dir, epochs_done=report["epoch"])

        with _logs_to_stderr():  # stdout carries the command line's JSON lines
            train_yolo(data_yaml, model=config.model, epochs=config.epochs, imgsz=config.image_size,
                       batch=config.batch_size, run_dir=run_dir, device=_ultralytics_device(device),
                       on_epoch=on_epoch, pretrained=config.pretrained, amp=None if config.amp else False,
                       seed=config.seed, callbacks=live.callbacks(), resume=bool(done),
                       optimizer=OPTIMIZER_NAMES[config.optimizer], lr0=config.lr, momentum=config.momentum,
                       weight_decay=config.weight_decay, fraction=fraction)
    finally:
        metrics.close()
    status = "stopped" if live.stopped else "finished"
    scores = _scores(live.final)
    (run_dir / "eval.json").write_text(json.dumps({"task": "detect", "classes": list(report.names),
                                                    **{k.removeprefix("val_"): v for k, v in scores.items()},
                                                    "per_class": live.per_class}))
    runs.update_record(run_dir, status=status, reason=live.stopped,
                       **{f"final_{k}": v for k, v in scores.items()}, **{f"{status}_at": time.time()})
    return status, live.stopped
