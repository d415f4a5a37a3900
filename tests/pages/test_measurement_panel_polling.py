"""The zoo's measurement panel polls only while a measuring job is queued or running.

Against a real server, spoken to as a browser does: a polling fragment asks the browser for an
``auto_rerun``; the client counts the ones it was asked for.
"""

import time

import pytest

from benchmarks.classroom import streamlit_server
from cvlab.zoo import measure_job
from tests.harness import polls_asked_for

SCRIPT = "tests/pages/scripts/measurement_panel_page.py"


@pytest.mark.parametrize("state, polls", [(None, 0), ("finished", 0), ("queued", 1)])
def test_the_measurement_panel_polls_only_while_a_job_goes(tmp_path, state, polls):
    home = tmp_path / "cvlab-home"  # the data home conftest gives this test; the server shares it
    home.mkdir(parents=True, exist_ok=True)
    if state is not None:
        measure_job.write_job(measure_job.job_dir(), {
            "job_id": "job-1", "state": state, "suite": "segmentation", "total": 2, "done": 0,
            "queued_at": time.time(), "updated": time.time()})
    with streamlit_server(SCRIPT, home) as (url, _process):
        assert polls_asked_for(url) == polls
