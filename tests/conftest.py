"""Test-wide setup: the repository root importable, nothing waits on a network."""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.chdir(REPO_ROOT)  # AppTest resolves page scripts from the repository root

for name, value in {"HF_HUB_OFFLINE": "1", "YOLO_OFFLINE": "1", "CVLAB_OFFLINE": "1",
                    "YOLO_AUTOINSTALL": "false", "YOLO_CONFIG_DIR": "/tmp/cvlab-tests-ultralytics"}.items():
    os.environ.setdefault(name, value)

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_data_home(tmp_path, monkeypatch):
    """Each test writes runs, caches and queues under its own temporary folder."""
    monkeypatch.setenv("CVLAB_HOME", str(tmp_path / "cvlab-home"))
