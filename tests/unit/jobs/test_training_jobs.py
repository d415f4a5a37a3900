"""The job queue with real worker processes: kill and resume, concurrent runs, failures, two workers on Redis."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cvlab.training import lifecycle, runs
from cvlab.training.config import TrainConfig
from cvlab.jobs.worker import live_local_workers

REPO_ROOT = Path(__file__).resolve().parents[3]
TINY = dict(data="shapes", model="lecture-vgg", limit=300, batch_size=32, augmentation="none")


def wait_for(condition, timeout=240.0, every=0.25, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def start_worker(env_changes: dict) -> subprocess.Popen:
    env = {**os.environ, **env_changes, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "cvlab", "worker"], env=env, cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def local_workers():
    """Whatever workers the app starts during a test are killed after it."""
    yield
    for worker in live_local_workers():
        os.kill(worker.pid, signal.SIGKILL)


def epochs_of(run_dir: Path) -> list[dict]:
    return [r for r in runs.read_metrics(run_dir) if r["kind"] == "epoch"]


def last_checkpointed_epoch(run_dir: Path) -> int:
    """An epoch is finished once its checkpoint is written (its metrics line comes just before)."""
    names = [p.stem for p in (run_dir / "checkpoints").glob("epoch_*.safetensors")]
    return max((int(name.removeprefix("epoch_")) for name in names), default=0)


def test_a_killed_worker_loses_no_finished_epoch_and_the_run_resumes(local_workers, monkeypatch):
    monkeypatch.setattr(runs, "HEARTBEAT_STALE_S", 4.0)
    started = lifecycle.start(TrainConfig(epochs=4, **TINY), "ada", owner_id="ada")  # the app's path: queue + worker
    run_dir = Path(started["run_dir"])
    first = wait_for(lambda: live_local_workers(), what="the worker the app started")[0]
    wait_for(lambda: last_checkpointed_epoch(run_dir) >= 1 and runs.read_info(run_dir).status == "running",
             what="epoch 1")
    os.kill(first.pid, signal.SIGKILL)
    wait_for(lambda: runs.read_info(run_dir).status == "interrupted", timeout=30, what="interrupted")
    finished = last_checkpointed_epoch(run_dir)
    before = epochs_of(run_dir)[:finished]
    assert finished in (1, 2, 3)
    resumed = lifecycle.resume(runs.RunStore(), run_dir.name, "ada")
    assert resumed["status"] == "queued" and "started a local worker" in resumed["worker"]
    wait_for(lambda: runs.read_info(run_dir).status == "finished", what="the resumed run to finish")
    after = epochs_of(run_dir)
    assert [r["epoch"] for r in after] == [1, 2, 3, 4]
    assert after[:len(before)] == before  # finished epochs were kept, not trained again
    assert any(r["kind"] == "event" and r["what"] == "resumed" for r in runs.read_metrics(run_dir))
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir())[-1] == "epoch_004.safetensors"


def test_two_runs_at_once_both_finish_and_a_failing_run_leaves_the_worker_alive(local_workers, tmp_path):
    empty_folder = tmp_path / "holiday-photos"
    empty_folder.mkdir()  # passes the start checks (a folder), fails in the worker: no class folders
    broken = lifecycle.start(TrainConfig(epochs=1, **{**TINY, "data": str(empty_folder)}), "ada")
    good = [lifecycle.start(TrainConfig(epochs=2, **TINY, seed=s), "bob") for s in (1, 2)]
    infos = wait_for(lambda: [runs.RunStore().info(r["run_id"]) for r in (broken, *good)]
                     if all(runs.RunStore().info(r["run_id"]).status in runs.ENDED for r in (broken, *good))
                     else None, what="three runs to end")
    assert [i.status for i in infos] == ["failed", "finished", "finished"]
    assert "'holiday-photos' has no class folders" in infos[0].reason
    for info in infos[1:]:
        assert 0 <= info.record["final_val_accuracy"] <= 1 and len(epochs_of(info.run_dir)) == 2
        assert (info.run_dir / "model.safetensors").is_file() and (info.run_dir / "eval.json").is_file()
    assert len(live_local_workers()) == 1  # one worker served all three, and is still alive


def test_a_killed_detection_run_resumes_from_its_last_epoch(local_workers, monkeypatch):
    monkeypatch.setattr(runs, "HEARTBEAT_STALE_S", 4.0)
    config = TrainConfig.for_task("detect", limit=40, epochs=5, batch_size=8, image_size=64)
    run_dir = Path(lifecycle.start(config, "ada", owner_id="ada")["run_dir"])
    worker = wait_for(lambda: live_local_workers(), what="the worker the app started")[0]
    wait_for(lambda: len(epochs_of(run_dir)) >= 1, what="epoch 1")
    os.kill(worker.pid, signal.SIGKILL)
    wait_for(lambda: runs.read_info(run_dir).status == "interrupted", timeout=30, what="interrupted")
    before = epochs_of(run_dir)
    assert 1 <= len(before) < 5
    lifecycle.resume(runs.RunStore(), run_dir.name, "ada")
    wait_for(lambda: runs.read_info(run_dir).status in runs.ENDED, what="the resumed run to end")
    assert runs.read_info(run_dir).status == "finished", runs.read_info(run_dir).reason
    after = epochs_of(run_dir)
    assert [r["epoch"] for r in after] == [1, 2, 3, 4, 5]  # ultralytics went on from its last.pt
    assert after[:len(before) - 1] == before[:-1]  # (the last one may have been cut before its checkpoint)
    assert (run_dir / "detector.safetensors").is_file()


def test_an_architecture_measurement_is_a_queue_job_a_worker_runs(local_workers):
    from cvlab.zoo import measuring
    from cvlab.zoo import measure as zoo_measure

    job = measuring.start_measuring(["mobilenet_v3_small"])  # as the page's button does
    wait_for(lambda: not job.running, what="the measurement job")
    status = job.status()
    assert (status.state, status.done, status.error) == ("finished", 1, None), status
    [measured] = zoo_measure.cached_measurements().values()
    assert measured.name == "mobilenet_v3_small" and measured.latency_ms > 0 and measured.device == "cpu"
    assert len(live_local_workers()) == 1


def test_out_of_memory_marks_the_run_failed_with_a_readable_reason(monkeypatch):
    import torch

    from cvlab.training import engine

    def explode(config):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(engine, "prepare", explode)
    run_dir = runs.RunStore().create(TrainConfig(**TINY), "ada")
    summary = engine.train_run(run_dir)
    info = runs.read_info(run_dir)
    assert summary["status"] == info.status == "failed"
    assert info.reason.startswith("Out of memory: lower the batch size")


@pytest.fixture
def redis_url(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: install Debian's redis-server package (see README)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    wait_for(lambda: _pings(client), timeout=20, what="redis-server")
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


def _pings(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


def test_two_workers_on_redis_share_the_queue_each_job_runs_once_and_the_app_sees_them(tmp_path, monkeypatch,
                                                                                       redis_url):
    shared_runs = tmp_path / "shared-runs"
    monkeypatch.setenv("CVLAB_QUEUE_URL", redis_url)
    monkeypatch.setenv("CVLAB_RUNS_DIR", str(shared_runs))
    monkeypatch.setenv("CVLAB_START_WORKER", "never")  # the app only submits; the two workers do the work
    homes = [tmp_path / "machine-a", tmp_path / "machine-b"]
    workers = [start_worker({"CVLAB_HOME": str(home), "CVLAB_QUEUE_URL": redis_url,
                             "CVLAB_RUNS_DIR": str(shared_runs)}) for home in homes]
    try:
        wait_for(lambda: all(list((home / "workers").glob("*.json")) for home in homes), timeout=120,
                 what="both workers to start")
        # two people, two runs each: within the cap of waiting runs one user may have
        started = [lifecycle.start(TrainConfig(epochs=2, **TINY, seed=s), who, owner_id=f"browser:{who}")
                   for s, who in enumerate(["ada", "bob", "ada", "bob"])]
        seen_running = set()

        def all_finished():
            infos = [runs.RunStore().info(r["run_id"]) for r in started]
            seen_running.update(i.run_id for i in infos if i.status == "running" and runs.read_metrics(i.run_dir))
            return infos if all(i.status == "finished" for i in infos) else None

        infos = wait_for(all_finished, every=0.5, what="four runs on two workers")
        claims = [list(i.run_dir.glob("attempt-*.claim")) for i in infos]
        assert all(len(c) == 1 for c in claims)  # each job ran exactly once
        who = {c[0].read_text() for c in claims}
        assert len(who) == 2  # both workers took jobs
        assert seen_running  # the app watched metrics arrive while runs were going
        assert all(len(epochs_of(i.run_dir)) == 2 for i in infos)
        assert not (tmp_path / "cvlab-home" / "queue.sqlite3").exists()
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(10)
