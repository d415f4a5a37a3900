"""Ultralytics, tamed: its settings under the data home, no pip installs, no analytics, no error reports.

Left alone, ultralytics writes a settings file under ``~/.config/Ultralytics``,
pip-installs packages it finds missing (``YOLO_AUTOINSTALL``), sends usage events
and crash reports when its ``sync`` setting is on, and turns on the integrations
(ClearML, Comet, MLflow, DVC, Ray Tune) it finds installed. ``ultralytics_ready``
is called by everything in cvlab before ultralytics is touched; environment
variables only work before its first import, so the settings object is updated
too, for the case where something imported it earlier. Its log goes to stderr
(ultralytics logs to stdout), so ``python -m cvlab detect --json`` prints JSON only.
It also replaces Pillow's ``Image.open`` process-wide with a version that, on the first
file Pillow cannot identify, tries to install and register a HEIF plugin: an unreadable
upload would reach for pip. Pillow's own ``Image.open`` is put back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from pathlib import Path

import PIL.Image

from cvlab.settings import Settings, get_settings

# Settings that make ultralytics send data somewhere, all turned off.
_QUIET_SETTINGS = {"sync": False, "clearml": False, "comet": False, "dvc": False, "mlflow": False,
                   "raytune": False, "tensorboard": False, "wandb": False, "vscode_msg": False,
                   "openvino_msg": False}
_lock = threading.Lock()
_done_for: set[str] = set()  # data homes already prepared in this process


def config_dir(settings: Settings) -> Path:
    """Where ultralytics keeps its settings.json when cvlab sets it up first."""
    return settings.data_home / "ultralytics"


def ultralytics_ready(settings: Settings | None = None) -> None:
    """Prepare ultralytics for this process (idempotent, thread-safe); import it afterwards."""
    settings = settings or get_settings()
    with _lock:
        if str(settings.data_home) in _done_for:
            return
        os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir(settings)))
        os.environ["YOLO_AUTOINSTALL"] = "false"
        if settings.offline:
            os.environ["YOLO_OFFLINE"] = "1"  # its own online check then answers at once
        with contextlib.redirect_stdout(sys.stderr):  # its first import announces a new settings file
            from ultralytics.utils import LOGGER, SETTINGS, checks, events, patches
        PIL.Image.open = patches._image_open  # Pillow's own, kept by ultralytics before patching
        for handler in LOGGER.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                handler.setStream(sys.stderr)
        checks.AUTOINSTALL = False  # read from the environment at import: cover an earlier import
        events.events.enabled = False
        stale = {key: value for key, value in _QUIET_SETTINGS.items() if SETTINGS.get(key) != value}
        if stale:
            SETTINGS.update(stale)  # writes its settings file once, not on every call
        _done_for.add(str(settings.data_home))


def library_weights_dir(settings: Settings | None = None) -> Path:
    """Ultralytics' own weights folder (its ``weights_dir`` setting): the library cache of cvlab.weights."""
    ultralytics_ready(settings)
    from ultralytics.utils import SETTINGS

    return Path(SETTINGS["weights_dir"])
