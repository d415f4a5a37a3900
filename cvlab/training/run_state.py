"""Where a classification or segmentation run goes on from: its newest epoch, or the middle of one.

A worker that dies leaves the newest epoch checkpoint (``checkpoints/epoch_NNN``,
written by ``cvlab.training.checkpoints``); the run goes on after that epoch. A run
that stayed paused past the release time saves ``checkpoints/paused.safetensors``
before giving its device back: model, optimizer and scheduler as they were at the
paused step, plus where in the epoch it was and the epoch's running totals, so
Resume goes on from that very batch (the epoch's batch order is seeded, so the rest
of the epoch is the same batches) and the epoch's figures still count all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cvlab.training import runs
from cvlab.training.checkpoints import checkpoint_meta, load_model_weights, read_checkpoint, save_checkpoint

PAUSED = "paused.safetensors"


@dataclass(frozen=True)
class ResumeAt:
    epoch: int  # finished epochs
    step: int = 0  # batches of the next epoch already trained (a run paused mid-epoch)
    totals: dict | None = None  # that epoch's running sums so far (see engine._train_epoch)
    lr_factor: float = 1.0  # the user's learning-rate change in force (cvlab.training.control)

    def global_step(self, steps_per_epoch: int) -> int:
        return self.epoch * steps_per_epoch + self.step


def paused_path(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / PAUSED


def restore(p, run_dir: Path) -> ResumeAt:
    """Load the newest state of the run into ``p`` (a ``Prepared``) and cut metrics.jsonl back to it."""
    found = list(runs.iter_checkpoints(run_dir))
    newest = found[-1] if found else None
    paused = paused_path(run_dir)
    meta = checkpoint_meta(paused) if paused.is_file() else {}
    if meta and int(meta.get("epoch", -1)) >= (newest[0] if newest else 0):
        at = _load(p, paused)
        at = ResumeAt(at.epoch, int(meta.get("step", 0)), _totals(meta.get("totals")), at.lr_factor)
    elif newest:
        at = _load(p, newest[1])
    else:
        at = ResumeAt(0)  # killed before its first checkpoint: what it logged of epoch 1 goes too
    runs.truncate_metrics_after(run_dir, at.epoch, at.global_step(p.steps_per_epoch) if at.step else None)
    return at


def _load(p, path: Path) -> ResumeAt:
    model_state, meta, optimizer_state, scheduler_state = read_checkpoint(path)
    load_model_weights(p.model, model_state, path.name)
    if optimizer_state:
        p.optimizer.load_state_dict(optimizer_state)
    if scheduler_state:
        p.scheduler.load_state_dict(scheduler_state)
    return ResumeAt(int(meta.get("epoch", 0)), lr_factor=float(meta.get("lr_factor", 1.0)))


def save_paused(p, run_dir: Path, epoch: int, step: int, totals: dict | None, lr_factor: float) -> None:
    """The state of a run paused after ``step`` batches of epoch ``epoch + 1`` (``epoch`` finished)."""
    plain = None
    if totals is not None:
        counts = totals["counts"]
        plain = {**totals, "counts": counts.tolist() if hasattr(counts, "tolist") else counts}
    save_checkpoint(paused_path(run_dir), p.model, p.optimizer, p.scheduler, epoch=epoch, step=step, totals=plain,
                    lr_factor=lr_factor, config=p.config.to_dict())


def drop_paused(run_dir: Path) -> None:
    """Once a later epoch checkpoint exists, the paused state is history."""
    paused_path(run_dir).unlink(missing_ok=True)


def _totals(saved: dict | None) -> dict | None:
    if not saved:
        return None
    import torch

    counts = saved.get("counts", 0)
    return {**saved, "counts": torch.tensor(counts, dtype=torch.float32) if isinstance(counts, list) else counts}
