"""``python -m cvlab runs``: acts as the server account; the instructor secret never travels in the arguments."""

import json

import pytest

from cvlab.__main__ import main
from cvlab.server.access import account_id
from cvlab.commands import runs as runs_command
from cvlab.training import runs
from cvlab.training.config import TrainConfig


@pytest.fixture
def alices_run():
    return runs.RunStore().create(TrainConfig(), "alice", owner_id="browser:alice").name


@pytest.fixture
def prompts(monkeypatch):
    """What the secret prompt answers, and the waits after a wrong secret (recorded, not slept)."""
    answers, waits = [], []
    monkeypatch.setattr(runs_command.getpass, "getpass", lambda prompt: answers.pop(0))
    monkeypatch.setattr(runs_command.time, "sleep", waits.append)
    monkeypatch.delenv("CVLAB_INSTRUCTOR_SECRET", raising=False)
    return answers, waits


def status(run_id: str) -> str:
    return runs.RunStore().info(run_id).status


@pytest.mark.parametrize("argv", [["--instructor-secret", "s3cret"], ["--instructor-secret=s3cret"],
                                  ["--user", "alice"]])
def test_no_argument_carries_a_secret_or_a_chosen_identity(argv, alices_run, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["runs", "stop", alices_run, *argv])
    assert caught.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
    assert status(alices_run) == "queued"


def test_the_command_line_changes_only_its_own_accounts_runs(alices_run, capsys, monkeypatch):
    monkeypatch.setenv("USER", "alice")  # the environment does not choose the account
    assert main(["runs", "stop", alices_run]) == 2
    assert "only its owner" in capsys.readouterr().err and status(alices_run) == "queued"
    mine = runs.RunStore().create(TrainConfig(), "me").name
    assert runs.RunStore().info(mine).owner_id == account_id()
    assert main(["runs", "stop", mine, "--json"]) == 0 and status(mine) == "stopped"


def test_the_instructor_secret_is_asked_for_and_a_wrong_one_waits(alices_run, prompts, capsys, monkeypatch,
                                                                     tmp_path):
    answers, waits = prompts
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('cvlab_instructor_secret = "right-secret-of-the-lab"\n')
    monkeypatch.chdir(tmp_path)  # the secrets file the app reads, from where the app is started
    answers.append("wrong")
    assert main(["runs", "stop", alices_run, "--instructor"]) == 2
    assert "not the instructor secret" in capsys.readouterr().err
    assert waits == [runs_command.WRONG_SECRET_DELAY_S] and status(alices_run) == "queued"
    answers.append("right-secret-of-the-lab")
    assert main(["runs", "stop", alices_run, "--instructor", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["by"] == "the instructor" and status(alices_run) == "stopped"
    assert answers == [] and waits == [runs_command.WRONG_SECRET_DELAY_S]


def test_the_secret_from_the_environment_is_still_typed_at_the_prompt(alices_run, prompts, monkeypatch, tmp_path):
    """The server's environment may hold the secret; the caller's answer comes only from the prompt, so setting
    the variable oneself proves nothing."""
    answers, _ = prompts
    monkeypatch.chdir(tmp_path)  # no secrets file here: the server's environment holds the secret
    monkeypatch.setenv("CVLAB_INSTRUCTOR_SECRET", "env-secret-of-the-lab")
    answers.append("anything")
    assert main(["runs", "delete", alices_run, "--instructor"]) == 2
    runs.RunStore().request(alices_run, "browser:alice", stop=True)
    answers.append("env-secret-of-the-lab")
    assert main(["runs", "delete", alices_run, "--instructor"]) == 0
    with pytest.raises(runs.RunNotFound):
        runs.RunStore().info(alices_run)


def test_another_account_cannot_be_the_instructor_from_a_terminal(alices_run, prompts, monkeypatch, tmp_path,
                                                                 capsys):
    """An account that does not own the runs folder chooses its own environment and secrets: refused."""
    answers, _ = prompts
    monkeypatch.setenv("CVLAB_INSTRUCTOR_SECRET", "chosen-by-the-caller-itself")
    monkeypatch.setattr(runs_command.os, "geteuid", lambda: 4242)
    answers.append("chosen-by-the-caller-itself")
    assert main(["runs", "stop", alices_run, "--instructor"]) == 2
    assert "run as the account that owns" in capsys.readouterr().err and status(alices_run) == "queued"


def test_without_a_configured_secret_nobody_is_the_instructor(alices_run, prompts, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["runs", "stop", alices_run, "--instructor"]) == 2
    assert "No instructor secret is configured" in capsys.readouterr().err and status(alices_run) == "queued"
