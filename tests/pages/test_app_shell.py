"""The app shell and the home page, through the real entry script."""

from streamlit.testing.v1 import AppTest

from cvlab.syllabus import LECTURE_PATH, PAGES
from tests.pages.apptest import run_script


def run_app(**query) -> AppTest:
    return run_script("streamlit_app.py", **query)


def all_text(app: AppTest) -> str:
    return "\n".join(str(m.value) for m in [*app.markdown, *app.caption])


def test_home_lists_the_lecture_path_in_order():
    text = all_text(run_app())
    positions = [text.index(f"{n}. {topic.title}") for n, topic in enumerate(LECTURE_PATH, 1)]
    assert positions == sorted(positions)


def test_missing_pages_are_announced_and_built_pages_are_not():
    text = all_text(run_app())
    for page in PAGES.values():
        mentioned = f"the {page.title} page" in text or f"{page.title} and" in text or f"and {page.title}" in text
        if page.exists:
            assert f"Not built yet: the {page.title}" not in text
        elif any(stop.page == page.url_path for topic in LECTURE_PATH for stop in topic.stops):
            assert mentioned, page.title


def test_projector_mode_comes_from_the_address_and_injects_its_style():
    plain = run_app()
    assert plain.toggle(key="projector").value is False
    assert not [el for el in plain.get("html") if "Projector mode" in str(el.proto)]
    projected = run_app(projector="true")
    assert projected.toggle(key="projector").value is True
    styles = [el for el in projected.get("html") if "Projector mode" in str(el.proto)]
    assert styles, "projector CSS was not injected"


def test_device_panel_shows_the_probe_result():
    import time

    import torch

    app = run_app()
    deadline = time.monotonic() + 120
    while f"torch {torch.__version__}" not in all_text(app) and time.monotonic() < deadline:
        time.sleep(0.5)  # the probe is a background process; the next rerun shows it
        app.run()
    text = all_text(app)
    assert f"torch {torch.__version__}" in text
    assert "No weight downloads" in text  # the tests run with CVLAB_OFFLINE=1
    assert not app.warning, [w.value for w in app.warning]
