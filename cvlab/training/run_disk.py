"""Run folders on disk: what each user's runs take, a cap checked before a new run, and old runs removed.

- ``CVLAB_USER_RUN_DISK_MB`` (5120): the run folders one user may keep. A new run is refused
  while they hold more, with their largest runs named, to delete or export first.
- ``CVLAB_RUN_KEEP_DAYS`` (30; 0 keeps every run): a run that ended (finished, failed or stopped)
  this long ago is removed by the workers (``remove_old_runs``). A run queued, running, paused or
  interrupted is never removed: it may still go on.
- A file with more than one link (a detection run's data linked from the upload store, see
  ``link_tree``) costs no disk of its own and is not counted: the upload store counts it.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from cvlab.errors import InvalidInput
from cvlab.jobs.status import RunStatus
from cvlab.settings import Settings, get_settings
from cvlab.training import runs

REMOVABLE = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.STOPPED})
DAY_S = 86400.0


def run_bytes(run_dir: Path) -> int:
    """Bytes the run folder alone holds: its files, each once, without the ones linked from elsewhere."""
    total = 0
    for root, _, names in os.walk(run_dir):
        for name in names:
            try:
                stat = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue  # replaced while we looked
            if stat.st_nlink == 1:
                total += stat.st_size
    return total


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def check_run_disk(owner_id: str, store: runs.RunStore, settings: Settings | None = None) -> None:
    """Refuse a new run to a user whose run folders hold their quota already, naming their largest runs."""
    quota = (settings or get_settings()).user_run_disk_quota
    sizes = sorted(((run_bytes(info.run_dir), info.run_id) for info in store.list() if info.owner_id == owner_id),
                   reverse=True)
    used = sum(size for size, _ in sizes)
    if used < quota:
        return
    largest = ", ".join(f"{run_id} ({_mib(size)})" for size, run_id in sizes[:3])
    raise InvalidInput(
        f"Your runs take {_mib(used)} on this server, the most one person's runs may keep "
        f"(CVLAB_USER_RUN_DISK_MB={quota // 2**20}). Delete runs you no longer need first; your largest are "
        f"{largest} (Training page, Live, Delete; or python -m cvlab runs delete RUN_ID).")


def ended_at(info: runs.RunInfo) -> float:
    """When the run ended: the time its end was recorded, else its folder's last change."""
    value = info.record.get(f"{info.status}_at")
    return float(value) if isinstance(value, (int, float)) else info.run_dir.stat().st_mtime


def remove_old_runs(store: runs.RunStore | None = None, settings: Settings | None = None,
                    now: float | None = None) -> list[str]:
    """Remove the runs that ended more than CVLAB_RUN_KEEP_DAYS ago; returns their ids."""
    settings = settings or get_settings()
    if settings.run_keep_days <= 0:
        return []
    store = store or runs.RunStore(settings=settings)
    now = time.time() if now is None else now
    removed = []
    for info in store.list():
        if info.status not in REMOVABLE or now - ended_at(info) < settings.run_keep_days * DAY_S:
            continue
        with runs.locked(info.run_dir):  # a Resume at this moment either queued it first or finds it gone
            if runs.read_info(info.run_dir).status not in REMOVABLE:
                continue
            shutil.rmtree(runs.child_path(store.root, info.run_dir.name, "run id"), ignore_errors=True)
        removed.append(info.run_id)
    return removed


def link_tree(source: Path, target: Path) -> None:
    """``target`` as a copy of ``source`` made of hard links (no disk of its own), each file copied instead where
    a link cannot be made (another file system). Built beside ``target`` and moved in whole."""
    scratch = target.with_name(f"{target.name}-linking")
    shutil.rmtree(scratch, ignore_errors=True)
    for folder, _, names in os.walk(source):
        here = scratch / Path(folder).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in names:
            origin = Path(folder) / name
            if origin.is_symlink():
                continue  # the store's folders hold none; a link could lead anywhere
            try:
                os.link(origin, here / name)
            except OSError:
                shutil.copyfile(origin, here / name)
    scratch.replace(target)
