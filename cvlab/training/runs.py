"""The run store: one folder per training run, readable by the app and written by one worker.

A run folder holds
- ``run.json``: config, owner, status, versions, timestamps (replaced atomically);
- ``metrics.jsonl``: one JSON object per line, appended and flushed as training goes
  (``kind`` is "step", "epoch" or "event"; events are the markers on the curves);
- ``control.json``: what the app asks of the worker (pause, stop, a new learning rate), for
  the attempt the run is on: a request made before a worker picks the run up is kept and
  applied when it starts, one made to an earlier attempt is void;
- ``heartbeat``: touched by the worker every few seconds, so a run whose worker died
  shows as interrupted instead of running for ever;
- ``checkpoints/epoch_NNN.safetensors`` (the newest and the best), ``checkpoints/paused.safetensors``
  while a run paused mid-epoch waits with its device given back, and at the end
  ``model.safetensors`` and ``eval.json``.

Steps that read, decide and write (a pause before the start, a worker giving a paused
run's device back, a resume) hold the run's lock (``locked``), so the app and a worker
never both act on what they read a moment ago.

Only files, so the same store works for a worker on this machine and for workers on
other machines that mount the same folder (``CVLAB_RUNS_DIR``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

from cvlab.jobs.status import RunStatus
from cvlab.server.access import account_id
from cvlab.data.in_place import write_atomically
from cvlab.errors import CvlabError, InvalidInput
from cvlab.settings import Settings, get_settings
from cvlab.training.config import TrainConfig
from cvlab.training.metrics_log import MetricsWriter, read_metrics, truncate_metrics_after  # noqa: F401 (run files)

HEARTBEAT_EVERY_S = 3.0
HEARTBEAT_STALE_S = 30.0  # a worker silent this long is gone: its run is interrupted
ACTIVE, ENDED = RunStatus.ACTIVE, RunStatus.ENDED  # the run store's names for the two groups


class RunNotFound(CvlabError, LookupError):
    """No run folder by that id."""


class NotAllowed(CvlabError, PermissionError):
    """The user may watch this run but not change it."""


@dataclass(frozen=True)
class RunInfo:
    """What the app shows about a run: its run.json, with the status corrected for dead workers."""

    run_id: str
    run_dir: Path
    config: TrainConfig
    owner: str
    status: str
    created: float
    reason: str  # why it failed or stopped, or what was noted about its data and weights
    epochs_done: int
    record: dict  # the whole run.json
    unreadable: str = ""  # why the record cannot be used (its settings refused after an upgrade...); "" when fine
    owner_id: str = ""  # who may change it: "browser:<id>", "login:<issuer>|<subject>", "os:<account>"; "" if old


def _atomic_write(path: Path, data: dict) -> None:
    write_atomically(path, json.dumps(data, indent=1, default=str))


def _read_json(path: Path, default: Any = None) -> Any:
    """A JSON object from ``path``; ``default`` when it is absent, not JSON, or JSON but not an object."""
    try:
        value = json.loads(path.read_text())
    except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError):  # absent, or left bad by a crash
        return default
    return value if isinstance(value, dict) else default


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:32] or "anon"


# A run id is a folder name the store made: a letter or digit first, so "." and ".." (and hidden names) never pass.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
EXERCISE_TAG = re.compile(r"|[a-z0-9][a-z0-9-]{0,39}")  # "" for a run that answers no lab exercise


def child_path(parent: Path, name: str, what: str = "name") -> Path:
    """``parent / name`` for a name that came from a user, refused unless it resolves to a direct child of
    ``parent`` (no "..", no separators, no link leading elsewhere)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise InvalidInput(f"{name!r} is not a valid {what}.")
    path = Path(parent) / name
    if path.resolve().parent != Path(parent).resolve():
        raise InvalidInput(f"{name!r} is not a valid {what}: it leads outside {Path(parent).name}/.")
    return path


class RunStore:
    def __init__(self, root: Path | None = None, settings: Settings | None = None):
        self.root = Path(root or (settings or get_settings()).runs_dir)

    # ---- creating and reading ----
    def create(self, config: TrainConfig, owner: str, owner_id: str | None = None, exercise: str = "") -> Path:
        """``owner`` is the name shown; ``owner_id`` who may change the run (default: this process's OS account);
        ``exercise`` the lab exercise the run answers (a cvlab.board tag), so the class board can group it."""
        if not EXERCISE_TAG.fullmatch(exercise):
            raise InvalidInput(f"{exercise[:40]!r} is not an exercise tag (see python -m cvlab board --list).")
        self.root.mkdir(parents=True, exist_ok=True)
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(owner)}-{secrets.token_hex(2)}"
        run_dir = self.root / run_id
        (run_dir / "checkpoints").mkdir(parents=True)
        _atomic_write(run_dir / "run.json", {
            "run_id": run_id, "config": config.to_dict(), "owner": owner, "owner_id": owner_id or account_id(),
            "status": RunStatus.QUEUED,
            "created": time.time(), "reason": "", "epochs_done": 0, "versions": _versions(),
            **({"exercise": exercise} if exercise else {}),
        })
        (run_dir / "metrics.jsonl").touch()
        return run_dir

    def run_dir(self, run_id: str) -> Path:
        """The folder of ``run_id``, strictly inside the runs folder (ids like ".." or a linked folder are refused)."""
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
            raise InvalidInput(f"{str(run_id)[:80]!r} is not a run id: run ids are letters, digits, '_', '.' and '-', "
                               "starting with a letter or digit (see python -m cvlab runs list).")
        path = child_path(self.root, run_id, "run id")
        if not (path / "run.json").is_file():
            raise RunNotFound(f"No run {run_id!r} in {self.root}.")
        return path

    def info(self, run_id: str) -> RunInfo:
        return read_info(self.run_dir(run_id))

    def list(self) -> list[RunInfo]:
        """Every run, newest first."""
        if not self.root.is_dir():
            return []
        infos = [read_info(p.parent) for p in self.root.glob("*/run.json")
                 if RUN_ID.fullmatch(p.parent.name) and not p.parent.is_symlink()]
        return sorted(infos, key=lambda info: info.created, reverse=True)

    def delete(self, run_id: str, user: str, instructor: bool = False) -> None:
        info = self.info(run_id)
        check_may_change(info, user, instructor)
        if info.status in ACTIVE:
            raise InvalidInput(f"Run {run_id} is {info.status}; stop it before deleting it.")
        shutil.rmtree(child_path(self.root, info.run_dir.name, "run id"))  # checked again right before removing

    # ---- the app's requests to the worker ----
    def request(self, run_id: str, user: str, instructor: bool = False, **changes: Any) -> dict:
        """Ask the worker to pause, resume, stop or change the learning rate; returns the control state.

        The request belongs to the run's current attempt, so one made before a worker picks the
        run up waits in control.json and applies when the run starts. A run no worker holds
        (queued, or paused with its device given back) changes at once: a pause keeps it
        waiting paused until Resume, a stop ends it."""
        info = self.info(run_id)
        check_may_change(info, user, instructor)
        if "lr" in changes and not (0 < float(changes["lr"]) <= 10):
            raise InvalidInput("The new learning rate must be above 0 and at most 10.")
        with locked(info.run_dir):
            info = read_info(info.run_dir)  # as it is now, not as it was before the lock
            path = info.run_dir / "control.json"
            control = _read_json(path, {}) or {}
            control.update(changes)
            control["seq"] = int(control.get("seq", 0)) + 1
            control["attempt"] = info.record.get("attempt")
            if "lr" in changes:
                control["lr_seq"] = control["seq"]  # so the worker applies each new rate once
            control["by"] = info.owner if user == info.owner_id else "the instructor"  # a name to show, never an id
            _atomic_write(path, control)
            queued = info.status == RunStatus.QUEUED
            released = info.status == RunStatus.PAUSED and info.record.get("released")
            if changes.get("stop") and (queued or released):  # no worker holds it: nothing to wait for
                set_status(info.run_dir, RunStatus.STOPPED, reason=f"stopped by {control['by']} "
                           + ("before it started" if queued else "while paused"))
            elif changes.get("pause") and queued:
                update_record(info.run_dir, status=RunStatus.PAUSED, released=True, paused_at=time.time(),
                              reason=f"paused by {control['by']} before it started; Resume puts it back in the queue")
        return control


def read_info(run_dir: Path) -> RunInfo:
    """What run.json says, never raising for a bad record: one that is not JSON, or whose settings this version
    refuses (an upgrade tightened a limit), is shown as "unreadable" with the reason (or as "failed" once a worker
    refused it), with the settings it had where they can be read, so it can still be watched and deleted."""
    try:
        record = json.loads((run_dir / "run.json").read_text())
        if not isinstance(record, dict):
            raise ValueError("it is not a JSON object")
    except (OSError, ValueError) as err:
        return _unreadable(run_dir, {}, f"run.json cannot be read ({err})")
    try:
        return _parsed_info(run_dir, record)
    except (CvlabError, ValueError, TypeError, AttributeError) as err:
        return _unreadable(run_dir, record, f"its settings are refused by this version of CV Lab: {err}")


def _unreadable(run_dir: Path, record: dict, why: str) -> RunInfo:
    plain = {key: value for key, value in record.items() if isinstance(value, (str, int, float, bool))}
    for key, kind in (("created", float), ("epochs_done", int)):
        try:
            plain[key] = kind(record.get(key, 0))
        except (TypeError, ValueError):
            plain[key] = 0
    info = _parsed_info(run_dir, {**plain, "config": {}})
    failed = record.get("status") == RunStatus.FAILED  # a worker refused it already and said why
    return replace(info, config=TrainConfig.lenient(record.get("config")),
                   status=RunStatus.FAILED if failed else RunStatus.UNREADABLE,
                   reason=info.reason if failed and info.reason else why, record=record, unreadable=why)


def _parsed_info(run_dir: Path, record: dict) -> RunInfo:
    status = record.get("status", RunStatus.FAILED)
    held = status == RunStatus.RUNNING or (status == RunStatus.PAUSED and not record.get("released"))
    if held and heartbeat_age(run_dir) > HEARTBEAT_STALE_S:
        status = RunStatus.INTERRUPTED
    return RunInfo(
        run_id=record.get("run_id", run_dir.name), run_dir=run_dir,
        config=TrainConfig.from_dict(record.get("config", {})), owner=record.get("owner", ""),
        status=status, created=float(record.get("created", 0)), reason=record.get("reason", ""),
        epochs_done=int(record.get("epochs_done", 0)), record=record, owner_id=str(record.get("owner_id", "")),
    )


_HELD = threading.local()  # the run folders this thread holds the lock of


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold the run's lock (``flock`` on ``.lock`` in its folder, so across threads, processes and the
    machines that share the folder where the file system supports it); re-entrant within a thread."""
    held = getattr(_HELD, "paths", None)
    if held is None:
        held = _HELD.paths = set()
    key = str(Path(run_dir).resolve())
    if key in held:
        yield
        return
    with open(Path(run_dir) / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)


def update_record(run_dir: Path, **fields: Any) -> dict:
    """Change fields of run.json (the app and the worker both write it: under the run's lock)."""
    with locked(run_dir):
        record = _read_json(run_dir / "run.json", {}) or {}
        record.update(fields)
        _atomic_write(run_dir / "run.json", record)
        return record


def set_status(run_dir: Path, status: str, reason: str | None = None) -> None:
    fields: dict[str, Any] = {"status": status, f"{status}_at": time.time()}
    if reason is not None:
        fields["reason"] = reason
    update_record(run_dir, **fields)


EVAL_FILE = "eval.json"  # a run's final evaluation, written once it finished or was stopped


def read_final_scores(run_dir: Path) -> dict | None:
    """The run's final evaluation as its trainer wrote it (``{"task": ..., "classes": [...], scores...}``);
    None while the run has none yet (still training, or failed before its end)."""
    return _read_json(Path(run_dir) / EVAL_FILE)


def has_final_scores(run_dir: Path) -> bool:
    return (Path(run_dir) / EVAL_FILE).is_file()


def read_control(run_dir: Path) -> dict:
    return _read_json(run_dir / "control.json", {}) or {}


def touch_heartbeat(run_dir: Path) -> None:
    (run_dir / "heartbeat").write_text(f"{socket.gethostname()} {os.getpid()} {time.time()}")


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_age(run_dir: Path) -> float:
    try:
        return time.time() - (run_dir / "heartbeat").stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def may_change(info: RunInfo, user: str, instructor: bool) -> bool:
    """``user`` is the asker's id, never a typed name; a run from before ids were recorded is the instructor's."""
    return instructor or (bool(user) and bool(info.owner_id) and user == info.owner_id)


def check_may_change(info: RunInfo, user: str, instructor: bool) -> None:
    if may_change(info, user, instructor):
        return
    if not info.owner_id:
        raise NotAllowed(f"Run {info.run_id} was started before runs recorded who started them; anyone may watch "
                         "it, but only the instructor may pause, stop, change or delete it.")
    raise NotAllowed(
        f"Run {info.run_id} belongs to {info.owner or 'nobody'}; anyone may watch it, but only its owner (the "
        "browser or login that started it) or the instructor may pause, stop, change or delete it."
    )


def iter_checkpoints(run_dir: Path) -> Iterator[tuple[int, Path]]:
    """(epoch, path) of the run's epoch checkpoints, oldest first by epoch number (as text, epoch_1000 would
    come before epoch_999)."""
    from cvlab.training.checkpoints import epoch_checkpoints

    yield from epoch_checkpoints(run_dir / "checkpoints")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("torch", "torchvision", "timm", "ultralytics", "segmentation-models-pytorch"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
