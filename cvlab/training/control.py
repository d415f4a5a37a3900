"""The worker's side of the app's requests: pause, resume, stop, and a new learning rate mid-run.

The app writes ``control.json``; the engine polls it every few steps, and once before the
first step, so a request made while the run waited in the queue or was being prepared
applies as it starts (requests made to an earlier attempt of the run are void). A new
learning rate is kept as a factor on top of the scheduler: the scheduler keeps computing
its own curve and the run follows that curve times the factor, so cosine or OneCycle keep
their shape after the change. Every change the worker applies becomes an event in
metrics.jsonl, which the page draws as a marker on the curves.

A shared device is not held for ever: a run paused longer than ``pause_release_s``
(CVLAB_PAUSE_RELEASE_S) raises ``Released``, its engine saves its state and gives the
device back, and Resume queues it again; a run that has trained for its wall-clock budget
(CVLAB_RUN_BUDGET_S, counted over all its attempts, pauses left out) is stopped.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from cvlab.jobs.status import RunStatus
from cvlab.settings import get_settings
from cvlab.training import runs

PAUSE_POLL_S = 0.5


class Stopped(Exception):
    """The app asked the run to stop; the engine saves what it has and ends the run as stopped."""


class Released(Exception):
    """The run stayed paused past the release time: the engine saves its state and gives the device back."""

    def __init__(self, global_step: int, message: str):
        super().__init__(message)
        self.global_step = global_step
        self.seen_seq, self.reason = 0, message  # set by the runner once the state is saved

    def saved(self, seen_seq: int, reason: str | None = None) -> Released:
        """The runner saved the run's state: whoever runs the job gives the device back (``train_run``'s
        ``release``) with the last request seen and the reason shown."""
        self.seen_seq, self.reason = seen_seq, reason or str(self)
        return self


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


class LiveControl:
    def __init__(self, run_dir: Path, metrics: runs.MetricsWriter):
        settings = get_settings()
        self.run_dir, self.metrics = run_dir, metrics
        self.release_after_s, self.budget_s = settings.pause_release_s, settings.run_budget_s
        self.factor, self._mtime = 1.0, 0.0
        self.applied_lr_seq = None  # the request whose learning rate is in force
        record = runs.read_info(run_dir).record
        self.used_before = float(record.get("seconds_used", 0) or 0)  # by the run's earlier attempts
        self._active_since, self._active = time.monotonic(), 0.0
        control = runs.read_control(run_dir)
        # a request made for this attempt (while the run was queued or being prepared) is still to be applied
        pending = control.get("attempt") == record.get("attempt")
        self.seen_seq = 0 if pending else int(control.get("seq", 0))

    # ---- time ----
    def seconds_used(self) -> float:
        """Seconds this run has trained, all attempts together; time spent paused is not counted."""
        running = time.monotonic() - self._active_since if self._active_since is not None else 0.0
        return self.used_before + self._active + running

    def _pause_clock(self) -> None:
        self._active += time.monotonic() - self._active_since
        self._active_since = None

    def _start_clock(self) -> None:
        self._active_since = time.monotonic()

    # ---- the learning rate ----
    def step_scheduler(self, optimizer, step: Callable[[], None]) -> None:
        """Advance the scheduler on its own curve, then apply the user's factor on top."""
        if self.factor != 1.0:
            for group in optimizer.param_groups:
                group["lr"] /= self.factor
        step()
        if self.factor != 1.0:
            for group in optimizer.param_groups:
                group["lr"] *= self.factor

    # ---- requests ----
    def poll(self, optimizer, global_step: int, scheduled_lr: float | None = None) -> None:
        """Apply what the app asked for since the last poll, and stop a run past its time budget.
        ``scheduled_lr`` is the rate a new one replaces when it is not the optimizer's current one
        (ultralytics' warmup ramps from 0 towards it)."""
        control = self._changed()
        if control is not None:
            self._apply(control, optimizer, global_step, scheduled_lr)
        if self.seconds_used() > self.budget_s:
            self.metrics.write("event", what="stop", step=global_step, by="the time budget")
            raise Stopped(f"stopped after {_minutes(self.seconds_used())} of training: a run may train for "
                          f"{_minutes(self.budget_s)} at most on this server (CVLAB_RUN_BUDGET_S); its newest "
                          "checkpoint and results are kept")

    def _apply(self, control: dict, optimizer, global_step: int, scheduled_lr: float | None = None) -> None:
        by = control.get("by", "")
        new_lr = control.get("lr")
        if new_lr and control.get("lr_seq") != self.applied_lr_seq:
            self.applied_lr_seq = control.get("lr_seq")
            current = scheduled_lr if scheduled_lr is not None else optimizer.param_groups[-1]["lr"]  # the head's
            change = float(new_lr) / max(current, 1e-12)
            for group in optimizer.param_groups:
                group["lr"] *= change
            self.factor *= change
            self.metrics.write("event", what="lr", value=float(new_lr), step=global_step, by=by)
        if control.get("stop"):
            self.metrics.write("event", what="stop", step=global_step, by=by)
            raise Stopped(f"stopped by {by}" if by else "stopped")
        if control.get("pause"):
            self._apply(self._wait_while_paused(global_step, by), optimizer, global_step, scheduled_lr)

    def _changed(self) -> dict | None:
        path = self.run_dir / "control.json"
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        if mtime == self._mtime:
            return None
        self._mtime = mtime
        control = runs.read_control(self.run_dir)
        seq = int(control.get("seq", 0))
        if seq <= self.seen_seq:
            return None
        self.seen_seq = seq
        return control

    def _wait_while_paused(self, global_step: int, by: str) -> dict:
        """Hold the run until the app resumes or stops it (returns that request), or raise ``Released`` once it
        has been paused for ``release_after_s``: the device is then the queue's again."""
        self.metrics.write("event", what="pause", step=global_step, by=by)
        runs.update_record(self.run_dir, status=RunStatus.PAUSED, released=False, paused_at=time.time())
        self._pause_clock()
        deadline = time.monotonic() + self.release_after_s
        while True:
            control = self._changed()
            if control is not None and (control.get("stop") or not control.get("pause")):
                break
            if time.monotonic() >= deadline:
                raise Released(global_step, f"paused for more than {_minutes(self.release_after_s)}, so its "
                                            "device went back to the queue (CVLAB_PAUSE_RELEASE_S); Resume puts "
                                            "it back in the queue and it goes on from where it paused")
            time.sleep(PAUSE_POLL_S)
        self._start_clock()
        if not control.get("stop"):
            runs.update_record(self.run_dir, status=RunStatus.RUNNING, paused_at=None)
            self.metrics.write("event", what="resume", step=global_step, by=control.get("by", ""))
        return control
