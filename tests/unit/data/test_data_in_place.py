"""One atomic file write for the whole app: whole files only, never a temp file shared by two writers."""

from __future__ import annotations

import json
import stat
import threading

import numpy as np
import pytest

from cvlab.data.in_place import write_atomically


def _hammer(target, writers: int, rounds: int, write) -> list[BaseException]:
    """Run ``write(path, writer, round)`` from several threads at once; the errors they met."""
    errors, start = [], threading.Barrier(writers)

    def run(writer: int) -> None:
        start.wait()
        for round_ in range(rounds):
            try:
                write(target, writer, round_)
            except BaseException as error:  # noqa: BLE001 - collected for the assertion
                errors.append(error)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_threads_writing_one_file_each_leave_a_whole_file_and_no_temp_files(tmp_path):
    target = tmp_path / "run.json"
    contents = {w: json.dumps({"writer": w, "pad": "x" * 200_000}) for w in range(2)}  # big: writes interleave
    seen, stop = set(), threading.Event()

    def read_while_writing() -> None:
        while not stop.is_set():
            if target.exists():
                seen.add(json.loads(target.read_text())["writer"])  # a half-written file would not parse

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    errors = _hammer(target, 2, 100, lambda path, w, _: write_atomically(path, contents[w]))
    stop.set()
    reader.join()
    assert errors == []
    assert target.read_text() in contents.values()
    assert seen <= {0, 1} and seen
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_the_worker_record_once_written_through_a_fixed_temp_name_survives_two_writers(tmp_path):
    from cvlab.jobs import worker
    from cvlab.settings import get_settings

    record = tmp_path / "host-1.json"
    errors = _hammer(record, 2, 200, lambda path, w, r: worker._write_record(path, 1000 + w, r, get_settings()))
    assert errors == []  # a shared ".tmp" name made one writer's os.replace find its file gone
    assert json.loads(record.read_text())["pid"] in (1000, 1001)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "eval.json"
    write_atomically(target, '{"accuracy": 0.9}')

    def broken(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, broken)
    assert target.read_text() == '{"accuracy": 0.9}'
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]


def test_bytes_a_library_writer_and_the_file_mode(tmp_path):
    write_atomically(tmp_path / "a.bin", b"\x00\xff")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\xff"
    write_atomically(tmp_path / "m.npz", lambda tmp: np.savez_compressed(tmp, x=np.arange(3)), suffix=".tmp.npz")
    assert np.load(tmp_path / "m.npz")["x"].tolist() == [0, 1, 2]
    assert stat.S_IMODE((tmp_path / "m.npz").stat().st_mode) == 0o644  # as a plain open() under umask 022
    write_atomically(tmp_path / "key.pem", "secret", mode=0o600)
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "key.pem", "m.npz"]
