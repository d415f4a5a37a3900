"""The live view polls the run folder while its run is active, and not at all once the run has ended.

Against a real server, spoken to as a browser does: a polling fragment asks the browser for an
``auto_rerun``; the client counts the ones it was asked for.
"""

import pytest

from benchmarks.classroom import streamlit_server
from cvlab.training import runs
from cvlab.training.config import TrainConfig
from tests.harness import polls_asked_for

SCRIPT = "tests/pages/scripts/live_panel_page.py"


@pytest.mark.parametrize("status, polls", [("finished", 0), ("failed", 0), ("stopped", 0), ("queued", 1)])
def test_the_live_view_polls_only_an_active_run(tmp_path, status, polls):
    # (a "running" run without a live worker reads as interrupted: a queued one stands for an active run)
    home = tmp_path / "cvlab-home"  # the data home conftest gives this test; the server shares it
    home.mkdir(parents=True, exist_ok=True)
    run_dir = runs.RunStore().create(TrainConfig(data="shapes"), "ada", owner_id="browser:ada")
    runs.set_status(run_dir, status)
    with streamlit_server(SCRIPT, home) as (url, _process):
        assert polls_asked_for(url, f"run={run_dir.name}") == polls
