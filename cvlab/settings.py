"""One settings object, read from environment variables (documented in the README).

Disk and memory on a shared server (sizes in MiB, whole numbers):

- ``CVLAB_USER_DISK_QUOTA_MB`` (3072): what one user's uploads may keep on disk, zips, folders and
  the archives unpacked from them together; the least recently used go first to make room.
- ``CVLAB_DISK_QUOTA_MB`` (30720): the same for everyone's uploads together.
- ``CVLAB_UPLOAD_KEEP_DAYS`` (14): an upload unused this long is deleted at the next upload
  (not while a run that has not ended reads it).
- ``CVLAB_MAX_UPLOAD_MB`` (200): the most a folder upload may hold in all (a zip is one file,
  bounded by Streamlit's ``server.maxUploadSize``).
- ``CVLAB_PAGE_CACHE_MB`` (512): datasets the pages keep decoded in memory, for every user together.

- ``CVLAB_USER_RUN_DISK_MB`` (5120): what one user's run folders may keep; a new run is refused past it.
- ``CVLAB_RUN_KEEP_DAYS`` (30): a run that finished, failed or was stopped this long ago is removed by
  the workers; 0 keeps every run.

The job queue:

- ``CVLAB_MAX_WAITING_RUNS`` (3): runs one user may have waiting at once; one more is refused, in words.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cvlab.errors import InvalidInput

_TRUE = {"1", "true", "yes", "on"}


def _flag(env: dict[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in _TRUE


def _mebibytes(env: dict[str, str], name: str, default: int) -> int:
    """A size in MiB from the environment, as bytes."""
    value = env.get(name, str(default)).strip()
    if not value.isdigit() or int(value) <= 0:
        raise InvalidInput(f"{name}={value!r} must be a positive whole number of MiB (default {default}).")
    return int(value) * 2**20


def _seconds(env: dict[str, str], name: str, default: int) -> float:
    value = env.get(name, str(default)).strip()
    if not value.replace(".", "", 1).isdigit() or float(value) <= 0:
        raise InvalidInput(f"{name}={value!r} must be a positive number of seconds (default {default}).")
    return float(value)


@dataclass(frozen=True)
class Settings:
    data_home: Path  # runs, datasets, caches, the embedded job queue
    weights_dir: Path  # checked before any library cache or download
    queue_url: str  # "sqlite:///<path>" (embedded) or "redis://host:port/db"
    device: str  # "auto", "cpu", "cuda", "cuda:1", "mps"
    offline: bool  # never try to download weights or datasets
    allow_unsafe_weights: bool  # let uploads of full-pickle checkpoints load (admins only)
    max_image_pixels: int  # decoded images above this are refused (decompression bombs)
    runs_dir: Path = Path()  # one folder per training run; shared by the app and every worker
    instructor_secret: str = field(default="", repr=False)  # whoever types it may pause, stop, change or delete any run
    jobs_per_device: int = 1  # training jobs a worker runs at once on one GPU (or the CPU)
    start_worker: bool = True  # the app starts a local worker when none is alive
    pause_release_s: float = 300.0  # a run paused longer gives its device back (CVLAB_PAUSE_RELEASE_S)
    run_budget_s: float = 4 * 3600.0  # wall-clock training time of one run, all attempts (CVLAB_RUN_BUDGET_S)
    run_memory_bytes: int = 0  # the most one run may need (CVLAB_RUN_MEMORY_MB); 0: what the device has
    user_disk_quota: int = 3072 * 2**20  # bytes of uploads one user may keep (CVLAB_USER_DISK_QUOTA_MB)
    disk_quota: int = 30720 * 2**20  # bytes of uploads everyone together may keep (CVLAB_DISK_QUOTA_MB)
    upload_keep_days: float = 14.0  # an upload unused this long is deleted (CVLAB_UPLOAD_KEEP_DAYS)
    max_upload_bytes: int = 200 * 2**20  # a folder upload, all files together (CVLAB_MAX_UPLOAD_MB)
    page_cache_bytes: int = 512 * 2**20  # decoded datasets the pages keep in memory (CVLAB_PAGE_CACHE_MB)
    detector_cache_bytes: int = 640 * 2**20  # weights of the YOLO models kept loaded (CVLAB_DETECTOR_CACHE_MB)
    user_run_disk_quota: int = 5120 * 2**20  # bytes of run folders one user may keep (CVLAB_USER_RUN_DISK_MB)
    run_keep_days: float = 30.0  # an ended run this old is removed; 0 keeps all (CVLAB_RUN_KEEP_DAYS)
    max_waiting_runs: int = 3  # runs one user may have waiting in the queue (CVLAB_MAX_WAITING_RUNS)
    identity_key_file: Path = Path()  # signs the id each browser keeps; made on first use, mode 600

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        data_home = Path(env.get("CVLAB_HOME") or Path.home() / ".cache" / "cvlab").expanduser()
        weights_dir = Path(env.get("CVLAB_WEIGHTS_DIR") or data_home / "weights").expanduser()
        queue_url = env.get("CVLAB_QUEUE_URL") or f"sqlite:///{data_home / 'queue.sqlite3'}"
        if not queue_url.startswith(("sqlite:///", "redis://", "rediss://")):
            raise InvalidInput(
                f"CVLAB_QUEUE_URL={queue_url!r} is not understood: use sqlite:///path/to/file "
                "or redis://host:6379/0."
            )
        max_pixels = env.get("CVLAB_MAX_IMAGE_PIXELS", "40000000")
        if not max_pixels.isdigit() or int(max_pixels) <= 0:
            raise InvalidInput(
                f"CVLAB_MAX_IMAGE_PIXELS={max_pixels!r} must be a positive whole number of pixels."
            )
        keep_days = env.get("CVLAB_UPLOAD_KEEP_DAYS", "14").strip()
        if not keep_days.replace(".", "", 1).isdigit() or float(keep_days) <= 0:
            raise InvalidInput(f"CVLAB_UPLOAD_KEEP_DAYS={keep_days!r} must be a positive number of days.")
        jobs = env.get("CVLAB_JOBS_PER_DEVICE", "1")
        if not jobs.isdigit() or int(jobs) <= 0:
            raise InvalidInput(f"CVLAB_JOBS_PER_DEVICE={jobs!r} must be a positive whole number.")
        run_keep = env.get("CVLAB_RUN_KEEP_DAYS", "30").strip()
        if not run_keep.replace(".", "", 1).isdigit():
            raise InvalidInput(f"CVLAB_RUN_KEEP_DAYS={run_keep!r} must be a number of days (0 keeps every run).")
        waiting = env.get("CVLAB_MAX_WAITING_RUNS", "3").strip()
        if not waiting.isdigit() or int(waiting) <= 0:
            raise InvalidInput(f"CVLAB_MAX_WAITING_RUNS={waiting!r} must be a positive whole number of runs.")
        return cls(
            data_home=data_home,
            weights_dir=weights_dir,
            queue_url=queue_url,
            device=env.get("CVLAB_DEVICE", "auto").strip() or "auto",
            offline=any(_flag(env, n) for n in ("CVLAB_OFFLINE", "HF_HUB_OFFLINE", "YOLO_OFFLINE")),
            allow_unsafe_weights=_flag(env, "CVLAB_ALLOW_UNSAFE_WEIGHTS"),
            max_image_pixels=int(max_pixels),
            runs_dir=Path(env.get("CVLAB_RUNS_DIR") or data_home / "runs").expanduser(),
            instructor_secret=env.get("CVLAB_INSTRUCTOR_SECRET", ""),
            jobs_per_device=int(jobs),
            start_worker=env.get("CVLAB_START_WORKER", "auto").strip().lower() != "never",
            pause_release_s=_seconds(env, "CVLAB_PAUSE_RELEASE_S", 300),
            run_budget_s=_seconds(env, "CVLAB_RUN_BUDGET_S", 4 * 3600),
            run_memory_bytes=_mebibytes(env, "CVLAB_RUN_MEMORY_MB", 1) if env.get("CVLAB_RUN_MEMORY_MB") else 0,
            user_disk_quota=_mebibytes(env, "CVLAB_USER_DISK_QUOTA_MB", 3072),
            disk_quota=_mebibytes(env, "CVLAB_DISK_QUOTA_MB", 30720),
            upload_keep_days=float(keep_days),
            max_upload_bytes=_mebibytes(env, "CVLAB_MAX_UPLOAD_MB", 200),
            page_cache_bytes=_mebibytes(env, "CVLAB_PAGE_CACHE_MB", 512),
            detector_cache_bytes=_mebibytes(env, "CVLAB_DETECTOR_CACHE_MB", 640),
            user_run_disk_quota=_mebibytes(env, "CVLAB_USER_RUN_DISK_MB", 5120),
            run_keep_days=float(run_keep),
            max_waiting_runs=int(waiting),
            identity_key_file=data_home / "identity.key",
        )


def get_settings() -> Settings:
    """The settings of this process, read afresh so tests can change the environment."""
    return Settings.from_env()
