"""Per-task behaviour lives on the TaskSpec: every hook names a real function, and no code branches on a name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cvlab.training.tasks import TASKS

ROOT = Path(__file__).resolve().parents[3]
HOOKS = ("checks", "deep_check", "start_models", "data_summary", "results_view")


@pytest.mark.parametrize("name", TASKS.names())
def test_every_hook_of_every_task_names_a_function(name):
    spec = TASKS.get(name)
    for hook in HOOKS:
        function = spec.hook(hook)
        assert function is None or callable(function), (name, hook)
    assert spec.hook("results_view") is not None and spec.hook("start_models")()  # every task has both


def test_no_code_outside_the_registries_compares_a_task_name_or_a_status_string():
    statuses = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](queued|running|paused|stopped|finished|failed|interrupted|"""
                          r"""unreadable)["']""")
    offenders = []
    for folder in ("cvlab", "pages"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() in ("cvlab/training/tasks.py", "cvlab/jobs/status.py"):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"\btask\s*[!=]=", line) or statuses.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
