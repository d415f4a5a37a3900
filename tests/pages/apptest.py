"""Run a page script under AppTest with address-bar parameters, failing on any exception."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from cvlab.syllabus import REPO_ROOT


def run_script(script: str, *, timeout: float = 60, **query) -> AppTest:
    """``script`` from the repository root; ``query`` as the address bar would give it."""
    app = AppTest.from_file(str(REPO_ROOT / script), default_timeout=timeout)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    return app
