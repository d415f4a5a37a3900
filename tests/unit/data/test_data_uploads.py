"""The upload store: quotas per user and for the server, least recently used first out, runs' data kept,
concurrent uploads of one file, and names the user knows."""

import io
import json
import os
import random
import threading
import zipfile

import pytest

from cvlab.data.archives import ArchiveLimits, UnsafeArchive
from cvlab.data.uploads import IN_USE_GRACE_S, DiskQuotaExceeded, UploadStore, display_name
from cvlab.settings import get_settings

MIB = 2**20


def blob(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


class Clock:
    def __init__(self):
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t

    def later(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(monkeypatch, clock):
    monkeypatch.setenv("CVLAB_USER_DISK_QUOTA_MB", "3")
    monkeypatch.setenv("CVLAB_DISK_QUOTA_MB", "5")
    monkeypatch.setenv("CVLAB_UPLOAD_KEEP_DAYS", "14")
    return UploadStore(get_settings(), now=clock)


def kept(store):
    return sorted((e.name, e.owners) for e in store.entries())


def test_the_same_bytes_are_kept_once_under_every_name_they_were_uploaded_with(store):
    first = store.save_file(b"PK zip bytes", "pets.zip", "browser:ada")
    second = store.save_file(b"PK zip bytes", "my pets.zip", "browser:bob")
    assert first.parent == second.parent and first.read_bytes() == second.read_bytes() == b"PK zip bytes"
    assert first.stat().st_ino == second.stat().st_ino  # a hard link, not a second copy
    assert kept(store) == [("pets.zip", ("browser:ada", "browser:bob"))]
    assert store.display_name(second) == "my pets.zip" and display_name(first) == "pets.zip"
    assert store.save_file(b"x", "../../etc/passwd", "a").name == "passwd"
    assert store.save_file(b"y", "..", "a").name == "dataset.zip"


def test_a_users_oldest_upload_makes_room_for_a_new_one(store, clock):
    for i in range(3):
        store.save_file(blob(MIB, i), f"set{i}.zip", "ada")
        clock.later(IN_USE_GRACE_S + 1)
    assert store.usage("ada") == 3 * MIB
    store.save_file(blob(MIB, 9), "set9.zip", "ada")
    assert [name for name, _ in kept(store)] == ["set1.zip", "set2.zip", "set9.zip"]
    assert store.usage("ada") == 3 * MIB


def saved_one_by_one(store, clock, count, owner="ada"):
    paths = []
    for i in range(count):
        paths.append(store.save_file(blob(MIB, i), f"set{i}.zip", owner))
        clock.later(1)
    return paths


def test_using_an_upload_keeps_it_and_uploads_in_use_are_not_dropped(store, clock):
    paths = saved_one_by_one(store, clock, 3)
    clock.later(IN_USE_GRACE_S + 1)
    store.mark_used(paths[0])  # a run started on it
    store.save_file(blob(MIB, 9), "set9.zip", "ada")
    assert "set0.zip" in [name for name, _ in kept(store)] and "set1.zip" not in [name for name, _ in kept(store)]
    store.mark_used(paths[2])
    with pytest.raises(DiskQuotaExceeded, match="your uploads already take 3 MiB of your 3 MiB"):
        store.save_file(blob(MIB, 10), "set10.zip", "ada")  # all three were used seconds ago
    with pytest.raises(DiskQuotaExceeded, match="each user may keep 3 MiB"):
        store.save_file(blob(4 * MIB, 11), "huge.zip", "ada")
    assert not any(p.name.startswith(".partial") for p in (store.home / "uploads").iterdir())


def test_a_shared_upload_stays_for_the_other_user(store, clock):
    store.save_file(blob(MIB, 0), "class.zip", "ada")
    store.save_file(blob(MIB, 0), "class.zip", "bob")
    clock.later(IN_USE_GRACE_S + 1)
    store.save_file(blob(MIB, 1), "a1.zip", "ada")
    store.save_file(blob(MIB, 2), "a2.zip", "ada")
    clock.later(IN_USE_GRACE_S + 1)
    store.save_file(blob(MIB, 3), "a3.zip", "ada")  # ada lets go of class.zip; bob still holds it
    assert ("class.zip", ("bob",)) in kept(store) and store.usage("ada") == 3 * MIB


def test_the_server_quota_drops_anyones_least_recently_used_upload(store, clock):
    for i, user in enumerate(["ada", "bob", "cy", "dan", "eve"]):
        store.save_file(blob(MIB, i), f"{user}.zip", user)
        clock.later(IN_USE_GRACE_S + 1)
    store.save_file(blob(MIB, 9), "fay.zip", "fay")
    assert [name for name, _ in kept(store)] == ["bob.zip", "cy.zip", "dan.zip", "eve.zip", "fay.zip"]
    assert not (store.home / "uploads").joinpath("ada.zip").exists()


def test_the_data_of_a_queued_run_is_never_dropped(store, clock):
    paths = saved_one_by_one(store, clock, 3)
    run = get_settings().runs_dir / "20260101-000000-ada-beef"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": "queued", "config": {"data": str(paths[0])}}))
    clock.later(IN_USE_GRACE_S + 1)
    store.save_file(blob(MIB, 5), "new.zip", "ada")
    assert paths[0].exists() and not paths[1].exists()
    (run / "run.json").write_text(json.dumps({"status": "finished", "config": {"data": str(paths[0])}}))
    clock.later(IN_USE_GRACE_S + 1)
    store.save_file(blob(MIB, 6), "newer.zip", "ada")
    assert not paths[0].exists() and paths[2].exists()


def test_uploads_unused_for_the_keep_period_are_deleted_at_the_next_upload(store, clock):
    old = store.save_file(blob(1000, 0), "old.zip", "ada")
    clock.later(15 * 86400)
    store.save_file(blob(1000, 1), "new.zip", "bob")
    assert not old.exists() and [name for name, _ in kept(store)] == ["new.zip"]


def make_zip(entries) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_an_unpacked_upload_counts_for_its_uploader_and_is_named_after_the_zip(store, clock):
    saved = store.save_file(make_zip([("pets/cats/1.png", blob(MIB // 2, 1)), ("pets/dogs/1.png", blob(MIB // 2, 2))]),
                            "pets.zip", "ada")
    folder = store.unpacked(saved)
    assert (folder / "pets" / "cats" / "1.png").stat().st_size == MIB // 2
    assert 2 * MIB <= store.usage("ada") < 2 * MIB + 4096  # the zip and what it unpacked to
    assert store.display_name(folder / "pets" / "cats") == "pets.zip: pets/cats"
    assert store.unpacked(saved) == folder  # once
    clock.later(IN_USE_GRACE_S + 1)
    big = store.save_file(make_zip([("b/1.png", blob(2 * MIB, 3))]), "big.zip", "ada")  # pets.zip makes room
    assert not saved.exists() and not folder.exists()
    with pytest.raises(DiskQuotaExceeded, match="'big.zip' needs 2 MiB, but your uploads already take 2 MiB"):
        store.unpacked(big)
    assert [p.name for p in (store.home / "datasets" / "archives").iterdir() if not p.name.startswith(".")] == []


def test_concurrent_uploads_of_one_zip_keep_one_whole_copy(store):
    data = make_zip([(f"set/{i}.png", blob(2000, i)) for i in range(300)])
    barrier, results, errors = threading.Barrier(8, timeout=30), [], []

    def student(i):
        barrier.wait()
        try:
            saved = store.save_file(data, "class.zip", f"student{i}")
            results.append((saved, store.unpacked(saved)))
        except Exception as err:  # noqa: BLE001 - asserted below
            errors.append(err)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len({r for r in results}) == 1
    saved, folder = results[0]
    assert saved.read_bytes() == data and len(list((folder / "set").iterdir())) == 300
    [entry] = [e for e in store.entries() if e.area == "uploads"]
    assert len(entry.owners) == 8


class FakeUpload:
    """What Streamlit hands a page for each file of a folder upload."""

    def __init__(self, name, data, size=None):
        self.name, self._data, self.size = name, data, len(data) if size is None else size

    def getbuffer(self):
        if self._data is None:
            raise AssertionError("bytes read before the sizes were checked")
        return memoryview(self._data)

    def getvalue(self):
        return bytes(self.getbuffer())


def test_a_folder_upload_is_measured_before_it_is_read_and_kept_like_a_zip(store):
    with pytest.raises(UnsafeArchive, match="holds 400 MiB in 2 files; the limit is 200 MiB"):
        store.save_folder([FakeUpload("pets/a.png", None, 200 * MIB), FakeUpload("pets/b.png", None, 200 * MIB)],
                          "ada", limits=ArchiveLimits(max_total_bytes=200 * MIB))
    folder = store.save_folder([FakeUpload("pets/cats/1.png", b"cat"), FakeUpload("pets/dogs/1.png", b"dog")], "ada")
    assert (folder / "pets" / "cats" / "1.png").read_bytes() == b"cat"
    assert store.display_name(folder / "pets") == "pets" and store.display_name(folder) == "pets/"
    with pytest.raises(UnsafeArchive, match="at most 255 bytes"):
        store.save_folder([FakeUpload("pets/" + "x" * 300 + ".png", b"x")], "ada")


def test_a_crafted_folder_cannot_take_the_place_of_another_upload(store):
    """Names and contents run together would hash {a: "1", b: "2"} like a single file a holding "1b\\0" + "2"."""
    handout = store.save_folder([FakeUpload("set/a", b"1"), FakeUpload("set/b", b"2")], "teacher")
    crafted = store.save_folder([FakeUpload("set/a", b"1set/b\x002")], "mallory")
    assert crafted != handout
    assert (handout / "set" / "b").read_bytes() == b"2" and not (crafted / "set" / "b").exists()


def test_folders_from_before_the_index_are_adopted_and_can_be_dropped(store, clock):
    legacy = store.home / "uploads" / ("ab" * 8)
    legacy.mkdir(parents=True)
    (legacy / "old.zip").write_bytes(blob(2 * MIB, 0))
    os.utime(legacy, (clock.t - 86400, clock.t - 86400))  # written yesterday
    for i in range(4):
        store.save_file(blob(MIB, i + 1), f"n{i}.zip", f"user{i}")
    assert not legacy.exists()


def test_a_runs_data_is_labelled_with_the_upload_name_not_the_hash_folder(store):
    from cvlab.ui.training_form import path_label

    saved = store.save_file(b"PK zip", "pets.zip", "ada")
    folder = store.save_folder([FakeUpload("a/1.png", b"1"), FakeUpload("b/1.png", b"2")], "ada")
    assert path_label(str(saved)) == "pets.zip" and path_label("shapes") == "shapes"
    assert path_label(str(folder)) == "the uploaded folder" and folder.name not in path_label(str(folder))
    assert path_label("/data/sets/birds") == "birds"
