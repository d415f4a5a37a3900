"""The training building blocks: config, optimizers, schedulers, checkpoints, the run store and live control."""

import time

import pytest
import torch

from cvlab.errors import InvalidInput, UnknownName
from cvlab.training import runs
from cvlab.training.checkpoints import BadCheckpoint, read_checkpoint, save_checkpoint
from cvlab.training.config import TrainConfig
from cvlab.training.control import LiveControl, Stopped
from cvlab.training.optimizers import OPTIMIZERS, build_optimizer
from cvlab.training.schedulers import SCHEDULERS, build_scheduler, lr_curve


def test_config_round_trips_and_types_strings_from_a_url():
    config = TrainConfig.from_dict({"epochs": "3", "lr": "0.01", "pretrained": "true", "model": "resnet18"})
    assert (config.epochs, config.lr, config.pretrained) == (3, 0.01, True)
    assert TrainConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("bad, words", [({"epochs": 0}, "epochs"), ({"lr": -1}, "learning rate"),
                                        ({"batch_size": "many"}, "batch_size"), ({"colour": 1}, "Unknown"),
                                        ({"warmup_epochs": 9, "epochs": 3, "scheduler": "warmup_cosine"}, "warmup")])
def test_config_refuses_impossible_settings_with_the_reason(bad, words):
    with pytest.raises(InvalidInput, match=words):
        TrainConfig.from_dict(bad)


def test_registries_hold_the_lecture_optimizers_and_schedulers():
    assert OPTIMIZERS.names() == ["sgd", "adam", "adamw"]
    assert set(SCHEDULERS.names()) == {"constant", "step", "cosine", "onecycle", "plateau", "warmup_cosine"}
    with pytest.raises(UnknownName, match="adamw"):
        OPTIMIZERS.get("adamx")


def test_per_layer_learning_rates_reach_the_optimizer():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = build_optimizer("adamw", [{"params": [a], "lr": 1e-4}, {"params": [b], "lr": 1e-3}], lr=1e-3,
                          momentum=0.9, weight_decay=0.01)
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-3]
    assert isinstance(opt, torch.optim.AdamW)


def test_lr_curves_have_the_shape_each_scheduler_promises():
    steps, config = 10, TrainConfig(epochs=4, lr=0.1)
    step = lr_curve(TrainConfig(epochs=4, lr=0.1, scheduler="step", step_size=2, gamma=0.1), steps)[0]
    assert step[0] == step[19] == pytest.approx(0.1) and step[20] == step[39] == pytest.approx(0.01)
    cosine = lr_curve(TrainConfig(epochs=4, lr=0.1, scheduler="cosine"), steps)[0]
    assert cosine[0] == pytest.approx(0.1) and cosine[-1] < 0.001 and cosine == sorted(cosine, reverse=True)
    onecycle = lr_curve(config, steps)[0]  # default onecycle: warms up for 30 %, peaks at lr, ends far below
    peak = max(range(len(onecycle)), key=onecycle.__getitem__)
    assert 0.25 * 40 <= peak <= 0.35 * 40 and onecycle[peak] == pytest.approx(0.1, rel=1e-3)
    assert onecycle[0] == pytest.approx(0.1 / 25) and onecycle[-1] < onecycle[0]
    warm = lr_curve(TrainConfig(epochs=4, lr=0.1, scheduler="warmup_cosine", warmup_epochs=1), steps)[0]
    assert warm[0] == pytest.approx(0.001) and max(warm) == pytest.approx(0.1, rel=0.02) and warm[-1] < 0.01
    plateau = lr_curve(TrainConfig(epochs=4, lr=0.1, scheduler="plateau"), steps)[0]
    assert set(plateau) == {0.1}  # the preview assumes the validation loss keeps improving


def test_lr_curve_scales_two_groups():
    backbone, head = lr_curve(TrainConfig(epochs=2, lr=0.1, scheduler="cosine"), 5, (0.1, 1.0))
    assert backbone[0] == pytest.approx(0.01) and head[0] == pytest.approx(0.1)
    assert all(b == pytest.approx(h * 0.1) for b, h in zip(backbone, head))


def _model_and_optimizer():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 3))
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    config = TrainConfig(epochs=3, scheduler="onecycle")
    sched = build_scheduler(opt, config, 5)
    for _ in range(4):
        opt.zero_grad()
        model(torch.randn(6, 4)).sum().backward()
        opt.step()
        sched.step()
    return model, opt, sched, config


def test_checkpoint_round_trip_restores_model_optimizer_and_scheduler_without_pickle(tmp_path):
    model, opt, sched, config = _model_and_optimizer()
    path = tmp_path / "epoch_001.safetensors"
    save_checkpoint(path, model, opt, sched, epoch=1)
    state, meta, opt_state, sched_state = read_checkpoint(path)
    assert meta == {"epoch": 1}
    model2 = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 3))
    model2.load_state_dict(state)
    opt2 = torch.optim.AdamW(model2.parameters(), lr=0.01)
    opt2.load_state_dict(opt_state)
    sched2 = build_scheduler(opt2, config, 5)
    sched2.load_state_dict(sched_state)
    for key, value in model.state_dict().items():
        assert torch.equal(value, model2.state_dict()[key])
    for index, values in opt.state_dict()["state"].items():
        for name, value in values.items():
            assert torch.equal(value, opt2.state_dict()["state"][index][name])
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert path.read_bytes()[:8] != b"\x80\x04\x95"[:8]  # not a pickle stream


def test_a_text_file_is_not_a_checkpoint(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_text("hello")
    with pytest.raises(BadCheckpoint, match="not a readable safetensors"):
        read_checkpoint(bad)


def test_run_store_lists_owners_and_guards_changes(tmp_path):
    store = runs.RunStore(tmp_path)
    mine = store.create(TrainConfig(), "ada", owner_id="browser:ada").name
    store.create(TrainConfig(model="resnet18"), "bob", owner_id="browser:bob")
    assert [i.owner for i in store.list()] == ["bob", "ada"]
    with pytest.raises(runs.NotAllowed, match="only its owner"):
        store.request(mine, "browser:bob", pause=True)
    control = store.request(mine, "browser:ada", lr=0.5)
    assert control["lr"] == 0.5 and control["lr_seq"] == control["seq"] == 1 and control["by"] == "ada"
    assert store.request(mine, "browser:bob", instructor=True, pause=True)["seq"] == 2
    with pytest.raises(InvalidInput, match="stop it before deleting"):
        store.delete(mine, "browser:ada")
    store.request(mine, "browser:ada", stop=True)  # a queued run that is stopped ends at once
    assert store.info(mine).status == "stopped"
    store.delete(mine, "browser:ada")
    with pytest.raises(runs.RunNotFound):
        store.info(mine)
    with pytest.raises(InvalidInput):
        store.info("../etc")


def test_a_running_run_whose_heartbeat_stopped_shows_as_interrupted(tmp_path, monkeypatch):
    run_dir = runs.RunStore(tmp_path).create(TrainConfig(), "ada")
    runs.set_status(run_dir, "running")
    runs.touch_heartbeat(run_dir)
    assert runs.read_info(run_dir).status == "running"
    monkeypatch.setattr(runs, "HEARTBEAT_STALE_S", 0.05)
    time.sleep(0.1)
    assert runs.read_info(run_dir).status == "interrupted"


def test_metrics_reader_skips_a_half_written_line_and_resume_drops_the_cut_epoch(tmp_path):
    run_dir = runs.RunStore(tmp_path).create(TrainConfig(), "ada")
    writer = runs.MetricsWriter(run_dir)
    for epoch in (0, 1, 2):
        writer.write("step", epoch=epoch, step=epoch + 1)
    writer.write("epoch", epoch=1, step=1)
    writer.write("epoch", epoch=2, step=2)
    writer.write("event", what="lr", step=2, value=0.1)
    writer.close()
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"kind": "st')
    assert len(runs.read_metrics(run_dir)) == 6
    runs.truncate_metrics_after(run_dir, epochs_kept=2)
    assert [(r["kind"], r.get("epoch")) for r in runs.read_metrics(run_dir)] == [
        ("step", 0), ("step", 1), ("epoch", 1), ("epoch", 2), ("event", None)]


def test_live_control_applies_a_new_rate_once_on_top_of_the_schedule_and_stops(tmp_path):
    store = runs.RunStore(tmp_path)
    run_dir = store.create(TrainConfig(), "ada", owner_id="ada")
    writer = runs.MetricsWriter(run_dir)
    control = LiveControl(run_dir, writer)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    store.request(run_dir.name, "ada", lr=0.02)
    control.poll(opt, global_step=3)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.02)
    control.poll(opt, global_step=4)  # nothing new: the same request is not applied twice
    assert opt.param_groups[0]["lr"] == pytest.approx(0.02)
    opt.step()
    control.step_scheduler(opt, sched.step)  # the schedule halves 0.1 -> 0.05; the user's factor 0.2 stays
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    store.request(run_dir.name, "ada", stop=True)
    with pytest.raises(Stopped, match="stopped by ada"):
        control.poll(opt, global_step=5)
    writer.close()
    events = [(r["what"], r["step"]) for r in runs.read_metrics(run_dir) if r["kind"] == "event"]
    assert events == [("lr", 3), ("stop", 5)]


def test_a_runs_final_scores_are_read_through_the_run_store(tmp_path):
    from cvlab.data.in_place import write_atomically

    assert runs.read_final_scores(tmp_path) is None and not runs.has_final_scores(tmp_path)
    (tmp_path / runs.EVAL_FILE).write_text('{"task": "detect", "map')  # cut off: no scores rather than an error
    assert runs.read_final_scores(tmp_path) is None
    write_atomically(tmp_path / runs.EVAL_FILE, '{"task": "detect", "map50": 0.5}')
    assert runs.read_final_scores(tmp_path) == {"task": "detect", "map50": 0.5} and runs.has_final_scores(tmp_path)
