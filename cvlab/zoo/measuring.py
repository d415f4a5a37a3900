"""The page's side of a measuring job: put it on the job queue, or hand back the one already queued.

The worker's side, the status file and the plan live in ``cvlab.zoo.measure_job``; this module
is apart from it because it submits to ``cvlab.jobs.queue``, which runs ``measure_job``'s worker
side: kept in one module, the two would import each other.
"""

from __future__ import annotations

import socket
import time

from cvlab.jobs.status import RunStatus
from cvlab.zoo.measure import SUITES
from cvlab.zoo.measure_job import QueuedMeasurement, current_job, job_dir, write_job


def start_measuring(names: list[str] | None = None, suite: str = "classification",
                    input_size: int | None = None) -> QueuedMeasurement:
    """The data home's measuring job: the queued or running one if there is one (of any suite), else a
    new one put on the job queue now (and a local worker started if none is alive)."""
    import fcntl
    import secrets

    from cvlab.jobs.queue import submit_measurement
    from cvlab.jobs.worker import ensure_local_worker

    spec = SUITES.get(suite)
    names = list(spec.names() if names is None else names)
    folder = job_dir()
    with open(folder / ".job.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sessions clicking at once queue one job
        job = current_job()
        if job is not None and job.running:
            return job
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        write_job(folder, {"job_id": job_id, "suite": suite, "input_size": input_size, "total": len(names),
                           "done": 0, "current": "", "state": RunStatus.QUEUED, "error": None, "updated": time.time(),
                           "queued_at": time.time(), "host": socket.gethostname()})
        submit_measurement(job_id, suite, input_size, names)
    ensure_local_worker()
    return QueuedMeasurement(folder, job_id)
