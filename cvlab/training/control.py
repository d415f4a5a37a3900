"""The worker's side of the app's requests: pause, resume, stop, and a new learning rate mid-run.

The app writes ``control.json``; the engine polls it every few steps. A new learning
rate is kept as a factor on top of the scheduler: the scheduler keeps computing its
own curve and the run follows that curve times the factor, so cosine or OneCycle keep
their shape after the change. Every change the worker applies becomes an event in
metrics.jsonl, which the page draws as a marker on the curves.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from cvlab.training import runs

PAUSE_POLL_S = 0.5


class Stopped(Exception):
    """The app asked the run to stop; the engine saves what it has and ends the run as stopped."""


class LiveControl:
    def __init__(self, run_dir: Path, metrics: runs.MetricsWriter):
        self.run_dir, self.metrics = run_dir, metrics
        (run_dir / "control.json").unlink(missing_ok=True)  # requests made to an earlier attempt are void
        self.seen_seq, self.factor, self._mtime = 0, 1.0, 0.0
        self.applied_lr_seq = None  # the request whose learning rate is in force

    def step_scheduler(self, optimizer, step: Callable[[], None]) -> None:
        """Advance the scheduler on its own curve, then apply the user's factor on top."""
        if self.factor != 1.0:
            for group in optimizer.param_groups:
                group["lr"] /= self.factor
        step()
        if self.factor != 1.0:
            for group in optimizer.param_groups:
                group["lr"] *= self.factor

    def poll(self, optimizer, global_step: int, scheduled_lr: float | None = None) -> None:
        """Apply what the app asked for since the last poll. ``scheduled_lr`` is the rate a new one replaces
        when it is not the optimizer's current one (ultralytics' warmup ramps from 0 towards it)."""
        control = self._changed()
        if control is not None:
            self._apply(control, optimizer, global_step, scheduled_lr)

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
        """Hold the run (its device stays reserved) until the app resumes or stops it; returns that request."""
        self.metrics.write("event", what="pause", step=global_step, by=by)
        runs.set_status(self.run_dir, "paused")
        while True:
            time.sleep(PAUSE_POLL_S)
            control = self._changed()
            if control is not None and (control.get("stop") or not control.get("pause")):
                break
        if not control.get("stop"):
            runs.set_status(self.run_dir, "running")
            self.metrics.write("event", what="resume", step=global_step, by=control.get("by", ""))
        return control
