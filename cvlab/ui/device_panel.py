"""The sidebar's device panel, filled by a ``python -m cvlab info --json`` subprocess.

The report needs torch (about 0.7 GB once imported). Asking a short-lived
subprocess keeps torch out of the server process until a page really needs it,
and the probe runs in the background so no page waits for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor

import streamlit as st

from cvlab.syllabus import REPO_ROOT
from cvlab.ui.local_weights import weights_count

PROBE_TIMEOUT_S = 120


def _probe() -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "cvlab", "info", "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
    )
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": {"type": "ProbeFailed", "message": tail[0]}}


@st.cache_resource(show_spinner=False)
def device_probe() -> Future:
    """One probe per server process, shared by every session."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="cvlab-device").submit(_probe)


def _render(report: dict) -> None:
    if "error" in report:
        st.warning(f"Could not read the device: {report['error']['message']}")
        return
    if report["device"].startswith("cuda"):
        st.markdown(f"**GPU** {report['name']}  \n{report['memory_gb']} GiB · {report['gpu_count']} GPU(s)")
    else:
        st.markdown(f"**{report['device'].upper()}** · {report['cpu_cores']} cores  \n{report['name']}")
    cuda = f"CUDA {report['cuda_version']}" if report["cuda_version"] else "no CUDA"
    st.caption(f"torch {report['torch_version']} · {cuda}")
    if report["weights_online"]:
        st.caption(":material/cloud_done: Pretrained weights can be downloaded.")
    else:
        st.caption(
            f":material/cloud_off: No weight downloads ({report['weights_note']}). "
            "Models use local weights or start from random ones.",
            help="Downloads are off when CVLAB_OFFLINE, HF_HUB_OFFLINE or YOLO_OFFLINE is set, "
            "or when the weight servers cannot be reached. Put weight files in CVLAB_WEIGHTS_DIR.",
        )
    _render_weights_count(weights_count().latest())


def _render_weights_count(count: dict | None) -> None:
    if count is None:
        _wait_for_count()
        return
    if "error" in count:
        return  # the count failed: the line above already says what matters
    st.caption(
        f":material/folder_zip: {count['present']} of {count['total']} weight files present",
        help="Pretrained weights and data files the pages can use, counted in CVLAB_WEIGHTS_DIR, the "
        "libraries' caches and the data folder. The rest download on first use when the server is online; "
        "for a classroom without internet an administrator fetches them beforehand with "
        "`python -m cvlab prepare` (it lists what is missing and how to copy it in).",
    )


@st.fragment(run_every=2.0)
def _wait_for_count() -> None:
    if weights_count().latest() is not None:
        st.rerun(scope="app")  # once: the count line replaces this one
    st.caption(":material/hourglass_top: Counting weight files…")


@st.fragment(run_every=1.0)
def _wait_for(probe: Future) -> None:
    if probe.done():
        st.rerun(scope="app")  # once: swap the placeholder for the panel
    st.caption(":material/hourglass_top: Checking the device…")


def device_panel() -> None:
    probe = device_probe()
    with st.expander("Device", icon=":material/memory:", expanded=True):
        if probe.done():
            _render(probe.result())
        else:
            _wait_for(probe)
