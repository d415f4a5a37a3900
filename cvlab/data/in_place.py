"""Shared results on disk built by one writer at a time and seen only whole.

Streamlit sessions are threads of one process and the training worker is another
process, so a folder that several of them may build at once (an unpacked upload, a
saved one) is built under ``content_lock(folder, key)``, which threads and processes
both respect, in a scratch folder of its own (``mkdtemp``, never a name made from the
process id, which every session shares), and renamed into place in one step.

One file is written the same way by ``write_atomically``: into a temp file of its own
beside it (``mkstemp``), flushed to disk, then ``os.replace``d over the old one, so a
reader sees the old file or the new one, never half of one, and two writers never share
a temp file. Every file the app rewrites (run.json, metrics.jsonl, checkpoints, caches,
status files) goes through it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterator

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def content_lock(folder: Path, key: str) -> Iterator[None]:
    """Hold the lock named ``key`` in ``folder``: one thread of one process at a time, across processes too.

    A thread lock orders the sessions of this process; ``flock`` on a lock file orders
    this process against the worker (where the platform has it).
    """
    locks = Path(folder) / ".locks"  # a dot folder: listings of the datasets in ``folder`` skip it
    locks.mkdir(parents=True, exist_ok=True)
    lock_file = locks / key
    with _THREAD_LOCKS_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(str(lock_file), threading.Lock())
    with thread_lock, open(lock_file, "a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: a single process serving the app is still ordered by the thread lock
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_in_place(dest: Path, build: Callable[[Path], object]) -> Path:
    """``build(scratch)`` in a fresh folder beside ``dest``, then renamed to ``dest`` in one step.

    The scratch folder is unique (``mkdtemp``), so two builders never share files;
    a failed build leaves nothing. If ``dest`` appeared meanwhile, ours is dropped.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".partial-{dest.name}-", dir=dest.parent))
    try:
        build(scratch)
        os.rename(scratch, dest)  # atomic on one file system; fails if dest is a non-empty folder
    except OSError:
        if not dest.is_dir():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # gone already after a successful rename
    return dest


FILE_MODE = 0o644  # what a plain open() gives under the usual umask; mkstemp's own 0o600 would hide files


def write_atomically(path: Path, content: str | bytes | Callable[[Path], object], *, suffix: str = ".tmp",
                     mode: int = FILE_MODE) -> Path:
    """Replace ``path`` whole with ``content``: text (UTF-8), bytes, or ``write(temp_path)`` for a library that
    writes by file name (safetensors, numpy, onnx). ``suffix`` ends the temp name, for writers that insist on an
    extension (``np.savez`` adds ".npz" otherwise); ``mode`` 0o600 keeps a private key private. The temp file is
    unique to this call, so two threads or processes writing the same file at once each leave a whole file, the
    last one's; a failed write leaves the old file and no temp file."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        if callable(content):
            os.close(handle)
            handle = -1
            content(Path(tmp))
            handle = os.open(tmp, os.O_RDONLY)
        else:
            data = content.encode("utf-8") if isinstance(content, str) else content
            view = memoryview(data)
            while view:
                view = view[os.write(handle, view):]
        os.fsync(handle)
        os.close(handle)
        handle = -1
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if handle >= 0:
            os.close(handle)
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
