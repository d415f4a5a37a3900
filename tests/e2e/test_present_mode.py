"""Present mode in a real browser: the whole lecture stop by stop from the keyboard, each stop projected and
screenshotted (CVLAB_SCREENSHOTS=<folder> keeps the pictures for a person to look at)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from cvlab.syllabus import PAGES, WALK_THROUGH, WalkStop
from tests.harness import show_whole_page, wait_until_idle

pytestmark = pytest.mark.e2e
LAST = len(WALK_THROUGH)


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("CVLAB_SCREENSHOTS") or tmp_path) / "present"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_for_stop(page, at: WalkStop) -> None:
    """The bar names the stop once its page has loaded; then the page finishes its run and its charts."""
    bar = page.locator(".cvlab-present-where", has_text=f"Stop {at.number} of {LAST}")
    bar.wait_for(timeout=120_000)
    wait_until_idle(page, timeout_ms=300_000)  # a stop that trains a small network takes a while on a busy CPU


def check_stop(page, at: WalkStop) -> None:
    address = urlparse(page.url)
    query = parse_qs(address.query)
    assert address.path.rstrip("/").rsplit("/", 1)[-1] == PAGES[at.stop.page].url_path
    assert query["present"] == ["lecture"] and query["stop"] == [str(at.number)]
    assert page.locator(".cvlab-present-where").inner_text().strip() == f"Stop {at.number} of {LAST} · {at.title}"
    assert page.locator('[data-testid="stTab"][aria-selected="true"]').first.inner_text().strip() == at.stop.section
    # The page took the lecture's settings: a bound widget keeps a value in the address unless it is its
    # default (then the widget shows it) or it rejected it.
    shown = page.evaluate("() => [...document.querySelectorAll('[data-testid=\"stSelectbox\"] input')]"
                          ".map(i => i.value)")
    for key, value in at.stop.params.items():
        assert query.get(key) == [value] or value in shown, (key, value, page.url)
    text_size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector("
                              "'[data-testid=\"stMain\"] [data-testid=\"stMarkdownContainer\"] p')).fontSize)")
    assert text_size >= 24  # projector mode's type
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    sidebar = page.locator('[data-testid="stSidebar"]').bounding_box()
    assert sidebar is None or sidebar["x"] + sidebar["width"] <= 0  # collapsed: out of the way
    assert page.locator("a.cvlab-present-previous").count() == (at.number > 1)
    assert page.locator("a.cvlab-present-next").count() == (at.number < LAST)


def bar_stays_in_view(page) -> bool:
    """Scrolled to the end of the page, the bar is still at the top of the window."""
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 1e6)")
    page.wait_for_timeout(200)
    box = page.locator(".cvlab-present").bounding_box()
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, 0)")
    return box is not None and 0 <= box["y"] < 200


def test_the_whole_lecture_from_the_keyboard(app, page, screenshots):
    """Opened on the home page with only a stop number, the walk-through lands on stop 1's page; the
    arrow keys and a clicker's PageDown go through every stop to the end and ArrowLeft goes back one."""
    url, _ = app
    page.goto(f"{url}/?present=lecture&stop=1")
    for at in WALK_THROUGH:
        if at.number > 1:
            page.keyboard.press("PageDown" if at.number % 2 else "ArrowRight")
        wait_for_stop(page, at)
        check_stop(page, at)
        assert bar_stays_in_view(page), f"stop {at.number}: the bar scrolled away"
        name = f"{at.number:02d}-{at.stop.page}-{at.stop.section.replace(' ', '_')}"
        page.screenshot(path=str(screenshots / f"{name}.png"))  # what the room sees
        show_whole_page(page)
        wait_until_idle(page)  # a page that redraws for the taller window has finished
        page.screenshot(path=str(screenshots / f"{name}-whole.png"), full_page=True)
        page.set_viewport_size({"width": 1440, "height": 900})
    page.keyboard.press("ArrowRight")  # past the end: nothing to go to
    page.wait_for_timeout(1000)
    assert f"stop={LAST}" in page.url
    page.keyboard.press("ArrowLeft")
    wait_for_stop(page, WALK_THROUGH[-2])
    check_stop(page, WALK_THROUGH[-2])


def test_typing_in_a_box_does_not_change_the_stop(app, page):
    url, _ = app
    at = next(w for w in WALK_THROUGH if w.stop.page == "output-size" and w.stop.section == "Single layer")
    page.goto(f"{url}/output-size?present=lecture&stop={at.number}")
    wait_for_stop(page, at)
    box = page.get_by_label("Input height H")
    box.click()
    for key in ("ArrowRight", "PageDown", "ArrowLeft", "PageUp"):
        box.press(key)
    box.fill("64")
    box.press("Enter")
    page.wait_for_timeout(1000)
    wait_until_idle(page)
    assert f"stop={at.number}" in page.url and "h=64" in page.url
    assert page.locator(".cvlab-present-where").inner_text().startswith(f"Stop {at.number} of")


def test_a_shared_address_opens_the_same_stop_in_a_fresh_browser(app, browser, page):
    url, _ = app
    at = next(w for w in WALK_THROUGH if w.topic.title == "VGG-16" and w.stop.page == "output-size")
    page.goto(f"{url}/?present=lecture&stop={at.number - 1}")
    wait_for_stop(page, WALK_THROUGH[at.number - 2])
    page.locator("a.cvlab-present-next").click()  # on screen, as well as from the keyboard
    wait_for_stop(page, at)
    shared = page.url
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    student = context.new_page()
    student.goto(shared)
    wait_for_stop(student, at)
    check_stop(student, at)
    layers = student.get_by_role("textbox", name="Layers", exact=True)  # VGG-16's stack, not the default stem
    expect(layers).to_have_value(re.compile(r"^conv\(64,k=3,p=1\)\*2\|maxpool\(k=2\)\|conv\(128"), timeout=30_000)
    context.close()


@pytest.mark.parametrize("stop", ["banana", "0", "-4", "99999"])
def test_a_stop_that_does_not_exist_says_so(app, page, stop):
    url, _ = app
    page.goto(f"{url}/?present=lecture&stop={stop}")
    at = WALK_THROUGH[-1] if stop == "99999" else WALK_THROUGH[0]
    wait_for_stop(page, at)
    assert page.locator('[data-testid="stAlertContentWarning"]', has_text="this is stop").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
