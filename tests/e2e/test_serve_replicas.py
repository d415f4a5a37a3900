"""``python -m cvlab serve``: real Streamlit replicas behind a real HAProxy on loopback, and a browser through it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from cvlab.syllabus import PAGES
from tests.harness import CHROMIUM, CHROMIUM_ARGS, OFFLINE_ENV, REPO_ROOT, free_port, wait_until_idle

pytestmark = pytest.mark.e2e
LAB_SERVER = "lab-server"  # a name for this machine that is not localhost, as students reach a lab server


class Served:
    """A running ``serve`` command: its address, the pids it printed, every line it printed so far."""

    def __init__(self, process: subprocess.Popen, url: str):
        self.process, self.url, self.lines = process, url, []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout_s: float = 240) -> re.Match:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if found := re.search(pattern, line):
                    return found
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.2)
        raise AssertionError(f"serve never printed {pattern!r}; it printed: {self.lines}")

    def replica_pids(self) -> dict[str, int]:
        pids = {}
        for line in self.lines:  # a restarted replica's later line wins
            if found := re.match(r"replica (r\d+): pid (\d+)", line):
                pids[found[1]] = int(found[2])
        return pids


@contextlib.contextmanager
def serve(home: Path, *args: str, stop=lambda process: process.send_signal(signal.SIGTERM),
          preexec_fn=None) -> Iterator[Served]:
    """``serve`` in its own process group, as a terminal runs a command; ``stop`` ends it (SIGTERM)."""
    port = free_port()
    env = {**os.environ, **OFFLINE_ENV, "CVLAB_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-m", "cvlab", "serve", "--port", str(port), *args],
                               cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, preexec_fn=preexec_fn)
    served = Served(process, f"http://127.0.0.1:{port}")
    try:
        served.wait_for(r"^CV Lab on \d+ replica")
        yield served
    finally:
        children = [*served.replica_pids().values()]
        if proxy := [int(m[1]) for line in served.lines if (m := re.match(r"proxy: pid (\d+)", line))]:
            children += proxy
        stop(process)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    # Stopped: a clean exit, nothing started again on the way out, no replica or proxy left behind.
    assert code == 0, served.lines
    assert served.lines[-1].startswith("stopped") and not any("starting it again" in line for line in
                                                              served.lines[served.lines.index("stopping"):])
    time.sleep(0.5)
    left = [pid for pid in children if _running(pid)]
    assert not left, f"still running after serve stopped: {left}"


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def get(url: str, cookie: str | None = None) -> tuple[int, str | None]:
    """The status and the SERVERID the proxy set (None when it set none)."""
    request = urllib.request.Request(url, headers={"Cookie": f"SERVERID={cookie}"} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as reply:
        set_cookie = reply.headers.get("Set-Cookie") or ""
        found = re.search(r"SERVERID=(\w+)", set_cookie)
        return reply.status, found[1] if found else None


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("cvlab-home"), "--replicas", "2", "--address", "127.0.0.1") as served:
        yield served


def test_new_browsers_are_spread_over_both_replicas_and_a_pinned_one_stays(two):
    assert set(two.replica_pids()) == {"r1", "r2"}
    given = {get(f"{two.url}/")[1] for _ in range(6)}
    assert given == {"r1", "r2"}  # without a cookie: the proxy picks and pins by cookie
    for replica in ("r1", "r2"):  # with one: served, and no new cookie (indirect)
        assert get(f"{two.url}/_stcore/health", cookie=replica) == (200, None)


def test_a_replica_that_dies_is_started_again_and_its_browsers_are_served_meanwhile(two):
    old = two.replica_pids()["r2"]
    os.kill(old, signal.SIGKILL)
    two.wait_for(r"replica r2 stopped")
    status, moved_to = get(f"{two.url}/", cookie="r2")  # redispatched while r2 is down (or r2 again once back)
    assert status == 200
    new = int(two.wait_for(rf"replica r2: pid (?!{old}\b)(\d+)")[1])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and get(f"{two.url}/", cookie="r2") != (200, None):
        time.sleep(1)
    assert get(f"{two.url}/", cookie="r2") == (200, None)  # r2 is back in the proxy and keeps its browsers
    assert _running(new)


def _cookie(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "SERVERID")


def test_a_browser_stays_on_one_replica_its_session_survives_reruns_and_every_page_opens(two, browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        page.goto(f"{two.url}/output-size?section=Exercises")
        wait_until_idle(page)
        pinned = _cookie(context)
        assert pinned in {"r1", "r2"}
        first = page.locator(".st-key-a1 input")
        first.fill("1")
        first.press("Enter")
        page.get_by_text("Not 1.").first.wait_for(timeout=60_000)
        second = page.locator(".st-key-a2 input")  # another widget: another rerun of the script
        second.fill("2")
        second.press("Enter")
        page.get_by_text("Not 2.").first.wait_for(timeout=60_000)
        wait_until_idle(page)
        # The first answer lives only in this session's state (it is not in the address): still there.
        assert first.input_value() == "1"
        assert page.get_by_text("Not 1.").count() == 1
        assert _cookie(context) == pinned
        for url_path in PAGES:
            page.goto(f"{two.url}/{'' if url_path == 'home' else url_path}")
            wait_until_idle(page)
            assert page.locator('[data-testid="stException"]').count() == 0, url_path
            assert page.locator("h1").first.is_visible(), url_path
            assert _cookie(context) == pinned, url_path
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def test_with_a_self_signed_certificate_a_lab_server_page_is_a_secure_context_and_the_camera_opens(
        tmp_path_factory, browser):
    home = tmp_path_factory.mktemp("cvlab-home-tls")
    with serve(home, "--replicas", "1", "--address", "127.0.0.1", "--tls", "self-signed",
               "--name", LAB_SERVER) as served:
        url = served.url.replace("http://127.0.0.1", f"https://{LAB_SERVER}")
        assert (home / "serve" / "tls" / "self-signed.crt").exists()
        lab = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                          args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {LAB_SERVER} 127.0.0.1"])
        try:
            context = lab.new_context(viewport={"width": 1400, "height": 900}, ignore_https_errors=True)
            page = context.new_page()
            page.goto(f"{url}/detection?src=Photo&img_src=Camera")
            wait_until_idle(page)
            assert page.evaluate("() => window.isSecureContext") is True
            page.locator('[data-testid="stCameraInput"]').first.wait_for(timeout=60_000)
            assert page.get_by_text("camera cannot open").count() == 0
            assert page.locator('[data-testid="stException"]').count() == 0
            secure = [c for c in context.cookies() if c["name"] == "SERVERID"]
            assert secure and secure[0]["secure"] and secure[0]["value"] == "r1"
        finally:
            lab.close()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("how", ["ctrl-c in a terminal", "kill -INT of a background job"])
def test_sigint_stops_the_proxy_and_every_replica(tmp_path, how):
    """Ctrl-C sends SIGINT to the terminal's whole process group; a shell script's ``serve &`` starts with
    SIGINT ignored, and ``kill -INT`` reaches serve alone. Either way serve stops its children itself."""
    if how == "ctrl-c in a terminal":
        options = {"stop": lambda process: os.killpg(process.pid, signal.SIGINT)}
    else:
        options = {"stop": lambda process: process.send_signal(signal.SIGINT), "preexec_fn": _ignore_sigint}
    with serve(tmp_path / "home", "--replicas", "1", "--address", "127.0.0.1", **options) as served:
        assert get(f"{served.url}/") == (200, "r1")
