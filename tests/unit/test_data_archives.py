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
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")] == []


def test_a_refusal_also_removes_the_parent_folders_it_created(outer):
    with pytest.raises(UnsafeArchive):
        safe_extract(make_zip([("ok.txt", b"x"), ("../evil.txt", b"x")]), outer / "new" / "deeper" / "dest")
    # the plan is checked before any folder is made; a streaming refusal cleans up the same way
    with pytest.raises(UnsafeArchive):
        save_uploaded_folder([("a.png", bytes(100)), ("b.png", bytes(100))], outer / "new" / "dest",
                             limits=ArchiveLimits(max_total_bytes=150))
    assert all_files(outer) == []
