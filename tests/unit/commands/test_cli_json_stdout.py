"""Under ``--json`` stdout is JSON only, on a fresh machine too, whatever the libraries print."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

import pytest

from cvlab.__main__ import build_parser
from tests.conftest import REPO_ROOT

# Small, cheap arguments for every command; "{tmp}" is the test's own folder. A command missing here
# fails test_every_command_has_cheap_arguments, so a new one is checked as soon as it exists.
CHEAP_ARGS: dict[str, list[str]] = {
    "info": [],
    "sizes": ["--input", "3x32x32", "conv(8,k=3)"],
    "shapes": ["--input", "3x32x32", "conv(8,k=3)"],  # the old name of sizes
    "stages": ["--max-side", "32"],
    "activations": ["relu", "--points", "3"],
    "convolve": ["--max-side", "32"],
    "network": ["--arch", "lecture-vgg", "--no-pretrained", "--max-side", "32"],
    # The first ultralytics import on a new home announces its settings file on stdout.
    "zoo": ["--suite", "yolo", "--family", "YOLOv8"],
    "zoo choose": ["--scenario", "A"],
    "zoo scaling": ["--phi", "1"],
    "zoo tokens": ["--size", "224"],
    "zoo claims": [],
    "data shapes": ["--task", "detect", "--n", "4", "--size", "32", "--out", "{tmp}/set"],
    "data inspect": ["{tmp}/nowhere"],
    "data load": ["shapes", "--limit", "8"],
    "data list": [],
    "train": ["--data", "shapes", "--limit", "16", "--epochs", "1", "--batch-size", "8"],
    "runs": ["list"],
    "bench": ["train", "--model", "lecture-vgg", "--limit", "32", "--epochs", "1", "--batch-size", "16",
              "--no-accuracy"],
    "detect": ["bus", "--imgsz", "64"],
    "track": ["shapes:0:8:2"],
    "sam-video": ["shapes:0:6:2", "--point", "128,128", "--out", "{tmp}/masks"],
    "prepare": ["--list"],
    "exercises": [],
    "board": ["--list"],
    "losses": ["bce", "--prob", "0.5"],
    "sam": ["bus", "--max-side", "64", "--point", "10,10"],
    "unet": ["--size", "64"],
    "serve": ["--replicas", "0"],  # it runs until stopped; a refused start is the cheap case
}
NOT_RUN = {"worker": "serves the job queue until interrupted"}


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """Every runnable command line under ``parser``, nested actions (data shapes ...) spelled out."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _subcommands(sub, f"{prefix}{name} ")
                # A command whose actions are optional (zoo) runs on its own too.
                found += nested + [f"{prefix}{name}"] if _optional_actions(sub) or not nested else nested
    return found


def _optional_actions(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(a, argparse._SubParsersAction) and not a.required for a in parser._actions)


COMMAND_LINES = _subcommands(build_parser())


def test_every_command_has_cheap_arguments():
    assert set(COMMAND_LINES) == set(CHEAP_ARGS) | set(NOT_RUN)


def _fresh_machine(tmp_path) -> dict[str, str]:
    """An empty home and an empty ultralytics settings folder, as on a new machine, and offline."""
    (tmp_path / "home").mkdir()
    (tmp_path / "yolo").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CVLAB_", "YOLO_", "XDG_"))}
    return {**env, "HOME": str(tmp_path / "home"), "YOLO_CONFIG_DIR": str(tmp_path / "yolo"),
            "HF_HUB_OFFLINE": "1", "YOLO_OFFLINE": "1", "CVLAB_OFFLINE": "1", "YOLO_AUTOINSTALL": "false",
            "CVLAB_START_WORKER": "never"}


@pytest.mark.parametrize("line", sorted(CHEAP_ARGS))
def test_json_stdout_is_only_json_on_a_fresh_machine(tmp_path, line):
    args = [a.replace("{tmp}", str(tmp_path)) for a in [*line.split(), *CHEAP_ARGS[line], "--json"]]
    done = subprocess.run([sys.executable, "-m", "cvlab", *args], cwd=REPO_ROOT, env=_fresh_machine(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 2), done.stderr[-2000:]  # 2: a CvlabError, reported as JSON
    lines = done.stdout.splitlines()
    assert lines, f"nothing on stdout; stderr: {done.stderr[-2000:]}"
    # One JSON document; train streams one per finished epoch before its summary (JSON lines).
    parsed = [json.loads(text) for text in lines] if line == "train" else [json.loads(done.stdout)]
    if done.returncode == 2:
        assert set(parsed[-1]) == {"error"}


def test_library_output_goes_to_stderr_at_the_descriptor_level_too(tmp_path):
    """A library that prints, or writes to file descriptor 1 from native code or a child, leaves stdout JSON."""
    script = textwrap.dedent("""
        import os, subprocess, sys
        from cvlab.commands import COMMANDS, Command, result_stream
        from cvlab.__main__ import main

        def noisy(args):
            print("Creating new settings file")
            os.write(1, b"native noise\\n")
            subprocess.run([sys.executable, "-c", "print('child noise')"], check=True)
            print('{"streamed": 1}', file=result_stream(), flush=True)
            return {"answer": 42}

        COMMANDS.register("noisy", Command("noisy", "prints", lambda p: None, noisy, str))
        sys.exit(main(["noisy", "--json"]))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=_fresh_machine(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [json.loads(text) for text in done.stdout.splitlines()] == [{"streamed": 1}, {"answer": 42}]
    for noise in ("Creating new settings file", "native noise", "child noise"):
        assert noise in done.stderr


def test_text_output_is_left_alone(capsys):
    from cvlab.__main__ import main

    assert main(["sizes", "--input", "3x32x32", "conv(8,k=3)"]) == 0
    assert "conv" in capsys.readouterr().out
