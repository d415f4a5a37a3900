"""The run listing is shared by every session and read again exactly when a run changes."""

import os

from cvlab.training import runs
from cvlab.training.config import TrainConfig
from cvlab.ui import training as ui


def test_the_listing_is_read_once_and_again_when_a_run_is_created_or_its_status_changes(monkeypatch):
    reads = []
    original = runs.RunStore.list

    def counted(self):
        reads.append(1)
        return original(self)

    monkeypatch.setattr(runs.RunStore, "list", counted)
    monkeypatch.setattr(ui, "RUN_LIST_TTL_S", 3600.0)
    first = runs.RunStore().create(TrainConfig(data="shapes"), "ada", owner_id="browser:ada")
    assert [i.run_id for i in ui.listed_runs()] == [first.name]
    assert [i.run_id for i in ui.listed_runs()] == [first.name]
    assert len(reads) == 1  # the second visitor's rerun read no run.json

    runs.set_status(first, "failed", "out of memory")
    stat = (first / "run.json").stat()
    os.utime(first / "run.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # even within one mtime tick
    [info] = ui.listed_runs()
    assert info.status == "failed" and len(reads) == 2

    second = runs.RunStore().create(TrainConfig(data="shapes"), "bo", owner_id="browser:bo")
    assert {i.run_id for i in ui.listed_runs()} == {first.name, second.name}
    assert len(reads) == 3
