"""Zoo benchmarks: the time to fill each measured table cold and warm, and the Architectures page's warm open time.

1. Fill (``--fill``): every model of a suite built with random weights and measured
   (cvlab.zoo.measure.measure_all) into an empty cache, then the same call again,
   which reads the JSON cache. Suites: classification, yolo (at ``--yolo-size``),
   segmentation. The issue's target: a cold 2-core CPU fills the classification
   table in under ten minutes. Per-model latency is printed.
2. Page open (``--page``), once the caches are warm, against the bare reference page
   (benchmarks/reference_app.py) measured in the same run; target under 1 s:
   a. AppTest, a new session per open on a server already running (memory caches warm),
      median of ``--opens``, for each section of the page;
   b. AppTest with every memory cache cleared: only the disk caches are warm;
   c. a real ``streamlit run`` server and headless Chromium: the first visit after
      the server starts, then later visits in new browsers (first contentful paint,
      and the table and chart drawn), against the bare page and against a bare page
      holding a table and a chart (the frontend code those elements load).

Usage: python benchmarks/zoo.py [--fill SUITES] [--page] [--names a,b] [--yolo-size 640] [--home DIR]
The default runs everything: --fill classification,yolo,segmentation --page. Without --home a temporary
CVLAB_HOME is used and removed; with it, caches already there are reused (a warm fill).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

PAGE = "pages/architectures/architecture_zoo.py"
REFERENCE = "benchmarks/reference_app.py"
ELEMENTS_REFERENCE = "benchmarks/reference_elements_app.py"  # a bare page with a table and a chart
SECTIONS = ("Compare", "Inside a model", "Choose", "Compound scaling", "ViT vs Swin", "YOLO", "Segmentation",
            "Lecture claims")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fill", default=None, help="comma-separated suites to fill (default: all three)")
    parser.add_argument("--page", action="store_true", help="time the page's warm open")
    parser.add_argument("--names", default=None, help="comma-separated model names (default: the whole suite)")
    parser.add_argument("--yolo-size", type=int, default=640, help="pixels per side for the YOLO latency")
    parser.add_argument("--opens", type=int, default=7, help="AppTest opens per measurement (median)")
    parser.add_argument("--home", default=None, help="CVLAB_HOME to use and keep (default: a temp dir)")
    args = parser.parse_args()
    everything = args.fill is None and not args.page
    suites = (args.fill or ("classification,yolo,segmentation" if everything else "")).split(",")
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    with tempfile.TemporaryDirectory(prefix="cvlab-zoo-bench-") as temp:
        os.environ["CVLAB_HOME"] = args.home or temp
        from tests.harness import OFFLINE_ENV

        os.environ.update(OFFLINE_ENV)
        logging.getLogger("streamlit").setLevel(logging.ERROR)  # AppTest warns once per run outside a server
        for suite in filter(None, suites):
            fill(suite, names, args.yolo_size if suite == "yolo" else None)
        if args.page or everything:
            page_open(args.opens)


# ---- 1. filling the tables -----------------------------------------------------------------------------


def fill(suite: str, names: list[str] | None, input_size: int | None) -> None:
    import torch

    from cvlab.device import pick_device
    from cvlab.zoo.measure import cache_file, measure_all

    device = pick_device()
    print(f"\n== {suite}{f' at {input_size} px' if input_size else ''} ==")

    def progress(done: int, total: int, name: str) -> None:
        if name:
            print(f"  [{done + 1}/{total}] {name} ...", end="\r", flush=True)

    start = time.perf_counter()
    table = measure_all(names, suite=suite, input_size=input_size, progress=progress)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    again = measure_all(names, suite=suite, input_size=input_size)
    warm = time.perf_counter() - start
    assert again == table, "the warm call must return what the cold call measured"

    print(f"{'name':<24} {'px':>4} {'latency ms':>11} {'reps':>4} {'img/s':>8} {'batch':>5} "
          f"{'memory MiB':>10} {'seconds':>8}")
    for m in table.values():
        print(f"{m.name:<24} {m.input_size:>4} {m.latency_ms:>11.1f} {m.latency_repeats:>4} {m.throughput:>8.2f} "
              f"{m.throughput_batch:>5} {m.memory_mb:>10.0f} {m.seconds:>8.1f}")
    first = next(iter(table.values()))
    print(f"device {device} ({first.device_name}), {torch.get_num_threads()} threads, dtype {first.dtype}, "
          f"amp {first.amp}, channels_last {first.channels_last}")
    print(f"memory: {first.memory_source}")
    print(f"cache: {cache_file(device, suite=suite)}")
    print(f"fill of {len(table)} models: {cold:.1f} s ({'cold' if cold > 10 * warm else 'partly cached'}; "
          f"target < 600 s for the classification table on 2 CPU cores)")
    print(f"warm (from cache): {warm * 1e3:.1f} ms   ratio {cold / warm:,.0f}x")


# ---- 2. opening the page --------------------------------------------------------------------------------


def open_ms(script: str, opens: int, clear_memory_caches: bool = False, **query) -> float:
    """Median time of a new AppTest session running ``script`` once (a visitor opening the page)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    def one() -> float:
        if clear_memory_caches:  # as after a server restart: only the JSON caches on disk are left
            from cvlab.zoo import facts as zoo
            from cvlab.zoo import task_families as zoo_tasks

            st.cache_data.clear()
            zoo._cached_counts.cache_clear()
            zoo_tasks._cached.cache_clear()
        app = AppTest.from_file(str(REPO_ROOT / script), default_timeout=300)
        for key, value in query.items():
            app.query_params[key] = value
        start = time.perf_counter()
        app.run()
        elapsed = (time.perf_counter() - start) * 1000
        if app.exception or app.error:
            raise RuntimeError(f"{script} {query}: {(app.exception or app.error)[0].value}")
        return elapsed

    first = one()  # imports, and the memory caches filled from disk
    return statistics.median(one() for _ in range(opens)) if opens else first


def page_open(opens: int) -> None:
    print("\n== the Architectures page, caches warm ==")
    for section in SECTIONS:  # fill every disk cache the page reads (counts, YOLO and U-Net facts)
        open_ms(PAGE, 0, section=section)
    reference = open_ms(REFERENCE, opens)
    print(f"a. AppTest, a new session per open (median of {opens}); memory caches warm")
    print(f"   {'reference (bare page)':28s} {reference:8.1f} ms   1.00x")
    for section in SECTIONS:
        ms = open_ms(PAGE, opens, section=section)
        print(f"   {section:28s} {ms:8.1f} ms  {ms / reference:5.2f}x   (target < 1000 ms)")
    ms = open_ms(PAGE, opens, clear_memory_caches=True)
    print(f"b. AppTest, memory caches cleared (disk caches only), Compare: {ms:.1f} ms  {ms / reference:.2f}x")
    browser_open()


def browser_open() -> None:
    from tests.harness import app_server, chromium, time_to_visible

    home = Path(os.environ["CVLAB_HOME"])

    def visible_ms(browser, url: str, selectors: tuple[str, ...]) -> tuple[float, float]:
        fcp, shown = time_to_visible(browser, url, selectors)
        return fcp, shown[-1]

    text_shown = ('[data-testid="stMarkdown"]',)  # the bare page's one line of text under its title
    drawn = ('[data-testid="stDataFrame"] canvas', '[data-testid="stPlotlyChart"] .main-svg')
    print("c. Browser (headless Chromium, 1440x900, a new browser context per visit): first contentful paint / "
          "content shown (text; or the table and chart drawn)")
    with chromium() as browser:
        with app_server(home, script=REFERENCE) as (url, _):
            visible_ms(browser, url, text_shown)  # the server's first visit
            ref_fcp, ref_shown = visible_ms(browser, url, text_shown)
        print(f"   {'bare reference page':34s} {ref_fcp:7.0f} ms {ref_shown:7.0f} ms   1.00x")
        with app_server(home, script=ELEMENTS_REFERENCE) as (url, _):
            visible_ms(browser, url, drawn)
            fcp, shown = visible_ms(browser, url, drawn)
        print(f"   {'reference with a table and chart':34s} {fcp:7.0f} ms {shown:7.0f} ms  {fcp / ref_fcp:5.2f}x  "
              f"{shown / ref_shown:5.2f}x")
        with app_server(home) as (url, _):
            for visit in ("Architectures, first visit", "Architectures, second visit", "Architectures, third visit"):
                fcp, shown = visible_ms(browser, f"{url}/architectures", drawn)
                print(f"   {visit:34s} {fcp:7.0f} ms {shown:7.0f} ms  {fcp / ref_fcp:5.2f}x  {shown / ref_shown:5.2f}x")


if __name__ == "__main__":
    main()
