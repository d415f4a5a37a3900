"""One settings object, read from environment variables (documented in the README)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cvlab.errors import InvalidInput

_TRUE = {"1", "true", "yes", "on"}


def _flag(env: dict[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in _TRUE


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
        jobs = env.get("CVLAB_JOBS_PER_DEVICE", "1")
        if not jobs.isdigit() or int(jobs) <= 0:
            raise InvalidInput(f"CVLAB_JOBS_PER_DEVICE={jobs!r} must be a positive whole number.")
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
        )


def get_settings() -> Settings:
    """The settings of this process, read afresh so tests can change the environment."""
    return Settings.from_env()
