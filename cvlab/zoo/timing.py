"""How one model is timed on this machine: latency, throughput and peak memory, honestly measured.

Models run with random weights (weights do not change speed) in eval mode under
``torch.inference_mode``. On a GPU the baseline is AMP (bf16, else fp16) with
channels_last; on a CPU it is fp32 and contiguous, since neither bf16 autocast
nor channels_last paid off on these CPUs. torch's thread count is used as it is
(one per physical core by default) and recorded with every measurement.

Repeats adapt to the model: after the warm-up, each part is timed at least
``min_repeats`` times and the median kept; a slow model gets fewer repeats and a
smaller throughput batch, so a cold 2-core CPU fills a whole table in minutes.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

from cvlab.zoo.facts import library_versions

CPU_MEMORY_SOURCE = ("estimate: parameters + buffers + the largest leaf layer's input + output at batch 1 "
                     "(forward hooks); a lower bound of the real peak")
CUDA_MEMORY_SOURCE = "torch.cuda.max_memory_allocated during the batch-1 runs"


@dataclass(frozen=True)
class Measurement:
    name: str
    input_size: int  # pixels per side, the model's own resolution unless asked otherwise
    device: str  # "cuda:0", "mps", "cpu"
    device_name: str  # GPU name, or "<CPU model> x<cores> cores"
    dtype: str  # compute dtype: "float32", or the autocast dtype "bfloat16" / "float16"
    amp: bool  # autocast on
    channels_last: bool
    threads: int  # torch.get_num_threads() at the time
    latency_ms: float  # median over latency_repeats forwards at batch 1, after warm-up
    latency_repeats: int
    throughput: float  # images per second at throughput_batch (median pass)
    throughput_batch: int  # the largest batch of the ladder that fit (memory, and the time budget on CPU)
    throughput_repeats: int
    memory_mb: float  # peak memory at batch 1, MiB
    memory_source: str  # how memory_mb was obtained
    versions: dict = field(default_factory=dict)  # torch / torchvision / timm
    seconds: float = 0.0  # wall time this measurement took, build included
    # The machine's 1-minute load average, the higher of before and after: above the core count, other
    # work competed for the CPU and the latency reads high (seen here: ResNet-18 at 2 threads, 25 ms idle,
    # 940 ms under a load of 4 on 2 cores, as one thread waits for the other to be scheduled).
    load_average: float | None = None



def device_name(device) -> str:
    import torch

    from cvlab.device import _cpu_name

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"{_cpu_name()} x{cpu_cores()} cores"


def cpu_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load_average() -> float | None:
    """The 1-minute load average (runnable processes), None where the system has none (Windows)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None



# ---- one model ----------------------------------------------------------------------------------------


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(run: Callable[[], object], device) -> float:
    _sync(device)
    start = time.perf_counter()
    run()
    _sync(device)
    return time.perf_counter() - start


def _repeat(run: Callable[[], object], device, budget_s: float, min_n: int, max_n: int) -> list[float]:
    """Seconds of each call: at least ``min_n`` calls, then more until ``budget_s`` is spent or ``max_n``."""
    times: list[float] = []
    while len(times) < max(min_n, 1) or (len(times) < max_n and sum(times) < budget_s):
        times.append(_timed(run, device))
    return times


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)


def _cpu_memory_bytes(model, x) -> int:
    """Parameters + buffers + the largest leaf module's input + output during one forward (see module doc)."""
    import torch

    def nbytes(value) -> int:
        if isinstance(value, torch.Tensor):
            return value.numel() * value.element_size()
        if isinstance(value, (tuple, list)):
            return sum(nbytes(v) for v in value)
        return 0

    largest = [nbytes(x)]

    def hook(module, inputs, output):
        largest[0] = max(largest[0], nbytes(inputs) + nbytes(output))

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    state = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    return state + largest[0]


def _throughput(forward, batch, ladder, device, budget_s, min_repeats, repeats) -> tuple[int, int, float] | None:
    """(batch size, passes, median seconds per pass) of the first batch above 1 that fits, else None."""
    import torch

    for size in ladder:
        if size == 1:
            return None
        try:
            xb = batch(size)
            _timed(lambda: forward(xb), device)  # warm-up at this shape
            passes = _repeat(lambda: forward(xb), device, budget_s, min_repeats, repeats)
            return size, len(passes), statistics.median(passes)
        except (RuntimeError, MemoryError) as error:
            if not (isinstance(error, MemoryError) or _is_out_of_memory(error)):
                raise
            xb = None  # free it before the next, smaller batch
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return None


def measure_model(model, input_size: int, *, name: str = "model", device=None,
                  batch_sizes: tuple[int, ...] = (8, 4, 2, 1), repeats: int = 10, min_repeats: int = 3,
                  warmup: int | None = None, budget_s: float = 2.0,
                  versions: dict[str, str] | None = None) -> Measurement:
    """Latency at batch 1, throughput at the largest batch that fits, and peak memory of ``model``.

    Each part is timed ``min_repeats`` times, then again until ``budget_s`` seconds are spent or
    ``repeats`` is reached. On CPU a batch b is tried only if ``b`` x the batch-1 latency fits in
    ``budget_s``; on a GPU memory decides, stepping down the ladder on out-of-memory. ``warmup``
    passes default to 1 on CPU (a cold CPU pays little once) and 5 on a GPU (cuDNN picks kernels).
    ``versions`` are the libraries the model comes from (torch / torchvision / timm by default).
    """
    import torch

    from cvlab.device import amp_dtype, pick_device

    started, load_before = time.perf_counter(), load_average()
    device = device if device is not None else pick_device()
    dtype = amp_dtype(device)
    on_gpu = device.type == "cuda"
    warmup = (5 if on_gpu else 1) if warmup is None else warmup
    memory_format = torch.channels_last if on_gpu else torch.contiguous_format
    model = model.eval().to(device, memory_format=memory_format)

    def batch(size: int):
        return torch.randn(size, 3, input_size, input_size, device=device).contiguous(
            memory_format=memory_format)  # (B, C, H, W)

    def forward(x):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            return model(x)

    with torch.inference_mode():
        # 1. batch 1: warm-up (on CPU the first pass also records memory), then the timed repeats
        x = batch(1)
        memory = 0
        if on_gpu:
            torch.cuda.reset_peak_memory_stats(device)
        else:
            memory = _cpu_memory_bytes(model, x)  # a full forward: counts as the first warm-up pass
        for _ in range(warmup - (0 if on_gpu else 1)):
            forward(x)
        latencies = _repeat(lambda: forward(x), device, budget_s, min_repeats, repeats)
        n, latency = len(latencies), statistics.median(latencies)
        if on_gpu:
            memory = torch.cuda.max_memory_allocated(device)

        # 2. throughput: down the ladder until a batch fits; batch 1 reuses the latency runs
        ladder = sorted(set(batch_sizes), reverse=True)
        if not on_gpu:
            ladder = [b for b in ladder if b * latency <= budget_s] or [1]
        size, m, pass_s = _throughput(forward, batch, ladder, device, budget_s, min_repeats, repeats) or (
            1, n, latency)
    return Measurement(
        name=name, input_size=input_size, device=str(device), device_name=device_name(device),
        dtype=str(dtype or torch.float32).removeprefix("torch."), amp=dtype is not None,
        channels_last=on_gpu, threads=torch.get_num_threads(),
        latency_ms=latency * 1e3, latency_repeats=n,
        throughput=size / pass_s, throughput_batch=size, throughput_repeats=m,
        memory_mb=memory / 2**20, memory_source=CUDA_MEMORY_SOURCE if on_gpu else CPU_MEMORY_SOURCE,
        versions=versions or library_versions(), seconds=time.perf_counter() - started,
        load_average=max(filter(None, (load_before, load_average())), default=None))
