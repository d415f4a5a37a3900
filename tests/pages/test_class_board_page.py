"""The Class board: two students' runs of one exercise on one chart and table, the viewer's own marked."""

from cvlab.jobs.status import RunStatus
from cvlab.training.config import TrainConfig
from cvlab.training.runs import MetricsWriter, RunStore, set_status
from cvlab.ui import identity
from tests.pages.apptest import run_script

PAGE = "pages/teaching/class_board.py"


def finished_run(owner: str, owner_id: str, model: str, accuracies: list[float],
                 exercise: str = "vgg-vs-residual") -> None:
    run_dir = RunStore().create(TrainConfig(data="shapes", model=model, epochs=len(accuracies)), owner, owner_id,
                                exercise=exercise)
    metrics = MetricsWriter(run_dir)
    for epoch, accuracy in enumerate(accuracies, start=1):
        metrics.write("epoch", epoch=epoch, val_accuracy=accuracy, val_loss=1.0, seconds=4.0)
    metrics.close()
    set_status(run_dir, RunStatus.FINISHED)


def test_a_board_with_two_students_runs_of_one_exercise():
    app = run_script(PAGE, section="VGG-like vs residual")
    assert "No finished runs yet" in app.info[0].value
    me = f"browser:{app.session_state[identity._BROWSER_KEY]}"
    finished_run("alice", me, "lecture-vgg", [0.5, 0.6])
    finished_run("alice", me, "lecture-residual", [0.55, 0.7])
    finished_run("bob", "browser:bob", "lecture-vgg", [0.4, 0.65])
    finished_run("bob", "browser:bob", "lecture-residual", [0.5, 0.75])
    finished_run("carol", "browser:carol", "lecture-vgg", [0.9], exercise="schedulers")  # another exercise's board
    finished_run("dave", "browser:dave", "lecture-vgg", [0.9], exercise="")  # started as no exercise
    app.run()
    assert not app.exception, app.exception
    assert "lecture-residual beat lecture-vgg for 2 of the 2 student(s)" in app.info[0].value
    assert "+10.0 points in the median" in app.info[0].value
    table = app.dataframe[0].value
    assert sorted(table["student"]) == ["alice (you)", "alice (you)", "bob", "bob"]
    assert sorted(table["final accuracy %"]) == [60.0, 65.0, 70.0, 75.0]
    assert any("yours (2) are the thick lines" in c.value for c in app.caption)
    assert app.get("plotly_chart")

    app.segmented_control(key="board_x").set_value("time")
    app.run()
    assert not app.exception, app.exception
    assert any("yours (2)" in c.value for c in app.caption) and app.get("plotly_chart")


def test_the_class_pages_import_no_torch():
    import subprocess
    import sys

    from cvlab.syllabus import REPO_ROOT

    for page in ("pages/teaching/class_board.py", "pages/teaching/exercises.py"):
        code = ("import sys; from streamlit.testing.v1 import AppTest; "
                f"app = AppTest.from_file({str(REPO_ROOT / page)!r}, default_timeout=30); app.run(); "
                "assert not app.exception; print('torch' in sys.modules)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
        assert done.stdout.strip().splitlines()[-1] == "False", page


def test_the_training_pages_exercise_button_records_the_exercise(monkeypatch):
    monkeypatch.setenv("CVLAB_START_WORKER", "never")  # the runs stay queued
    app = run_script("pages/training/live_training.py", timeout=120, section="New run", data="shapes", limit="300",
                     epochs="1", batch="32", aug="none")
    app.text_input(key="user").input("alice")
    app.run()
    app.button(key="exercise-VGG-like vs residual").click()
    app.run()
    assert not app.exception, app.exception
    runs = RunStore().list()
    assert sorted(info.config.model for info in runs) == ["lecture-residual", "lecture-vgg"]
    assert {info.record["exercise"] for info in runs} == {"vgg-vs-residual"}
