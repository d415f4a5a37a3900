"""Asking for a tracking job: one per request whoever asks, within each owner's and the server's limits.

The job itself, its folder and what a worker does with it, is ``cvlab.detection.tracking_job``;
this module queues it (``cvlab.jobs.queue``), which the worker side must not import.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import time
from pathlib import Path

from cvlab.data.video import VIDEO_TYPES
from cvlab.detection.tracking_job import (JobState, clean_options, generated_key, job_id_for, job_state, jobs_root,
                                          read_record, state_of, upload_key, write_record)
from cvlab.errors import CvlabError, InvalidInput
from cvlab.jobs.status import RunStatus
from cvlab.settings import Settings, get_settings

# Checked under one lock: each owner may have MAX_ACTIVE_PER_OWNER jobs queued or running, everyone together
# MAX_ACTIVE_JOBS (they share the workers with training runs); the folder keeps the MAX_KEPT_JOBS most recent
# jobs (older ended ones go when a new one starts), so disk stays bounded by that many clips of at most 50 MB.
MAX_ACTIVE_PER_OWNER = 2
MAX_ACTIVE_JOBS = 8
MAX_KEPT_JOBS = 40


class TooManyJobs(CvlabError):
    """This user already has as many tracking jobs waiting or running as one may."""


@contextlib.contextmanager
def _starting(root: Path):
    """One start at a time on this data home: two sessions asking for the same job queue it once."""
    with open(root / ".start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def start_tracking_job(model: str, options: dict, *, owner_id: str, upload: tuple[bytes, str] | None = None,
                       generated: tuple[int, int, int, int] | None = None, frames: int,
                       settings: Settings | None = None) -> JobState:
    """Queue tracking of an uploaded clip (its bytes and file name) or a generated one ((seed, frames, size,
    objects)); the job already asked for when someone asked for the same thing."""
    from cvlab.jobs.queue import submit_tracking
    from cvlab.jobs.worker import ensure_local_worker

    settings = settings or get_settings()
    if not owner_id:
        raise InvalidInput("Log in (or allow this site's cookie) to queue a tracking job.")
    if (upload is None) == (generated is None):
        raise InvalidInput("A tracking job needs one clip: an upload or a generated clip.")
    if upload is not None:
        data, name = upload
        ending = Path(name).suffix.lower().lstrip(".")
        if ending not in VIDEO_TYPES:
            raise InvalidInput(f"{name!r} is not a video file this lab reads.")
        clip_key = upload_key(hashlib.sha256(data).hexdigest(), name)
        clip = {"kind": "upload", "file": f"clip.{ending}"}
    else:
        seed, n, size, objects = (int(v) for v in generated)
        clip_key = generated_key(generated)
        clip = {"kind": "shapes", "seed": seed, "frames": n, "size": size, "objects": objects}
    options = clean_options(options)
    job_id = job_id_for(model, options, clip_key)
    root = jobs_root(settings)
    folder = root / job_id
    with _starting(root):
        record = read_record(folder)
        existing = state_of(job_id, record)
        if record and existing.state in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.FINISHED):
            return existing
        states = {f.name: (state_of(f.name, rec), rec)
                  for f in root.iterdir() if f.is_dir() and (rec := read_record(f))}
        active = [(state, rec) for state, rec in states.values() if state.active]
        mine = sum(rec.get("owner_id") == owner_id for _, rec in active)
        if mine >= MAX_ACTIVE_PER_OWNER:
            raise TooManyJobs(f"You have {mine} tracking jobs waiting or running; the limit is "
                              f"{MAX_ACTIVE_PER_OWNER}. Wait for one to finish.")
        if len(active) >= MAX_ACTIVE_JOBS:
            raise TooManyJobs(f"{len(active)} tracking jobs are waiting or running on this server, the most it "
                              "takes at once. Try again in a few minutes.")
        _prune(root, states)
        folder.mkdir(exist_ok=True)
        if upload is not None:
            (folder / clip["file"]).write_bytes(upload[0])
        attempt = int(record.get("attempt", 0)) + 1
        write_record(folder, {"job_id": job_id, "model": model, "options": options, "clip": clip, "owner_id": owner_id,
                        "state": RunStatus.QUEUED, "done": 0, "total": int(frames), "error": None,
                        "queued_at": time.time(), "attempt": attempt})
        submit_tracking(job_id, settings)
    ensure_local_worker(settings)
    return job_state(job_id, settings)


def _prune(root: Path, states: dict) -> None:
    """Remove the oldest ended jobs beyond MAX_KEPT_JOBS - 1, making room for one more. A job that only looks
    ended (stale, its worker perhaps still writing) is left alone."""
    ended = [root / name for name, (_, rec) in states.items()
             if rec.get("state") in (RunStatus.FINISHED, RunStatus.FAILED)]
    ended.sort(key=lambda f: f.stat().st_mtime)
    for folder in ended[:max(0, len(states) - (MAX_KEPT_JOBS - 1))]:
        shutil.rmtree(folder, ignore_errors=True)


