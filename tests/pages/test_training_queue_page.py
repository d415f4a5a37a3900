"""The Training page's queue: a waiting run's position and expected start, the cap on one user's waiting runs,
and the instructor's moves and cancels. No worker is started, so every run stays queued."""

import pytest
from streamlit.testing.v1 import AppTest

from cvlab.jobs import fair_queue
from cvlab.training import runs
from cvlab.training.config import TrainConfig
from tests.pages.apptest import run_script

PAGE = "pages/training/live_training.py"
QUICK = dict(data="shapes", limit="300", epochs="1", batch="32", aug="none")


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    monkeypatch.setenv("CVLAB_START_WORKER", "never")
    monkeypatch.setenv("CVLAB_INSTRUCTOR_SECRET", "teach-with-a-long-secret")


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def queued(owner: str, at: float) -> str:
    run_dir = runs.RunStore().create(TrainConfig(epochs=1), owner, owner_id=f"browser:{owner}")
    runs.update_record(run_dir, attempt=1, queued_at=at)
    return run_dir.name


def test_a_user_past_the_cap_is_told_so_on_the_page(monkeypatch):
    monkeypatch.setenv("CVLAB_MAX_WAITING_RUNS", "1")
    app = run_script(PAGE, timeout=120, section="New run", **QUICK)
    app.text_input(key="user").input("ada")
    rerun(app)
    app.button(key="start").click()
    rerun(app)
    app.button(key="start").click()
    rerun(app)
    assert any("CVLAB_MAX_WAITING_RUNS=1" in e.value for e in app.error), [e.value for e in app.error]
    assert len(runs.RunStore().list()) == 1


def test_the_queue_shows_positions_and_the_instructor_moves_and_cancels():
    a1, a2, b1 = queued("ada", 1), queued("ada", 2), queued("bob", 3)
    app = run_script(PAGE, timeout=120, section="Live")
    rerun(app)
    app.selectbox(key="live_run").select(a2)
    rerun(app)
    assert any("position 3, expected to start" in i.value for i in app.info), [i.value for i in app.info]
    assert not [b for b in app.button if b.key == "queue_front"]  # a student sees the queue, not the buttons
    app.text_input(key="instructor_typed").input("teach-with-a-long-secret")
    rerun(app)
    app.selectbox(key="queue_run").select(a2)
    app.button(key="queue_front").click()
    rerun(app)
    assert [e.run_id for e in fair_queue.queue_entries(slots=1)] == [a2, b1, a1]
    app.selectbox(key="queue_run").select(b1)
    app.button(key="queue_cancel").click()
    rerun(app)
    assert runs.RunStore().info(b1).status == "stopped"
    assert [e.run_id for e in fair_queue.queue_entries(slots=1)] == [a2, a1]
