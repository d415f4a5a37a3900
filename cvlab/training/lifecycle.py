"""Submitting, resuming and listing runs: what the page and the CLI both call."""

from __future__ import annotations

from cvlab.errors import InvalidInput
from cvlab.settings import Settings, get_settings
from cvlab.training import runs
from cvlab.training.config import TrainConfig


def start(config: TrainConfig, owner: str, settings: Settings | None = None, *, owner_id: str | None = None) -> dict:
    """Create a run folder and queue it; makes sure a local worker is alive to take it.

    ``owner`` is the name shown beside the run; ``owner_id`` is who may change it (the app passes
    its browser or login id; the default is this process's OS account).
    """
    from cvlab.training.queue import queue_position, submit
    from cvlab.training.worker import ensure_local_worker

    settings = settings or get_settings()
    if not owner.strip():
        raise InvalidInput("Give your name first: runs are listed by owner, and only you may change yours.")
    run_dir = runs.RunStore(settings=settings).create(config.validated(), owner.strip(), owner_id)
    submit(run_dir.name, settings)
    _, worker_note = ensure_local_worker(settings)
    return {"run_id": run_dir.name, "run_dir": str(run_dir), "queue_position": queue_position(run_dir.name, settings),
            "worker": worker_note}


def resume(store: runs.RunStore, run_id: str, user: str, instructor: bool = False) -> dict:
    """Queue an interrupted, stopped or failed run again; it continues from its newest checkpoint."""
    from cvlab.training.queue import queue_position, submit
    from cvlab.training.worker import ensure_local_worker

    info = store.info(run_id)
    if info.unreadable:
        raise InvalidInput(f"Run {run_id} cannot be resumed: {info.unreadable}. Start a new run instead.")
    if info.status == "paused":
        return store.request(run_id, user, instructor, pause=False)
    runs.check_may_change(info, user, instructor)
    if info.status in ("queued", "running"):
        raise InvalidInput(f"Run {run_id} is {info.status} already.")
    if info.status == "finished":
        raise InvalidInput(f"Run {run_id} finished all its epochs; start a new run to train longer.")
    submit(run_id)
    _, worker_note = ensure_local_worker()
    return {"run_id": run_id, "status": "queued", "queue_position": queue_position(run_id), "worker": worker_note}
