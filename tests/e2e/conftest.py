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
