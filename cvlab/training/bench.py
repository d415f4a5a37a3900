"""``python -m cvlab bench train``: the engine against a minimal hand-written loop, in the same process.

Both loops train the same freshly seeded model, timed over their last epoch, on the same device-resident data with
the same batch order, so the ratio (engine / reference images per second) is what the
engine's extras cost: logging, control polling, scheduler bookkeeping. Achieved FLOP/s
come from counting one real training step (forward and backward) with torch's
FlopCounterMode, set against this machine's matmul peak measured a moment earlier.
Then the lab's two promises: the default preset on shapes and a digits run, each with
its validation accuracy and wall time.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from cvlab.jobs.status import RunStatus
from cvlab.training import runs
from cvlab.training.config import TrainConfig


def matmul_peak(device, size: int = 2048, seconds: float = 2.0) -> float:
    """FLOP/s of a large float32 matmul on ``device``: the ceiling a training loop is measured against."""
    import torch

    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    torch.matmul(a, b)
    _sync(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.matmul(a, b)
        count += 1
    _sync(device)
    return 2 * size**3 * count / (time.perf_counter() - start)


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def training_flops_per_image(p) -> float:
    """FLOPs of one training step (forward + backward) divided by the batch size."""
    from torch.utils.flop_counter import FlopCounterMode

    from cvlab.training.validation import to_input

    x, y = to_input(p, p.train_x[:p.config.batch_size]), p.train_y[:p.config.batch_size]
    p.model.train()
    with FlopCounterMode(display=False) as counter:
        p.loss_fn(p.model(x).float(), y).backward()
    p.optimizer.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(y)


def reference_images_per_second(config: TrainConfig) -> tuple[float, object]:
    """A minimal loop: for each batch, forward, loss, backward, step. Nothing else."""

    from cvlab.training.engine import batches
    from cvlab.training.validation import autocast, to_input
    from cvlab.training.preparation import prepare

    p = prepare(config)
    p.model.train()
    for epoch in range(config.epochs):  # only the last epoch is timed: the first one warms kernels and caches
        seen = 0
        _sync(p.device)
        start = time.perf_counter()
        for index in batches(p, epoch):
            x, y = to_input(p, p.train_x[index]), p.train_y[index]
            with autocast(p):
                loss = p.loss_fn(p.model(x).float(), y)
            p.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            p.optimizer.step()
            seen += len(y)
        _sync(p.device)
        elapsed = time.perf_counter() - start
    return seen / elapsed, p


def engine_run(config: TrainConfig, root: Path) -> dict:
    from cvlab.jobs.queue import release
    from cvlab.training.engine import train_run

    run_dir = runs.RunStore(root).create(config, "bench")
    started = time.perf_counter()
    summary = train_run(run_dir, release=release)
    summary["wall_seconds"] = time.perf_counter() - started
    epochs = [r for r in runs.read_metrics(run_dir) if r["kind"] == "epoch"]
    if epochs:  # the last epoch, like the reference: steady state, not warm-up
        summary["images_per_second"] = epochs[-1]["images_per_second"]
    return summary


def bench_train(config: TrainConfig, root: Path, *, accuracy_runs: bool = True, say=print) -> dict:
    from cvlab.device import pick_device

    device = pick_device(config.device)
    peak = matmul_peak(device)
    say(f"matmul peak on {device}: {peak / 1e9:.1f} GFLOP/s (float32)")
    reference, prepared = reference_images_per_second(config)
    flops = training_flops_per_image(prepared)
    del prepared
    say(f"reference loop: {reference:.0f} images/s")
    engine = engine_run(config, root)
    if engine["status"] != RunStatus.FINISHED:
        raise RuntimeError(f"the engine's run {engine['status']}: {engine['reason']}")
    ratio = engine["images_per_second"] / reference
    say(f"engine:         {engine['images_per_second']:.0f} images/s  "
        f"(engine / reference = {ratio:.3f}, target >= 0.95)")
    fraction = engine["images_per_second"] * flops / peak
    # Nominal: FLOPs as a direct convolution counts them. oneDNN may use cheaper algorithms (Winograd), so
    # this can pass 100 % of the matmul peak without any kernel beating the hardware.
    say(f"training FLOPs per image {flops / 1e6:.1f} M (nominal): the engine reaches {fraction:.1%} of the matmul peak")
    result = {"device": str(device), "model": config.model, "batch_size": config.batch_size,
              "image_size": config.image_size, "reference_images_per_second": reference,
              "images_per_second": engine["images_per_second"], "ratio": ratio,
              "matmul_peak_gflops": peak / 1e9, "training_gflops_per_image": flops / 1e9,
              "fraction_of_peak": fraction}
    if accuracy_runs:
        for name, preset in (("shapes", TrainConfig()), ("digits", TrainConfig(data="digits", epochs=8))):
            preset = replace(preset, device=config.device)
            summary = engine_run(preset, root)
            say(f"{name} preset ({preset.model}, {preset.epochs} epochs): validation accuracy "
                f"{summary['val_accuracy']:.2%} in {summary['wall_seconds']:.1f} s")
            result[f"{name}_val_accuracy"] = summary["val_accuracy"]
            result[f"{name}_seconds"] = summary["wall_seconds"]
    return result
