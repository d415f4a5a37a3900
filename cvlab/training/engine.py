"""The one training engine: the lecture's loop, run for a run folder, by the CLI and by queue workers.

``train_run(run_dir)`` reads the run's config, trains, and writes everything back to
the folder. Classification and segmentation share the loop below and differ only in
their ``Objective`` (loss and scores); detection hands the loop to ultralytics
(``cvlab.training.tasks`` says which function trains which task). It resumes from the newest
checkpoint when there is one, so a worker that died loses at most the epoch it was in, and a
run paused past the release time goes on from the very batch it paused at
(``cvlab.training.run_state``). The loop itself, per epoch:
1. ``model.train()``; for each batch: augment on the device, forward under autocast,
   loss, backward, clip the gradient norm, ``optimizer.step()``, a per-batch
   ``scheduler.step()``; every few steps log the running figures and obey the app
   (pause, stop, a new learning rate).
2. ``model.eval()`` and validation under ``torch.no_grad()``.
3. A per-epoch ``scheduler.step()`` (ReduceLROnPlateau with the validation loss).
4. The epoch's figures, then a checkpoint.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from cvlab.errors import CvlabError, InvalidInput
from cvlab.jobs.status import RunStatus
from cvlab.training import runs
from cvlab.training.checkpoints import keep_newest_and_best, save_checkpoint
from cvlab.training.config import TrainConfig
from cvlab.training.control import LiveControl, Released, Stopped
from cvlab.training.preparation import Prepared, prepare
from cvlab.training.run_state import ResumeAt, drop_paused, restore, save_paused
from cvlab.training.validation import autocast, evaluate, to_input

LOGS_PER_EPOCH = 20  # step records per epoch: enough for smooth live curves, few enough to read fast
def batches(p: Prepared, epoch: int):
    """The epoch's shuffled batches as index tensors; seeded by (seed, epoch) so a resumed run sees the same order."""
    import torch

    order = torch.randperm(len(p.train_y), generator=torch.Generator().manual_seed(p.config.seed * 1000 + epoch))
    chunks = list(order.to(p.device).split(p.config.batch_size))
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        # BatchNorm cannot normalise one image whose features have shrunk to 1x1 (PAN's pooling
        # branch, any net at its minimum size): the lone last image joins the batch before it.
        chunks[-2:] = [torch.cat(chunks[-2:])]
    return chunks


def _train_epoch(p: Prepared, epoch: int, control: LiveControl, metrics: runs.MetricsWriter, augment,
                 first_step: int = 0, totals: dict | None = None) -> dict:
    """One epoch's batches from ``first_step`` on (a run paused mid-epoch goes on from there, its ``totals`` so
    far given back); the epoch's training figures. A release while paused carries where it stopped."""
    import torch

    from cvlab.training.schedulers import advance

    p.model.train()
    scaler = torch.amp.GradScaler(enabled=p.autocast_dtype == torch.float16)
    seed = p.config.seed * 7919 + epoch + 1_000_003 * first_step  # the augmentation's draws after a pause differ
    generator = torch.Generator(device=p.device).manual_seed(seed)
    log_every = max(1, p.steps_per_epoch // LOGS_PER_EPOCH)
    window = {"loss": 0.0, "counts": 0, "seen": 0, "start": time.perf_counter()}
    totals = totals or {"loss": 0.0, "counts": 0, "seen": 0, "seconds": 0.0}
    seen_before, epoch_start = totals["seen"], time.perf_counter()  # the epoch's speed counts logging and polling
    for step, index in enumerate(batches(p, epoch)):
        if step < first_step:
            continue
        x, y = to_input(p, p.train_x[index], augment, generator), p.objective.target(p.train_y[index])
        with autocast(p):
            logits = p.model(x)
            loss = p.objective.loss(logits.float(), y)
        p.optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if p.config.grad_clip > 0:
            scaler.unscale_(p.optimizer)
            torch.nn.utils.clip_grad_norm_(p.model.parameters(), p.config.grad_clip)
        scaler.step(p.optimizer)
        scaler.update()
        control.step_scheduler(p.optimizer, lambda: advance(p.scheduler, p.config, end_of_epoch=False))
        window["loss"] += loss.detach() * len(y)
        window["counts"] += p.objective.counts(logits.detach().float(), y)
        window["seen"] += len(y)
        if (step + 1) % log_every == 0 or step + 1 == p.steps_per_epoch:
            _flush_window(p, epoch, step, window, totals, metrics)
            try:
                control.poll(p.optimizer, global_step=epoch * p.steps_per_epoch + step + 1)
            except Released as released:
                released.resume_at = ResumeAt(epoch, step + 1, totals, control.factor)
                raise
    scores = p.objective.scores(totals["counts"], totals["seen"])
    return {"train_loss": totals["loss"] / max(1, totals["seen"]), **{f"train_{k}": v for k, v in scores.items()},
            "images_per_second": (totals["seen"] - seen_before) / max(1e-9, time.perf_counter() - epoch_start)}


def _flush_window(p: Prepared, epoch: int, step: int, window: dict, totals: dict, metrics) -> None:
    import torch

    if p.device.type == "cuda":
        torch.cuda.synchronize()  # honest timing: wait for queued GPU work
    seconds = time.perf_counter() - window["start"]
    loss, counts, seen = float(window["loss"]), window["counts"].cpu(), window["seen"]
    metrics.write("step", epoch=epoch, step=epoch * p.steps_per_epoch + step + 1, loss=loss / seen,
                  **p.objective.scores(counts, seen), lr=[g["lr"] for g in p.optimizer.param_groups],
                  images_per_second=seen / max(1e-9, seconds),
                  progress=(epoch * p.steps_per_epoch + step + 1) / (p.config.epochs * p.steps_per_epoch))
    for key, value in (("loss", loss), ("counts", counts), ("seen", seen), ("seconds", seconds)):
        totals[key] += value
    window.update(loss=0.0, counts=0, seen=0, start=time.perf_counter())


class _Heartbeat(threading.Thread):
    """Touches the run's heartbeat file while the run is alive; dies with the worker."""

    def __init__(self, run_dir: Path):
        super().__init__(daemon=True)
        self.run_dir, self.done = run_dir, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            runs.touch_heartbeat(self.run_dir)
            self.done.wait(runs.HEARTBEAT_EVERY_S)


def train_run(run_dir: Path, on_record=None, release: Callable[[Path, int, str], str] | None = None) -> dict:
    """Train (or resume) the run in ``run_dir``; returns its summary and never raises for a failed run.

    ``release(run_dir, seen_seq, reason) -> status`` gives a run paused past the release time its device back
    once its state is saved (the job queue's ``release``, passed in by whoever runs the job); without one the
    run waits "paused" for Resume."""
    run_dir = Path(run_dir)
    heartbeat = _Heartbeat(run_dir)
    heartbeat.start()
    try:
        return _train(run_dir, on_record)
    except Released as released:
        status = (release or _wait_paused)(run_dir, released.seen_seq, released.reason)
        return _summary(run_dir, status, released.reason)
    except Stopped as stop:
        return _summary(run_dir, RunStatus.STOPPED, str(stop))
    except Exception as err:  # the run fails; the worker that called us lives on
        reason = failure_reason(err)
        runs.set_status(run_dir, RunStatus.FAILED, reason=reason)
        return _summary(run_dir, RunStatus.FAILED, reason)
    finally:
        heartbeat.done.set()


def _wait_paused(run_dir: Path, seen_seq: int, reason: str) -> str:
    """A released run with no queue to give its device back to: it waits paused for Resume."""
    runs.update_record(run_dir, status=RunStatus.PAUSED, released=True, reason=reason)
    return RunStatus.PAUSED


def failure_reason(err: BaseException) -> str:
    if isinstance(err, CvlabError):
        return str(err)
    if type(err).__name__ == "OutOfMemoryError" or isinstance(err, MemoryError) or "out of memory" in str(err):
        return "Out of memory: lower the batch size or the image size, or pick a smaller model."
    return f"{type(err).__name__}: {err}"


def _train(run_dir: Path, on_record=None) -> dict:
    import importlib

    from cvlab.training.tasks import task_spec

    info = runs.read_info(run_dir)
    if info.unreadable:
        raise InvalidInput(f"The run could not start: {info.unreadable}. Start a new run.")
    config = info.config
    from cvlab.training.memory import check_fits

    check_fits(config)  # on the device this worker has: refused in words instead of taking the server down
    runs.update_record(run_dir, status=RunStatus.RUNNING, started=time.time(), reason="", worker=runs.worker_identity())
    module, function = task_spec(config.task).runner.split(":")
    status, reason = getattr(importlib.import_module(module), function)(run_dir, config, on_record)
    return _summary(run_dir, status, reason)


def train_loop(run_dir: Path, config: TrainConfig, on_record=None) -> tuple[str, str]:
    """Classification and segmentation: prepare, resume, the epochs, the final evaluation; (status, reason)."""
    from cvlab.data.augment import get_augmentation
    from cvlab.training.evaluation import finish_run, write_preview
    from cvlab.training.schedulers import advance

    p = prepare(config)
    runs.update_record(run_dir, classes=list(p.class_names), note=f"{p.data_note} {p.built.note}".strip(),
                       device=str(p.device), train_size=len(p.train_y), val_size=len(p.val_y))
    at = restore(p, run_dir)
    metrics = runs.MetricsWriter(run_dir, on_record)
    control = LiveControl(run_dir, metrics)
    control.factor = at.lr_factor
    augment = get_augmentation(config.augmentation)
    if at.epoch or at.step:
        metrics.write("event", what="resumed", step=at.global_step(p.steps_per_epoch), epoch=at.epoch)
    try:
        try:  # a pause or stop asked for while the run waited in the queue applies now, before the first batch
            control.poll(p.optimizer, global_step=at.global_step(p.steps_per_epoch))
        except Released as released:
            released.resume_at = at
            raise
        for epoch in range(at.epoch, config.epochs):
            started = time.perf_counter()
            first_step, totals = (at.step, at.totals) if epoch == at.epoch else (0, None)
            train = _train_epoch(p, epoch, control, metrics, augment, first_step, totals)
            val_loss, val_scores, predicted = evaluate(p)
            write_preview(p, run_dir, predicted, epoch + 1)
            control.step_scheduler(p.optimizer, lambda: advance(p.scheduler, config, end_of_epoch=True,
                                                                val_loss=val_loss))
            # The epoch's line before its checkpoint: a worker killed between the two resumes from the epoch
            # before and writes the line again, where the other order would leave the epoch out of the curves.
            metrics.write("epoch", epoch=epoch + 1, step=(epoch + 1) * p.steps_per_epoch, val_loss=val_loss,
                          **{f"val_{k}": v for k, v in val_scores.items()}, seconds=time.perf_counter() - started,
                          lr=[g["lr"] for g in p.optimizer.param_groups], **train)
            save_checkpoint(run_dir / "checkpoints" / f"epoch_{epoch + 1:03d}.safetensors", p.model, p.optimizer,
                            p.scheduler, epoch=epoch + 1, val_loss=val_loss, config=config.to_dict(),
                            lr_factor=control.factor)
            keep_newest_and_best(run_dir / "checkpoints")  # one per epoch would be ~90 MB each for ResNet-18
            drop_paused(run_dir)
            runs.update_record(run_dir, epochs_done=epoch + 1, seconds_used=control.seconds_used())
        status, reason = RunStatus.FINISHED, ""
    except Stopped as stop:
        status, reason = RunStatus.STOPPED, str(stop)
    except Released as released:  # paused too long: save where it is; train_run gives the device back
        at = released.resume_at
        save_paused(p, run_dir, at.epoch, at.step, at.totals, control.factor)
        runs.update_record(run_dir, seconds_used=control.seconds_used())
        released.saved(control.seen_seq)
        raise
    finally:
        metrics.close()
    runs.update_record(run_dir, seconds_used=control.seconds_used())
    finish_run(p, run_dir, status, reason)
    return status, reason


def _summary(run_dir: Path, status: str, reason: str) -> dict:
    records = runs.read_metrics(run_dir)
    epochs = [r for r in records if r.get("kind") == "epoch"]
    last = epochs[-1] if epochs else {}
    speeds = [r["images_per_second"] for r in epochs if "images_per_second" in r]
    return {"run_dir": str(run_dir), "status": status, "reason": reason, "epochs": len(epochs),
            **{key: value for key, value in last.items() if key.startswith("val_")},
            "train_loss": last.get("train_loss"),
            "images_per_second": sum(speeds) / len(speeds) if speeds else None}
