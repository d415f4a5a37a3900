"""The run store on a shared server: ids that cannot leave the runs folder, records that cannot break the list,
requests that are never lost, runs that give the device back, and limits a class cannot exceed."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from cvlab.errors import InvalidInput
from cvlab.settings import get_settings
from cvlab.training import runs
from cvlab.training.config import TrainConfig


@pytest.fixture
def store() -> runs.RunStore:
    return runs.RunStore()


# ---- paths from ids and names ----
@pytest.mark.parametrize("run_id", [".", "..", "../runs", "..\\x", "/etc", "", ".hidden", "a/b", "x\0y"])
def test_run_ids_that_name_no_run_folder_are_refused(store, run_id):
    with pytest.raises(InvalidInput, match="not a run id|not a valid run id"):
        store.info(run_id)


def test_deleting_dot_dot_leaves_the_data_home_alone(store):
    home = get_settings().data_home
    store.root.mkdir(parents=True)
    record = {"run_id": "..", "config": TrainConfig().to_dict(), "owner": "ada", "status": "finished", "created": 1}
    (home / "run.json").write_text(json.dumps(record))  # what made ".." look like a run
    (store.root / "run.json").write_text(json.dumps(record))  # and "."
    keep = store.create(TrainConfig(), "bob")
    for run_id in ("..", "."):
        with pytest.raises(InvalidInput):
            store.delete(run_id, "ada", instructor=True)
    assert home.is_dir() and (keep / "run.json").is_file()


def test_a_run_folder_that_is_a_link_to_elsewhere_is_refused(store, tmp_path):
    elsewhere = runs.RunStore(tmp_path / "elsewhere").create(TrainConfig(), "ada")
    store.root.mkdir(parents=True)
    (store.root / "linked").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(InvalidInput, match="outside"):
        store.delete("linked", "ada", instructor=True)
    assert (elsewhere / "run.json").is_file()
    assert [i.run_id for i in store.list()] == []  # nor listed


@pytest.mark.parametrize("names, expected", [
    (["/etc/passwd"], None), (["../x/a.png", "../x/b.png"], None),
    (["cats/a.png", "dogs/b.png"], "."), (["pets/cats/a.png", "pets/dogs/b.png"], "pets")])
def test_a_folder_upload_names_its_dataset_only_inside_its_own_folder(tmp_path, names, expected):
    from cvlab.ui.training_form import folder_root

    dest = tmp_path / "uploads" / "abc"
    dest.mkdir(parents=True)
    if expected is None:
        with pytest.raises(InvalidInput):
            folder_root(dest, names)
    else:
        assert folder_root(dest, names) == (dest / expected if expected != "." else dest)


@pytest.mark.parametrize("name", ["..", ".", ""])
def test_a_zip_upload_named_dot_dot_is_saved_inside_its_folder(name):
    from cvlab.ui.training_form import _saved_upload

    path = Path(_saved_upload(SimpleNamespace(name=name, getvalue=lambda: b"PK\x05\x06" + bytes(18))))
    assert path.is_file() and path.name == "dataset.zip"
    assert path.parent.parent == get_settings().data_home / "uploads"


# ---- records that no longer read ----
def _rewrite(run_dir: Path, **changes) -> None:
    record = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**record, **changes}))


def test_bad_run_records_are_listed_as_unreadable_with_the_reason_and_never_break_the_list(store):
    import argparse

    from cvlab.commands.runs import _run

    good = store.create(TrainConfig(), "ada")
    too_long = store.create(TrainConfig(model="resnet18"), "ada")
    _rewrite(too_long, config={**TrainConfig(model="resnet18").to_dict(), "epochs": 100000}, status="finished")
    unknown = store.create(TrainConfig(), "bob")
    _rewrite(unknown, config={**TrainConfig().to_dict(), "colour": "red"}, epochs_done="three")
    not_json = store.create(TrainConfig(), "bob")
    (not_json / "run.json").write_text('{"run_id": ')
    a_list = store.create(TrainConfig(), "bob")
    (a_list / "run.json").write_text("[1, 2]")
    listed = {info.run_dir.name: info for info in store.list()}  # raised InvalidInput before
    assert len(listed) == 5 and listed[good.name].status == "queued" and not listed[good.name].unreadable
    for run_dir, words in ((too_long, "epochs"), (unknown, "colour"), (not_json, "cannot be read"),
                           (a_list, "not a JSON object")):
        info = store.info(run_dir.name)
        assert info.status == "unreadable" and words in info.reason and info.unreadable == info.reason
    assert listed[too_long.name].config.model == "resnet18"  # what it was, as far as it reads
    rows = _run(argparse.Namespace(action="list"))
    assert sorted(row["status"] for row in rows) == ["queued"] + ["unreadable"] * 4
    with pytest.raises(InvalidInput, match="cannot be resumed.*epochs"):
        from cvlab.training import lifecycle

        lifecycle.resume(store, too_long.name, "ada", instructor=True)
    store.delete(not_json.name, "bob", instructor=True)  # an unreadable run can still be removed
    assert not not_json.exists()


def test_a_queued_job_whose_settings_are_refused_is_marked_failed_with_the_reason(store):
    from cvlab.jobs import queue

    run_dir = store.create(TrainConfig(), "ada")
    runs.update_record(run_dir, attempt=1)
    _rewrite(run_dir, config={**TrainConfig().to_dict(), "batch_size": 100000})
    assert queue.execute_job(run_dir.name, 1) is None  # raised InvalidInput before, leaving the run queued
    info = store.info(run_dir.name)
    assert info.status == "failed" and info.record["status"] == "failed"
    assert "could not start" in info.reason and "batch size" in info.reason


# ---- resuming ----
TINY = dict(data="shapes", model="lecture-vgg", limit=120, batch_size=40, augmentation="none", image_size=16)


def test_checkpoints_are_found_in_epoch_order_not_text_order(store):
    run_dir = store.create(TrainConfig(), "ada")
    for name in ("epoch_999", "epoch_1000", "epoch_002", "epoch_x"):
        (run_dir / "checkpoints" / f"{name}.safetensors").write_bytes(b"")
    assert [epoch for epoch, _ in runs.iter_checkpoints(run_dir)] == [2, 999, 1000]


def test_a_worker_killed_right_after_a_checkpoint_leaves_no_gap_in_the_curves(store, monkeypatch):
    from cvlab.training import engine

    run_dir = store.create(TrainConfig(epochs=3, **TINY), "ada")
    real_save = engine.save_checkpoint

    def save_then_die(path, *args, **meta):
        real_save(path, *args, **meta)
        if meta.get("epoch") == 2:
            raise KeyboardInterrupt("the worker was killed")  # not an Exception: nothing in the run catches it

    monkeypatch.setattr(engine, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        engine.train_run(run_dir)
    monkeypatch.setattr(engine, "save_checkpoint", real_save)
    assert engine.train_run(run_dir)["status"] == "finished"
    epochs = [r["epoch"] for r in runs.read_metrics(run_dir) if r["kind"] == "epoch"]
    assert epochs == [1, 2, 3]


DETECT = dict(limit=16, epochs=3, batch_size=8, image_size=64)


@pytest.fixture(autouse=True)
def ultralytics_logs_to_this_tests_stderr():
    """ultralytics' logger keeps the stream it was set up with; an earlier test's capture may have closed it."""
    import logging
    import sys

    from ultralytics.utils import LOGGER

    for handler in LOGGER.handlers:
        if type(handler) is logging.StreamHandler:
            handler.stream = sys.stderr  # not setStream: it flushes the old stream, which may be closed
    yield


def _detection_run_killed_at_epoch_2(store, monkeypatch, before_its_line: bool) -> Path:
    """A detection run whose worker dies at the end of epoch 2, after ultralytics saved last.pt and before
    (or after) the epoch's line reached metrics.jsonl."""
    from cvlab.detection import training_run
    from cvlab.training.engine import train_run

    run_dir = store.create(TrainConfig.for_task("detect", **DETECT), "ada")
    real = training_run._LiveRun.on_epoch

    def on_epoch(self, report, *args, **kwargs):
        if report["epoch"] == 2 and not report["final"] and before_its_line:
            raise KeyboardInterrupt("the worker was killed")
        real(self, report, *args, **kwargs)
        if report["epoch"] == 2 and not report["final"]:
            raise KeyboardInterrupt("the worker was killed")

    monkeypatch.setattr(training_run._LiveRun, "on_epoch", on_epoch)
    with pytest.raises(KeyboardInterrupt):
        summary = train_run(run_dir)
        info = store.info(run_dir.name)  # reached only when the run ended without its second epoch: say why
        pytest.fail(f"the run ended {summary} ({info.status}: {info.reason}) before epoch 2 was reported")
    monkeypatch.setattr(training_run._LiveRun, "on_epoch", real)
    return run_dir


def test_a_detection_run_whose_last_checkpoint_was_cut_mid_write_goes_on_from_best(store, monkeypatch):
    import torch

    from cvlab.training.engine import train_run

    run_dir = _detection_run_killed_at_epoch_2(store, monkeypatch, before_its_line=False)
    weights = run_dir / "ultralytics" / "weights"
    best_epochs = torch.load(weights / "best.pt", map_location="cpu", weights_only=False)["epoch"] + 1
    assert best_epochs in (1, 2)
    whole = (weights / "last.pt").read_bytes()
    (weights / "last.pt").write_bytes(whole[:len(whole) // 2])  # the kill came in the middle of write_bytes
    summary = train_run(run_dir)
    info = store.info(run_dir.name)
    assert summary["status"] == info.status == "finished", info.reason  # failed before: last.pt unreadable
    assert f"went on from best.pt (after epoch {best_epochs})" in info.record["note"]
    records = runs.read_metrics(run_dir)
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2, 3]
    [resumed] = [r for r in records if r["kind"] == "event" and r["what"] == "resumed"]
    assert resumed["source"] == "best.pt" and resumed["epoch"] == best_epochs


def test_a_detection_epoch_checkpointed_but_not_logged_is_logged_on_resume(store, monkeypatch):
    from cvlab.training.engine import train_run

    run_dir = _detection_run_killed_at_epoch_2(store, monkeypatch, before_its_line=True)
    assert [r["epoch"] for r in runs.read_metrics(run_dir) if r["kind"] == "epoch"] == [1]
    assert train_run(run_dir)["status"] == "finished"
    epochs = [r for r in runs.read_metrics(run_dir) if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3]  # was [1, 3]: epoch 2 left a hole in every curve
    assert epochs[1]["val_map50"] is not None and epochs[1]["box_loss"] > 0 and epochs[1]["step"] == 2 * 2


# ---- zoo measurement jobs ----
def test_a_measurement_for_a_host_that_is_gone_is_dropped_and_shown_failed(monkeypatch):
    import time

    from cvlab.zoo import measure_job as zoo_jobs

    from cvlab.zoo import measuring
    from cvlab.jobs import queue

    monkeypatch.setattr(queue, "BOUNCE_DELAY_S", 0.0)
    monkeypatch.setattr(queue, "submit_measurement", lambda *args, **kwargs: None)  # nothing queued here
    monkeypatch.setattr("cvlab.jobs.worker.ensure_local_worker", lambda *a, **k: (False, ""))
    job = measuring.start_measuring(["mobilenet_v3_small"])
    huey, _ = queue.huey_and_task()
    old = time.time() - zoo_jobs.MEASURE_WAIT_LIMIT_S - 1
    queue.execute_measurement(job.job_id, "classification", None, ["mobilenet_v3_small"], "gone-host", old)
    assert huey.pending_count() == 0  # not put back on the queue: it bounced for ever before
    status = job.status()
    assert (status.state, status.running) == ("failed", False)
    assert "gone-host" in status.error and "30 minutes" in status.error
    young = time.time()
    queue.execute_measurement("another-job", "classification", None, ["mobilenet_v3_small"], "gone-host", young)
    assert huey.pending_count() == 1  # a young job still goes back for its own host's worker


def test_a_measurement_queued_too_long_on_this_host_is_shown_failed_with_the_reason(monkeypatch):
    import time

    from cvlab.zoo import measure_job as zoo_jobs

    from cvlab.zoo import measuring

    monkeypatch.setattr("cvlab.jobs.queue.submit_measurement", lambda *args, **kwargs: None)
    monkeypatch.setattr("cvlab.jobs.worker.ensure_local_worker", lambda *a, **k: (False, ""))
    job = measuring.start_measuring(["mobilenet_v3_small"])
    assert job.status().state == "queued"
    monkeypatch.setattr(time, "time", lambda real=time.time: real() + zoo_jobs.MEASURE_WAIT_LIMIT_S + 5)
    status = job.status()
    assert status.state == "failed" and not status.running and "measure again" in status.error
    zoo_jobs.run_measurement_job(job.job_id, "classification", None, ["mobilenet_v3_small"])
    assert zoo_jobs.current_job().status().state == "failed"  # the worker did not measure it after all


# ---- requests made before the worker starts the run ----
@pytest.fixture
def no_worker(monkeypatch):
    """Runs are queued but no worker process is started: the test plays the worker."""
    monkeypatch.setattr("cvlab.jobs.worker.ensure_local_worker", lambda *a, **k: (False, "no worker (test)"))


def _events(run_dir: Path) -> list[tuple]:
    return [(r["what"], r["step"]) for r in runs.read_metrics(run_dir) if r["kind"] == "event"]


def _steps(run_dir: Path) -> list[int]:
    return [r["step"] for r in runs.read_metrics(run_dir) if r["kind"] == "step"]


def test_a_pause_before_the_worker_takes_the_run_keeps_it_waiting_paused_until_resume(store, no_worker):
    from cvlab.training import lifecycle
    from cvlab.jobs import queue

    run_id = lifecycle.start(TrainConfig(epochs=1, **TINY), "ada")["run_id"]
    me = store.info(run_id).owner_id
    store.request(run_id, me, pause=True)
    info = store.info(run_id)
    assert info.status == "paused" and "before it started" in info.reason  # was left "queued", the pause lost
    assert queue.execute_job(run_id, 1) is None and store.info(run_id).status == "paused"  # the worker leaves it
    assert not _steps(info.run_dir)
    assert lifecycle.resume(store, run_id, me)["status"] == "queued"
    attempt = store.info(run_id).record["attempt"]
    assert attempt == 2 and queue.execute_job(run_id, attempt)["status"] == "finished"
    assert ("pause", 0) not in _events(info.run_dir)  # the pause was spent while it waited, not replayed


def test_a_stop_before_the_worker_takes_the_run_cancels_it(store, no_worker):
    from cvlab.training import lifecycle
    from cvlab.jobs import queue

    run_id = lifecycle.start(TrainConfig(epochs=1, **TINY), "ada")["run_id"]
    store.request(run_id, store.info(run_id).owner_id, stop=True)
    assert store.info(run_id).status == "stopped"
    assert queue.execute_job(run_id, 1) is None and store.info(run_id).status == "stopped"


def test_a_pause_clicked_while_the_worker_prepares_the_run_applies_before_its_first_batch(store, no_worker):
    import threading
    import time

    from cvlab.training import engine, lifecycle

    run_id = lifecycle.start(TrainConfig(epochs=1, **TINY), "ada")["run_id"]
    run_dir, me = store.run_dir(run_id), store.info(run_id).owner_id
    runs.set_status(run_dir, "running")  # the worker took it and is loading the data (the page shows Pause now)
    store.request(run_id, me, pause=True)
    worker = threading.Thread(target=engine.train_run, args=(run_dir,), daemon=True)
    worker.start()
    deadline = time.monotonic() + 120
    while store.info(run_id).status != "paused" and worker.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert store.info(run_id).status == "paused", store.info(run_id)  # the run went on to the end before
    assert not _steps(run_dir) and ("pause", 0) in _events(run_dir)
    lifecycle.resume(store, run_id, me)  # held by its worker: it simply continues
    worker.join(120)
    assert store.info(run_id).status == "finished" and _steps(run_dir)
    assert [what for what, _ in _events(run_dir)] == ["pause", "resume"]


# ---- a paused run gives its device back ----
def test_a_run_paused_past_the_release_time_saves_its_place_gives_the_device_back_and_resumes_there(
        store, no_worker, monkeypatch):
    from cvlab.training import engine, lifecycle
    from cvlab.jobs import queue

    config = TrainConfig(epochs=2, **TINY)
    reference = store.create(config, "ada")
    engine.train_run(reference)  # the same run without a pause, for its figures
    monkeypatch.setenv("CVLAB_PAUSE_RELEASE_S", "0.5")
    run_id = lifecycle.start(config, "ada")["run_id"]
    run_dir, me = store.run_dir(run_id), store.info(run_id).owner_id
    real_flush = engine._flush_window

    def pause_after_the_second_batch(p, epoch, step, *args):
        real_flush(p, epoch, step, *args)
        if (epoch, step) == (0, 1) and store.info(run_id).record["attempt"] == 1:
            store.request(run_id, me, pause=True)

    monkeypatch.setattr(engine, "_flush_window", pause_after_the_second_batch)
    summary = queue.execute_job(run_id, 1)  # returned: the worker thread and its device slot are free again
    info = store.info(run_id)
    assert summary["status"] == info.status == "paused" and info.record["released"]
    assert "device went back to the queue" in info.reason
    assert (run_dir / "checkpoints" / "paused.safetensors").is_file() and _steps(run_dir) == [1, 2]
    monkeypatch.setattr(runs, "HEARTBEAT_STALE_S", 0.0)
    assert store.info(run_id).status == "paused"  # no worker holds it, yet it is not "interrupted"
    lifecycle.resume(store, run_id, me)
    assert queue.execute_job(run_id, 2)["status"] == "finished"
    steps = runs.read_metrics(run_dir)
    assert _steps(run_dir) == [1, 2, 3, 4, 5, 6]  # the epoch went on from its third batch
    assert not (run_dir / "checkpoints" / "paused.safetensors").exists()
    ours = [r for r in steps if r["kind"] == "epoch"]
    theirs = [r for r in runs.read_metrics(reference) if r["kind"] == "epoch"]
    for key in ("train_loss", "val_loss", "val_accuracy"):  # as if it had never paused
        assert [r[key] for r in ours] == pytest.approx([r[key] for r in theirs], rel=1e-4)


def test_a_run_past_its_time_budget_is_stopped_and_cannot_be_resumed(store, no_worker, monkeypatch):
    from cvlab.training import lifecycle
    from cvlab.jobs import queue

    monkeypatch.setenv("CVLAB_RUN_BUDGET_S", "0.01")
    run_id = lifecycle.start(TrainConfig(epochs=3, **TINY), "ada")["run_id"]
    assert queue.execute_job(run_id, 1)["status"] == "stopped"
    info = store.info(run_id)
    assert "CVLAB_RUN_BUDGET_S" in info.reason and info.epochs_done < 3
    assert info.record["seconds_used"] > 0.01
    with pytest.raises(InvalidInput, match="the most one run may train"):
        lifecycle.resume(store, run_id, info.owner_id)


# ---- limits ----
def test_a_run_that_needs_more_memory_than_the_server_has_is_refused_before_it_is_queued(store, no_worker,
                                                                                        monkeypatch):
    from cvlab.training import lifecycle, memory

    big = TrainConfig(model="resnet18", image_size=512, batch_size=512, limit=1000)
    per_image = memory.estimate(big).per_image / 2**30
    assert 0.12 < per_image < 0.25  # measured: ~0.16-0.17 GiB per image per step on the CPU
    monkeypatch.setattr(memory, "device_memory", lambda config: (64 * 2**30, "this server's memory"))
    with pytest.raises(InvalidInput, match=r"would need about \d+\.\d GiB.*more than the 57.6 GiB.*"
                                           r"A batch of \d+ or fewer would fit"):
        lifecycle.start(big, "ada")
    monkeypatch.setenv("CVLAB_RUN_MEMORY_MB", "200")
    with pytest.raises(InvalidInput, match="CVLAB_RUN_MEMORY_MB"):
        lifecycle.start(TrainConfig(model="resnet18", image_size=128, batch_size=64, limit=500), "ada")
    assert store.list() == []  # nothing was queued
    lifecycle.start(TrainConfig(epochs=1, **TINY), "ada")  # a small one fits under the cap


@pytest.mark.parametrize("changes, words", [({"epochs": 1000}, "between 1 and 300"),
                                            ({"batch_size": 4096}, "between 1 and 512")])
def test_epochs_and_batch_size_are_bounded_with_the_limit_named(changes, words):
    with pytest.raises(InvalidInput, match=words):
        TrainConfig.from_dict(changes)


# ---- recipes ----
def test_the_fine_tuning_recipe_fits_its_warmup_into_a_one_epoch_run():
    from cvlab.ui.training_form import FINE_TUNE, fine_tune_note

    recipe, note = TrainConfig(epochs=1).with_recipe(FINE_TUNE)  # refused before: "warmup must be shorter"
    assert (recipe.model, recipe.scheduler, recipe.warmup_epochs) == ("efficientnet_b0", "warmup_cosine", 0.25)
    assert note == "Warmup shortened from 1 to 0.25 epochs to fit a 1-epoch run."
    assert TrainConfig(epochs=5).with_recipe(FINE_TUNE) == (TrainConfig(epochs=5, **FINE_TUNE), "")
    assert "0.25-epoch warmup" in fine_tune_note(TrainConfig(epochs=1)) and "shortened" in fine_tune_note(
        TrainConfig(epochs=1))
    with pytest.raises(InvalidInput, match="warmup must be shorter"):  # a warmup the recipe names is kept, and checked
        TrainConfig(epochs=1).with_recipe({**FINE_TUNE, "warmup_epochs": 2})


def test_stray_lines_in_a_runs_files_break_no_reader(store):
    run_dir = store.create(TrainConfig(), "ada")
    writer = runs.MetricsWriter(run_dir)
    writer.write("step", epoch=0, step=1, loss=1.0)
    writer.close()
    with open(run_dir / "metrics.jsonl", "ab") as out:
        out.write(b'[1, 2]\n"text"\n{"no": "kind"}\n\xff\xfe\n')
    assert [r["kind"] for r in runs.read_metrics(run_dir)] == ["step"]  # a list line raised AttributeError before
    (run_dir / "control.json").write_text("[1]")
    assert runs.read_control(run_dir) == {}
    runs.update_record(run_dir, epochs_done=1)  # a control.json or run.json that is not an object is never .get()
    assert store.info(run_dir.name).epochs_done == 1


def test_a_worker_killed_before_the_first_checkpoint_leaves_no_repeated_epoch(store, monkeypatch):
    from cvlab.training import engine

    run_dir = store.create(TrainConfig(epochs=2, **TINY), "ada")
    real_save = engine.save_checkpoint

    def die(*args, **meta):
        raise KeyboardInterrupt("the worker was killed")  # after epoch 1's line, before its checkpoint

    monkeypatch.setattr(engine, "save_checkpoint", die)
    with pytest.raises(KeyboardInterrupt):
        engine.train_run(run_dir)
    assert [r["epoch"] for r in runs.read_metrics(run_dir) if r["kind"] == "epoch"] == [1]
    monkeypatch.setattr(engine, "save_checkpoint", real_save)
    assert engine.train_run(run_dir)["status"] == "finished"
    records = runs.read_metrics(run_dir)
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2]  # was [1, 1, 2]
    steps = [r["step"] for r in records if r["kind"] == "step"]
    assert steps == sorted(set(steps))  # and no step logged twice


def test_a_detection_run_paused_past_the_release_time_gives_the_device_back_and_resumes(store, no_worker,
                                                                                        monkeypatch):
    from cvlab.detection import training_run
    from cvlab.training import lifecycle
    from cvlab.jobs import queue

    monkeypatch.setenv("CVLAB_PAUSE_RELEASE_S", "0.5")
    run_id = lifecycle.start(TrainConfig.for_task("detect", **DETECT), "ada")["run_id"]
    run_dir, me = store.run_dir(run_id), store.info(run_id).owner_id
    real = training_run._LiveRun.on_batch

    def pause_in_epoch_2(self, trainer):
        if self.step == self.batches and store.info(run_id).record["attempt"] == 1:
            store.request(run_id, me, pause=True)  # seen at this batch's poll, the first of epoch 2
        real(self, trainer)

    monkeypatch.setattr(training_run._LiveRun, "on_batch", pause_in_epoch_2)
    assert queue.execute_job(run_id, 1)["status"] == "paused"  # out of ultralytics' loop: the device is free
    info = store.info(run_id)
    assert info.record["released"] and "start of the epoch it paused in" in info.reason
    lifecycle.resume(store, run_id, me)
    assert queue.execute_job(run_id, 2)["status"] == "finished", store.info(run_id).reason
    records = runs.read_metrics(run_dir)
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2, 3]
    steps = [r["step"] for r in records if r["kind"] == "step"]
    assert steps == sorted(set(steps))  # the cut epoch's steps were logged once, after the resume


def test_stray_worker_and_measurement_files_never_break_the_app():
    from cvlab.zoo import measure_job as zoo_jobs
    from cvlab.jobs.worker import live_local_workers

    folder = get_settings().data_home / "workers"
    folder.mkdir(parents=True)
    for name, text in (("a", "[1]"), ("b", '{"host": "x"}'), ("c", '{"host": "h", "pid": "one"}'), ("d", "{")):
        (folder / f"{name}.json").write_text(text)
    assert live_local_workers() == []  # raised KeyError / AttributeError / ValueError before
    assert sorted(p.name for p in folder.glob("*.json")) == ["d.json"]  # junk removed; "{" may be half-written
    (get_settings().data_home / "zoo").mkdir(parents=True)
    (get_settings().data_home / "zoo" / "job.json").write_text('["not", "a", "job"]')
    assert zoo_jobs.current_job() is None


def test_the_command_line_refuses_a_run_that_will_not_fit_before_making_its_folder(monkeypatch, capsys):
    from cvlab.__main__ import main

    monkeypatch.setenv("CVLAB_RUN_MEMORY_MB", "100")
    code = main(["train", "--model", "resnet18", "--image-size", "256", "--batch-size", "256", "--queue"])
    assert code == 2 and "CVLAB_RUN_MEMORY_MB" in capsys.readouterr().err
    assert runs.RunStore().list() == []


def test_the_command_line_and_the_pages_start_a_run_the_same_way(monkeypatch, capsys, tmp_path):
    import json

    from cvlab.__main__ import main
    from cvlab.training import lifecycle

    started = []
    monkeypatch.setattr("cvlab.jobs.worker.ensure_local_worker",
                        lambda *a, **k: started.append(True) or (True, "started a local worker (test)"))
    missing = str(tmp_path / "gone.zip")
    with pytest.raises(InvalidInput, match="does not exist"):  # the page's start checked no data before
        lifecycle.start(TrainConfig(data=missing, **{k: v for k, v in TINY.items() if k != "data"}), "ada")
    assert main(["train", "--data", missing, "--queue"]) == 2 and "does not exist" in capsys.readouterr().err
    assert runs.RunStore().list() == [] and started == []
    assert main(["train", "--queue", "--json", "--epochs", "1", "--limit", "40"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "queued" and result["queue_position"] == 1
    assert started == [True]  # the command line's queued run gets a worker to take it, as the page's does
    assert [info.status for info in runs.RunStore().list()] == ["queued"]
