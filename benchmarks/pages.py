"""Page speed and server memory, as ratios against a bare Streamlit page measured in the same run.

1. Server-side rerun time of each page, run through the app entry as a browser would
   (AppTest, warm, median of N reruns), against a bare one-page script.
2. First paint in headless Chromium: navigation start to the first contentful paint, and to
   the end of the script run, on a real ``streamlit run`` server.
3. The server's resident memory after a browser has visited the home page, then every page.
4. Inside a CNN: the rerun a kernel change causes on a 512 px photo (astronaut, 512x512).
5. Architectures: what a visitor waits for in headless Chromium, a new browser per visit
   (median of ``--visits`` after a warm-up visit that fills the page's caches): first
   contentful paint, the table drawn, and the table and the first chart drawn; against
   the bare page's text and a bare page holding a table and a chart, in the same run.

Usage: python benchmarks/pages.py [--reruns 15] [--visits 5] [--only 2,5] [--home DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import psutil  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from cvlab.syllabus import PAGES  # noqa: E402
from tests.harness import OFFLINE_ENV, app_server, chromium, time_to_visible, wait_until_idle  # noqa: E402

REFERENCE = "benchmarks/reference_app.py"
ELEMENTS_REFERENCE = "benchmarks/reference_elements_app.py"  # a bare page with a table and a chart
TEXT = '[data-testid="stMarkdown"]'  # the bare page's one line under its title
TABLE = '[data-testid="stDataFrame"] canvas'  # glide data grid draws into a canvas
CHART = '[data-testid="stPlotlyChart"] .main-svg'  # plotly has drawn its axes


def rerun_ms(script: str, reruns: int, page: str | None = None) -> float:
    """Median warm rerun of ``script``; with ``page``, that page inside the app entry."""
    app = AppTest.from_file(str(REPO_ROOT / script), default_timeout=120)
    app.run()
    if page:
        app.switch_page(page)
        app.run()  # first run of the page: imports and caches
    if app.exception:
        raise RuntimeError(f"{script} raised: {app.exception[0].message}")
    times = []
    for _ in range(reruns):
        start = time.perf_counter()
        app.run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def kernel_change_ms(reruns: int) -> float:
    """Median rerun of the Inside a CNN page after the kernel selectbox changes (alternating two kernels)."""
    app = AppTest.from_file(str(REPO_ROOT / "streamlit_app.py"), default_timeout=120)
    app.run()
    app.switch_page("pages/foundations/inside_cnn.py")
    app.query_params["img"] = "astronaut"
    app.run()
    times = []
    for index in range(reruns):
        box = app.selectbox(key="kernel").set_value("gaussian_blur_5x5" if index % 2 else "edge")
        start = time.perf_counter()
        box.run()
        times.append((time.perf_counter() - start) * 1000)
        if app.exception:
            raise RuntimeError(app.exception[0].message)
    return statistics.median(times)


def paint_ms(browser, url: str) -> tuple[float, float]:
    """(first contentful paint, script finished) in ms after navigation start."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    wait_until_idle(page)
    done = (time.perf_counter() - start) * 1000
    fcp = page.evaluate(
        "() => (performance.getEntriesByName('first-contentful-paint')[0] || {startTime: NaN}).startTime"
    )
    context.close()
    return fcp, done


def first_view_ms(browser, url: str, selectors: tuple[str, ...], visits: int) -> tuple[float, list[float]]:
    """Median first contentful paint and time to each selector visible over ``visits`` new browsers."""
    time_to_visible(browser, url, selectors)  # warm-up: the server's imports and the page's caches
    runs = [time_to_visible(browser, url, selectors) for _ in range(visits)]
    return (statistics.median(fcp for fcp, _ in runs),
            [statistics.median(shown[i] for _, shown in runs) for i in range(len(selectors))])


def architectures_first_view(home: Path, visits: int) -> None:
    print(f"5. Architectures: first view in the browser (headless Chromium, median of {visits} new browsers)")
    print(f"   {'':34s} {'paint':>7s} {'table':>8s} {'+chart':>8s}   shown / bare page's text")
    with chromium() as browser:
        with app_server(home, script=REFERENCE) as (url, _):
            ref_fcp, (ref_text,) = first_view_ms(browser, url, (TEXT,), visits)
        print(f"   {'bare reference page (its text)':34s} {ref_fcp:5.0f} ms {ref_text:5.0f} ms {'':8s}   1.00x")
        for title, script, path in (("bare page with a table and chart", ELEMENTS_REFERENCE, ""),
                                    ("Architectures (Compare)", "streamlit_app.py", "architectures")):
            with app_server(home, script=script) as (url, _):
                fcp, (table, chart) = first_view_ms(browser, f"{url}/{path}", (TABLE, CHART), visits)
            print(f"   {title:34s} {fcp:5.0f} ms {table:5.0f} ms {chart:5.0f} ms   {chart / ref_text:5.2f}x")


def rss_mb(process) -> float:
    return psutil.Process(process.pid).memory_info().rss / 2**20


def server_reruns(pages, reruns: int) -> float:
    print("1. Server-side rerun (AppTest, warm, median)")
    reference = rerun_ms(REFERENCE, reruns)
    print(f"   {'reference (bare page)':28s} {reference:8.1f} ms   1.00x")
    for page in pages:
        ms = rerun_ms("streamlit_app.py", reruns, page=page.script)
        print(f"   {page.title:28s} {ms:8.1f} ms  {ms / reference:5.2f}x")
    return reference


def paint_and_memory(pages) -> None:
    print("2. Browser: first contentful paint / script done (cold server, first visit)")
    with tempfile.TemporaryDirectory() as home, chromium() as browser:
        with app_server(Path(home), script=REFERENCE) as (url, process):
            ref_fcp, ref_done = paint_ms(browser, url)
            ref_rss = rss_mb(process)
        print(f"   {'reference (bare page)':28s} {ref_fcp:7.0f} ms {ref_done:7.0f} ms   1.00x")
        with app_server(Path(home)) as (url, process):
            for page in pages:
                path = "" if page.url_path == "home" else page.url_path
                fcp, done = paint_ms(browser, f"{url}/{path}")
                print(f"   {page.title:28s} {fcp:7.0f} ms {done:7.0f} ms  "
                      f"{fcp / ref_fcp:5.2f}x  {done / ref_done:5.2f}x")
                if page.url_path == "home":
                    home_rss = rss_mb(process)
            all_rss = rss_mb(process)

    print("3. Server resident memory")
    print(f"   {'reference (bare page)':28s} {ref_rss:7.0f} MB   1.00x")
    print(f"   {'after the home page':28s} {home_rss:7.0f} MB  {home_rss / ref_rss:5.2f}x")
    print(f"   {'after every page':28s} {all_rss:7.0f} MB  {all_rss / ref_rss:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=15)
    parser.add_argument("--visits", type=int, default=5, help="browser visits per page in 5 (median)")
    parser.add_argument("--only", default="1,2,4,5", help="which measurements, e.g. 5 (2 includes 3)")
    parser.add_argument("--home", default=None, help="CVLAB_HOME for 5, e.g. one whose zoo caches are filled")
    args = parser.parse_args()
    only = set(args.only.split(","))
    import os

    os.environ.update(OFFLINE_ENV)
    pages = list(PAGES.values())
    if "1" in only or "4" in only:
        reference = server_reruns(pages, args.reruns)
    if "2" in only:
        paint_and_memory(pages)
    if "4" in only:
        print("4. Inside a CNN: rerun after a kernel change, 512x512 photo (AppTest, median)")
        ms = kernel_change_ms(args.reruns)
        print(f"   {'reference (bare page)':28s} {reference:8.1f} ms   1.00x")
        print(f"   {'kernel change':28s} {ms:8.1f} ms  {ms / reference:5.2f}x   (target: under 200 ms)")
    if "5" in only:
        with tempfile.TemporaryDirectory() as temp:
            architectures_first_view(Path(args.home or temp), args.visits)


if __name__ == "__main__":
    main()
