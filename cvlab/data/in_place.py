"""Shared results on disk built by one writer at a time and seen only whole.

Streamlit sessions are threads of one process and the training worker is another
process, so a folder that several of them may build at once (an unpacked upload, a
saved one) is built under ``content_lock(folder, key)``, which threads and processes
both respect, in a scratch folder of its own (``mkdtemp``, never a name made from the
process id, which every session shares), and renamed into place in one step.
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
