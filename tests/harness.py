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
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "YOLO_OFFLINE": "1", "CVLAB_OFFLINE": "1",
               "YOLO_AUTOINSTALL": "false"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def app_server(data_home: Path, script: str = "streamlit_app.py",
               startup_timeout_s: float = 60) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start the app on a free loopback port; yield its base URL and process."""
    port = free_port()
    env = {**os.environ, **OFFLINE_ENV, "CVLAB_HOME": str(data_home)}
    log = open(data_home / f"{Path(script).stem}.log", "w")  # two servers may share a data home
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
                raise RuntimeError(f"streamlit did not start; see {log.name}")
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


def show_whole_page(page, width: int = 1440) -> None:
    """Grow the viewport to the whole page: Streamlit scrolls inside its main container, and draws a chart
    only once it is in view."""
    height = page.evaluate(
        "() => Math.max(...['stMain', 'stSidebar'].map(id => "
        "(document.querySelector(`[data-testid=\"${id}\"] > div`) || {scrollHeight: 0}).scrollHeight))"
    )
    page.set_viewport_size({"width": width, "height": min(max(int(height) + 80, 900), 16000)})
    page.wait_for_timeout(800)  # charts re-layout to the new size


def screenshot_whole_page(page, path: str, width: int = 1440) -> None:
    show_whole_page(page, width)
    page.screenshot(path=path, full_page=True)


# What a room cannot read: text boxes in a figure that overlap or leave it, words split across two lines,
# labels cut to an ellipsis, formulas and tables wider than their place. Each finding is one line of text.
_LAYOUT_PROBLEMS_JS = r"""
() => {
  const problems = [];
  const box = (el) => el.getBoundingClientRect();
  // Boxes closer than -slack px (slack < 0) or overlapping by more than slack px.
  const overlap = (a, b, slack = 1) =>
    a.left + slack < b.right && b.left + slack < a.right && a.top + slack < b.bottom && b.top + slack < a.bottom;
  const label = (el) => (el.textContent || "").trim().slice(0, 60);
  const hidden = (el) => !el.offsetParent || el.closest("details:not([open])");  // a closed tab or expander

  document.querySelectorAll(".js-plotly-plot").forEach((plot, index) => {
    const svg = plot.querySelector(".main-svg");
    if (!svg) return;
    const frame = box(svg);
    const items = [];
    const add = (kind, el) => {
      const r = box(el);
      if (r.width > 0 && r.height > 0 && label(el)) items.push({kind, el, r});
    };
    plot.querySelectorAll(".gtitle").forEach((el) => add("title", el));
    plot.querySelectorAll("[class*='g-x'][class$='title'] text, [class*='g-y'][class$='title'] text")
      .forEach((el) => add("axis title", el));
    plot.querySelectorAll(".xaxislayer-above text, .yaxislayer-above text").forEach((el) => add("tick", el));
    plot.querySelectorAll(".annotation-text-g").forEach((el) => add("annotation", el));
    plot.querySelectorAll(".legend").forEach((legend) => {
      const bg = legend.querySelector(".bg");
      if (bg && box(bg).width > 0) items.push({kind: "legend", el: legend, r: box(bg)});
    });
    plot.querySelectorAll(".colorbar .cbaxis text, .colorbar .cbtitle text").forEach((el) => add("colorbar", el));
    const title = (plot.closest("[data-testid='stPlotlyChart']") ? "" : "") +
      label(plot.querySelector(".gtitle") || plot).slice(0, 40);
    for (const item of items) {
      const r = item.r;
      if (r.left < frame.left - 1 || r.right > frame.right + 1 || r.top < frame.top - 1 || r.bottom > frame.bottom + 1)
        problems.push(`figure ${index} "${title}": ${item.kind} "${label(item.el)}" runs out of the figure`);
    }
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const a = items[i], b = items[j];
        if (a.kind === "legend" && a.el.contains(b.el) || b.kind === "legend" && b.el.contains(a.el)) continue;
        // Two texts need a gap between them to read as two (subplot titles 2 px apart read as one line);
        // plotly spaces tick labels itself, so they only must not overlap.
        const ticks = a.kind === "tick" && b.kind === "tick";
        const turned = (el) => (el.getAttribute("transform") || "").includes("rotate");
        if (ticks && (turned(a.el) || turned(b.el))) continue;  // slanted labels' boxes overlap, their glyphs do not
        const gap = ticks ? 1 : -6;
        if (overlap(a.r, b.r, gap))
          problems.push(`figure ${index} "${title}": ${a.kind} "${label(a.el)}" runs into ${b.kind} "${label(b.el)}"`);
      }
    }
  });

  const words = ["h1", "h2", "h3", "[data-testid='stPageLink']", "[data-testid='stMetricLabel']",
                 "[data-testid='stMetricValue']", "[data-testid='stTab']", "[data-testid='stTable'] th",
                 "[data-testid='stTable'] td", "[data-testid='stCaptionContainer']",
                 "[data-testid='stMarkdownContainer'] p"];
  document.querySelectorAll(words.join(",")).forEach((el) => {
    if (hidden(el)) return;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      if (node.parentElement.closest(".katex, code")) continue;
      for (const match of node.textContent.matchAll(/[^\s-]+-?/g)) {  // a line may end after a hyphen
        if (match[0].includes("/")) continue;  // an address or a path breaks where it must
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (tops.size > 1) problems.push(`word split across lines: "${match[0]}" in "${label(el)}"`);
      }
    }
  });

  const cut = ["[data-testid='stMetric'] *", "[data-testid='stPageLink'] *", "[data-testid='stTab'] *",
               "[data-testid='stTable'] *", "[data-testid='stWidgetLabel'] *"];
  document.querySelectorAll(cut.join(",")).forEach((el) => {
    if (hidden(el)) return;
    const overflow = getComputedStyle(el).overflowX;
    if ((overflow === "hidden" || overflow === "clip") && el.scrollWidth > el.clientWidth + 1)
      problems.push(`text cut off: "${label(el)}"`);
  });
  const wide = [".katex-display", "[data-testid='stTable']", "[data-testid='stTable'] div",
                "[data-testid='stCode'] pre"];
  document.querySelectorAll(wide.join(",")).forEach((el) => {
    if (hidden(el) || getComputedStyle(el).overflowX === "visible") return;
    // A formula by its drawn pieces (its boxes and KaTeX's hidden MathML copy measure otherwise); a few
    // pixels are a glyph's overhang.
    const pieces = [...el.querySelectorAll(":scope > .katex > .katex-html > :is(.base, .tag)")]
      .map((piece) => piece.getBoundingClientRect());
    const width = pieces.length ? Math.max(...pieces.map((r) => r.right)) - Math.min(...pieces.map((r) => r.left))
                                : el.scrollWidth;
    if (width > el.clientWidth + 3) problems.push(`wider than its place (scrolls): "${label(el)}"`);
  });
  return [...new Set(problems)];
}
"""


def layout_problems(page, width: int) -> list[str]:
    """What would make a page hard to read from the back of a room, found in the page as drawn at ``width``."""
    show_whole_page(page, width)
    return page.evaluate(_LAYOUT_PROBLEMS_JS)


def polls_asked_for(url: str, query_string: str = "") -> int:
    """Open the app's default page as a browser does (Streamlit's websocket protocol) and count the polling
    fragments (``auto_rerun``) the server asked it to run; fails on any exception element."""
    import asyncio

    from benchmarks.classroom import Session

    async def go():
        session = Session(url, "", query_string=query_string)
        await session.open()
        asked = len(session.polls)
        await session.close()
        return asked, session.errors

    asked, errors = asyncio.run(go())
    assert not errors, errors
    return asked
