"""The class board: runs grouped by the exercise they were started for, and the class's answer from them."""

import pytest

from cvlab.board import LAB_EXERCISES, board_rows, exercise_board, tag_for_title
from cvlab.errors import InvalidInput, UnknownName
from cvlab.jobs.status import RunStatus
from cvlab.training import lifecycle
from cvlab.training.config import TrainConfig
from cvlab.training.runs import MetricsWriter, RunStore, set_status


def finished_run(store: RunStore, owner: str, model: str, accuracies: list[float], exercise="vgg-vs-residual",
                 status=RunStatus.FINISHED, **changes) -> str:
    config = TrainConfig(data="shapes", model=model, epochs=len(accuracies), **changes)
    run_dir = store.create(config, owner, f"browser:{owner}", exercise=exercise)
    metrics = MetricsWriter(run_dir)
    for epoch, accuracy in enumerate(accuracies, start=1):
        metrics.write("epoch", epoch=epoch, val_accuracy=accuracy, val_loss=1 - accuracy, seconds=2.5)
    metrics.close()
    set_status(run_dir, status)
    return run_dir.name


def test_the_residual_question_is_answered_per_student_then_across_the_class():
    store = RunStore()
    finished_run(store, "alice", "lecture-vgg", [0.5, 0.70])
    finished_run(store, "alice", "lecture-residual", [0.6, 0.75])
    finished_run(store, "bob", "lecture-vgg", [0.5, 0.80])
    finished_run(store, "bob", "lecture-residual", [0.5, 0.78])
    finished_run(store, "carol", "lecture-residual", [0.9])  # one arm only: on the board, not in the answer
    finished_run(store, "dave", "lecture-vgg", [0.4], exercise="")  # not started as the exercise
    finished_run(store, "erin", "lecture-vgg", [0.3, 0.4], exercise="schedulers")
    board = exercise_board("vgg-vs-residual", store.list())
    assert {run.owner for run in board.runs} == {"alice", "bob", "carol"}
    answer = board.answer
    assert (answer.students, answer.compared) == (3, 2)
    assert answer.differences == pytest.approx((0.05, -0.02))
    assert "lecture-residual beat lecture-vgg for 1 of the 2" in answer.summary
    assert "+1.5 points in the median" in answer.summary
    alice = next(run for run in board.runs if run.owner == "alice" and run.arm == "lecture-residual")
    assert alice.epochs == (1, 2) and alice.wall_s == (2.5, 5.0) and alice.final_accuracy == 0.75


def test_the_table_marks_the_viewers_runs_and_three_arm_exercises_count_winners():
    store = RunStore()
    for owner, scores in (("alice", (0.6, 0.7, 0.8)), ("bob", (0.5, 0.9, 0.7))):
        for optimizer, score in zip(("sgd", "adam", "adamw"), scores):
            finished_run(store, owner, "lecture-vgg", [score], exercise="optimizers", optimizer=optimizer)
    board = exercise_board("optimizers", store.list())
    wins = {arm.arm: arm.wins for arm in board.answer.arms}
    assert wins == {"adam": 1, "adamw": 1, "sgd": 0}
    rows = board_rows(board, me="browser:bob")
    assert sum(row["student"] == "bob (you)" for row in rows) == 3
    assert {row["final accuracy %"] for row in rows} == {60.0, 70.0, 80.0, 50.0, 90.0}


def test_runs_without_an_epoch_or_that_failed_stay_off_the_board():
    store = RunStore()
    finished_run(store, "alice", "lecture-vgg", [], status=RunStatus.QUEUED)
    finished_run(store, "bob", "lecture-vgg", [0.5], status=RunStatus.FAILED)
    running = finished_run(store, "carol", "lecture-vgg", [0.5], status=RunStatus.STOPPED)
    board = exercise_board("vgg-vs-residual", store.list())
    assert [run.run_id for run in board.runs] == [running]
    assert "No finished runs yet" in board.answer.summary


def test_tags_are_checked_when_a_run_is_recorded(monkeypatch):
    monkeypatch.setenv("CVLAB_START_WORKER", "never")
    with pytest.raises(InvalidInput, match="not an exercise tag"):
        RunStore().create(TrainConfig(), "alice", "browser:a", exercise="../../x")
    with pytest.raises(UnknownName, match="vgg-vs-residual"):
        lifecycle.start(TrainConfig(data="shapes", limit=100, epochs=1), "alice", owner_id="browser:a",
                        exercise="made-up")
    started = lifecycle.start(TrainConfig(data="shapes", limit=100, epochs=1), "alice", owner_id="browser:a",
                              exercise="schedulers")
    assert RunStore().info(started["run_id"]).record["exercise"] == "schedulers"
    assert tag_for_title("VGG-like vs residual") == "vgg-vs-residual" and tag_for_title("nothing") == ""
    assert LAB_EXERCISES.names() == ["vgg-vs-residual", "fine-tune-efficientnet", "optimizers", "schedulers"]


def test_the_fine_tuning_board_answers_how_far_and_how_fast():
    store = RunStore()
    for owner, accuracies in (("alice", [0.8, 0.9]), ("bob", [0.7, 0.8, 0.95])):
        finished_run(store, owner, "efficientnet_b0", accuracies, exercise="fine-tune-efficientnet")
    board = exercise_board("fine-tune-efficientnet", store.list())
    [arm] = board.answer.arms
    assert arm.median_accuracy == pytest.approx(0.925) and arm.median_time_s == pytest.approx(6.25)
    assert board.answer.summary == "2 student(s) finished: 92.5% final accuracy in the median, after 6 s of training."
