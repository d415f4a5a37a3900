"""Cached architecture facts for the pages, the rows of their tables, and the panel that measures in the background."""

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


@st.cache_data(max_entries=2, show_spinner="Building every YOLO generation from its config and counting it…")
def yolo_facts(all_sizes: bool) -> list:
    from cvlab.zoo_tasks import yolo_evolution_table

    return yolo_evolution_table(None if all_sizes else 1)


@st.cache_data(show_spinner="Building the segmentation networks and counting them…")
def segmentation_facts() -> list:
    from cvlab.zoo_tasks import segmentation_table

    return segmentation_table()


def latencies(suite: str = "classification", input_size: int | None = None) -> dict[str, float]:
    """Latency at batch 1 of every model of ``suite`` measured here so far (read from disk each run)."""
    return {name: m.latency_ms for name, m in zoo_measure.cached_measurements(suite=suite, input_size=input_size).items()}


def yolo_rows(all_sizes: bool) -> list[dict]:
    """The YOLO evolution table: counted at 640 px, latency measured here at 640 and 320 px where done."""
    at_640, at_320 = latencies("yolo", 640), latencies("yolo", 320)
    return [{"model": r.name, "generation": r.generation, "size": r.size, "year": r.year,
             "params (M)": round(r.params / 1e6, 2), "GFLOPs at 640": round(r.flops / 1e9, 2),
             "GMACs at 640": round(r.macs / 1e9, 2), "latency ms at 640": at_640.get(r.name),
             "latency ms at 320": at_320.get(r.name), "feature": r.feature} for r in yolo_facts(all_sizes)]


def segmentation_rows() -> list[dict]:
    measured = latencies("segmentation")
    return [{"model": r.name, "architecture": r.architecture, "encoder": r.encoder, "year": r.year,
             "params (M)": round(r.params / 1e6, 2), f"GMACs at {r.input_size}": round(r.macs / 1e9, 2),
             f"GFLOPs at {r.input_size}": round(r.flops / 1e9, 2),
             f"latency ms at {r.input_size}": measured.get(r.name), "feature": r.feature}
            for r in segmentation_facts()]


@st.fragment(run_every=2.0)
def measurement_panel(suite: str = "classification", names: list[str] | None = None,
                      input_size: int | None = None, *, key: str = "measure") -> None:
    """Start or follow the background measurement of ``names`` of ``suite``; never blocks the page.

    Every two seconds it reads the cache; when a model has been measured since its last look it
    reruns the whole page, so the tables outside it fill in as the job goes.
    """
    spec = zoo_measure.SUITES.get(suite)
    wanted = list(names or spec.names())
    measured = [n for n in wanted if n in latencies(suite, input_size)]
    seen_key = f"_zoo_measured_{key}"
    previous, st.session_state[seen_key] = st.session_state.get(seen_key), len(measured)
    if previous is not None and previous != len(measured):
        st.rerun()  # the whole page: its tables read the cache again
    at = f" at {input_size} px" if input_size else ""
    job = zoo_measure.current_job()
    if job is not None and job.running:
        status = job.status()
        size = f" at {status.input_size} px" if status.input_size else ""
        st.progress(status.done / max(status.total, 1),
                    text=f"Measuring {zoo_measure.SUITES.get(status.suite).title}{size} on this machine: "
                         f"{status.current or '…'} ({status.done}/{status.total})")
        return
    if job is not None and job.error:
        st.error(job.error)
    if len(measured) < len(wanted):
        st.caption(f"Latency measured here{at} for {len(measured)} of {len(wanted)} {spec.title}.")
        if st.button(f"Measure the rest{at} on this machine", key=key, icon=":material/speed:"):
            zoo_measure.start_measuring(wanted, suite=suite, input_size=input_size)
            st.rerun(scope="fragment")
    else:
        st.caption(f"All {len(wanted)} {spec.title} measured on this machine{at}.")
