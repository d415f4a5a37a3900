"""Cached architecture facts for the pages, and the panel that measures this machine in the background."""

from __future__ import annotations

import streamlit as st

from cvlab import lecture_claims, scaling, tokens, zoo, zoo_measure


@st.cache_data(show_spinner="Counting parameters and MACs (once per library version)…")
def zoo_facts() -> list:
    return zoo.zoo_table()


@st.cache_data(show_spinner=False)
def claim_checks() -> tuple:
    return lecture_claims.check_claims()


@st.cache_data(show_spinner=False, max_entries=8)
def real_efficientnets(alpha: float, beta: float, gamma: float) -> tuple:
    return scaling.real_configs(alpha, beta, gamma)


@st.cache_data(show_spinner="Counting ViT-B/16 and Swin-T at six image sizes…")
def attention_costs() -> tuple[list, list]:
    points = tokens.attention_cost()
    return points, tokens.fit_exponents(points)


def latencies() -> dict[str, float]:
    """Latency at batch 1 for every network measured on this machine so far (read from disk each run)."""
    return {name: m.latency_ms for name, m in zoo_measure.cached_measurements().items()}


@st.fragment(run_every=2.0)
def measurement_panel() -> None:
    """Start or follow the background measurement; never blocks the page."""
    job = zoo_measure.current_job()
    measured, total = len(latencies()), len(zoo_facts())
    if job is not None and job.running:
        status = job.status()
        st.progress(status.done / max(status.total, 1),
                    text=f"Measuring on this machine: {status.current or '…'} ({status.done}/{status.total})")
        return
    if job is not None and job.error:
        st.error(job.error)
    if measured < total:
        st.caption(f"Latency measured here for {measured} of {total} networks.")
        if st.button("Measure the rest on this machine", key="measure", icon=":material/speed:"):
            zoo_measure.start_measuring()
            st.rerun(scope="fragment")
    else:
        st.caption(f"All {total} networks measured on this machine.")
