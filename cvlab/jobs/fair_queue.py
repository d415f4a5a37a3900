"""Which waiting run a free device takes next: a fair share for each user, decided by the run store.

A class shares one device. First-in first-out would let one student who queues five
runs make everyone else wait behind all five, so the order is round-robin by owner:
the next run belongs to whoever among the waiting owners was served least recently
(an owner never served goes first, the one waiting longest first among those), and
each owner's own runs go in the order they were queued. Runs the instructor moved
come before all of these, in the order they were put.

Huey jobs carry no order: a job only says "a device is free for a run". The worker
that gets one takes, under the queue's lock (``flock`` on ``<runs>/.queue.lock``), the
first run of this order whose attempt nobody has claimed. So the order is read from
the run records themselves, and is the same with the SQLite queue and with Redis
workers on several machines that share the runs folder. Each submit queues one job,
so there is always a job for every waiting run (a run stopped while it waited leaves
a job that finds nothing to take, and ends).

Architecture measurements (``cvlab.zoo.measure_job``) also take the device, but not
by this order: they run when their job comes up, in the order jobs were sent. A
measurement lasts seconds to a couple of minutes and its page waits for it, so it
goes between two runs rather than behind every waiting run of the class.

``<runs>/.queue.json`` keeps when each owner was last served and a counter that
numbers the runs in the order they started (``start_seq`` in run.json).
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from cvlab.data.in_place import write_atomically
from cvlab.errors import InvalidInput
from cvlab.jobs.status import RunStatus
from cvlab.settings import Settings, get_settings
from cvlab.training import runs

DEFAULT_EPOCH_S = 60.0  # a run's epoch, when no finished run says how long one takes here


@dataclass(frozen=True)
class QueueEntry:
    """A waiting run as the queue shows it."""

    position: int  # 1 is the next run to start
    run_id: str
    owner: str
    task: str
    model: str
    epochs: int
    estimated_start_s: float  # seconds from now until it should start, from the running runs and typical durations
    moved: bool  # the instructor put it where it is


def owner_key(info: runs.RunInfo) -> str:
    """Whose share a run counts against: its owner id, or its shown name for runs from before ids."""
    return info.owner_id or f"name:{info.owner}"


@contextlib.contextmanager
def queue_lock(root: Path) -> Iterator[None]:
    """The one lock under which runs are taken from the queue and moved in it (then a run's own lock, never the
    other way round)."""
    Path(root).mkdir(parents=True, exist_ok=True)
    with open(Path(root) / ".queue.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _state_path(root: Path) -> Path:
    return Path(root) / ".queue.json"


def read_state(root: Path) -> dict:
    try:
        state = json.loads(_state_path(root).read_text())
    except (OSError, ValueError):
        return {"seq": 0, "served": {}}
    if not isinstance(state, dict) or not isinstance(state.get("served"), dict):
        return {"seq": 0, "served": {}}
    return state


def _write_state(root: Path, state: dict) -> None:
    write_atomically(_state_path(root), json.dumps(state))


def waiting(store: runs.RunStore) -> list[runs.RunInfo]:
    return [info for info in store.list() if info.status == RunStatus.QUEUED and not info.unreadable]


def _queued_at(info: runs.RunInfo) -> float:
    value = info.record.get("queued_at", info.created)
    return float(value) if isinstance(value, (int, float)) else info.created


def fair_order(queued: list[runs.RunInfo], served: dict[str, int]) -> list[runs.RunInfo]:
    """``queued`` in the order they will start: the instructor's moves first (``queue_rank``), then round-robin by
    owner, whoever was served least recently first (``served``: owner -> the counter when last served)."""
    ranked = sorted((i for i in queued if isinstance(i.record.get("queue_rank"), (int, float))),
                    key=lambda i: i.record["queue_rank"])
    last = {key: int(value) for key, value in served.items() if isinstance(value, int)}
    counter = max(last.values(), default=0)
    for info in ranked:  # they start first, so their owners count as served by then
        counter += 1
        last[owner_key(info)] = counter
    by_owner: dict[str, list[runs.RunInfo]] = {}
    for info in sorted((i for i in queued if i not in ranked), key=lambda i: (_queued_at(i), i.run_id)):
        by_owner.setdefault(owner_key(info), []).append(info)
    order = list(ranked)
    while by_owner:
        owner = min(by_owner, key=lambda o: (last.get(o, -1), _queued_at(by_owner[o][0])))
        order.append(by_owner[owner].pop(0))
        counter += 1
        last[owner] = counter
        if not by_owner[owner]:
            del by_owner[owner]
    return order


def take_next(store: runs.RunStore) -> tuple[Path, int] | None:
    """For a worker with a free device: the next run by the fair order, claimed and marked running, as (its folder,
    its attempt); None when no run waits (or every waiting one is being taken by another worker)."""
    from cvlab.jobs.attempts import claim, start_attempt

    with queue_lock(store.root):
        state = read_state(store.root)
        for info in fair_order(waiting(store), state["served"]):
            attempt = info.record.get("attempt")
            if not isinstance(attempt, int) or not claim(info.run_dir, attempt):
                continue
            if not start_attempt(info.run_dir, attempt):
                continue  # paused or stopped a moment ago
            state["seq"] = int(state.get("seq", 0)) + 1
            state["served"][owner_key(info)] = state["seq"]
            runs.update_record(info.run_dir, start_seq=state["seq"], queue_rank=None)
            _write_state(store.root, state)
            return info.run_dir, attempt
    return None


# ---- what the page and the command line show ----
def _epoch_seconds(store_runs: list[runs.RunInfo]) -> dict[str, float]:
    """Typical seconds per epoch on this server, by task, from the runs that finished here."""
    samples: dict[str, list[float]] = {}
    for info in store_runs:
        used = info.record.get("seconds_used")
        if info.status == RunStatus.FINISHED and isinstance(used, (int, float)) and info.epochs_done > 0:
            samples.setdefault(info.config.task, []).append(float(used) / info.epochs_done)
    everything = [s for values in samples.values() for s in values]
    typical = {task: statistics.median(values) for task, values in samples.items()}
    typical[""] = statistics.median(everything) if everything else DEFAULT_EPOCH_S
    return typical


def _progress(info: runs.RunInfo) -> float:
    steps = [r for r in runs.read_metrics(info.run_dir) if r.get("kind") == "step"]
    value = steps[-1].get("progress", 0.0) if steps else info.epochs_done / max(1, info.config.epochs)
    return min(1.0, max(0.0, float(value))) if isinstance(value, (int, float)) else 0.0


def _remaining_s(info: runs.RunInfo, typical_s: float, now: float) -> float:
    """How long a running run should still take: from its own pace once it has some, else the typical duration."""
    started = info.record.get("started")
    elapsed = max(0.0, now - float(started)) if isinstance(started, (int, float)) else 0.0
    done = _progress(info)
    if done >= 0.05 and elapsed > 0:
        return elapsed * (1 - done) / done
    return max(0.0, typical_s - elapsed)


def device_slots_in_use(settings: Settings) -> int:
    """Runs the workers take at once: the threads of the live local workers (at least one)."""
    from cvlab.jobs.worker import live_local_workers

    return max(1, sum(worker.threads for worker in live_local_workers(settings)))


def queue_entries(store: runs.RunStore | None = None, settings: Settings | None = None,
                  now: float | None = None, slots: int | None = None) -> list[QueueEntry]:
    """Every waiting run in the order it will start, with its position and an estimated start."""
    settings = settings or get_settings()
    store = store or runs.RunStore(settings=settings)
    now = time.time() if now is None else now
    everything = store.list()
    typical = _epoch_seconds(everything)

    def duration(info: runs.RunInfo) -> float:
        return typical.get(info.config.task, typical[""]) * max(1, info.config.epochs - info.epochs_done)

    held = [i for i in everything
            if i.status == RunStatus.RUNNING or (i.status == RunStatus.PAUSED and not i.record.get("released"))]
    slots = max(len(held), slots if slots is not None else device_slots_in_use(settings))
    free = [_remaining_s(info, duration(info), now) for info in held] + [0.0] * (slots - len(held))
    heapq.heapify(free)
    queued = [i for i in everything if i.status == RunStatus.QUEUED and not i.unreadable]
    entries = []
    for position, info in enumerate(fair_order(queued, read_state(store.root)["served"]), start=1):
        start = heapq.heappop(free)
        heapq.heappush(free, start + duration(info))
        entries.append(QueueEntry(position, info.run_id, info.owner, info.config.task, info.config.model,
                                  info.config.epochs, round(start, 1),
                                  isinstance(info.record.get("queue_rank"), (int, float))))
    return entries


def position_of(run_id: str, store: runs.RunStore | None = None) -> QueueEntry | None:
    return next((entry for entry in queue_entries(store) if entry.run_id == run_id), None)


# ---- the cap and the instructor's changes ----
def check_waiting_cap(owner_id: str, store: runs.RunStore, settings: Settings | None = None) -> None:
    """Refuse one more waiting run to a user who has CVLAB_MAX_WAITING_RUNS waiting already."""
    cap = (settings or get_settings()).max_waiting_runs
    mine = [i for i in waiting(store) if i.owner_id == owner_id]
    if len(mine) >= cap:
        raise InvalidInput(
            f"You have {len(mine)} runs waiting in the queue, the most one person may have waiting on this server "
            f"(CVLAB_MAX_WAITING_RUNS={cap}), so that everyone's runs get their turn. Start this one when one of "
            f"yours has started, or stop one of them: {', '.join(i.run_id for i in mine)}.")


def move(store: runs.RunStore, run_id: str, where: str, instructor: bool) -> list[QueueEntry]:
    """The instructor puts a waiting run at the front of the queue (``where="front"``) or one place up ("up");
    returns the queue afterwards."""
    if not instructor:
        raise runs.NotAllowed("Only the instructor may change the order of the queue; every user's runs take turns "
                              "with everyone else's.")
    if where not in ("front", "up"):
        raise InvalidInput(f"A run moves to the 'front' or one place 'up', not {where!r}.")
    with queue_lock(store.root):
        order = fair_order(waiting(store), read_state(store.root)["served"])
        ids = [info.run_id for info in order]
        if run_id not in ids:
            info = store.info(run_id)  # RunNotFound for an unknown id
            raise InvalidInput(f"Run {run_id} is {info.status}, not waiting in the queue: only waiting runs move.")
        index = ids.index(run_id)
        if where == "front":
            ranks = [i.record["queue_rank"] for i in order if isinstance(i.record.get("queue_rank"), (int, float))]
            runs.update_record(order[index].run_dir, queue_rank=min(ranks, default=0) - 1)
        elif index > 0:  # the runs up to it keep their places, pinned, with it and the one before swapped
            head = order[:index + 1]
            head[index - 1], head[index] = head[index], head[index - 1]
            for rank, info in enumerate(head):
                runs.update_record(info.run_dir, queue_rank=rank)
    return queue_entries(store)


def cancel(store: runs.RunStore, run_id: str, user: str, instructor: bool) -> dict:
    """Take a waiting run out of the queue (it is stopped, its folder kept): its owner or the instructor."""
    info = store.info(run_id)
    runs.check_may_change(info, user, instructor)
    if info.status != RunStatus.QUEUED:
        raise InvalidInput(f"Run {run_id} is {info.status}, not waiting in the queue; stop it instead.")
    return store.request(run_id, user, instructor, stop=True)
