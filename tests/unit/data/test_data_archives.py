"""Safe extraction: every refusal leaves nothing behind, and nothing is ever written outside the target."""

import io
import stat
import struct
import zipfile

import pytest

from cvlab.data.archives import (ArchiveLimits, BadArchive, UnsafeArchive, extract_once, safe_extract,
                                 safe_relative_path, save_uploaded_folder)
from cvlab.errors import CvlabError


def make_zip(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """entries: (name or ZipInfo, bytes) pairs -> zip file bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def all_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def outer(tmp_path):
    """A folder holding only the target; whatever a refusal leaves would show up in it."""
    folder = tmp_path / "outer"
    folder.mkdir()
    return folder


def symlink_entry():
    info = zipfile.ZipInfo("data/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, b"/etc/passwd"


REFUSED = {
    "traversal": ([("data/a.txt", b"ok"), ("../evil.txt", b"x")], ArchiveLimits(), "climbs out"),
    "deep traversal": ([("data/../../evil.txt", b"x")], ArchiveLimits(), "climbs out"),
    "absolute": ([("/tmp/evil.txt", b"x")], ArchiveLimits(), "absolute path"),
    "drive letter": ([("C:/evil.txt", b"x")], ArchiveLimits(), "drive letter"),
    "backslash traversal": ([("..\\evil.txt", b"x")], ArchiveLimits(), "climbs out"),
    "symlink": ([("data/a.txt", b"ok"), symlink_entry()], ArchiveLimits(), "symbolic link"),
    "too many files": ([(f"f{i}.txt", b"x") for i in range(10)], ArchiveLimits(max_files=5), "limit is 5"),
    "too large in total": ([("big.bin", b"x" * 5000)], ArchiveLimits(max_total_bytes=4000), "unpacks to"),
    "zip bomb": ([("bomb.bin", bytes(8 * 2**20))], ArchiveLimits(), "zip bomb"),
    "duplicate": ([("a.txt", b"1"), ("a.txt", b"2")], ArchiveLimits(), "twice"),
}


@pytest.mark.filterwarnings("ignore:Duplicate name")  # zipfile warns while the test builds that archive
@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_unsafe_archives_are_refused_and_leave_nothing(case, outer):
    entries, limits, message = REFUSED[case]
    dest = outer / "dest"
    with pytest.raises(UnsafeArchive, match=message):
        safe_extract(make_zip(entries), dest, limits=limits)
    assert all_files(outer) == []
    assert not (outer.parent / "evil.txt").exists()


def test_a_refusal_empties_but_keeps_an_existing_empty_target(outer):
    dest = outer / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchive):
        safe_extract(make_zip([("ok.txt", b"fine"), ("../evil.txt", b"x")]), dest)
    assert dest.is_dir() and all_files(outer) == ["dest"]


def lying_zip(real: bytes, declared: int) -> bytes:
    """A zip whose headers claim ``declared`` bytes for an entry that inflates to len(real)."""
    data = bytearray(make_zip([("liar.bin", real)]))
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, declared)  # local header: uncompressed size
    struct.pack_into("<I", data, central + 24, declared)  # central directory: uncompressed size
    return bytes(data)


def test_an_entry_lying_about_its_size_is_stopped_and_removed(outer):
    real = bytes(range(256)) * 4096  # 1 MiB that really inflates past what is declared
    archive = lying_zip(real, declared=1000)
    assert zipfile.ZipFile(io.BytesIO(archive)).infolist()[0].file_size == 1000
    with pytest.raises(CvlabError):
        safe_extract(archive, outer / "dest", limits=ArchiveLimits(max_total_bytes=100_000))
    assert all_files(outer) == []


def test_a_good_archive_is_extracted_without_macos_litter(outer):
    archive = make_zip([("pets/cats/1.png", b"\x89PNG cat"), ("pets/dogs/1.png", b"\x89PNG dog"),
                        ("pets/dogs/", b""), ("__MACOSX/pets/._1.png", b"fork"), ("pets/.DS_Store", b"junk"),
                        ("pets\\birds\\1.png", b"bird")])
    report = safe_extract(archive, outer / "dest")
    assert report.files == 3 and report.total_bytes == len(b"\x89PNG cat") * 2 + len(b"bird")
    assert set(report.skipped) == {"pets/dogs/", "__MACOSX/pets/._1.png", "pets/.DS_Store"}
    assert (outer / "dest" / "pets" / "cats" / "1.png").read_bytes() == b"\x89PNG cat"
    assert (outer / "dest" / "pets" / "birds" / "1.png").read_bytes() == b"bird"
    assert not any("MACOSX" in p or "DS_Store" in p for p in all_files(outer))


def test_archives_come_as_paths_bytes_or_file_objects(tmp_path):
    data = make_zip([("a/1.txt", b"one")])
    (tmp_path / "a.zip").write_bytes(data)
    for i, source in enumerate([tmp_path / "a.zip", str(tmp_path / "a.zip"), data, io.BytesIO(data)]):
        assert safe_extract(source, tmp_path / f"out{i}").files == 1


def test_a_file_that_is_not_a_zip_is_a_clear_error(outer):
    with pytest.raises(BadArchive, match="not a readable .zip"):
        safe_extract(b"just some text", outer / "dest")
    assert all_files(outer) == []


def test_a_target_holding_files_is_refused(outer):
    (outer / "dest").mkdir()
    (outer / "dest" / "mine.txt").write_text("keep")
    with pytest.raises(CvlabError, match="new or empty folder"):
        safe_extract(make_zip([("a.txt", b"x")]), outer / "dest")
    assert (outer / "dest" / "mine.txt").read_text() == "keep"


@pytest.mark.parametrize("name, expected", [("a/b.png", "a/b.png"), ("./a//b.png", "a/b.png"),
                                            ("a\\b.png", "a/b.png"), ("a/.hidden", None), ("__MACOSX/x", None)])
def test_relative_paths_are_normalised_or_skipped(name, expected):
    result = safe_relative_path(name)
    assert (None if result is None else str(result)) == expected


def test_uploaded_folder_is_written_with_the_same_rules(outer):
    report = save_uploaded_folder([("pets/cats/1.png", b"cat"), ("pets/.DS_Store", b"x")], outer / "dest")
    assert report.files == 1 and (outer / "dest" / "pets" / "cats" / "1.png").read_bytes() == b"cat"
    with pytest.raises(UnsafeArchive, match="climbs out"):
        save_uploaded_folder([("ok.png", b"x"), ("../../evil.png", b"x")], outer / "second")
    assert not (outer / "second").exists() and not (outer.parent / "evil.png").exists()


def test_uploaded_folder_byte_limit_is_counted_while_writing(outer):
    def files():  # a generator: sizes are only known as the files arrive
        for i in range(10):
            yield f"cls/{i}.png", bytes(1000)
    with pytest.raises(UnsafeArchive, match="stopped and removed"):
        save_uploaded_folder(files(), outer / "dest", limits=ArchiveLimits(max_total_bytes=4500))
    assert all_files(outer) == []


def test_extract_once_reuses_the_folder_of_the_same_content(tmp_path):
    archive = tmp_path / "set.zip"
    archive.write_bytes(make_zip([("a/1.txt", b"one")]))
    first = extract_once(archive, tmp_path / "cache")
    (first / "a" / "marker").write_text("seen")  # a second call must not unpack again
    assert extract_once(archive, tmp_path / "cache") == first and (first / "a" / "marker").exists()
    other = tmp_path / "other.zip"
    other.write_bytes(make_zip([("a/1.txt", b"two")]))
    assert extract_once(other, tmp_path / "cache") != first
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".partial")] == []


def test_a_refusal_also_removes_the_parent_folders_it_created(outer):
    with pytest.raises(UnsafeArchive):
        safe_extract(make_zip([("ok.txt", b"x"), ("../evil.txt", b"x")]), outer / "new" / "deeper" / "dest")
    # the plan is checked before any folder is made; a streaming refusal cleans up the same way
    with pytest.raises(UnsafeArchive):
        save_uploaded_folder([("a.png", bytes(100)), ("b.png", bytes(100))], outer / "new" / "dest",
                             limits=ArchiveLimits(max_total_bytes=150))
    assert all_files(outer) == []


def test_many_small_entries_that_inflate_together_are_refused_as_a_bomb(outer):
    # 300 entries of 64 KiB zeros: each is under any per-file threshold, together 1000 times their zip
    archive = make_zip([(f"masks/{i}.bmp", bytes(64 * 2**10)) for i in range(300)])
    assert len(archive) < 200_000
    with pytest.raises(UnsafeArchive, match="as a whole"):
        safe_extract(archive, outer / "dest")
    assert all_files(outer) == []


def random_bytes(count: int) -> bytes:
    import random

    return random.Random(0).randbytes(count)


def test_a_half_mebibyte_entry_of_zeros_is_checked_on_its_own(outer):
    with pytest.raises(UnsafeArchive, match="zip bomb"):
        safe_extract(make_zip([("a.bmp", bytes(512 * 2**10)), ("b.jpg", random_bytes(2 * 2**20))]), outer / "d")


def test_text_and_small_masks_that_compress_well_still_pass(outer):
    labels = [(f"labels/{i}.txt", b"0 0.5 0.5 0.2 0.2\n" * 3) for i in range(200)]
    report = safe_extract(make_zip(labels + [("masks/blank.png", bytes(4000))]), outer / "dest")
    assert report.files == 201


def test_an_archive_larger_than_the_free_disk_is_refused_before_writing(outer, monkeypatch):
    import shutil

    from cvlab.data import archives

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 2**20, 2**20))
    with pytest.raises(UnsafeArchive, match="has only 0 MiB to spare"):
        safe_extract(make_zip([("a.bin", bytes(range(256)) * 4000)]), outer / "dest")
    assert all_files(outer) == [] and archives.DISK_RESERVE_BYTES > 2**20


@pytest.mark.parametrize("name", ["data/" + "n" * 300 + ".png", "/".join(["deep"] * 300) + "/a.png"])
def test_names_too_long_for_the_disk_are_refused_in_words(name, outer):
    with pytest.raises(UnsafeArchive, match="Rename it|shorter names"):
        save_uploaded_folder([("data/ok.png", b"x"), (name, b"x")], outer / "folder")
    with pytest.raises(UnsafeArchive, match="Rename it|shorter names"):
        safe_extract(make_zip([("data/ok.png", b"x"), (name, b"x")]), outer / "zipped")
    assert all_files(outer) == []


def test_a_file_clashing_with_a_folder_of_the_same_name_is_refused_in_words(outer):
    with pytest.raises(UnsafeArchive, match="clashes|cannot be written"):
        save_uploaded_folder([("data/a", b"x"), ("data/a/b.png", b"y")], outer / "folder")
    assert all_files(outer) == []


def test_a_folder_upload_is_measured_before_its_bytes_are_read():
    from cvlab.data.archives import check_upload_sizes

    assert check_upload_sizes([("a.png", 10), ("b.png", 20)]) == 30
    with pytest.raises(UnsafeArchive, match="holds 3 MiB in 3 files; the limit is 2 MiB"):
        check_upload_sizes([(f"{i}.png", 2**20) for i in range(3)], ArchiveLimits(max_total_bytes=2 * 2**20))
    with pytest.raises(UnsafeArchive, match="more than 2 files"):
        check_upload_sizes(((f"{i}.png", 1) for i in range(10**9)), ArchiveLimits(max_files=2))


def test_concurrent_extractions_of_one_zip_share_one_complete_folder(tmp_path, monkeypatch):
    """Sessions are threads of one process: eight of them unpack the same zip at once."""
    import threading

    from cvlab.data import archives

    entries = [(f"set/c{i % 4}/{i}.png", bytes([i % 256]) * 3000 + bytes(range(256))) for i in range(400)]
    archive = tmp_path / "set.zip"
    archive.write_bytes(make_zip(entries))
    real_copy, started = archives._copy_entry, threading.Barrier(8, timeout=30)

    def slow_copy(*args):  # widen the window in which two extractions overlap
        real_copy(*args)
        threading.Event().wait(0.0005)

    monkeypatch.setattr(archives, "_copy_entry", slow_copy)
    results, errors = [], []

    def worker():
        started.wait()
        try:
            results.append(extract_once(archive, tmp_path / "cache"))
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(results)) == 1
    [folder] = set(results)
    assert sum(1 for p in folder.rglob("*.png")) == 400
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name != ".locks"] == [folder.name]


def test_a_failed_extraction_leaves_no_folder_a_later_call_would_take_as_done(tmp_path, monkeypatch):
    from cvlab.data import archives

    archive = tmp_path / "set.zip"
    archive.write_bytes(make_zip([(f"set/{i}.png", bytes(range(256)) * 10) for i in range(20)]))
    calls = []

    def dying_copy(zipped, info, target, budget):
        calls.append(info.filename)
        if len(calls) == 10:
            raise OSError(28, "No space left on device")
        real(zipped, info, target, budget)

    real = archives._copy_entry
    monkeypatch.setattr(archives, "_copy_entry", dying_copy)
    with pytest.raises(UnsafeArchive, match="could not be written on the server"):
        extract_once(archive, tmp_path / "cache")
    monkeypatch.setattr(archives, "_copy_entry", real)
    folder = extract_once(archive, tmp_path / "cache")
    assert sum(1 for p in folder.rglob("*.png")) == 20


def _claim_packed_size(archive: bytes, name: str, claimed: int) -> bytes:
    """The archive with ``name``'s central-directory entry claiming ``claimed`` packed bytes."""
    data = bytearray(archive)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46:at + 46 + name_length] == name.encode():
            struct.pack_into("<I", data, at + 20, claimed)  # compressed size field of the central directory
            return bytes(data)
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{name} not in the archive")


def test_packed_sizes_the_archive_only_claims_cannot_hide_a_bomb(outer):
    """Three entries of zeros claim 100x their real packed size, so every ratio computed from the claims looks
    fine (16 MiB from 'ratio 100'); the real bytes between the entries give them away."""
    zeros = bytes(16 * 2**20)
    archive = make_zip([("a.bmp", zeros), ("b.bmp", zeros), ("c.bmp", zeros), ("pad.jpg", random_bytes(2**20))])
    for name in ("a.bmp", "b.bmp", "c.bmp"):
        archive = _claim_packed_size(archive, name, len(zeros) // 100)
    with pytest.raises(UnsafeArchive, match="claims .* packed bytes"):
        safe_extract(archive, outer / "dest")
    assert all_files(outer) == []
