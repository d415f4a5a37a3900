"""Which device cvlab computes on (cuda / mps / cpu), its AMP dtype, and a report of it."""

from __future__ import annotations

import functools
import os
import platform
import queue
import socket
import threading
import time
from dataclasses import dataclass

from cvlab.errors import InvalidInput
from cvlab.settings import Settings, get_settings

# Hosts that serve torchvision / timm / ultralytics weights.
WEIGHT_HOSTS = ("download.pytorch.org", "huggingface.co", "github.com")


@dataclass(frozen=True)
class DeviceReport:
    device: str  # what cvlab will use: "cuda:0", "mps" or "cpu"
    name: str  # GPU name, or the CPU model
    memory_gb: float | None  # GPU memory; None on a CPU
    cpu_cores: int
    torch_version: str
    torchvision_version: str
    cuda_version: str | None  # CUDA that torch was built with; None for a CPU build
    cudnn_version: int | None
    gpu_count: int
    amp_dtype: str | None  # "bfloat16" / "float16" on a GPU, None on a CPU
    python_version: str
    weights_online: bool  # can pretrained weights be downloaded from here?
    weights_note: str  # why, in words


def pick_device(preference: str | None = None):
    """The torch.device for ``preference`` ("auto" picks cuda, then mps, then cpu)."""
    import torch

    preference = (preference or get_settings().device).strip().lower()
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(preference)
    except RuntimeError:
        raise InvalidInput(
            f"CVLAB_DEVICE={preference!r} is not a device: use auto, cpu, cuda, cuda:N or mps."
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInput("CVLAB_DEVICE asks for CUDA but this machine has no usable GPU: use auto or cpu.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise InvalidInput(
            f"CVLAB_DEVICE={preference!r} but only {torch.cuda.device_count()} GPU(s) are visible."
        )
    return device


def amp_dtype(device) -> "object | None":
    """bf16 where the GPU supports it, else fp16 on CUDA; None (full precision) on CPU/MPS.

    On 2-core CPUs bf16 autocast did not speed training up, so the CPU stays fp32.
    """
    import torch

    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


REACHABLE_CACHE_S = 60.0  # a network that came or went is noticed within a minute
_reachability: dict[tuple, tuple[float, tuple[bool, str]]] = {}


def weights_reachable(settings: Settings | None = None, timeout_s: float = 1.5) -> tuple[bool, str]:
    """Whether weight downloads can work from here, decided within ``timeout_s`` seconds.

    The hosts are tried at once, each in a daemon thread, the name lookup included (a lookup
    has no timeout of its own and can hang for many seconds on a network that drops
    packets); the first to connect answers. The answer is remembered for a minute.
    """
    settings = settings or get_settings()
    if settings.offline:
        return False, "offline mode is on"
    key = (WEIGHT_HOSTS, timeout_s)
    remembered = _reachability.get(key)
    if remembered and time.monotonic() - remembered[0] < REACHABLE_CACHE_S:
        return remembered[1]
    answer = _first_reachable(WEIGHT_HOSTS, timeout_s)
    _reachability[key] = (time.monotonic(), answer)
    return answer


def _first_reachable(hosts: tuple[str, ...], timeout_s: float) -> tuple[bool, str]:
    reached: queue.Queue[str] = queue.Queue()

    def probe(host: str) -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout_s):
                reached.put(host)
        except OSError:
            pass

    for host in hosts:
        threading.Thread(target=probe, args=(host,), daemon=True, name=f"probe-{host}").start()
    try:
        host = reached.get(timeout=timeout_s)
    except queue.Empty:
        return False, f"none of {', '.join(hosts)} answered within {timeout_s:g} s"
    return True, f"{host} is reachable"


@functools.cache  # the processor does not change while the server runs; reading /proc/cpuinfo on every
def _cpu_name() -> str:  # rerun of the Architectures page (its measurements are filed by device) was 5% of one
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_report(settings: Settings | None = None) -> DeviceReport:
    import torch
    import torchvision

    settings = settings or get_settings()
    device = pick_device(settings.device)
    online, note = weights_reachable(settings)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        name, memory_gb = props.name, round(props.total_memory / 2**30, 1)
    elif device.type == "mps":
        name, memory_gb = "Apple GPU (MPS)", None
    else:
        name, memory_gb = _cpu_name(), None
    dtype = amp_dtype(device)
    return DeviceReport(
        device=str(device if device.type != "cuda" else torch.device("cuda", device.index or 0)),
        name=name,
        memory_gb=memory_gb,
        cpu_cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
        torch_version=torch.__version__,
        torchvision_version=torchvision.__version__,
        cuda_version=torch.version.cuda,
        cudnn_version=torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        gpu_count=torch.cuda.device_count(),
        amp_dtype=str(dtype).removeprefix("torch.") if dtype is not None else None,
        python_version=platform.python_version(),
        weights_online=online,
        weights_note=note,
    )
