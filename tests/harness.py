"""A real ``streamlit run`` server and Debian's headless Chromium, for e2e tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "YOLO_OFFLINE": "1", "CVLAB_OFFLINE": "1",
               "YOLO_AUTOINSTALL": "false"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def app_server(data_home: Path, script: str = "streamlit_app.py", startup_timeout_s: float = 60) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start the app on a free loopback port; yield its base URL and process."""
    port = free_port()
    env = {**os.environ, **OFFLINE_ENV, "CVLAB_HOME": str(data_home)}
    log = open(data_home / "streamlit.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start; see {data_home / 'streamlit.log'}")
            time.sleep(0.3)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def wait_until_idle(page, timeout_ms: float = 90_000) -> None:
    """Wait until the script has run and every chart has drawn."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_load_state("networkidle", timeout=timeout_ms)
    page.wait_for_timeout(500)  # plotly draws after the last message


def time_to_visible(browser, url: str, selectors: tuple[str, ...]) -> tuple[float, list[float]]:
    """First contentful paint, and when each selector was first visible (in order), in ms after navigation.

    A new browser context per call: a visitor's first view, with nothing in the browser's cache.
    """
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    shown = []
    for selector in selectors:
        page.locator(selector).first.wait_for(state="visible", timeout=300_000)
        shown.append((time.perf_counter() - start) * 1000)
    page.wait_for_timeout(300)  # the paint entry is reported a moment after the paint
    fcp = page.evaluate(
        "() => (performance.getEntriesByName('first-contentful-paint')[0] || {startTime: NaN}).startTime")
    context.close()
    return fcp, shown


def screenshot_whole_page(page, path: str, width: int = 1440) -> None:
    """Streamlit scrolls inside its main container, so grow the viewport to fit it first."""
    height = page.evaluate(
        "() => Math.max(...['stMain', 'stSidebar'].map(id => "
        "(document.querySelector(`[data-testid=\"${id}\"] > div`) || {scrollHeight: 0}).scrollHeight))"
    )
    page.set_viewport_size({"width": width, "height": min(max(int(height) + 80, 900), 16000)})
    page.wait_for_timeout(800)  # charts re-layout to the new size
    page.screenshot(path=path, full_page=True)
