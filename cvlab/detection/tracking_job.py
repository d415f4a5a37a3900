"""Tracking a long clip on the job queue, followed through files, like a training run.

A job's folder is ``data_home/tracking/<job id>/``, and its id is a hash of what it computes
(the model, the settings and the clip's bytes or generator settings), so two people asking
for the same thing share one job and its result, and nobody can name or change another's
job: there is nothing in it but the deterministic output of its inputs.

- ``job.json``: the request, the state (queued, running, finished, failed), frames done and
  in all, the error in words; rewritten atomically as frames complete.
- ``clip.<ending>``: an upload's bytes, already checked by ``cvlab.data.video``; the worker
  decodes them again under the same limits.
- ``result.json``, ``annotated.webm``: written when the job finishes.

Each start is an attempt: the job file names it, a worker claims it by creating
``attempt-N.claim`` with O_EXCL (of two deliveries, one tracks), and writes only while the job
file still names its attempt, beating every ``HEARTBEAT_S``. A running job silent for
``JOB_STALE_S``, or one no worker took within ``QUEUED_LIMIT_S``, shows as failed and can be
started again (a new attempt).

Limits, checked under one lock: each owner may have ``MAX_ACTIVE_PER_OWNER`` jobs queued or
running, everyone together ``MAX_ACTIVE_JOBS``; the folder keeps the ``MAX_KEPT_JOBS`` most
recent jobs (older ended ones are removed when a new one starts), so disk stays bounded by
about that many clips of at most 50 MB.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cvlab.data.in_place import write_atomically
from cvlab.data.video import VIDEO_TYPES, decode_video
from cvlab.errors import CvlabError, InvalidInput
from cvlab.jobs.status import RunStatus
from cvlab.settings import Settings, get_settings

MAX_ACTIVE_PER_OWNER = 2
MAX_ACTIVE_JOBS = 8  # for everyone: they share the workers with training runs
MAX_KEPT_JOBS = 40
HEARTBEAT_S = 10.0
JOB_STALE_S = 90.0  # a running job silent this long died with its worker
QUEUED_LIMIT_S = 30 * 60.0  # a job no worker took in this long is given up (its worker died holding it)
OPTION_KEYS = ("tracker", "conf", "iou", "imgsz")


class TooManyJobs(CvlabError):
    """This user already has as many tracking jobs waiting or running as one may."""


@dataclass(frozen=True)
class JobState:
    job_id: str
    state: str
    done: int
    total: int
    error: str | None

    @property
    def active(self) -> bool:
        return self.state in (RunStatus.QUEUED, RunStatus.RUNNING)


def jobs_root(settings: Settings | None = None) -> Path:
    root = (settings or get_settings()).data_home / "tracking"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _clean_options(options: dict) -> dict:
    """Only the known settings, as plain numbers and names (the request is written to disk and read back)."""
    from cvlab.detection.tracking import tracker_file

    tracker = str(options.get("tracker", "bytetrack"))
    tracker_file(tracker)  # refuses an unknown tracker now, not on the worker
    imgsz = options.get("imgsz")
    return {"tracker": tracker, "conf": float(options.get("conf", 0.25)), "iou": float(options.get("iou", 0.7)),
            "imgsz": None if imgsz is None else int(imgsz)}


def upload_key(digest: str, name: str) -> str:
    """What names an uploaded clip in a job's id: its bytes' SHA-256 and its container's ending."""
    return f"upload:{digest}:{Path(name).suffix.lower().lstrip('.')}"


def generated_key(generated: tuple[int, int, int, int]) -> str:
    return "shapes:" + ":".join(str(int(v)) for v in generated)


def job_id_for(model: str, options: dict, clip_key: str) -> str:
    request = json.dumps({"model": model, "options": _clean_options(options), "clip": clip_key}, sort_keys=True)
    return hashlib.sha256(request.encode()).hexdigest()[:20]


def _read(folder: Path) -> dict:
    try:
        record = json.loads((folder / "job.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write(folder: Path, record: dict) -> None:
    write_atomically(folder / "job.json", json.dumps({**record, "updated": time.time()}))


def _state_of(job_id: str, record: dict) -> JobState:
    state = record.get("state", RunStatus.FAILED)
    error = record.get("error") if record else "no such tracking job"
    if state == RunStatus.RUNNING and time.time() - float(record.get("updated", 0)) > JOB_STALE_S:
        state, error = RunStatus.FAILED, "the worker tracking this clip stopped answering; start it again"
    if state == RunStatus.QUEUED and time.time() - float(record.get("queued_at", 0)) > QUEUED_LIMIT_S:
        state, error = RunStatus.FAILED, (f"no worker took the job within {QUEUED_LIMIT_S / 60:.0f} minutes; "
                                          "start it again")
    return JobState(job_id, state, int(record.get("done", 0)), int(record.get("total", 0)), error)


def job_state(job_id: str, settings: Settings | None = None) -> JobState:
    return _state_of(job_id, _read(jobs_root(settings) / job_id))


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
    options = _clean_options(options)
    job_id = job_id_for(model, options, clip_key)
    root = jobs_root(settings)
    folder = root / job_id
    with _starting(root):
        record = _read(folder)
        existing = _state_of(job_id, record)
        if record and existing.state in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.FINISHED):
            return existing
        states = {f.name: (_state_of(f.name, rec), rec) for f in root.iterdir() if f.is_dir() and (rec := _read(f))}
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
        _write(folder, {"job_id": job_id, "model": model, "options": options, "clip": clip, "owner_id": owner_id,
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


def _claim(folder: Path, attempt: int) -> bool:
    try:
        os.close(os.open(folder / f"attempt-{attempt}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


class _Attempt:
    """A worker's hold on one attempt: its writes land only while the job file still names that attempt,
    and a heartbeat keeps the job from looking dead while a long step (decoding, encoding) runs."""

    def __init__(self, folder: Path, record: dict):
        self.folder, self.record, self.attempt = folder, dict(record), int(record.get("attempt", 1))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)

    def write(self, **changes) -> bool:
        with self._lock:
            current = _read(self.folder)
            if int(current.get("attempt", 1)) != self.attempt:
                return False  # started again by someone: this attempt's output is no longer wanted
            self.record.update(changes)
            _write(self.folder, self.record)
            return True

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(OSError):
                self.write()

    def __enter__(self):
        self._beat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._beat.join()


def run_tracking_job(job_id: str, settings: Settings | None = None, device: str | None = None) -> None:
    """What a worker does for a tracking job: decode, track frame by frame (progress on disk), annotate, score."""
    from cvlab.data.shapes_clip import shapes_clip
    from cvlab.data.video import encode_webm
    from cvlab.detection.mot import score_shapes_clip
    from cvlab.detection.tracking import result_to_dict, track_clip
    from cvlab.viz.tracking import annotated_frames

    settings = settings or get_settings()
    folder = jobs_root(settings) / job_id
    record = _read(folder)
    if record.get("state") != RunStatus.QUEUED or not _claim(folder, int(record.get("attempt", 1))):
        return  # taken already (a message delivered twice), started again, or gone
    with _Attempt(folder, record) as attempt:
        if not attempt.write(state=RunStatus.RUNNING):
            return
        try:
            request = record["clip"]
            truth = None
            if request["kind"] == "upload":
                name = str(request["file"])
                clip = decode_video((folder / Path(name).name).read_bytes(), name)
            else:
                truth = shapes_clip(int(request["seed"]), int(request["frames"]), int(request["size"]),
                                    int(request["objects"]))
                clip = truth.clip
            done = {"n": 0}

            def progress(_frame) -> None:
                done["n"] += 1
                if done["n"] % 5 == 0:
                    attempt.write(done=done["n"], total=clip.n_frames)

            options = _clean_options(record.get("options", {}))
            result = track_clip(str(record["model"]), clip.frames, fps=clip.fps, settings=settings, device=device,
                                progress=progress, **options)
            (folder / "annotated.webm").write_bytes(encode_webm(annotated_frames(clip.frames, result), clip.fps))
            score = score_shapes_clip(truth, result) if truth is not None else None
            payload = {"result": result_to_dict(result), "score": None if score is None else score.__dict__}
            write_atomically(folder / "result.json", json.dumps(payload))
            attempt.write(state=RunStatus.FINISHED, done=clip.n_frames, total=clip.n_frames)
        except Exception as err:  # noqa: BLE001 - whatever ends the job is told to its page, in words
            message = str(err) if isinstance(err, CvlabError) else f"{type(err).__name__}: {err}"
            with contextlib.suppress(OSError):  # the folder may be gone (pruned as stale): nobody is waiting
                attempt.write(state=RunStatus.FAILED, error=message)


def job_result(job_id: str, settings: Settings | None = None):
    """(TrackingResult, annotated WebM bytes, MotScore or None) of a finished job."""
    from cvlab.detection.mot import MotScore
    from cvlab.detection.tracking import result_from_dict

    folder = jobs_root(settings) / job_id
    try:
        payload = json.loads((folder / "result.json").read_text())
    except (FileNotFoundError, ValueError):
        raise InvalidInput("This tracking job's result is gone (removed to make room for newer jobs): start it "
                           "again.") from None
    score = payload.get("score")
    return (result_from_dict(payload["result"]), (folder / "annotated.webm").read_bytes(),
            None if score is None else MotScore(**{k: type(v)(score[k]) for k, v in _SCORE_TYPES.items()}))


_SCORE_TYPES = {"frames": 0, "objects": 0, "matches": 0, "misses": 0, "false_positives": 0, "id_switches": 0,
                "motp": 0.0, "tracks": 0, "true_tracks": 0}
