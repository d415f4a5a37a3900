"""``python -m cvlab exercises`` and ``python -m cvlab board``: the pages' calls from a terminal, as JSON."""

import json

from cvlab.__main__ import main
from cvlab.commands import runs as runs_command
from cvlab.exercise_answers import AnswerStore
from cvlab.exercises import get_exercise
from cvlab.server.access import account_id
from cvlab.training.config import TrainConfig
from cvlab.training.runs import MetricsWriter, RunStore, set_status

SECRET = "correct-horse-battery"


def cli(capsys, *argv: str) -> tuple[int, dict | list]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_list_show_and_check_an_answer_kept_for_this_account(capsys):
    code, listed = cli(capsys, "exercises")
    assert code == 0 and [e["exercise_id"] for e in listed][:3] == ["lecture-1", "lecture-2", "lecture-3"]
    assert all(e["answer"] is None for e in listed)  # listing never gives answers away
    _, generated = cli(capsys, "exercises", "--seed", "4")
    assert [e["exercise_id"] for e in generated][0] == "size-4"
    _, shown = cli(capsys, "exercises", "show", "chain-4", "--solution")
    assert shown["answer"] == get_exercise("chain-4").answer and shown["solution"]
    _, wrong = cli(capsys, "exercises", "check", "lecture-2", "31")
    assert (wrong["correct"], wrong["given"]) == (False, "31x31") and "+1" in wrong["hint"]
    _, right = cli(capsys, "exercises", "check", "lecture-2", "32x32")
    assert (right["correct"], right["attempts"]) == (True, 2)
    assert AnswerStore().answer(account_id(), "lecture-2").first_answer == "31x31"


def test_junk_and_the_class_view_without_the_secret_are_refused(capsys):
    code, refused = cli(capsys, "exercises", "check", "lecture-1", "sixty")
    assert code == 2 and "Type the output size" in refused["error"]["message"]
    code, refused = cli(capsys, "exercises", "class", "lecture-1")
    assert code == 2 and refused["error"]["type"] == "NotInstructor"
    assert AnswerStore().revealed() == frozenset()


def test_the_instructor_reveals_from_the_terminal(capsys, monkeypatch):
    monkeypatch.setenv("CVLAB_INSTRUCTOR_SECRET", SECRET)
    monkeypatch.setattr(runs_command.getpass, "getpass", lambda prompt: SECRET)
    AnswerStore().record("browser:alice", get_exercise("lecture-1"), "61")
    code, summary = cli(capsys, "exercises", "reveal", "lecture-1", "--instructor")
    assert code == 0 and summary["revealed"] and summary["answered"] == 1
    assert summary["wrong_answers"][0]["answer"] == "61x61"
    assert AnswerStore().revealed() == {"lecture-1"}


def test_board_of_an_exercise(capsys):
    for owner, model, accuracy in (("alice", "lecture-vgg", 0.6), ("alice", "lecture-residual", 0.7)):
        run_dir = RunStore().create(TrainConfig(data="shapes", model=model, epochs=1), owner, f"browser:{owner}",
                                    exercise="vgg-vs-residual")
        metrics = MetricsWriter(run_dir)
        metrics.write("epoch", epoch=1, val_accuracy=accuracy, seconds=1.0)
        metrics.close()
        set_status(run_dir, "finished")
    code, board = cli(capsys, "board", "vgg-vs-residual")
    assert code == 0 and len(board["runs"]) == 2 and board["answer"]["differences"] == [0.7 - 0.6]
    code, listed = cli(capsys, "board", "--list")
    assert [e["tag"] for e in listed][0] == "vgg-vs-residual"
    code, refused = cli(capsys, "board", "nope")
    assert code == 2 and "vgg-vs-residual" in refused["error"]["message"]
    assert main(["board", "vgg-vs-residual"]) == 0
    assert "lecture-residual beat lecture-vgg for 1 of the 1" in capsys.readouterr().out


def test_a_run_trained_from_the_terminal_for_an_exercise_is_on_its_board(capsys):
    status = main(["train", "--data", "shapes", "--model", "lecture-residual", "--epochs", "1", "--limit", "60",
                   "--exercise", "vgg-vs-residual", "--json"])
    assert status == 0
    run_dir = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_dir"]
    assert main(["board", "vgg-vs-residual", "--json"]) == 0
    board = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [run["run_id"] for run in board["runs"]] == [run_dir.rsplit("/", 1)[-1]]
    assert board["runs"][0]["arm"] == "lecture-residual"
    assert main(["train", "--data", "shapes", "--epochs", "1", "--exercise", "nope", "--json"]) == 2
    assert "Unknown lab exercise 'nope'" in json.loads(capsys.readouterr().out)["error"]["message"]
