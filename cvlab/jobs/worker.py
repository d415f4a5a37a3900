"""``python -m cvlab worker``: a Huey consumer for training jobs, and the app's "is one alive?" check.

Each worker keeps a small file in ``<data home>/workers/`` fresh while it lives. The
app looks there: when no local worker is alive and the queue is the embedded SQLite
one, it starts ``python -m cvlab worker`` in the background, so starting the app is all
a user does. With a Redis queue the app starts a local worker too (unless
``CVLAB_START_WORKER=never``), and workers on other machines join the same queue.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cvlab.data.in_place import write_atomically
from cvlab.settings import Settings, get_settings

REFRESH_S = 5.0
STALE_S = 20.0  # a worker file this old belongs to a dead worker
START_GRACE_S = 60.0  # a just-started worker gets this long to write its own file (importing torch takes a while)
TIDY_EVERY_S = 3600.0  # how often a worker removes runs past CVLAB_RUN_KEEP_DAYS


@dataclass(frozen=True)
class WorkerInfo:
    host: str
    pid: int
    threads: int
    queue: str
    started: float


def _folder(settings: Settings) -> Path:
    folder = settings.data_home / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a dead worker started by this very process lingers as a zombie until reaped
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def live_local_workers(settings: Settings | None = None) -> list[WorkerInfo]:
    settings = settings or get_settings()
    alive = []
    for path in _folder(settings).glob("*.json"):
        try:
            record = json.loads(path.read_text())
            age = time.time() - path.stat().st_mtime
        except (OSError, ValueError):
            continue  # being written, or gone
        try:
            info = WorkerInfo(str(record["host"]), int(record["pid"]), int(record.get("threads", 0)),
                              str(record.get("queue", "")), float(record.get("started", 0)))
        except (AttributeError, KeyError, TypeError, ValueError):  # not a worker's record: never let it stop the app
            path.unlink(missing_ok=True)
            continue
        limit = START_GRACE_S if record.get("starting") else STALE_S
        alive_here = info.pid > 0 and _pid_alive(info.pid)
        if info.host == socket.gethostname() and alive_here and age < limit:
            alive.append(info)
        elif age > limit or not alive_here:
            path.unlink(missing_ok=True)
    return alive


def ensure_local_worker(settings: Settings | None = None) -> tuple[bool, str]:
    """Start a local worker unless one is alive; returns (started now, what happened, in words)."""
    settings = settings or get_settings()
    folder = _folder(settings)
    with open(folder / ".start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sessions opening the page at once start one worker, not two
        alive = live_local_workers(settings)
        if alive:
            return False, f"{len(alive)} local worker(s) alive"
        if not settings.start_worker:
            return False, "no local worker (CVLAB_START_WORKER=never): jobs wait for workers on other machines"
        log = settings.data_home / "logs"
        log.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)  # the worker imports cvlab from the same place this process does
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                          env.get("PYTHONPATH")]))
        with open(log / "worker.log", "ab") as out:
            child = subprocess.Popen([sys.executable, "-m", "cvlab", "worker"], stdout=out, stderr=out, env=env,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=settings.data_home)
        _write_record(folder / f"{socket.gethostname()}-{child.pid}.json", child.pid, 0, settings, starting=True)
        return True, f"started a local worker (pid {child.pid}); its log is {log / 'worker.log'}"


def _write_record(path: Path, pid: int, threads: int, settings: Settings, starting: bool = False) -> None:
    write_atomically(path, json.dumps({"host": socket.gethostname(), "pid": pid, "threads": threads,
                                       "starting": starting, "queue": _redacted(settings.queue_url),
                                       "started": time.time()}))


def _redacted(url: str) -> str:
    """The queue URL without a password, for files and pages."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def run_worker(huey, threads: int | None = None) -> None:
    """Serve the jobs of ``huey`` (the job queue's, ``cvlab.jobs.queue.huey_and_task``: passed in, as the queue
    itself looks at the live workers) until interrupted (SIGINT finishes running jobs, SIGTERM stops at once)."""
    from cvlab.jobs.device_slots import worker_threads

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    threads = threads or worker_threads()
    record = _folder(settings) / f"{socket.gethostname()}-{os.getpid()}.json"
    _write_record(record, os.getpid(), threads, settings)
    done = threading.Event()

    def refresh() -> None:
        while not done.wait(REFRESH_S):
            try:
                os.utime(record)
            except FileNotFoundError:
                _write_record(record, os.getpid(), threads, settings)

    def tidy() -> None:  # runs ended more than CVLAB_RUN_KEEP_DAYS ago go, at start and every hour
        from cvlab.training.run_disk import remove_old_runs

        while True:
            try:
                removed = remove_old_runs(settings=settings)
                if removed:
                    logging.getLogger(__name__).info("removed %d runs past CVLAB_RUN_KEEP_DAYS: %s", len(removed),
                                                     ", ".join(removed))
            except OSError as err:  # a shared folder gone for a moment: next hour
                logging.getLogger(__name__).warning("could not remove old runs: %s", err)
            if done.wait(TIDY_EVERY_S):
                return

    threading.Thread(target=refresh, daemon=True).start()
    threading.Thread(target=tidy, daemon=True).start()
    try:
        huey.create_consumer(workers=threads, worker_type="thread", periodic=False, initial_delay=0.2,
                             max_delay=1.0).run()
    finally:
        done.set()
        record.unlink(missing_ok=True)
