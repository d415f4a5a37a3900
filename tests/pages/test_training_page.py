"""The Training page with a real short run: submitted from the form, trained by a real worker, watched live."""

import os
import signal
import time

import pytest
from streamlit.testing.v1 import AppTest

from cvlab.training import runs
from cvlab.jobs.worker import live_local_workers
from tests.pages.apptest import run_script

PAGE = "pages/training/live_training.py"
QUICK = dict(data="shapes", limit="300", epochs="2", batch="32", aug="none")


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def workers():
    yield
    for worker in live_local_workers():
        os.kill(worker.pid, signal.SIGKILL)


def test_new_run_shows_data_augmentation_and_the_lr_curve_and_needs_a_name():
    app = run_script(PAGE, timeout=120, section="New run", **QUICK)
    assert app.button(key="start").disabled  # no name yet
    assert any("Type your name" in i.value for i in app.info)
    assert any("shapes" in c.value and "training and" in c.value for c in app.caption)
    assert any("Warm up to the maximum rate" in c.value and "8 batches per epoch" in c.value for c in app.caption)
    app.selectbox(key="sched").set_value("step")
    rerun(app)
    assert any("Multiply the rate by gamma every step_size epochs" in c.value for c in app.caption)


def test_impossible_settings_are_refused_with_a_message():
    app = run_script(PAGE, timeout=120, section="New run", user="ada", **{**QUICK, "sched": "warmup_cosine",
                                                                          "warmup": "5.0"})
    assert any("warmup must be shorter" in e.value for e in app.error)
    with pytest.raises(KeyError):  # nothing to start until the settings make sense
        app.button(key="start")


def test_a_real_run_from_the_form_to_the_results(workers):
    app = run_script(PAGE, timeout=120, section="New run", **QUICK)
    app.text_input(key="user").input("ada")
    rerun(app)
    app.button(key="start").click()
    rerun(app)
    [info] = runs.RunStore().list()
    assert info.owner == "ada" and info.config.epochs == 2 and info.config.limit == 300
    deadline = time.monotonic() + 300
    while runs.RunStore().info(info.run_id).status != "finished":
        assert time.monotonic() < deadline, runs.RunStore().info(info.run_id)
        time.sleep(0.5)
    app.query_params["section"] = "Live"  # ada's own session: the browser that started the run
    live = rerun(app)
    assert any("finished: epoch 2/2" in str(p.proto) for p in live.get("progress"))
    watcher = run_script(PAGE, timeout=120, section="Live", user="ada")  # another browser, ada's name in the address
    assert any("only ada (the browser or login that started it)" in c.value for c in watcher.caption)
    assert watcher.button(key="live_delete").disabled and not live.button(key="live_delete").disabled
    results = run_script(PAGE, timeout=120, section="Results", user="ada")
    [accuracy] = [m for m in results.metric if m.label == "Validation accuracy"]
    assert accuracy.value.endswith("%")
    compare = run_script(PAGE, timeout=120, section="Compare", user="ada")
    assert not compare.exception and len(compare.dataframe) == 1


def test_the_augmentation_preview_shows_every_class_of_a_set_sorted_by_class(monkeypatch):
    """An uploaded folder lists its images class by class: the preview must not show eight of the first."""
    import dataclasses

    from cvlab.data import datasets

    real = datasets.load_dataset

    def sorted_by_class(*args, **kwargs):
        data = real(*args, **kwargs)
        order = data.train_y.argsort(stable=True)
        return dataclasses.replace(data, train_x=data.train_x[order], train_y=data.train_y[order])

    monkeypatch.setattr(datasets, "load_dataset", sorted_by_class)
    app = run_script(PAGE, timeout=120, section="New run", **{**QUICK, "seed": "4242"})  # a seed no cache holds
    [preview] = [el for el in app.get("image") if len(el.value) == 8]
    shown = set(preview.captions)
    assert shown == {"circle", "square", "triangle", "star", "cross"}, shown  # before: eight circles


def test_a_new_learning_rate_is_confirmed_when_sent_and_again_when_the_run_takes_it():
    import json

    from cvlab.training.config import TrainConfig

    run_dir = runs.RunStore().create(TrainConfig(data="shapes"), "ada", owner_id="browser:lab-test")
    runs.set_status(run_dir, "running")
    runs.touch_heartbeat(run_dir)
    from cvlab.syllabus import REPO_ROOT

    app = AppTest.from_file(str(REPO_ROOT / PAGE), default_timeout=120)
    app.query_params["section"] = "Live"
    app.session_state["_cvlab_browser_id"] = "lab-test"  # the browser that started the run
    rerun(app)
    app.number_input(key="live_new_lr").set_value(0.02)
    rerun(app)
    app.button(key="live_apply_lr").click()
    rerun(app)
    assert runs.read_control(run_dir)["lr"] == 0.02
    assert any("Learning rate 0.02 sent: the run takes it at its next training step" in i.value for i in app.info)
    with open(run_dir / "metrics.jsonl", "a") as out:  # the worker takes it, as cvlab.training.control writes it
        out.write(json.dumps({"kind": "event", "what": "lr", "value": 0.02, "step": 57, "by": "browser:lab-test"})
                  + "\n")
    runs.touch_heartbeat(run_dir)
    rerun(app)
    assert any("Learning rate 0.02 applied at step 57" in s.value for s in app.success)


def test_the_form_augments_its_preview_and_draws_its_lr_curve_once_for_every_visitor_on_the_same_settings(
        monkeypatch):
    from cvlab.data import augment
    from cvlab.training import schedulers

    calls = {"augment": 0, "lr": 0}
    real_augment, real_lr = augment.augment_preview, schedulers.lr_curve

    def counted_augment(*args, **kwargs):
        calls["augment"] += 1
        return real_augment(*args, **kwargs)

    def counted_lr(*args, **kwargs):
        calls["lr"] += 1
        return real_lr(*args, **kwargs)

    monkeypatch.setattr(augment, "augment_preview", counted_augment)
    monkeypatch.setattr(schedulers, "lr_curve", counted_lr)
    settings = {**QUICK, "seed": "5151", "aug": "standard"}  # settings no other test draws
    first = run_script(PAGE, timeout=120, section="New run", **settings)
    rerun(first)  # a rerun that changes nothing
    second = run_script(PAGE, timeout=120, section="New run", **settings)  # another visitor, the same address
    assert calls == {"augment": 1, "lr": 1}
    [tiles] = [el for el in second.get("image") if len(el.value) == 8]
    assert set(tiles.captions) == {"circle", "square", "triangle", "star", "cross"}
    second.selectbox(key="sched").set_value("step")
    rerun(second)
    assert calls == {"augment": 1, "lr": 2}  # a new schedule: a new curve, the same preview
