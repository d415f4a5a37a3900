"""Which weights files this server has, for the device panel and the Architectures table, cheaply on every rerun.

Both read the prepare manifest (``cvlab.weights_manifest``) and list folders; neither opens or hashes a
file. The device panel's count comes from a ``python -m cvlab prepare --json`` subprocess, like the
device report, so a page that needs no torch keeps it out of the server process; its answer is kept
and refreshed in the background every few minutes. The Architectures page, which has torch loaded
anyway, lists its folders in the process, at most once every half minute for all sessions.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import streamlit as st

from cvlab.errors import CvlabError
from cvlab.settings import get_settings
from cvlab.syllabus import REPO_ROOT

LISTING_TTL_S = 30  # a file copied in shows in the table within half a minute
COUNT_REFRESH_S = 600  # the subprocess imports torch and friends: a few CPU seconds each time, per server process
PROBE_TIMEOUT_S = 120


def _count_probe() -> dict:
    done = subprocess.run([sys.executable, "-m", "cvlab", "prepare", "--json"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return {"error": {"type": "ProbeFailed", "message": "python -m cvlab prepare --json gave no answer"}}


class WeightsCount:
    """The last answer of the count probe; a new probe starts in the background once it is old."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvlab-weights")
        self._running: Future | None = None
        self._answer: dict | None = None
        self._started = -float("inf")

    def latest(self) -> dict | None:
        """The newest finished answer (None before the first one arrives)."""
        with self._lock:
            if self._running is not None and self._running.done():
                try:
                    self._answer = self._running.result()
                except Exception as err:  # a timeout, a missing interpreter: shown, never raised on a page
                    self._answer = {"error": {"type": type(err).__name__, "message": str(err)[:200]}}
                self._running = None
            if self._running is None and time.monotonic() - self._started > COUNT_REFRESH_S:
                self._started = time.monotonic()
                self._running = self._pool.submit(_count_probe)
            return self._answer


@st.cache_resource(show_spinner=False)
def weights_count() -> WeightsCount:
    """One count per server process, shared by every session."""
    return WeightsCount()


@st.cache_resource(show_spinner=False, max_entries=4)
def _registry_sources(weights_dir: str, data_home: str) -> tuple:
    from cvlab.weights_manifest import Selection, manifest, pretrained_registry_names

    try:
        return tuple(manifest(Selection(models=tuple(pretrained_registry_names())), get_settings()))
    except CvlabError:
        return ()


@st.cache_data(show_spinner=False, ttl=LISTING_TTL_S, max_entries=4)
def architecture_weights(weights_dir: str, data_home: str, offline: bool) -> dict[str, str]:
    """Registry name -> "local", "downloadable" or "random", from folder listings."""
    from cvlab.weights_manifest import local_status

    return local_status(_registry_sources(weights_dir, data_home), offline)


def weights_here() -> dict[str, str]:
    settings = get_settings()
    return architecture_weights(str(settings.weights_dir), str(settings.data_home), settings.offline)
