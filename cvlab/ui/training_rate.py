"""The live panel's answer to "Apply" on a new learning rate: sent and waiting, then applied at a step.

The worker takes a new rate at its next training step (after a resume when the run is
paused) and records it as an event in ``metrics.jsonl``. The session remembers which rate it
asked for and how many rate changes the run had by then, so the message turns into
"applied at step N" when the run's own record says so, and never mistakes an older change
for this one.
"""

from __future__ import annotations

import streamlit as st

from cvlab.jobs.status import RunStatus
from cvlab.training import runs

_ASKED = "_live_lr_asked"  # session key: {run_id: (the rate asked for, rate changes the run had by then)}


def _rate_changes(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("kind") == "event" and r.get("what") == "lr"]


def remember_request(info: runs.RunInfo, rate: float) -> None:
    """Note the rate just sent to the run, and say so at once."""
    seen = len(_rate_changes(runs.read_metrics(info.run_dir)))
    st.session_state.setdefault(_ASKED, {})[info.run_id] = (float(rate), seen)
    st.toast(f"Learning rate {rate:g} sent to {info.run_id}.")


def request_status(info: runs.RunInfo, records: list[dict]) -> None:
    """What became of the rate this session asked for: sent and waiting for the run, or applied at a step."""
    asked = st.session_state.get(_ASKED, {}).get(info.run_id)
    if asked is None:
        return
    rate, seen = asked
    applied = [e for e in _rate_changes(records)[seen:] if abs(float(e.get("value", 0)) - rate) <= 1e-9 * rate]
    if applied:
        st.success(f"Learning rate {rate:g} applied at step {applied[0]['step']}: marked on the chart below.",
                   icon=":material/check_circle:")
    elif info.status in RunStatus.TRAINING:
        when = "when it resumes" if info.status == RunStatus.PAUSED else "at its next training step"
        st.info(f"Learning rate {rate:g} sent: the run takes it {when}.", icon=":material/schedule:")
    else:
        st.session_state[_ASKED].pop(info.run_id)  # the run ended before it took the rate
