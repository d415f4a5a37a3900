"""Submitting, resuming and listing runs: what the page and the CLI both call."""

from __future__ import annotations

from cvlab.errors import InvalidInput
from cvlab.jobs.status import RunStatus
from cvlab.server.access import account_id
from cvlab.settings import Settings, get_settings
from cvlab.training import runs
from cvlab.training.config import TrainConfig
from cvlab.training.tasks import task_spec


def check_can_start(config: TrainConfig, settings: Settings | None = None) -> TrainConfig:
    """What every new run passes before its folder exists, queued or trained in this process: valid settings,
    data that is there and of a kind its task reads, and no more memory than its device has (or than
    CVLAB_RUN_MEMORY_MB allows). Returns the validated config; refusals say what to change."""
    from cvlab.training.memory import check_fits

    config = config.validated().check_data()
    check_fits(config, settings or get_settings())
    return config


def start(config: TrainConfig, owner: str, settings: Settings | None = None, *, owner_id: str | None = None,
          exercise: str = "") -> dict:
    """Create a run folder and queue it; makes sure a local worker is alive to take it. The Training page, the
    task pages and ``python -m cvlab train --queue`` all start runs here.

    ``owner`` is the name shown beside the run; ``owner_id`` is who may change it (the app passes
    its browser or login id; the default is this process's OS account); ``exercise`` is the lab
    exercise the run belongs to (a cvlab.board tag), for the class board. A run that fails
    ``check_can_start``, or would pass its owner's waiting runs or disk share, is refused here, in
    words, before anything is queued.
    """
    from cvlab.jobs.queue import queue_position, submit
    from cvlab.jobs.worker import ensure_local_worker

    settings = settings or get_settings()
    if exercise:
        from cvlab.board import LAB_EXERCISES

        LAB_EXERCISES.get(exercise)  # an unknown tag lists the known ones
    if not owner.strip():
        raise InvalidInput("Give your name first: runs are listed by owner, and only you may change yours.")
    config = check_can_start(config, settings)
    from cvlab.jobs.fair_queue import check_waiting_cap

    store = runs.RunStore(settings=settings)
    owner_id = owner_id or account_id()
    check_waiting_cap(owner_id, store, settings)
    from cvlab.training.run_disk import check_run_disk

    check_run_disk(owner_id, store, settings)
    run_dir = store.create(config, owner.strip(), owner_id, exercise)
    submit(run_dir.name, settings)
    _, worker_note = ensure_local_worker(settings)
    return {"run_id": run_dir.name, "run_dir": str(run_dir), "status": RunStatus.QUEUED,
            "queue_position": queue_position(run_dir.name, settings), "worker": worker_note}


def resume(store: runs.RunStore, run_id: str, user: str, instructor: bool = False) -> dict:
    """Go on with a run: a paused one its worker still holds continues at once; one that gave its device back
    (paused too long, or paused before it started), or was interrupted, stopped or failed, is queued again and
    continues from where it was."""
    from cvlab.jobs.queue import queue_position, submit
    from cvlab.jobs.worker import ensure_local_worker

    info = store.info(run_id)
    runs.check_may_change(info, user, instructor)
    if info.unreadable:
        raise InvalidInput(f"Run {run_id} cannot be resumed: {info.unreadable}. Start a new run instead.")
    with runs.locked(info.run_dir):  # a worker giving the device back decides under the same lock
        info = runs.read_info(info.run_dir)
        if info.status == RunStatus.PAUSED and not info.record.get("released"):
            return store.request(run_id, user, instructor, pause=False)
        _check_resumable(info)
        from cvlab.jobs.fair_queue import check_waiting_cap

        if not instructor:
            check_waiting_cap(info.owner_id, store)
        submit(run_id, runs_root=store.root)
    _, worker_note = ensure_local_worker()
    return {"run_id": run_id, "status": RunStatus.QUEUED, "queue_position": queue_position(run_id),
            "worker": worker_note}


def _check_resumable(info: runs.RunInfo) -> None:
    if info.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        raise InvalidInput(f"Run {info.run_id} is {info.status} already.")
    if info.status == RunStatus.FINISHED:
        raise InvalidInput(f"Run {info.run_id} finished all its epochs; start a new run to train longer.")
    budget, used = get_settings().run_budget_s, float(info.record.get("seconds_used", 0) or 0)
    if used >= budget:
        raise InvalidInput(f"Run {info.run_id} has trained for {used / 60:.0f} min, the most one run may train on "
                           f"this server ({budget / 60:.0f} min, CVLAB_RUN_BUDGET_S); its results are kept. Start "
                           "a new run to train more.")
    if not task_spec(info.config.task).resumes_after_stop and info.status == RunStatus.STOPPED:
        from cvlab.detection.resume import finished_epochs, weights_dir

        last = weights_dir(info.run_dir) / "last.pt"
        if last.is_file() and finished_epochs(last) == 0:
            raise InvalidInput(f"Run {info.run_id} was stopped, and ultralytics closes a stopped detection run for "
                               f"good, so it cannot go on. Start a new run; its detector is listed as "
                               f"trained-{info.run_id} on the Detection page.")
