"""Tracking a long clip on the job queue, followed through files, like a training run: the job's folder and
what a worker does with it. Asking for a job (its limits, queueing it) is ``cvlab.detection.tracking_requests``.

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

How many jobs one owner and everyone may have, and how many folders are kept, is
``cvlab.detection.tracking_requests``'s to check when a job is asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cvlab.data.in_place import write_atomically
from cvlab.data.video import decode_video
from cvlab.errors import CvlabError, InvalidInput
from cvlab.jobs.status import RunStatus
from cvlab.settings import Settings, get_settings

HEARTBEAT_S = 10.0
JOB_STALE_S = 90.0  # a running job silent this long died with its worker
QUEUED_LIMIT_S = 30 * 60.0  # a job no worker took in this long is given up (its worker died holding it)
OPTION_KEYS = ("tracker", "conf", "iou", "imgsz")


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


def clean_options(options: dict) -> dict:
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
    request = json.dumps({"model": model, "options": clean_options(options), "clip": clip_key}, sort_keys=True)
    return hashlib.sha256(request.encode()).hexdigest()[:20]


def read_record(folder: Path) -> dict:
    try:
        record = json.loads((folder / "job.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def write_record(folder: Path, record: dict) -> None:
    write_atomically(folder / "job.json", json.dumps({**record, "updated": time.time()}))


def state_of(job_id: str, record: dict) -> JobState:
    state = record.get("state", RunStatus.FAILED)
    error = record.get("error") if record else "no such tracking job"
    if state == RunStatus.RUNNING and time.time() - float(record.get("updated", 0)) > JOB_STALE_S:
        state, error = RunStatus.FAILED, "the worker tracking this clip stopped answering; start it again"
    if state == RunStatus.QUEUED and time.time() - float(record.get("queued_at", 0)) > QUEUED_LIMIT_S:
        state, error = RunStatus.FAILED, (f"no worker took the job within {QUEUED_LIMIT_S / 60:.0f} minutes; "
                                          "start it again")
    return JobState(job_id, state, int(record.get("done", 0)), int(record.get("total", 0)), error)


def job_state(job_id: str, settings: Settings | None = None) -> JobState:
    return state_of(job_id, read_record(jobs_root(settings) / job_id))




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
            current = read_record(self.folder)
            if int(current.get("attempt", 1)) != self.attempt:
                return False  # started again by someone: this attempt's output is no longer wanted
            self.record.update(changes)
            write_record(self.folder, self.record)
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
    record = read_record(folder)
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

            options = clean_options(record.get("options", {}))
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
