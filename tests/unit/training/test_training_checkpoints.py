"""Epoch checkpoints: a run keeps the newest and the best, in epoch order, and still resumes and exports."""

import math

import pytest
import torch

from cvlab.training import runs
from cvlab.training.checkpoints import (best_epoch, checkpoint_meta, epoch_checkpoints, keep_newest_and_best,
                                        read_checkpoint, save_checkpoint)
from cvlab.training.config import TrainConfig


def write_epochs(folder, losses: dict[int, float]) -> None:
    model = torch.nn.Linear(2, 1)
    for epoch, loss in losses.items():
        save_checkpoint(folder / f"epoch_{epoch:03d}.safetensors", model, epoch=epoch, val_loss=loss)


def kept(folder) -> list[int]:
    return [epoch for epoch, _ in epoch_checkpoints(folder)]


def test_only_the_newest_and_the_best_epoch_are_kept(tmp_path):
    write_epochs(tmp_path, {1: 0.9, 2: 0.5, 3: 0.7, 4: 0.6, 5: 0.8})
    assert best_epoch(tmp_path) == 2
    assert keep_newest_and_best(tmp_path) == [2, 5] and kept(tmp_path) == [2, 5]
    write_epochs(tmp_path, {6: 0.4})
    assert keep_newest_and_best(tmp_path) == [6] and kept(tmp_path) == [6]
    assert checkpoint_meta(tmp_path / "epoch_006.safetensors") == {"epoch": 6, "val_loss": 0.4}


def test_epochs_are_ordered_by_number_so_epoch_1000_is_the_newest(tmp_path):
    write_epochs(tmp_path, {998: 0.3, 999: 0.1, 1000: 0.5})
    (tmp_path / "epoch_x.safetensors").write_bytes(b"")  # not an epoch: left alone, never counted
    assert kept(tmp_path) == [998, 999, 1000]
    assert keep_newest_and_best(tmp_path) == [999, 1000]
    assert (tmp_path / "epoch_x.safetensors").exists()


def test_a_nan_or_missing_loss_is_never_the_best(tmp_path):
    write_epochs(tmp_path, {1: math.nan, 2: 0.7, 3: math.inf})
    save_checkpoint(tmp_path / "epoch_004.safetensors", torch.nn.Linear(2, 1), epoch=4)  # written before losses
    assert keep_newest_and_best(tmp_path) == [2, 4]
    (tmp_path / "epoch_002.safetensors").write_bytes(b"cut mid-write")
    assert best_epoch(tmp_path) is None and keep_newest_and_best(tmp_path) == [4]


TINY = dict(data="shapes", model="lecture-vgg", limit=120, batch_size=40, augmentation="none", image_size=16)


def test_a_run_keeps_two_checkpoints_resumes_from_the_newest_and_exports(tmp_path, monkeypatch):
    from cvlab.training import engine
    from cvlab.training.evaluation import load_trained

    run_dir = runs.RunStore(tmp_path / "runs").create(TrainConfig(epochs=4, **TINY), "ada")
    real_save = engine.save_checkpoint

    def save_then_die(path, *args, **meta):
        real_save(path, *args, **meta)
        if meta.get("epoch") == 3:
            raise KeyboardInterrupt("the worker was killed")

    monkeypatch.setattr(engine, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        engine.train_run(run_dir)
    assert 3 in kept(run_dir / "checkpoints") and len(kept(run_dir / "checkpoints")) <= 3
    monkeypatch.setattr(engine, "save_checkpoint", real_save)
    assert engine.train_run(run_dir)["status"] == "finished"  # resumed from epoch 3
    records = runs.read_metrics(run_dir)
    assert [r["epoch"] for r in records if r["kind"] == "event" and r.get("what") == "resumed"] == [3]
    losses = {r["epoch"]: r["val_loss"] for r in records if r["kind"] == "epoch"}
    assert sorted(losses) == [1, 2, 3, 4]
    best = min(losses, key=lambda e: (losses[e], -e))
    assert kept(run_dir / "checkpoints") == sorted({best, 4})
    assert [epoch for epoch, _ in runs.iter_checkpoints(run_dir)] == sorted({best, 4})
    _, meta, optimizer, _ = read_checkpoint(run_dir / "checkpoints" / "epoch_004.safetensors")
    assert meta["epoch"] == 4 and meta["val_loss"] == pytest.approx(losses[4]) and optimizer is not None
    assert load_trained(run_dir / "model.safetensors").image_size == 16
