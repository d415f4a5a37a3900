"""The Training page's queue: every waiting run in the order it will start, with its estimated start; the
instructor moves a run to the front or one place up, or cancels it (cvlab.jobs.fair_queue decides the order)."""

from __future__ import annotations

import streamlit as st

from cvlab.jobs import fair_queue
from cvlab.training import runs
from cvlab.ui import report_errors, show_table


def starts_in(seconds: float) -> str:
    """'now', 'in about 40 s', 'in about 12 min', 'in about 2.5 h'."""
    if seconds < 1:
        return "now"
    if seconds < 90:
        return f"in about {seconds:.0f} s"
    return f"in about {seconds / 60:.0f} min" if seconds < 5400 else f"in about {seconds / 3600:.1f} h"


def waiting_line(run_id: str) -> str:
    """Where a waiting run stands, in words, for its live panel."""
    entry = fair_queue.position_of(run_id)
    if entry is None:
        return "Waiting for a worker to start it."
    return (f"Waiting in the queue: position {entry.position}, expected to start {starts_in(entry.estimated_start_s)} "
            "(from the running runs' pace and how long runs take here). Users take turns: one run each, round "
            "and round.")


def queue_panel(user_id: str, instructor: bool) -> None:
    """The whole queue; the instructor's move and cancel buttons under it."""
    entries = fair_queue.queue_entries()
    if not entries:
        st.caption("No run is waiting in the queue.")
        return
    show_table([{"position": e.position, "run": e.run_id, "owner": e.owner, "task": e.task, "model": e.model,
                 "epochs": e.epochs, "starts": starts_in(e.estimated_start_s),
                 "moved": "by the instructor" if e.moved else ""} for e in entries], key="queue_table")
    if not instructor:
        return
    ids = [e.run_id for e in entries]
    chosen = st.selectbox("Waiting run", ids, key="queue_run")
    front, up, cancel = st.columns(3)
    store = runs.RunStore()
    with report_errors():
        if front.button("To the front", key="queue_front"):
            fair_queue.move(store, chosen, "front", instructor)
            st.rerun()
        if up.button("One place up", key="queue_up"):
            fair_queue.move(store, chosen, "up", instructor)
            st.rerun()
        if cancel.button("Cancel", key="queue_cancel"):
            fair_queue.cancel(store, chosen, user_id, instructor)
            st.rerun()
