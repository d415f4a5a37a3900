"""Whose run is whose, in a real browser: the signed cookie survives a reload; another browser only watches."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from cvlab.training import runs
from tests.harness import REPO_ROOT, app_server, chromium, screenshot_whole_page, wait_until_idle

pytestmark = pytest.mark.e2e
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"


def open_training(context, url: str, query: str = ""):
    page = context.new_page()
    page.goto(f"{url}/training{query}")
    wait_until_idle(page)
    return page


def wait_for_runs(count: int, timeout_s: float = 60) -> list[runs.RunInfo]:
    deadline = time.monotonic() + timeout_s
    while len(found := runs.RunStore().list()) < count:
        assert time.monotonic() < deadline, "the run was not created"
        time.sleep(0.3)
    return found


def test_the_browser_id_survives_a_reload_and_a_typed_name_does_not_take_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_START_WORKER", "never")  # the run stays queued: nothing trains here
    monkeypatch.setenv("CVLAB_HOME", str(tmp_path))
    with app_server(tmp_path) as (url, _), chromium() as browser:
        alice = browser.new_context(viewport={"width": 1440, "height": 900})
        page = open_training(alice, url, "?section=New+run&data=shapes&epochs=1&limit=300")
        page.get_by_role("textbox", name="Your name").fill("alice")
        page.get_by_role("textbox", name="Your name").press("Enter")
        start = page.get_by_role("button", name="Start training")
        expect(start).to_be_enabled(timeout=60_000)  # once the rerun with the name has drawn
        start.click()
        [info] = wait_for_runs(1)
        assert info.owner == "alice" and info.owner_id.startswith("browser:")
        [cookie] = [c for c in alice.cookies() if c["name"].startswith("cvlab_browser_")]
        assert cookie["value"].startswith(info.owner_id.removeprefix("browser:") + ".")
        assert cookie["sameSite"] == "Strict" and cookie["expires"] > 0  # kept across browser restarts too

        page.goto(f"{url}/training?section=Live")  # a reload: a new Streamlit session
        wait_until_idle(page)
        assert page.get_by_role("textbox", name="Your name").input_value() == "alice"
        expect(page.get_by_role("button", name="Stop")).to_be_enabled(timeout=60_000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        screenshot_whole_page(page, str(SCREENSHOTS / "training-identity-owner.png"))

        mallory = browser.new_context(viewport={"width": 1440, "height": 900})
        other = open_training(mallory, url, "?section=Live&user=alice")
        other.get_by_role("textbox", name="Your name").fill("alice")
        other.get_by_role("textbox", name="Your name").press("Enter")
        wait_until_idle(other)
        expect(other.get_by_text("alice (the browser or login that started it)", exact=False)).to_be_visible()
        expect(other.get_by_role("button", name="Stop")).to_be_disabled()
        screenshot_whole_page(other, str(SCREENSHOTS / "training-identity-watcher.png"))
        assert runs.RunStore().info(info.run_id).status == "queued"
        alice.close()
        mallory.close()
