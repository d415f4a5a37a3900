"""The SCHEDULERS registry and the exact learning-rate curve a run will follow.

Each entry says whether it steps after every batch or after every epoch, the
way the lecture's loop calls ``scheduler.step()``. ``lr_curve`` drives the very
scheduler object the engine builds through the same ``advance`` function, so the
curve drawn before a run is the curve the run follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cvlab.registry import Registry
from cvlab.training.config import TrainConfig


@dataclass(frozen=True)
class SchedulerEntry:
    name: str
    title: str
    per_batch: bool  # step after each batch (True) or after each epoch (False)
    note: str
    build: Callable[[object, TrainConfig, int], object]  # (optimizer, config, steps_per_epoch) -> scheduler


SCHEDULERS: Registry[SchedulerEntry] = Registry("scheduler")


def _lr_scheduler():
    import torch.optim.lr_scheduler as lr_scheduler

    return lr_scheduler


def _constant(opt, config, steps):
    return _lr_scheduler().ConstantLR(opt, factor=1.0, total_iters=0)


def _step(opt, config, steps):
    return _lr_scheduler().StepLR(opt, step_size=config.step_size, gamma=config.gamma)


def _cosine(opt, config, steps):
    return _lr_scheduler().CosineAnnealingLR(opt, T_max=config.epochs * steps)


def _onecycle(opt, config, steps):
    max_lrs = [group["lr"] for group in opt.param_groups]
    return _lr_scheduler().OneCycleLR(opt, max_lr=max_lrs, total_steps=config.epochs * steps)


def _plateau(opt, config, steps):
    return _lr_scheduler().ReduceLROnPlateau(opt, mode="min", factor=config.gamma, patience=1)


def _warmup_cosine(opt, config, steps):
    s = _lr_scheduler()
    warmup = max(1, round(config.warmup_epochs * steps))
    total = config.epochs * steps
    return s.SequentialLR(opt, [s.LinearLR(opt, start_factor=0.01, total_iters=warmup),
                                s.CosineAnnealingLR(opt, T_max=max(1, total - warmup))], milestones=[warmup])


for _entry in (
    SchedulerEntry("constant", "Constant", True, "The same rate throughout: the baseline.", _constant),
    SchedulerEntry("step", "StepLR", False, "Multiply the rate by gamma every step_size epochs.", _step),
    SchedulerEntry("cosine", "Cosine annealing", True, "Half a cosine from the rate down to zero.", _cosine),
    SchedulerEntry("onecycle", "OneCycleLR", True,
                   "Warm up to the maximum rate, then anneal far below the start: fast convergence.", _onecycle),
    SchedulerEntry("plateau", "ReduceLROnPlateau", False,
                   "Multiply the rate by gamma when the validation loss stops improving for 2 epochs; "
                   "the preview assumes it keeps improving.", _plateau),
    SchedulerEntry("warmup_cosine", "Warmup + cosine", True,
                   "A linear warmup for warmup_epochs, then cosine annealing: the transformer recipe.",
                   _warmup_cosine),
):
    SCHEDULERS.register(_entry.name, _entry)


def build_scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    return SCHEDULERS.get(config.scheduler).build(optimizer, config, steps_per_epoch)


def advance(scheduler, config: TrainConfig, *, end_of_epoch: bool, val_loss: float | None = None) -> None:
    """Step the scheduler if this is its moment: after every batch, or at an epoch's end."""
    entry = SCHEDULERS.get(config.scheduler)
    if entry.per_batch == end_of_epoch:
        return
    if entry.name == "plateau":
        scheduler.step(val_loss if val_loss is not None else float("inf"))
    else:
        scheduler.step()


def lr_curve(config: TrainConfig, steps_per_epoch: int, lr_scales: tuple[float, ...] = (1.0,)) -> list[list[float]]:
    """The learning rate at every training step, one list per parameter group (scaled by ``lr_scales``)."""
    import torch

    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lr_scales]
    groups = [{"params": [p], "lr": config.lr * scale} for p, scale in zip(params, lr_scales)]
    from cvlab.training.optimizers import build_optimizer

    opt = build_optimizer(config.optimizer, groups, lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay)
    scheduler = build_scheduler(opt, config, steps_per_epoch)
    curves: list[list[float]] = [[] for _ in lr_scales]
    for epoch in range(config.epochs):
        for _ in range(steps_per_epoch):
            for curve, group in zip(curves, opt.param_groups):
                curve.append(group["lr"])
            opt.step()  # a no-op update (no gradients) that keeps PyTorch's step-order check quiet
            advance(scheduler, config, end_of_epoch=False)
        advance(scheduler, config, end_of_epoch=True, val_loss=1.0 / (epoch + 1))  # always improving
    return curves
