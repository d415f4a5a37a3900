"""What the browser tests share: the app on a loopback port and one headless Chromium per module."""

from __future__ import annotations

import pytest

from tests.harness import app_server, chromium


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app on a free loopback port with its own data home: (base URL, server process)."""
    with app_server(tmp_path_factory.mktemp("cvlab-home")) as (url, process):
        yield url, process


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    """A fresh 1440x900 tab; the test fails on any JavaScript error the page raised."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
