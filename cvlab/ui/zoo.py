"""Cached architecture facts for the pages, the rows of their tables, and the panel that measures in the background."""

from __future__ import annotations

import streamlit as st

from cvlab.jobs.status import RunStatus
from cvlab.zoo import claims as lecture_claims

from cvlab.zoo import scaling

from cvlab.zoo import tokens

from cvlab.zoo import facts as zoo

from cvlab.zoo import measure_job as zoo_jobs

from cvlab.zoo import measuring

from cvlab.zoo import measure as zoo_measure
from cvlab.ui import projector_on, show_table
from cvlab.ui.local_weights import weights_here

# A dash where a value does not exist; each column's help says why it may be missing.
NOT_MEASURED = " A dash: not measured on this machine yet (Measure, under the chart)."
NOT_PUBLISHED = (" A dash: no published figure (the lecture's own networks, and timm models, whose configs carry "
                 "no accuracy or operation counts).")
COMPARE_COLUMNS = {
    "params (M)": st.column_config.NumberColumn(format="%.2f"),
    "GMACs": st.column_config.NumberColumn(format="%.3f", help="counted here by torch.utils.flop_counter"),
    "GMACs published": st.column_config.NumberColumn(
        format="%.3f", help="torchvision's `_ops` (labelled GFLOPS there, multiply-accumulates in fact)."
                            + NOT_PUBLISHED),
    "MACs diff %": st.column_config.NumberColumn(
        format="%+.2f", help="counted against published, percent." + NOT_PUBLISHED),
    "top-1 %": st.column_config.NumberColumn(help="ImageNet-1K accuracy of the published weights." + NOT_PUBLISHED),
    "top-5 %": st.column_config.NumberColumn(help="ImageNet-1K top-5 accuracy of the published weights."
                                                  + NOT_PUBLISHED),
    "file MB": st.column_config.NumberColumn(help="size of the published weights file." + NOT_PUBLISHED),
    "latency ms": st.column_config.NumberColumn(format="%.1f", help="batch 1, median, this machine." + NOT_MEASURED),
    "images/s": st.column_config.NumberColumn(
        format="%.1f", help="throughput at the batch size beside it." + NOT_MEASURED),
    "at batch": st.column_config.NumberColumn(help="images per batch of the throughput measurement." + NOT_MEASURED),
    "peak MB": st.column_config.NumberColumn(
        format="%.0f", help="GPU: max memory allocated; CPU: an estimate from the weights and the largest layer."
                            + NOT_MEASURED),
    "GFLOPs": st.column_config.NumberColumn(format="%.3f", help="2 x GMACs"),
    "block": st.column_config.TextColumn(width="large"),
    "weights": st.column_config.TextColumn(help="the published weights the accuracy belongs to." + NOT_PUBLISHED),
    "weights here": st.column_config.TextColumn(
        help="local: the published weights are on this server; downloadable: not here, fetched on first use "
             "while the server is online; random: not here and the server is offline, so the model starts from "
             "random weights. `python -m cvlab prepare --models NAME` fetches them. A dash: none published."),
}
# Seven fit the screen in large type (an eighth ran off its right edge); the dataframe has them all.
PROJECTOR_COLUMNS = ("name", "params (M)", "GMACs", "GMACs published", "MACs diff %", "top-1 %", "latency ms")

COMPARE_CAPTION = (
    "GFLOPs = 2 x GMACs: torchvision publishes multiply-accumulates under the name GFLOPS, so tools often "
    "differ by exactly 2x. GMACs are counted here with the fused attention paths switched off (otherwise "
    "ViT-B/16 counts a third low with the fast path on, 4% low on CPU); 'MACs diff %' is what remains against "
    "torchvision's published figure: within 0.01% for ViT and Swin, -0.86% for MobileNetV3-Small and "
    "-0.19% for MobileNetV3-Large, whose published GMACs are rounded to three decimals. Latency: batch 1, "
    "median after a warm-up; images/s at the batch beside it; peak MB on a CPU is an estimate (weights + "
    "largest layer), on a GPU what torch allocated; all on this machine. "
    "Detection and segmentation networks have their own tables (YOLO, Segmentation).")
YOLO_CAPTION = (
    "Built from the configs ultralytics ships, without weights, and counted here at 640 px. ultralytics prints "
    "FLOPs (2 x MACs) as GFLOPs. 'GFLOPs published' is the summary line in the config file; ours are a "
    "little lower than ultralytics' own count because it adds each BatchNorm's arithmetic before Conv+BN are "
    "folded (folded, the two agree), and where the gap is larger than that (YOLO12), the summary line does not "
    "match the layers the installed ultralytics builds. The lecture's table: v3 2018 multi-scale, v5 2020 "
    "PyTorch native, v8 2023 anchor-free, v11 2024. Latency: batch 1, Conv+BN fused as ultralytics' predictor "
    "runs it, median after a warm-up, on this machine.")


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
    from cvlab.zoo.task_families import yolo_evolution_table

    return yolo_evolution_table(None if all_sizes else 1)


@st.cache_data(show_spinner="Building the segmentation networks and counting them…")
def segmentation_facts() -> list:
    from cvlab.zoo.task_families import segmentation_table

    return segmentation_table()


@st.cache_data(max_entries=4, show_spinner="Running the network once with hooks on every layer…")
def layers_of(name: str) -> list:
    from cvlab.zoo import anatomy

    return anatomy.layer_table(name)


def measurements(suite: str = "classification", input_size: int | None = None) -> dict:
    """``{name: Measurement}`` of every model of ``suite`` measured here so far (read from disk each run)."""
    return zoo_measure.cached_measurements(suite=suite, input_size=input_size)


def latencies(suite: str = "classification", input_size: int | None = None) -> dict[str, float]:
    """Latency at batch 1 of every model of ``suite`` measured here so far."""
    return {name: m.latency_ms for name, m in measurements(suite, input_size).items()}


def _text(value) -> str | None:
    return None if value is None else str(value)


def claim_rows() -> list[dict]:
    # As text: a column mixing numbers and words ("BasicBlock") cannot be one Arrow type.
    return [{"claim": c.claim, "slide": str(c.slide), "computed here": _text(c.computed),
             "published": _text(c.published), "source": c.published_source or c.computed_source,
             "verdict": c.verdict} for c in claim_checks()]


def compare_rows(facts: list) -> list[dict]:
    """One row per architecture, its measured columns as ``cvlab.zoo.facts.with_measurements`` filled them.

    Counted beside published MACs and their difference, so a gap (MobileNetV3-Small's rounded `_ops`)
    is in view; the measured columns come right after the accuracy, so projector mode keeps them on screen.
    """
    rows = []
    here = weights_here()
    for f in facts:
        difference = f.mac_difference
        rows.append({"name": f.name, "family": f.family, "input px": f.input_size,
                     "params (M)": f.params / 1e6, "GMACs": f.macs / 1e9,
                     "GMACs published": None if f.published_macs is None else f.published_macs / 1e9,
                     "MACs diff %": None if difference is None else round(100 * difference, 2),
                     "top-1 %": f.top1, "latency ms": f.latency_ms, "images/s": f.throughput_ips,
                     "at batch": f.throughput_batch, "peak MB": f.peak_memory_mb, "block": f.block,
                     "top-5 %": f.top5, "file MB": f.file_size_mb, "GFLOPs": f.flops / 1e9, "year": f.year,
                     "weights": f.weights, "weights here": here.get(f.name)})
    return rows


def show_compare_table(rows: list[dict]) -> None:
    """The comparison: every column in a sortable dataframe; on the projector, its seven key columns."""
    show_table(rows, column_config=COMPARE_COLUMNS, projector_columns=PROJECTOR_COLUMNS)
    if not projector_on():
        st.caption("Click a column to sort it.")


def yolo_rows(all_sizes: bool) -> list[dict]:
    """The YOLO evolution table: counted at 640 px beside the config's own summary, latency where measured."""
    at_640, at_320 = latencies("yolo", 640), latencies("yolo", 320)
    # Latency next to the counts, so it stays on screen when projector mode widens every column.
    return [{"model": r.name, "generation": r.generation, "size": r.size, "params (M)": round(r.params / 1e6, 2),
             "GFLOPs at 640": round(r.flops / 1e9, 2), "GFLOPs published": r.published_gflops,
             "latency ms at 640": at_640.get(r.name),
             "latency ms at 320": at_320.get(r.name), "GMACs at 640": round(r.macs / 1e9, 2), "year": r.year,
             "feature": r.feature} for r in yolo_facts(all_sizes)]


def segmentation_rows() -> list[dict]:
    measured = latencies("segmentation")
    return [{"model": r.name, "architecture": r.architecture, "encoder": r.encoder,
             "params (M)": round(r.params / 1e6, 2), f"GMACs at {r.input_size}": round(r.macs / 1e9, 2),
             f"latency ms at {r.input_size}": measured.get(r.name),
             f"GFLOPs at {r.input_size}": round(r.flops / 1e9, 2), "year": r.year, "feature": r.feature}
            for r in segmentation_facts()]


def measurement_panel(suite: str = "classification", names: list[str] | None = None,
                      input_size: int | None = None, *, key: str = "measure") -> None:
    """Start or follow the background measurement of ``names`` of ``suite``; never blocks the page.

    While a measuring job is queued or running it reads the cache every two seconds; when a model
    has been measured since its last look it reruns the whole page, so the tables outside it fill in
    as the job goes. With no job going it is drawn once and polls not (a class on one page would
    otherwise be 15 reruns a second of nothing).
    """
    job = zoo_jobs.current_job()
    panel = _measurement_polling if job is not None and job.running else _measurement_still
    panel(suite, names, input_size, key=key)


@st.fragment(run_every=2.0)
def _measurement_polling(suite: str, names: list[str] | None, input_size: int | None, *, key: str) -> None:
    _measurement_view(suite, names, input_size, key=key, polling=True)


@st.fragment
def _measurement_still(suite: str, names: list[str] | None, input_size: int | None, *, key: str) -> None:
    _measurement_view(suite, names, input_size, key=key, polling=False)


def _measurement_view(suite: str, names: list[str] | None, input_size: int | None, *, key: str,
                      polling: bool) -> None:
    wanted = list(names or zoo_measure.SUITES.get(suite).names())
    cached = zoo_measure.cached_measurements(suite=suite, input_size=input_size)
    measured = [cached[n] for n in wanted if n in cached]
    seen_key = f"_zoo_measured_{key}"
    previous, st.session_state[seen_key] = st.session_state.get(seen_key), len(measured)
    if previous is not None and previous != len(measured):
        st.rerun()  # the whole page: its tables read the cache again
    job = zoo_jobs.current_job()
    running = job is not None and job.running
    if running != polling:
        st.rerun()  # a job started or ended: the whole page, so the panel polls exactly while one goes
    if running:
        _show_progress(job.status())
        return
    if job is not None and job.error:
        st.error(job.error)
    _offer_measuring(suite, wanted, measured, input_size, key)
    now = zoo_jobs.current_job()
    if now is not None and now.job_id != getattr(job, "job_id", None) and now.running:
        st.rerun()  # started from this panel just now: follow it, polling


def _show_progress(status) -> None:
    size = f" at {status.input_size} px" if status.input_size else ""
    title = zoo_measure.SUITES.get(status.suite).title
    if status.state == RunStatus.QUEUED:
        st.info(f"Measuring {title}{size} is queued: it starts when a worker on this machine is free "
                "(one job per device at a time, so training runs and timings never share it).",
                icon=":material/hourglass_top:")
        return
    st.progress(status.done / max(status.total, 1),
                text=f"Measuring {title}{size} on {status.device or 'this machine'}: "
                     f"{status.current or '…'} ({status.done}/{status.total})")


def _offer_measuring(suite: str, wanted: list[str], measured: list, input_size: int | None, key: str) -> None:
    """What is measured, a warning if the machine was busy, and the buttons that ask to start a job."""
    title, at = zoo_measure.SUITES.get(suite).title, f" at {input_size} px" if input_size else ""
    if st.session_state.get(_confirm_key(key)):
        _confirm_measuring(suite, wanted, measured, input_size, key)
        return
    if len(measured) < len(wanted):
        st.caption(f"Latency measured here{at} for {len(measured)} of {len(wanted)} {title}.")
        st.button(f"Measure the rest{at} on this machine…", key=key, icon=":material/speed:",
                  on_click=_ask, args=(key, "rest"), help="Says how long it takes and what it holds, then asks.")
    else:
        st.caption(f"All {len(wanted)} {title} measured on this machine{at}.")
    note = zoo_measure.busy_note(measured)
    if note:
        st.caption(f":material/warning: {note}")
    if measured:
        st.button(f"Measure these again{at}…", key=f"{key}_again", icon=":material/refresh:", on_click=_ask,
                  args=(key, "again"), help="Forget these measurements on this machine and make them again")


def _confirm_key(key: str) -> str:
    return f"_zoo_confirm_{key}"


def _ask(key: str, what: str) -> None:
    st.session_state[_confirm_key(key)] = what


def _confirm_measuring(suite: str, wanted: list[str], measured: list, input_size: int | None, key: str) -> None:
    """Before a job starts: how long it takes and which device slot it holds meanwhile; go ahead or cancel.

    A measurement takes a worker's device slot like a training run, so on a machine with one
    slot every student's run waits behind it; whoever starts one should know that first.
    """
    again = st.session_state[_confirm_key(key)] == "again"
    done = {m.name for m in measured}
    names = wanted if again else [name for name in wanted if name not in done]
    spec = zoo_measure.SUITES.get(suite)
    plan = zoo_jobs.plan_measuring(names, suite=suite, input_size=input_size)
    at = f" at {input_size} px" if input_size else ""
    st.warning(plan.summary(f"{spec.title}{at}"), icon=":material/schedule:")
    go, cancel = st.columns(2)
    if go.button(f"Measure now (about {plan.duration})", key=f"{key}_confirm", type="primary"):
        st.session_state.pop(_confirm_key(key), None)
        if again:
            zoo_measure.forget_measurements(wanted, suite=suite, input_size=input_size)
        _show_progress(measuring.start_measuring(wanted, suite=suite, input_size=input_size).status())
        return
    cancel.button("Cancel", key=f"{key}_cancel", on_click=lambda: st.session_state.pop(_confirm_key(key), None))
