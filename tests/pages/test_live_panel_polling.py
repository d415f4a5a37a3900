"""The live view polls the run folder while its run is active, and not at all once the run has ended.

Against a real server, spoken to as a browser does: a polling fragment asks the browser for an
``auto_rerun``; the client counts the ones it was asked for.
"""

import asyncio

import pytest

from benchmarks.classroom import Session, streamlit_server
from cvlab.training import runs
from cvlab.training.config import TrainConfig

SCRIPT = "tests/pages/scripts/live_panel_page.py"


def polls_asked_for(url: str, run_id: str) -> int:
    async def go():
        session = Session(url, "", query_string=f"run={run_id}")
        await session.open()
        asked = len(session.polls)
        await session.close()
        return asked, session.errors

    asked, errors = asyncio.run(go())
    assert not errors
    return asked


@pytest.mark.parametrize("status, polls", [("finished", 0), ("failed", 0), ("stopped", 0), ("queued", 1)])
def test_the_live_view_polls_only_an_active_run(tmp_path, status, polls):
    # (a "running" run without a live worker reads as interrupted: a queued one stands for an active run)
    home = tmp_path / "cvlab-home"  # the data home conftest gives this test; the server shares it
    home.mkdir(parents=True, exist_ok=True)
    run_dir = runs.RunStore().create(TrainConfig(data="shapes"), "ada", owner_id="browser:ada")
    runs.set_status(run_dir, status)
    with streamlit_server(SCRIPT, home) as (url, _process):
        assert polls_asked_for(url, run_dir.name) == polls
