"""The fair queue: users take turns on one device (real workers on SQLite and Redis), a cap on waiting runs,
positions and estimated starts, and the instructor's moves and cancels."""

import json
import os
import subprocess
import sys

import pytest

from cvlab.__main__ import main
from cvlab.errors import InvalidInput
from cvlab.jobs import fair_queue
from cvlab.training import lifecycle, runs
from cvlab.training.config import TrainConfig
from tests.unit.jobs.test_training_jobs import REPO_ROOT, redis_url, wait_for  # noqa: F401 (redis_url is a fixture)

QUICK = dict(data="shapes", model="lecture-vgg", limit=64, batch_size=32, augmentation="none", epochs=1)


def queued_run(owner: str, queued_at: float, epochs: int = 1) -> str:
    """A run waiting in the queue as submit leaves it (attempt 1), without sending a job."""
    run_dir = runs.RunStore().create(TrainConfig(epochs=epochs), owner, owner_id=f"browser:{owner}")
    runs.update_record(run_dir, attempt=1, queued_at=queued_at)
    return run_dir.name


def order() -> list[str]:
    return [entry.run_id for entry in fair_queue.queue_entries(slots=1)]


def owners_in_start_order(run_ids: list[str]) -> list[str]:
    infos = [runs.RunStore().info(run_id) for run_id in run_ids]
    return [info.owner for info in sorted(infos, key=lambda info: info.record["start_seq"])]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_two_users_with_five_runs_each_take_turns_on_one_device(backend, request, tmp_path, monkeypatch):
    env = {"CVLAB_START_WORKER": "never", "CVLAB_MAX_WAITING_RUNS": "5", "CVLAB_JOBS_PER_DEVICE": "1",
           "CVLAB_DEVICE": "cpu", "CVLAB_RUNS_DIR": str(tmp_path / "shared-runs")}
    if backend == "redis":
        env["CVLAB_QUEUE_URL"] = request.getfixturevalue("redis_url")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # Ada queues all five before Bob queues any: first-in first-out would run Ada's five first.
    started = [lifecycle.start(TrainConfig(**QUICK, seed=i), owner, owner_id=f"browser:{owner}")["run_id"]
               for owner in ("ada", "bob") for i in range(5)]
    assert [fair_queue.position_of(run_id).position for run_id in started] == [1, 3, 5, 7, 9, 2, 4, 6, 8, 10]
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "cvlab", "worker"], cwd=REPO_ROOT, stdout=out, stderr=out,
                                  env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        wait_for(lambda: all(runs.RunStore().info(r).status in runs.ENDED for r in started), timeout=900,
                 every=0.5, what="ten runs on one worker")
    except AssertionError as err:
        raise AssertionError(f"{err}; the worker's log ends: {log.read_text()[-3000:]}") from err
    finally:
        worker.kill()
        worker.wait(10)
    assert [runs.RunStore().info(r).status for r in started] == ["finished"] * 10
    assert owners_in_start_order(started) == ["ada", "bob"] * 5
    ada = sorted((runs.RunStore().info(r) for r in started[:5]), key=lambda i: i.record["start_seq"])
    assert [info.run_id for info in ada] == started[:5]  # each user's own runs in the order they were queued
    assert fair_queue.queue_entries(slots=1) == []


def test_round_robin_serves_whoever_was_served_least_recently():
    a = [queued_run("ada", 10 + i) for i in range(3)]
    b = [queued_run("bob", 20 + i) for i in range(2)]
    c = [queued_run("cy", 30)]
    assert order() == [a[0], b[0], c[0], a[1], b[1], a[2]]
    root = runs.RunStore().root
    (root / ".queue.json").write_text(json.dumps({"seq": 7, "served": {"browser:ada": 7, "browser:bob": 5}}))
    assert order() == [c[0], b[0], a[0], b[1], a[1], a[2]]  # cy never served, then bob, who was served before ada


def test_a_worker_takes_the_fair_next_run_whichever_job_it_got():
    a = [queued_run("ada", 10 + i) for i in range(2)]
    b = queued_run("bob", 20)
    store = runs.RunStore()
    taken = [fair_queue.take_next(store)[0].name for _ in range(3)]
    assert taken == [a[0], b, a[1]]
    assert [store.info(r).record["start_seq"] for r in taken] == [1, 2, 3]
    assert all(store.info(r).record["status"] == "running" for r in taken)
    assert fair_queue.take_next(store) is None


def test_one_user_may_have_only_so_many_runs_waiting(monkeypatch, capsys):
    monkeypatch.setenv("CVLAB_START_WORKER", "never")
    monkeypatch.setenv("CVLAB_MAX_WAITING_RUNS", "2")
    mine = [lifecycle.start(TrainConfig(**QUICK), "ada", owner_id="browser:ada")["run_id"] for _ in range(2)]
    with pytest.raises(InvalidInput) as refused:
        lifecycle.start(TrainConfig(**QUICK), "ada", owner_id="browser:ada")
    message = str(refused.value)
    assert "You have 2 runs waiting" in message and "CVLAB_MAX_WAITING_RUNS=2" in message
    assert all(run_id in message for run_id in mine)
    assert len(runs.RunStore().list()) == 2  # nothing was created for the refused run
    lifecycle.start(TrainConfig(**QUICK), "bob", owner_id="browser:bob")  # another user is not held back
    runs.RunStore().request(mine[0], "browser:ada", stop=True)
    lifecycle.start(TrainConfig(**QUICK), "ada", owner_id="browser:ada")  # room again once one left the queue
    # the command line's queued runs count for its account in the same way
    for _ in range(2):
        assert main(["train", "--queue", "--epochs", "1", "--limit", "64", "--owner", "me"]) == 0
    capsys.readouterr()
    assert main(["train", "--queue", "--epochs", "1", "--limit", "64", "--owner", "me"]) == 2
    assert "CVLAB_MAX_WAITING_RUNS=2" in capsys.readouterr().err


def test_positions_and_estimated_starts_come_from_running_runs_and_typical_durations():
    store = runs.RunStore()
    now = 10_000.0
    for seconds, epochs in ((100.0, 2), (300.0, 6)):  # 50 s per epoch, twice: the typical classification epoch
        done = store.create(TrainConfig(epochs=epochs), "old", owner_id="browser:old")
        runs.update_record(done, status="finished", epochs_done=epochs, seconds_used=seconds)
    running = store.create(TrainConfig(epochs=4), "cy", owner_id="browser:cy")
    runs.update_record(running, status="running", started=now - 30, attempt=1)
    runs.touch_heartbeat(running)
    with open(running / "metrics.jsonl", "a") as out:
        out.write(json.dumps({"kind": "step", "time": now - 1, "progress": 0.25}) + "\n")
    a1 = queued_run("ada", 1, epochs=2)
    b1 = queued_run("bob", 2, epochs=4)
    a2 = queued_run("ada", 3, epochs=1)
    entries = fair_queue.queue_entries(store, now=now, slots=1)
    # the running run took 30 s for a quarter: 90 s left; then 2, 4 and 1 epochs of 50 s
    assert [(e.position, e.run_id, e.estimated_start_s) for e in entries] == [(1, a1, 90.0), (2, b1, 190.0),
                                                                              (3, a2, 390.0)]
    two = fair_queue.queue_entries(store, now=now, slots=2)  # a second free slot takes the first waiting run now
    assert [e.estimated_start_s for e in two] == [0.0, 90.0, 100.0]


def test_the_instructor_moves_and_cancels_and_a_student_may_not_move(capsys):
    store = runs.RunStore()
    a = [queued_run("ada", 10 + i) for i in range(3)]
    b = [queued_run("bob", 20 + i) for i in range(2)]
    assert order() == [a[0], b[0], a[1], b[1], a[2]]
    with pytest.raises(runs.NotAllowed, match="Only the instructor"):
        fair_queue.move(store, a[2], "front", instructor=False)
    assert main(["runs", "move", a[2], "--to", "front"]) == 2  # the command line's account is no instructor
    assert "Only the instructor" in capsys.readouterr().err
    assert order() == [a[0], b[0], a[1], b[1], a[2]]
    moved = fair_queue.move(store, a[2], "front", instructor=True)
    # ada's moved run was her turn: bob's come next
    assert [e.run_id for e in moved] == [a[2], b[0], a[0], b[1], a[1]] and moved[0].moved and not moved[1].moved
    fair_queue.move(store, b[1], "up", instructor=True)
    assert order() == [a[2], b[0], b[1], a[0], a[1]]
    fair_queue.move(store, b[1], "front", instructor=True)
    assert order() == [b[1], a[2], b[0], a[0], a[1]]
    with pytest.raises(runs.NotAllowed):  # a student cancels only their own waiting runs
        fair_queue.cancel(store, a[0], "browser:bob", instructor=False)
    fair_queue.cancel(store, a[0], "browser:ada", instructor=False)
    fair_queue.cancel(store, b[0], "someone", instructor=True)
    assert store.info(a[0]).status == store.info(b[0]).status == "stopped"
    assert order() == [b[1], a[2], a[1]]
    with pytest.raises(InvalidInput, match="not waiting in the queue"):
        fair_queue.move(store, a[0], "front", instructor=True)
    assert main(["runs", "queue", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(row["position"], row["run_id"], row["owner"]) for row in listed] == [
        (1, b[1], "bob"), (2, a[2], "ada"), (3, a[1], "ada")]
