"""The Training page's controls before a worker has the run: a Pause right after Start, and the fine-tuning
recipe at one epoch. No worker is started (CVLAB_START_WORKER=never), so each run stays queued for as long as
the test looks at it."""

import pytest
from streamlit.testing.v1 import AppTest

from cvlab.training import runs
from tests.pages.apptest import run_script

PAGE = "pages/training/live_training.py"
QUICK = dict(data="shapes", limit="300", epochs="1", batch="32", aug="none")


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    monkeypatch.setenv("CVLAB_START_WORKER", "never")


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def named(app: AppTest, name: str = "ada") -> AppTest:
    app.text_input(key="user").input(name)
    return rerun(app)


def test_a_pause_clicked_right_after_start_is_kept_and_the_page_says_so():
    app = named(run_script(PAGE, timeout=120, section="New run", **QUICK))
    app.button(key="start").click()
    rerun(app)
    [info] = runs.RunStore().list()
    assert info.status == "queued"
    app.query_params["section"] = "Live"  # the same session (the same browser id) opens Live
    rerun(app)
    app.button(key="live_pause").click()  # there was no Pause before the worker had started the run
    rerun(app)
    assert any("Paused before it started" in t.value for t in app.toast)  # the page said nothing
    info = runs.RunStore().info(info.run_id)
    assert info.status == "paused" and "before it started" in info.reason
    rerun(app)  # the live panel's next refresh
    assert any("before it started" in c.value for c in app.caption)
    assert not app.button(key="live_resume").disabled


def test_the_fine_tuning_recipe_runs_with_one_epoch_and_says_how_it_fits_the_warmup():
    app = named(run_script(PAGE, timeout=120, section="New run", **QUICK))
    assert any("Warmup shortened from 1 to 0.25 epochs" in c.value for c in app.caption)
    app.button(key="fine_tune").click()
    rerun(app)
    assert not app.error, [e.value for e in app.error]  # was: "warmup must be shorter than the run"
    [info] = runs.RunStore().list()
    assert (info.config.model, info.config.epochs, info.config.warmup_epochs) == ("efficientnet_b0", 1, 0.25)
