"""Streamlit glue for the Training page: who is asking, the run form, the live panel, results.

Everything a control does goes through ``cvlab.training`` (the same calls as
``python -m cvlab runs``); this module only draws widgets and figures.
"""

from __future__ import annotations

import threading
import time
from dataclasses import fields

import streamlit as st

from cvlab.errors import CvlabError
from cvlab.jobs.status import RunStatus
from cvlab.settings import get_settings
from cvlab.training import lifecycle, runs
from cvlab.training.config import TrainConfig
from cvlab.training.tasks import task_spec
from cvlab.ui import page_link, report_errors, show_figure, training_rate
from cvlab.ui.identity import Identity, instructor_box, plain_markdown, who_is_asking
from cvlab.viz import training as viz
from cvlab.ui.training_form import path_label as form_label

BIND = "query-params"
LIVE_REFRESH_S = 2.0


# ---- who is who (cvlab.ui.identity) ----
def current_user() -> Identity:
    """The login or this browser's id, with the name typed for display; defaults to the name on its newest run."""
    return who_is_asking(lambda owner_id: next((i.owner for i in listed_runs() if i.owner_id == owner_id), ""))


def is_instructor() -> bool:
    return instructor_box()


# ---- runs ----
def label(info: runs.RunInfo) -> str:
    spec = task_spec(info.config.task)
    model = info.config.model + (f"/{info.config.encoder}" if "encoder" in spec.settings else "")
    task = f"{spec.list_label} · " if spec.list_label else ""
    return f"{info.run_id} · {task}{model} on {form_label(info.config.data)} · {info.status}"


def recipe_label(config: TrainConfig) -> str:
    """The model and the optimiser settings that apply to its task: "unet-resnet18/adamw/cosine", "yolov8n/sgd"."""
    settings = task_spec(config.task).settings
    model = f"{config.model}-{config.encoder}" if "encoder" in settings else config.model
    return "/".join([model, config.optimizer] + ([config.scheduler] if "scheduler" in settings else []))


RUN_LIST_TTL_S = 1.0
_run_list: dict = {}  # the last listing: {"key": (runs folder, its mtime), "at": monotonic time, "runs": [...]}
_run_list_lock = threading.Lock()


def listed_runs() -> list[runs.RunInfo]:
    """Every run, newest first, as ``RunStore().list()`` gives it, shared by every session.

    The listing reads and parses every run's run.json; on every rerun of every visitor that was a
    class's worth of file reads per keystroke. It is read again when a run is created, deleted or its
    run.json rewritten (their mtimes are the key), and at least every ``RUN_LIST_TTL_S`` (a status
    that also depends on whether the run's worker still lives).
    """
    store = runs.RunStore()
    try:  # a stat per run, against a read and a parse per run
        key = (str(store.root), store.root.stat().st_mtime_ns,
               tuple(sorted((p.parent.name, p.stat().st_mtime_ns) for p in store.root.glob("*/run.json"))))
    except OSError:
        key = None  # no runs folder yet, or a run deleted meanwhile: list afresh
    with _run_list_lock:
        if (key is not None and _run_list.get("key") == key
                and time.monotonic() - _run_list.get("at", 0) < RUN_LIST_TTL_S):
            return list(_run_list["runs"])
    listing = store.list()
    with _run_list_lock:
        _run_list.update(key=key, at=time.monotonic(), runs=listing)
    return list(listing)


LISTED_STATUS_KEY = "_listed_run_status"  # {run_id: status} as the page's run pickers were last labelled


def ordered_runs(me: Identity, task: str | None = None) -> list[runs.RunInfo]:
    """The user's own runs first, then everyone else's, newest first within each; optionally of one task."""
    every = [i for i in listed_runs() if task in (None, i.config.task)]
    mine = [i for i in every if me.owner_id and i.owner_id == me.owner_id]
    st.session_state[LISTED_STATUS_KEY] = {i.run_id: i.status for i in every}
    return mine + [i for i in every if i not in mine]


def start_runs(configs: list[TrainConfig], me: Identity, exercise: str = "") -> None:
    """Queue ``configs``; ``exercise`` is the lab exercise they answer (a cvlab.board tag), for the class board."""
    with report_errors():
        for config in configs:
            started = lifecycle.start(config, me.name, owner_id=me.owner_id, exercise=exercise)
            st.session_state["run"] = started["run_id"]
            st.toast(f"Queued {started['run_id']} (position {started['queue_position']}). {started['worker']}")


def config_table(infos: list[runs.RunInfo]) -> list[dict]:
    """Settings that differ between the runs, plus their final figures."""
    dicts = [i.config.to_dict() for i in infos]
    varying = [f.name for f in fields(TrainConfig) if len({str(d[f.name]) for d in dicts}) > 1]
    rows = []
    for info, config in zip(infos, dicts):
        last = _last_epoch(info)
        scores = {key.replace("_", " "): value for key, value in last.items() if key.startswith("val_")}
        rows.append({"run": info.run_id, "owner": info.owner, "status": info.status,
                     **{name: config[name] for name in varying or ["model"]}, **scores,
                     "images/s": round(last.get("images_per_second", 0) or 0)})
    return rows


def _last_epoch(info: runs.RunInfo) -> dict:
    epochs = [r for r in runs.read_metrics(info.run_dir) if r.get("kind") == "epoch"]
    return epochs[-1] if epochs else {}


def progress(info: runs.RunInfo, records: list[dict]) -> None:
    """A progress bar with the ETA from the recent pace, or where the run waits in the queue."""
    if info.status == RunStatus.QUEUED:
        from cvlab.ui.training_queue import waiting_line

        st.info(waiting_line(info.run_id))
        return
    steps = [r for r in records if r.get("kind") == "step"]
    done = steps[-1]["progress"] if steps else 0.0
    eta = ""
    if info.status == RunStatus.RUNNING and len(steps) >= 2 and done < 1:
        rate = (steps[-1]["progress"] - steps[0]["progress"]) / max(1e-9, steps[-1]["time"] - steps[0]["time"])
        eta = f" · about {_duration((1 - done) / rate)} left" if rate > 0 else ""
    st.progress(min(1.0, done), text=f"{info.status}: epoch {info.epochs_done}/{info.config.epochs}{eta}")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def controls(info: runs.RunInfo, me: Identity, instructor: bool) -> None:
    """Pause/resume, stop and a new learning rate: shown to everyone, enabled for the owner or instructor."""
    user = me.owner_id
    allowed = runs.may_change(info, user, instructor)
    store = runs.RunStore()
    cols = st.columns([1, 1, 1, 2])
    with report_errors():
        if info.status in (RunStatus.QUEUED, RunStatus.RUNNING) and cols[0].button(
                "Pause", key="live_pause", disabled=not allowed,
                help="A queued run waits paused; a running one gives its device back after "
                     f"{get_settings().pause_release_s / 60:.0f} min paused. Resume goes on from where it paused."):
            store.request(info.run_id, user, instructor, pause=True)
            st.toast("Paused before it started: it waits until you resume it." if info.status == RunStatus.QUEUED
                     else "Pause asked for: the run pauses after its current batch.")
        if info.status in RunStatus.RESUMABLE and cols[0].button(
                "Resume", key="live_resume", disabled=not allowed,
                help="Continues from the newest checkpoint: no finished epoch is lost."):
            lifecycle.resume(store, info.run_id, user, instructor)
        if info.status in runs.ACTIVE and cols[1].button("Stop", key="live_stop", disabled=not allowed):
            store.request(info.run_id, user, instructor, stop=True)
        if info.status not in runs.ACTIVE and cols[2].button("Delete", key="live_delete", disabled=not allowed):
            store.delete(info.run_id, user, instructor)
            st.session_state.pop("run", None)
            st.rerun()
        if info.status in RunStatus.TRAINING:
            new_lr = cols[3].number_input("New learning rate", min_value=1e-6, max_value=10.0, value=None,
                                          format="%.5f", key="live_new_lr", disabled=not allowed)
            if new_lr and cols[3].button("Apply", key="live_apply_lr", disabled=not allowed):
                store.request(info.run_id, user, instructor, lr=new_lr)
                training_rate.remember_request(info, new_lr)
    if not allowed and not info.owner_id:
        st.caption("Watching: this run was started before runs recorded who started them, so only the instructor "
                   "may change it.")
    elif not allowed:
        st.caption(f"Watching: only {plain_markdown(info.owner) or 'its owner'} (the browser or login that started it) "
                   "or the instructor may change this run.")


def live_panel(run_id: str, me: Identity, instructor: bool) -> None:
    """A run's live view: redrawn every couple of seconds from the run folder while the run is queued,
    running or paused, the rest of the page staying put; an ended run's view is drawn once and polls not."""
    try:
        active = runs.RunStore().info(run_id).status in runs.ACTIVE
    except CvlabError:
        active = False  # the view says what is wrong, once
    (_live_polling if active else _live_still)(run_id, me, instructor)


@st.fragment(run_every=LIVE_REFRESH_S)
def _live_polling(run_id: str, me: Identity, instructor: bool) -> None:
    _live_view(run_id, me, instructor, polling=True)


@st.fragment
def _live_still(run_id: str, me: Identity, instructor: bool) -> None:
    _live_view(run_id, me, instructor, polling=False)


def _live_view(run_id: str, me: Identity, instructor: bool, *, polling: bool) -> None:
    with report_errors():
        info = runs.RunStore().info(run_id)
        if (info.status in runs.ACTIVE) != polling:
            st.rerun()  # started or ended: the whole page, so the view polls exactly while the run is active
        listed = st.session_state.get(LISTED_STATUS_KEY, {}).get(run_id)
        if listed is not None and listed != info.status:
            st.rerun()  # the whole page: its run pickers still say the status they were drawn with ("running")
        records = runs.read_metrics(info.run_dir)
        yours = " (you)" if me.owner_id and info.owner_id == me.owner_id else ""
        device = info.record.get("device", "")
        st.markdown(f"**{plain_markdown(label(info))}** · owner **{plain_markdown(info.owner)}**{yours}"
                    + (f" · {plain_markdown(str(device))}" if device else ""))
        if info.reason:
            (st.error if info.status in (RunStatus.FAILED, RunStatus.UNREADABLE) else st.caption)(info.reason)
        if info.record.get("note"):
            st.caption(info.record["note"])
        progress(info, records)
        controls(info, me, instructor)
        training_rate.request_status(info, records)
        smoothing = st.slider("Smoothing (moving average, points)", 1, 25, 1, key="live_smooth", bind=BIND)
        spec = task_spec(info.config.task)
        if any(r.get("kind") == "step" for r in records):
            show_figure(viz.run_curves(records, smoothing=smoothing, metrics=spec.metrics), key=f"curves-{run_id}")
            changes = viz.change_markers(records)
            if changes:  # what each numbered tag on the chart stands for
                st.markdown("  \n".join(f"**{m.number}** · {m.text}" for m in changes))
        if task_spec(info.config.task).per_pixel:
            mask_preview(info)
        if not polling and runs.RunStore().info(run_id).status in runs.ACTIVE:
            st.rerun()  # resumed from this view: poll it from now on


def mask_preview(info: runs.RunInfo) -> None:
    """Validation images with the true mask (left) and the model's (right), as of the latest epoch."""
    from cvlab.training.evaluation import read_preview

    preview = read_preview(info.run_dir)
    if preview is None:
        st.caption("Predicted masks appear here after the first epoch.")
        return
    st.markdown(f"**Validation masks after epoch {preview.epoch}**: image, true mask, predicted mask")
    st.image(viz.mask_comparison(preview.images, preview.truth, preview.predicted), width=330)


def task_training_section(task: str) -> None:
    """The Training page's form and live view for one task, embedded in that task's playground.

    The same functions, run folder and queue as the Training page: a run started here
    is listed there too, with the comparison and results views.
    """
    from cvlab.ui import training_form as form

    who, secret = st.columns([2, 1])
    with who:
        user = current_user()
    with secret:
        instructor = is_instructor()
    config = form.settings_form(task)
    if config is not None:
        form.dataset_summary(config)
    if st.button("Start training", type="primary", key=form.widget_key(task, "start"),
                 disabled=not user.may_start or config is None):
        start_runs([config], user)
    if not user.may_start:
        st.info(user.missing.replace("at the top", "above"))
    every = ordered_runs(user, task)
    if every:
        ids = [info.run_id for info in every]
        chosen = st.session_state.get("run")
        run_id = st.selectbox("Run (yours first)", ids, index=ids.index(chosen) if chosen in ids else 0,
                              format_func={info.run_id: label(info) for info in every}.get,
                              key=form.widget_key(task, "live_run"))
        live_panel(run_id, user, instructor)
    page_link("pages/training/live_training.py", "Compare runs and see full results on the Training page",
              icon=":material/monitoring:", query_params={"task": task_spec(task).title})
