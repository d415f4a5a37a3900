"""One job at a time per device (configurable): the slots a worker's threads share.

A worker runs ``jobs_per_device`` x (number of GPUs, or 1 for the CPU) threads. A job
whose config says "auto" gets the least busy device, so two GPUs in one machine take
two jobs side by side instead of both landing on cuda:0.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from cvlab.settings import get_settings


def local_devices() -> list[str]:
    import torch

    if torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return ["cpu"]


class DeviceSlots:
    def __init__(self) -> None:
        self._busy: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self, wanted: str = "auto") -> Iterator[str]:
        with self._lock:
            if wanted == "auto":
                devices = local_devices()
                wanted = min(devices, key=lambda d: self._busy.get(d, 0)) if devices[0] != "cpu" else "auto"
            self._busy[wanted] = self._busy.get(wanted, 0) + 1
        try:
            yield wanted
        finally:
            with self._lock:
                self._busy[wanted] -= 1

    def busy(self) -> dict[str, int]:
        with self._lock:
            return dict(self._busy)


def worker_threads() -> int:
    return get_settings().jobs_per_device * len(local_devices())


DEVICE_SLOTS = DeviceSlots()
