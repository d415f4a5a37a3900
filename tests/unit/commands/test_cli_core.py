import json
import subprocess
import sys

import pytest

from cvlab.__main__ import main
from cvlab.commands import text_table
from tests.conftest import REPO_ROOT


def test_info_json_has_the_device_report(capsys):
    assert main(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["device"] in {"cpu", "mps"} or report["device"].startswith("cuda")
    assert report["weights_online"] is False  # the tests run offline
    assert set(report) >= {"name", "cpu_cores", "torch_version", "cuda_version", "weights_note"}


def test_info_text_names_torch_and_the_weights_status(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "cannot download" in out


def test_unknown_subcommand_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["nonsense"])
    assert caught.value.code == 2
    assert "info" in capsys.readouterr().err


def test_python_dash_m_entry_point_works_in_a_fresh_process():
    done = subprocess.run([sys.executable, "-m", "cvlab", "--help"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "info" in done.stdout and "shapes" in done.stdout


def test_text_table_aligns_columns():
    table = text_table([{"layer": "conv", "out": 112}, {"layer": "maxpool", "out": 56}])
    lines = table.splitlines()
    assert lines[0] == "layer    out"
    assert lines[2] == "conv     112"
    assert lines[3] == "maxpool  56"
