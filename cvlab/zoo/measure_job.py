"""The Architectures page's measuring job, through the job queue, followed in a status file.

The page queues a job (``cvlab.zoo.measuring.start_measuring``); a worker of the training queue
(``python -m cvlab worker``, started by the app when none is alive) takes it in a device
slot, so measuring never shares the device with a training run, and runs
``cvlab.zoo.measure.measure_all`` (``run_measurement_job``). Progress, the device, a stop
request and a failure travel through ``data_home/zoo/job.json``. One job at a time on a
data home: two at once would slow each other and spoil both timings. A job that no
worker on its host has started within ``MEASURE_WAIT_LIMIT_S`` (the host is gone, or
its worker is busy with long runs) fails with that reason instead of waiting for ever.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cvlab.data.in_place import write_atomically
from cvlab.jobs.status import RunStatus
from cvlab.settings import get_settings
from cvlab.zoo.measure import SUITES, device_name, measure_all

JOB_FILE = "job.json"
HEARTBEAT_S = 3.0
JOB_STALE_S = 30.0  # a running job silent this long died with its worker
MEASURE_WAIT_LIMIT_S = 30 * 60.0  # a job not started this long after it was queued is given up


@dataclass(frozen=True)
class JobStatus:
    done: int
    total: int
    current: str  # the model being measured now, "" when none
    running: bool  # queued or being measured
    error: str | None  # why the job ended early, in words
    suite: str = "classification"
    input_size: int | None = None  # None: each model at its own size
    state: str = RunStatus.QUEUED  # queued, running, finished, stopped, failed
    device: str = ""  # where the worker measures


def job_dir() -> Path:
    folder = get_settings().data_home / "zoo"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _read_job(folder: Path) -> dict | None:
    try:
        record = json.loads((folder / JOB_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return record if isinstance(record, dict) else None  # anything else is no job: the page never breaks on it


def write_job(folder: Path, record: dict) -> None:
    write_atomically(folder / JOB_FILE, json.dumps(record))


class QueuedMeasurement:
    """The data home's measuring job, as its status file tells it; ``stop()`` asks the worker to end it."""

    def __init__(self, folder: Path, job_id: str):
        self.folder, self.job_id = folder, job_id

    def _record(self) -> dict:
        record = _read_job(self.folder) or {}
        return record if record.get("job_id") == self.job_id else {}

    def status(self) -> JobStatus:
        record = self._record()
        state, error = record.get("state", RunStatus.FINISHED), record.get("error")
        running = state == RunStatus.QUEUED or state == RunStatus.RUNNING
        if state == RunStatus.RUNNING and time.time() - record.get("updated", 0) > JOB_STALE_S:
            running, state = False, RunStatus.FAILED
            error = error or (f"the worker measuring {record.get('current') or 'the zoo'} stopped answering; "
                              "measure again to go on from where it ended")
        if state == RunStatus.QUEUED and _expired(record):
            running, state, error = False, RunStatus.FAILED, _wait_reason(record)
        return JobStatus(record.get("done", 0), record.get("total", 0), record.get("current", ""), running, error,
                         record.get("suite", "classification"), record.get("input_size"), state,
                         record.get("device", ""))

    @property
    def running(self) -> bool:
        return self.status().running

    @property
    def error(self) -> str | None:
        return self.status().error

    def stop(self, wait_s: float | None = None) -> None:
        """Ask the worker to end the job after the model it is measuring (a queued job is dropped)."""
        (self.folder / f"{self.job_id}.stop").touch()
        record = self._record()
        if record.get("state") == RunStatus.QUEUED:  # no worker has it yet: it ends here
            write_job(self.folder, {**record, "state": RunStatus.STOPPED, "updated": time.time()})
        if wait_s is not None:
            self.wait(wait_s)

    def wait(self, timeout_s: float | None = None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.running and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.2)
        return not self.running


def _expired(record: dict) -> bool:
    return time.time() - float(record.get("queued_at") or record.get("updated") or 0) > MEASURE_WAIT_LIMIT_S


def _wait_reason(record: dict) -> str:
    host = record.get("host") or "this server"
    return (f"no worker on {host} started the measurement within {MEASURE_WAIT_LIMIT_S / 60:.0f} minutes (its "
            "workers were busy with long runs, or none was running): measure again")


def give_up(job_id: str, reason: str) -> None:
    """Mark the data home's job failed with ``reason`` while it is still queued (nothing to do for another job)."""
    import fcntl

    folder = job_dir()
    with open(folder / ".job.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = _read_job(folder) or {}
        if record.get("job_id") == job_id and record.get("state") == RunStatus.QUEUED:
            write_job(folder, {**record, "state": RunStatus.FAILED, "error": reason, "updated": time.time()})


# A first guess per model before anything was measured on this machine: the job's 34 classification
# networks took 7 minutes on a 2-core CPU (about 12 s each, building included); a GPU times in seconds.
FIRST_GUESS_S = {"cpu": 12.0, "cuda": 4.0, "mps": 6.0}


@dataclass(frozen=True)
class MeasuringPlan:
    """What a measuring job will hold, and for about how long, said before it is started."""
    models: int  # how many models it measures
    seconds: float  # the estimate
    basis: str  # where the estimate comes from, in words
    device: str  # "cpu", "cuda:0": the device slot it takes
    device_name: str  # "Intel Xeon x2 cores", "NVIDIA H100"
    slots: int  # device slots of a worker on this machine (jobs per device x devices)
    busy_runs: int  # training runs running or paused now (each holds a slot until it ends)
    waiting_runs: int  # training runs queued now

    @property
    def duration(self) -> str:
        """The estimate in words a reader takes in at once: "40 s", "7 min"."""
        return f"{self.seconds:.0f} s" if self.seconds < 90 else f"{-(-self.seconds // 60):.0f} min"

    def summary(self, what: str) -> str:
        """What starting the job will do, for a page to show before it asks to go ahead."""
        slot = ("the only device slot" if self.slots == 1 else f"one of the {self.slots} device slots")
        text = (f"Measuring {self.models} {what} takes about **{self.duration}** on {self.device} "
                f"({self.device_name}); {self.basis}. All that time the job holds {slot} of this machine's "
                f"worker ({self.device}): every training run queued meanwhile, anyone's, waits until it ends.")
        if self.busy_runs or self.waiting_runs:
            text += (f" Now {self.busy_runs} training run{'s' if self.busy_runs != 1 else ''} hold"
                     f"{'' if self.busy_runs != 1 else 's'} a slot and {self.waiting_runs} wait; the measurement "
                     "queues behind them.")
        return text


def plan_measuring(names: list[str], suite: str = "classification", input_size: int | None = None,
                   device=None) -> MeasuringPlan:
    """The plan for measuring ``names``: each model's own earlier time on this device where there is one,
    else the median of the suite's models measured here, else a first guess for the device type."""
    import statistics

    from cvlab.device import pick_device
    from cvlab.settings import get_settings
    from cvlab.training import runs
    from cvlab.jobs.device_slots import local_devices
    from cvlab.zoo.facts import read_cache
    from cvlab.zoo.measure import cache_file

    device = device if device is not None else pick_device()
    earlier: dict[str, float] = {}
    for key, entry in read_cache(cache_file(device, suite=suite)).items():
        if not key.startswith("_") and entry.get("seconds"):
            size = input_size or SUITES.get(suite).default_size(entry["name"])
            if entry.get("input_size") == size or entry["name"] not in earlier:
                earlier[entry["name"]] = float(entry["seconds"])
    known = [earlier[name] for name in names if name in earlier]
    if earlier:
        typical = statistics.median(earlier.values())
        basis = (f"from {len(earlier)} models of this suite measured here before (median {typical:.0f} s each)"
                 if len(known) < len(names) else "from the time each of them took here before")
    else:
        typical = FIRST_GUESS_S.get(device.type, FIRST_GUESS_S["cpu"])
        basis = f"a first guess of {typical:.0f} s a model: nothing of this suite has been measured here yet"
    seconds = sum(earlier.get(name, typical) for name in names)
    active = [info.status for info in runs.RunStore().list() if info.status in runs.ACTIVE]
    return MeasuringPlan(len(names), seconds, basis, str(device), device_name(device),
                         get_settings().jobs_per_device * len(local_devices()),
                         sum(s != RunStatus.QUEUED for s in active), active.count(RunStatus.QUEUED))


def current_job() -> QueuedMeasurement | None:
    """The data home's last measuring job, queued, running or ended; None before any."""
    folder = job_dir()
    record = _read_job(folder)
    return QueuedMeasurement(folder, record["job_id"]) if record and "job_id" in record else None


def run_measurement_job(job_id: str, suite: str, input_size: int | None, names: list[str],
                        device: str = "auto") -> None:
    """The worker's side: measure, keeping the status file fresh; a stop request ends it between models."""
    from cvlab.device import pick_device

    folder = job_dir()
    record = _read_job(folder) or {}
    if record.get("job_id") != job_id or record.get("state") != RunStatus.QUEUED:
        return  # superseded by a newer job
    if _expired(record):  # the page has shown it failed already: measuring now would surprise everyone
        give_up(job_id, _wait_reason(record))
        return
    stop_file = folder / f"{job_id}.stop"
    stop, lock = threading.Event(), threading.Lock()
    torch_device = pick_device(device)
    record.update(state=RunStatus.RUNNING, device=device_name(torch_device))

    def write(**changes) -> None:
        with lock:
            record.update(changes, updated=time.time())
            write_job(folder, record)
        if stop_file.exists():
            stop.set()

    def heartbeat() -> None:  # one model can take a while; the page must still see a live job
        while not finished.wait(HEARTBEAT_S):
            write()

    finished = threading.Event()
    write()
    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        if stop_file.exists():
            write(state=RunStatus.STOPPED)
            return
        measure_all(names, suite=suite, input_size=input_size, device=torch_device, stop=stop,
                    progress=lambda done, total, name: write(done=done, total=total, current=name))
        write(state=RunStatus.STOPPED if stop.is_set() else RunStatus.FINISHED, current="")
    except Exception as error:  # noqa: BLE001 - the page shows it; the worker lives on
        write(state=RunStatus.FAILED, error=f"measuring {record.get('current') or 'the zoo'} failed: "
                                    f"{type(error).__name__}: {error}", current="")
    finally:
        finished.set()
        stop_file.unlink(missing_ok=True)
