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


def test_home_has_a_card_for_every_page_and_no_talk_of_pages_to_come():
    app = run_app()
    text = all_text(app)
    assert "as the lab grows" not in text and "Not built yet" not in text
    cards = [link.proto for link in app.get("page_link") if not link.proto.query_string]
    assert [(c.page, c.label) for c in cards] == [(key, p.title) for key, p in PAGES.items() if key != "home"]


def test_every_lecture_path_link_opens_a_section():
    """Topics 12-19 linked only the top of their page: SAM and the losses opened on the U-Net tab."""
    app = run_app()
    stops = [link.proto for link in app.get("page_link") if link.proto.query_string]
    assert len(stops) == sum(len(topic.stops) for topic in LECTURE_PATH)
    assert all("section=" in stop.query_string for stop in stops), [s.label for s in stops]
    sam = next(s for s in stops if s.label.startswith("Segmentation: prompts"))
    assert sam.page == "segmentation" and sam.query_string == "section=Segment+Anything"


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
