"""Run folders on disk: old ended runs removed (never ones that may go on), a per-user cap checked before a new
run, and a detection run's uploaded dataset linked from the upload store instead of copied."""

import io
import os
import time
import zipfile
from types import SimpleNamespace

import pytest

from cvlab.data.uploads import UploadStore
from cvlab.data.writers import write_yolo_dataset
from cvlab.errors import InvalidInput
from cvlab.settings import get_settings
from cvlab.training import lifecycle, runs
from cvlab.training.config import TrainConfig
from cvlab.training.run_disk import link_tree, remove_old_runs, run_bytes

DAY = 86400.0


def run_with(status: str, owner: str = "ada", ended_days_ago: float = 0.0, **fields):
    run_dir = runs.RunStore().create(TrainConfig(epochs=1), owner, owner_id=f"browser:{owner}")
    runs.update_record(run_dir, status=status, **{f"{status}_at": time.time() - ended_days_ago * DAY}, **fields)
    if status in ("running", "paused"):
        runs.touch_heartbeat(run_dir)
    return run_dir.name


def test_runs_that_ended_long_ago_are_removed_and_runs_that_may_go_on_never(monkeypatch):
    old = {status: run_with(status, ended_days_ago=40) for status in ("finished", "failed", "stopped")}
    young = run_with("finished", ended_days_ago=10)
    kept = [run_with("queued", ended_days_ago=40), run_with("running", ended_days_ago=40),
            run_with("paused", ended_days_ago=40, released=True)]
    interrupted = run_with("running", ended_days_ago=40)
    (runs.RunStore().run_dir(interrupted) / "heartbeat").unlink()  # its worker died: interrupted, resumable
    assert runs.RunStore().info(interrupted).status == "interrupted"
    monkeypatch.setenv("CVLAB_RUN_KEEP_DAYS", "0")
    assert remove_old_runs() == []  # 0 keeps every run
    monkeypatch.setenv("CVLAB_RUN_KEEP_DAYS", "30")
    assert sorted(remove_old_runs()) == sorted(old.values())
    left = {info.run_id for info in runs.RunStore().list()}
    assert left == {young, interrupted, *kept}


def test_a_user_whose_runs_hold_their_quota_is_refused_a_new_run_with_the_largest_named(monkeypatch):
    monkeypatch.setenv("CVLAB_START_WORKER", "never")
    monkeypatch.setenv("CVLAB_USER_RUN_DISK_MB", "2")
    big, small = run_with("finished"), run_with("finished")
    store = runs.RunStore()
    (store.run_dir(big) / "checkpoints" / "epoch_001.safetensors").write_bytes(b"\0" * (2 * 2**20))
    (store.run_dir(small) / "model.safetensors").write_bytes(b"\0" * 1000)
    with pytest.raises(InvalidInput) as refused:
        lifecycle.start(TrainConfig(epochs=1), "ada", owner_id="browser:ada")
    message = str(refused.value)
    assert "CVLAB_USER_RUN_DISK_MB=2" in message and f"{big} (2 MiB)" in message
    assert message.index(big) < message.index(small)  # largest first
    lifecycle.start(TrainConfig(epochs=1), "bob", owner_id="browser:bob")  # someone else's runs do not count
    store.delete(big, "browser:ada")
    lifecycle.start(TrainConfig(epochs=1), "ada", owner_id="browser:ada")


def test_linked_files_cost_the_run_nothing(tmp_path):
    source = tmp_path / "store" / "set"
    (source / "images").mkdir(parents=True)
    (source / "images" / "a.png").write_bytes(b"x" * 5000)
    (source / "data.yaml").write_text("names: [a]\n")
    target = tmp_path / "run" / "data"
    target.parent.mkdir()
    link_tree(source, target)
    assert (target / "images" / "a.png").read_bytes() == b"x" * 5000
    assert os.stat(target / "images" / "a.png").st_ino == os.stat(source / "images" / "a.png").st_ino
    assert run_bytes(target.parent) == 0
    (source / "images" / "a.png").unlink()  # the store dropped it: now the run's copy is the only one
    assert run_bytes(target.parent) == 5000


def test_a_detection_run_links_its_uploaded_dataset_instead_of_copying_it(tmp_path):
    from cvlab.detection.training_run import run_dataset

    data_yaml = write_yolo_dataset(tmp_path / "set", 10, seed=0, size=64)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(data_yaml.parent.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(data_yaml.parent).as_posix())
    upload = UploadStore().save_file(buffer.getvalue(), "set.zip", "browser:ada")
    run_dir = runs.RunStore().create(TrainConfig(epochs=1), "ada", owner_id="browser:ada")
    found, report = run_dataset(run_dir, SimpleNamespace(data=str(upload)))
    assert found == run_dir / "data" / "data.yaml"
    images = sorted((run_dir / "data").rglob("*.png"))
    assert len(images) == 10
    assert all(os.stat(image).st_nlink == 2 for image in images)  # one copy on disk, in the upload store
    unpacked = get_settings().data_home / "datasets" / "archives"
    assert sum(1 for _ in unpacked.rglob("*.png")) == 10
    assert run_bytes(run_dir) < 4096  # the run's own files only (run.json, data.yaml's links do not count)
