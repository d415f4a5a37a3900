"""Give memory back to the system when a big tensor is freed, so the server's size follows its work.

glibc serves an allocation above its mmap threshold with its own mapping and unmaps it on free;
below it, memory comes from the heap and stays with the process after free. The threshold starts
at 128 KiB but rises to the size of each mapped block freed (up to 32 MiB): after one large
inference, every later activation of that size comes from the heap and is kept. On a page server
whose students run YOLO at 1280 px, that was 0.9 GB held after the models were dropped. Fixing
the threshold at 1 MiB keeps big tensors mapped (and returned), small objects on the heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD_BYTES = 1 << 20
_lock = threading.Lock()
_done: list[bool] = []


def return_big_blocks_to_the_system() -> bool:
    """Fix glibc's mmap threshold for this process (once); False where the C library is not glibc."""
    with _lock:
        if not _done:
            _done.append(_set_threshold())
        return _done[0]


def _set_threshold() -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # macOS, Windows, musl: their allocators return memory themselves
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
