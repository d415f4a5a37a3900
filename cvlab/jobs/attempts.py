"""A worker taking one attempt of a run: claimed once, whatever the queue delivers twice.

Claiming creates ``attempt-N.claim`` in the run folder with O_EXCL, so of two workers (or
one job delivered twice) exactly one wins; ``start_attempt`` then marks the run running
if it is still queued for that attempt. The job queue and its fair order both use these,
so they live apart from either.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cvlab.jobs.status import RunStatus
from cvlab.training import runs


def claim(run_dir: Path, attempt: int) -> bool:
    try:
        fd = os.open(run_dir / f"attempt-{attempt}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, runs.worker_identity().encode())
    os.close(fd)
    return True


def start_attempt(run_dir: Path, attempt: int) -> bool:
    """A worker takes the run: True when it is still queued for ``attempt`` (it is then "running"), False when it
    was paused, stopped or queued again meanwhile."""
    with runs.locked(run_dir):
        record = runs.read_info(run_dir).record
        if record.get("status") != RunStatus.QUEUED or record.get("attempt") != attempt:
            return False
        runs.update_record(run_dir, status=RunStatus.RUNNING, started=time.time(), reason="", released=False,
                           worker=runs.worker_identity())
        return True
