"""A detection run in a run folder: what a queue worker or ``python -m cvlab train --task detect`` calls.

ultralytics' trainer does the training (``cvlab.detection.train.train_yolo``); the
callbacks here make it a run like any other: the same ``metrics.jsonl`` (step records
with the box, cls and DFL losses, epoch records with mAP), the same pause, stop and
new-learning-rate requests (``cvlab.training.control``), resuming from ultralytics' own
last.pt after a worker dies, and ``eval.json`` with the per-class AP at the end.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING

from cvlab.detection.resume import lost_epoch_reports, resume_point
from cvlab.detection.train import train_yolo
from cvlab.errors import InvalidInput
from cvlab.jobs.status import RunStatus

if TYPE_CHECKING:
    from cvlab.detection.yolo_data import DatasetReport

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
        from cvlab.training.tasks import DETECT_SHAPES

        data_yaml = write_yolo_dataset(target, config.limit or DETECT_SHAPES, config.seed, size=config.image_size,
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
            from cvlab.data.uploads import missing_source

            raise InvalidInput(missing_source(config.data, "'shapes', a YOLO dataset zip, a data.yaml nor a "
                                                           "dataset folder"))
    from cvlab.data.uploads import display_name

    shown = "shapes" if config.data == "shapes" else display_name(config.data)  # never the upload's hash folder
    return data_yaml, require_valid(validate_yolo_dataset(data_yaml, source=shown))


def _unpacked(archive: Path, target: Path) -> Path:
    """A zip unpacked safely beside ``target`` and moved there only once it is a valid dataset. An upload is
    unpacked once in the upload store (counted in its uploader's quota) and the run's folder holds hard links
    to those files, so a class training on one dataset keeps one copy of it (files are copied only where the
    runs folder is on another file system)."""
    import shutil

    from cvlab.data.uploads import UploadStore
    from cvlab.detection.yolo_data import find_data_yaml, require_valid, validate_yolo_archive
    from cvlab.training.run_disk import link_tree

    store = UploadStore()
    if store.entry_of(archive) is not None:
        link_tree(store.unpacked(archive), target)
        return find_data_yaml(target)

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
        self._poll(trainer)  # a pause or stop asked for while the run waited in the queue applies before a batch

    def on_epoch_start(self, trainer) -> None:
        self._epoch_started = time.perf_counter()
        self._window = (time.perf_counter(), 0)

    def on_batch(self, trainer) -> None:
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
            self._poll(trainer)

    def _poll(self, trainer) -> None:
        """The app's requests; ``Released`` (paused too long) leaves ultralytics at once, through its loop."""
        from cvlab.training.control import Stopped

        try:  # a new rate replaces the schedule's rate of this epoch (no epoch yet at the start), not the warmup's
            epoch, last = getattr(trainer, "epoch", trainer.start_epoch), trainer.optimizer.param_groups[-1]
            self.control.poll(trainer.optimizer, global_step=self.step,
                              scheduled_lr=last["initial_lr"] * trainer.lf(epoch))
        except Stopped as stop:
            self.stopped = str(stop)
            trainer.stop = True  # ultralytics validates and saves the epoch, then ends

    def on_epoch(self, report: dict, seconds: float | None = -1.0) -> None:
        """``train_yolo``'s per-epoch report, as an epoch record (the final one is the evaluation); ``seconds``
        None for a report rebuilt after the worker died (its duration is not known)."""
        if report["final"]:
            self.final = report
            return
        if seconds is not None:
            seconds = time.perf_counter() - self._epoch_started
        losses = {k: report[k] for k in ("box_loss", "cls_loss", "dfl_loss") if k in report}
        val_losses = [report[k] for k in ("val_box_loss", "val_cls_loss", "val_dfl_loss") if k in report]
        self.metrics.write(
            "epoch", epoch=report["epoch"], step=report["epoch"] * self.batches, train_loss=sum(losses.values()),
            **losses, val_loss=sum(val_losses) if val_losses else None, **_scores(report), lr=[report["lr"]],
            **({} if seconds is None else {"seconds": seconds,
                                           "images_per_second": self.train_images / max(1e-9, seconds)}))
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

    from cvlab.data.in_place import write_atomically
    from cvlab.device import pick_device
    from cvlab.training import runs
    from cvlab.training.control import LiveControl, Released

    device = pick_device(config.device)
    data_yaml, report = run_dataset(run_dir, config)
    train_images = next((s.images for s in report.splits if s.name == "train"), 0)
    val_images = next((s.images for s in report.splits if s.name == "val"), 0)
    fraction = min(1.0, config.limit / train_images) if config.data != "shapes" and config.limit else 1.0
    point = resume_point(run_dir)  # last.pt, or best.pt when last.pt was cut off mid-write
    done = point.epochs
    runs.update_record(run_dir, classes=list(report.names), device=str(device), train_size=train_images,
                       val_size=val_images, note=" ".join(filter(None, [
                           report.summary().removeprefix("Valid YOLO dataset: "), point.note])))
    runs.truncate_metrics_after(run_dir, done)
    metrics = runs.MetricsWriter(run_dir, on_record)
    live = _LiveRun(LiveControl(run_dir, metrics), metrics, round(train_images * fraction), config.epochs, done)
    live.batches = max(1, math.ceil(round(train_images * fraction) / config.batch_size))  # as ultralytics' loader
    for lost in lost_epoch_reports(run_dir, done):  # checkpointed, but killed before its line was written
        live.on_epoch(lost, seconds=None)
    if done or point.note:
        metrics.write("event", what="resumed", step=done * live.batches, epoch=done, source=point.source,
                      note=point.note)
    runs.update_record(run_dir, epochs_done=done)
    try:
        def on_epoch(report: dict) -> None:
            live.on_epoch(report)
            if not report["final"]:
                runs.update_record(run_dir, epochs_done=report["epoch"], seconds_used=live.control.seconds_used())

        with _logs_to_stderr():  # stdout carries the command line's JSON lines
            train_yolo(data_yaml, model=config.model, epochs=config.epochs, imgsz=config.image_size,
                       batch=config.batch_size, run_dir=run_dir, device=_ultralytics_device(device),
                       on_epoch=on_epoch, pretrained=config.pretrained, amp=None if config.amp else False,
                       seed=config.seed, callbacks=live.callbacks(), resume=bool(done),
                       optimizer=OPTIMIZER_NAMES[config.optimizer], lr0=config.lr, momentum=config.momentum,
                       weight_decay=config.weight_decay, fraction=fraction)
    except Released as released:  # paused too long: ultralytics' last.pt holds the last finished epoch
        reason = f"{released} (a detector goes on from the start of the epoch it paused in)"
        runs.update_record(run_dir, seconds_used=live.control.seconds_used())
        released.saved(live.control.seen_seq, reason)
        raise
    finally:
        metrics.close()
    runs.update_record(run_dir, seconds_used=live.control.seconds_used())
    status = RunStatus.STOPPED if live.stopped else RunStatus.FINISHED
    scores = _scores(live.final)
    write_atomically(run_dir / runs.EVAL_FILE, json.dumps({"task": "detect", "classes": list(report.names),
                                                      **{k.removeprefix("val_"): v for k, v in scores.items()},
                                                      "per_class": live.per_class}))
    runs.update_record(run_dir, status=status, reason=live.stopped,
                       **{f"final_{k}": v for k, v in scores.items()}, **{f"{status}_at": time.time()})
    return status, live.stopped
