"""The job queue: Huey on SQLite in the data directory, or on Redis for workers on several machines.

The app and every worker build the same Huey instance from ``CVLAB_QUEUE_URL`` and
register the same tasks, so a job submitted anywhere runs on whichever worker takes it.
Three kinds of job share the queue and the workers' device slots:
- ``cvlab.train_run``: a training run. The job carries only a run id and an attempt
  number; the run itself lives in the shared runs folder. Claiming an attempt creates a
  file with O_EXCL, so even a job delivered twice (two Resume clicks, a redelivered
  message) trains once.
- ``cvlab.measure_zoo``: timing a suite of architectures for the Architectures page
  (``cvlab.zoo.measure_job.run_measurement_job``); one device slot, like a run, so a
  measurement never shares its device with training and its timings stay honest. The
  page describes its own machine, so only a worker on the host that asked runs it; a
  worker elsewhere puts it back on the queue, until the job is older than
  ``cvlab.zoo.measure_job.MEASURE_WAIT_LIMIT_S`` (its host is gone, or never ran a worker): then
  it is dropped, and the page shows it failed with that reason.
- ``cvlab.track_clip``: detection with tracking through a clip too long to track in the page
  (``cvlab.detection.tracking_job``); its folder in the data home holds the request and the result.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

from cvlab.jobs.attempts import claim, start_attempt  # noqa: F401  (the queue's names for them)
from cvlab.jobs.status import RunStatus
from cvlab.settings import Settings, get_settings
from cvlab.training import runs

TASK_NAME = "cvlab.train_run"
MEASURE_TASK_NAME = "cvlab.measure_zoo"
TRACK_TASK_NAME = "cvlab.track_clip"
_HUEYS: dict[str, tuple[object, dict[str, object]]] = {}
_LOG = logging.getLogger(__name__)
_LOCK = threading.Lock()


def _queue(settings: Settings | None = None) -> tuple[object, dict[str, object]]:
    """(Huey instance, its tasks by name) for this queue URL; built once per process."""
    settings = settings or get_settings()
    with _LOCK:
        if settings.queue_url not in _HUEYS:
            huey = _make_huey(settings.queue_url)
            tasks = {TASK_NAME: huey.task(name=TASK_NAME)(execute_job),
                     MEASURE_TASK_NAME: huey.task(name=MEASURE_TASK_NAME)(execute_measurement),
                     TRACK_TASK_NAME: huey.task(name=TRACK_TASK_NAME)(execute_tracking)}
            _HUEYS[settings.queue_url] = (huey, tasks)
        return _HUEYS[settings.queue_url]


def huey_and_task(settings: Settings | None = None):
    """(Huey instance, the training task) for this queue URL."""
    huey, tasks = _queue(settings)
    return huey, tasks[TASK_NAME]


def submit_measurement(job_id: str, suite: str, input_size: int | None, names: list[str],
                       settings: Settings | None = None) -> None:
    """Queue the timing of ``names`` of a zoo suite on this host (see cvlab.zoo.measure_job.start_measuring)."""
    _, tasks = _queue(settings)
    tasks[MEASURE_TASK_NAME](job_id, suite, input_size, list(names), socket.gethostname(), time.time())


def submit_tracking(job_id: str, settings: Settings | None = None) -> None:
    """Queue a tracking job whose folder cvlab.detection.tracking_job.start_tracking_job has written."""
    _, tasks = _queue(settings)
    tasks[TRACK_TASK_NAME](job_id)


def execute_tracking(job_id: str) -> None:
    """What a worker runs for a long clip's tracking: a device slot, then the job (progress in its folder)."""
    from cvlab.detection.tracking_job import run_tracking_job
    from cvlab.jobs.device_slots import DEVICE_SLOTS

    with DEVICE_SLOTS.slot("auto") as device:
        run_tracking_job(job_id, device=device)


def _make_huey(url: str):
    from huey import RedisHuey, SqliteHuey

    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("cvlab", filename=str(path), results=False)
    return RedisHuey("cvlab", url=url, results=False)


def submit(run_id: str, settings: Settings | None = None, runs_root: Path | None = None) -> int:
    """Queue (or re-queue, to resume) a run; returns the attempt number. Requests made to its earlier attempts
    are void from now on (control.json names the attempt each was made for)."""
    settings = settings or get_settings()
    run_dir = runs.RunStore(runs_root, settings=settings).run_dir(run_id)
    with runs.locked(run_dir):
        record = runs.update_record(run_dir, status=RunStatus.QUEUED, reason="", released=False, paused_at=None,
                                    attempt=int(
            runs.read_info(run_dir).record.get("attempt", 0)) + 1, queued_at=time.time())
    _, task = huey_and_task(settings)
    task(run_id, record["attempt"])
    return record["attempt"]


def queue_position(run_id: str, settings: Settings | None = None) -> int | None:
    """1 for the next run to start, None when the run is not waiting in the queue (the fair order of
    cvlab.jobs.fair_queue, not the order the jobs were sent)."""
    from cvlab.jobs.fair_queue import position_of

    entry = position_of(run_id, runs.RunStore(settings=settings))
    return entry.position if entry else None


def pending_count(settings: Settings | None = None) -> int:
    huey, _ = huey_and_task(settings)
    return huey.pending_count()


def release(run_dir: Path, seen_seq: int, reason: str) -> str:
    """A worker gives a paused run's device back, its state saved: the run waits "paused" with no worker until
    Resume queues it again. A stop or a resume that arrived while the state was being saved is applied now;
    returns the run's status afterwards ("paused", "stopped" or "queued")."""
    with runs.locked(run_dir):
        control = runs.read_control(run_dir)
        newer = int(control.get("seq", 0)) > seen_seq
        if newer and control.get("stop"):
            runs.set_status(run_dir, RunStatus.STOPPED,
                            reason=f"stopped by {control.get('by') or 'its owner'} while paused")
            return RunStatus.STOPPED
        runs.update_record(run_dir, status=RunStatus.PAUSED, released=True, reason=reason)
        if newer and not control.get("pause"):
            submit(Path(run_dir).name, runs_root=Path(run_dir).parent)
            return RunStatus.QUEUED
        return RunStatus.PAUSED


def execute_job(run_id: str, attempt: int) -> dict | None:
    """What a worker runs for a job: take the next run by the fair order (cvlab.jobs.fair_queue), which need not
    be the job's own run, claim its attempt, take a device slot, train. A job only says a run waits."""
    from cvlab.jobs.device_slots import DEVICE_SLOTS
    from cvlab.training.engine import train_run

    from cvlab.jobs.fair_queue import take_next

    store = runs.RunStore()
    try:
        info = runs.read_info(store.run_dir(run_id))
    except runs.RunNotFound:
        info = None  # deleted while it waited: this job still serves whoever is next
    if info is not None and info.unreadable:  # its settings are refused (after an upgrade): it fails now
        if info.record.get("status") == RunStatus.QUEUED and info.record.get("attempt") == attempt:
            runs.set_status(info.run_dir, RunStatus.FAILED,
                            reason=f"The run could not start: {info.unreadable}. Start a new run.")
        return None
    taken = take_next(store)
    if taken is None:
        return None  # nothing waits: its run was paused, stopped, or taken by an earlier job
    run_dir, attempt = taken
    info = runs.read_info(run_dir)
    with DEVICE_SLOTS.slot(info.config.device) as device:
        if device != info.config.device:
            runs.update_record(run_dir, config={**info.config.to_dict(), "device": device})
        return train_run(run_dir, release=release)


BOUNCE_DELAY_S = 1.0  # a worker on another host waits this long before handing a measurement back


def execute_measurement(job_id: str, suite: str, input_size: int | None, names: list[str], host: str,
                        queued_at: float | None = None) -> None:
    """What a worker runs for a zoo measurement job: take a device slot, then measure (progress in a file)."""
    from cvlab.jobs.device_slots import DEVICE_SLOTS
    from cvlab.zoo.measure_job import MEASURE_WAIT_LIMIT_S, give_up, run_measurement_job

    if host != socket.gethostname():  # the job times the asking host's device: back on the queue for its worker
        queued_at = time.time() if queued_at is None else queued_at  # a job queued before jobs carried their age
        if time.time() - queued_at > MEASURE_WAIT_LIMIT_S:
            _LOG.warning("dropping zoo measurement %s: no worker on %s took it within %.0f minutes",
                         job_id, host, MEASURE_WAIT_LIMIT_S / 60)
            give_up(job_id, f"no worker on {host} started it within {MEASURE_WAIT_LIMIT_S / 60:.0f} minutes")
            return
        time.sleep(BOUNCE_DELAY_S)
        _, tasks = _queue()
        tasks[MEASURE_TASK_NAME](job_id, suite, input_size, list(names), host, queued_at)
        return
    with DEVICE_SLOTS.slot("auto") as device:
        run_measurement_job(job_id, suite, input_size, names, device)
