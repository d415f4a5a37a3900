"""Time to fill the measured zoo table cold (empty cache, temporary CVLAB_HOME) and warm (from the cache).

Cold builds every model with random weights and measures it (cvlab.zoo_measure.measure_all); warm is the
second call, which reads the JSON cache. The issue's target: a cold 2-core CPU fills the whole table in
under ten minutes; a page opens in under a second once it is cached. Per-model latency is printed too.

Usage: python benchmarks/zoo.py [--names resnet18,vgg19] [--home DIR (kept; default a temp dir, removed)]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default=None, help="comma-separated architecture names (default: all)")
    parser.add_argument("--home", default=None, help="CVLAB_HOME to use and keep (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cvlab-zoo-bench-") as temp:
        os.environ["CVLAB_HOME"] = args.home or temp
        run([n.strip() for n in args.names.split(",")] if args.names else None)


def run(names: list[str] | None) -> None:
    import torch

    from cvlab.device import pick_device
    from cvlab.zoo_measure import cache_file, measure_all

    device = pick_device()
    def progress(done: int, total: int, name: str) -> None:
        if name:
            print(f"  [{done + 1}/{total}] {name} ...", end="", flush=True)

    start = time.perf_counter()
    table = measure_all(names, progress=progress)
    cold = time.perf_counter() - start
    print()
    start = time.perf_counter()
    again = measure_all(names)
    warm = time.perf_counter() - start
    assert again == table, "the warm call must return what the cold call measured"

    print(f"\n{'name':<22} {'px':>4} {'latency ms':>11} {'reps':>4} {'img/s':>8} {'batch':>5} "
          f"{'memory MiB':>10} {'seconds':>8}")
    for m in table.values():
        print(f"{m.name:<22} {m.input_size:>4} {m.latency_ms:>11.1f} {m.latency_repeats:>4} {m.throughput:>8.2f} "
              f"{m.throughput_batch:>5} {m.memory_mb:>10.0f} {m.seconds:>8.1f}")
    first = next(iter(table.values()))
    print(f"\ndevice {device} ({first.device_name}), {torch.get_num_threads()} threads, dtype {first.dtype}, "
          f"amp {first.amp}, channels_last {first.channels_last}")
    print(f"memory: {first.memory_source}")
    print(f"cache: {cache_file(device)}")
    print(f"cold fill of {len(table)} models: {cold:.1f} s (target < 600 s on 2 CPU cores)")
    print(f"warm (from cache):        {warm * 1e3:.1f} ms")
    print(f"cold / warm:              {cold / warm:,.0f}x")


if __name__ == "__main__":
    main()
