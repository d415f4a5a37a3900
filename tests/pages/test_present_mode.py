"""Present mode through the real entry script: the bar's number, title and links, the stop landed on, and
what an address that names no real stop gets."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from cvlab.syllabus import LECTURE_PATH, PAGES, WALK_THROUGH, walk_stop
from tests.pages.apptest import run_script

LAST = len(WALK_THROUGH)


def present(**query) -> AppTest:
    return run_script("streamlit_app.py", **query)


def bar(app: AppTest) -> str:
    bars = [el.proto.body for el in app.get("html") if 'class="cvlab-present"' in el.proto.body]
    assert len(bars) == 1, f"{len(bars)} present bars"
    return bars[0]


def where(app: AppTest) -> str:
    return unescape(re.sub(r"<[^>]+>", "", re.search(r'<a class="cvlab-present-where"[^>]*>(.*?)</a>',
                                                     bar(app)).group(1)))


def link(app: AppTest, step: str) -> tuple[str, dict[str, list[str]]] | None:
    """The page a Previous / Next link opens, and its query."""
    found = re.search(rf'<a class="cvlab-present-{step}" href="([^"]+)"', bar(app))
    if found is None:
        return None
    path, _, query = unescape(found.group(1)).partition("?")
    return path, parse_qs(query)


def warnings(app: AppTest) -> list[str]:
    return [w.value for w in app.warning]


def test_the_walk_through_is_every_stop_of_the_lecture_in_order():
    assert [(w.topic, w.stop) for w in WALK_THROUGH] == [(t, s) for t in LECTURE_PATH for s in t.stops]
    assert [w.number for w in WALK_THROUGH] == list(range(1, LAST + 1))
    assert all(w.stop.page in PAGES for w in WALK_THROUGH)


@pytest.mark.parametrize("text, number, said", [
    (None, 1, ""), ("", 1, ""), ("5", 5, ""), (" 7 ", 7, ""), (str(LAST), LAST, ""),
    ("banana", 1, "not a whole number"), ("2.5", 1, "not a whole number"), ("9" * 5000, 1, "not a whole number"),
    ("0", 1, f"stops 1 to {LAST} only"), ("-4", 1, f"stops 1 to {LAST} only"),
    (str(LAST + 1), LAST, f"stops 1 to {LAST} only"),
])
def test_a_stop_number_from_an_address_is_read_or_clamped_with_a_reason(text, number, said):
    at, notice = walk_stop(text)
    assert at.number == number
    assert (said in notice) if said else notice == ""


def test_a_stop_opens_its_page_and_section_at_the_lecture_setting_with_the_bar_on_top():
    """Stop 4 is the calculator at the lecture's first example: 32x32, K=3, P=1, S=1 gives 32x32."""
    at = WALK_THROUGH[3]
    assert (at.stop.page, at.stop.section, at.stop.params) == ("output-size", "Single layer", {"p": "1"})
    app = present(present="lecture", stop="4")  # on the home page: the address names only the stop
    assert app.title[0].value == "Output size"
    assert app.number_input(key="p").value == 1 and app.number_input(key="h").value == 32
    assert app.metric[0].value == "32 x 32"
    assert where(app) == f"Stop 4 of {LAST} · Output size: calculator"
    assert app.toggle(key="projector").value is True  # projector mode forced on
    assert not warnings(app)


def test_previous_and_next_link_the_neighbouring_stops_in_present_mode():
    app = present(present="lecture", stop="4")
    for step, to in (("previous", WALK_THROUGH[2]), ("next", WALK_THROUGH[4])):
        path, query = link(app, step)
        assert path == PAGES[to.stop.page].url_path
        assert query == {"section": [to.stop.section], **{k: [v] for k, v in to.stop.params.items()},
                         "present": ["lecture"], "stop": [str(to.number)], "projector": ["true"]}


def test_the_first_stop_has_no_previous_and_the_last_no_next():
    first = present(present="lecture", stop="1")
    assert link(first, "previous") is None and "Start of the lecture" in bar(first)
    assert link(first, "next")[1]["stop"] == ["2"]
    last = present(present="lecture", stop=str(LAST))
    assert link(last, "next") is None and "End of the lecture" in bar(last)
    assert link(last, "previous")[1]["stop"] == [str(LAST - 1)]
    assert where(last).startswith(f"Stop {LAST} of {LAST}")


@pytest.mark.parametrize("stop, number", [("banana", 1), ("0", 1), ("-3", 1), ("100000", LAST)])
def test_a_stop_that_does_not_exist_opens_the_nearest_and_says_so(stop, number):
    app = present(present="lecture", stop=stop)
    assert where(app).startswith(f"Stop {number} of {LAST}")
    assert any("this is stop" in text for text in warnings(app)), warnings(app)
    assert app.title[0].value != "CV Lab"  # it went on to the stop's page


def test_another_walk_through_name_presents_the_lecture_and_says_so():
    app = present(present="<b>x</b>", stop="2")
    assert where(app).startswith(f"Stop 2 of {LAST}")
    assert any("present=lecture" in text for text in warnings(app))
    assert "<b>x</b>" not in bar(app)


def test_the_bar_keeps_its_stop_while_the_page_is_used():
    """A changed setting reruns the page where it is: no jump back to the stop's settings, no second landing."""
    app = present(present="lecture", stop="4")
    app.number_input(key="h").set_value(64).run()
    assert not app.exception
    assert app.number_input(key="h").value == 64
    assert where(app).startswith("Stop 4 of")


def test_without_present_there_is_no_bar_and_the_home_page_opens():
    app = run_script("streamlit_app.py")
    assert not [el for el in app.get("html") if 'class="cvlab-present"' in el.proto.body]
    assert app.title[0].value == "CV Lab"


def test_the_home_page_links_to_the_first_stop_in_present_mode():
    from cvlab.ui.present import stop_href

    app = run_script("streamlit_app.py")
    links = [el.proto.body for el in app.get("html") if "cvlab-present-start" in el.proto.body]
    assert len(links) == 1
    href = unescape(re.search(r'href="([^"]+)"', links[0]).group(1))
    assert href == stop_href(WALK_THROUGH[0])
    path, _, query = href.partition("?")
    assert path == PAGES[WALK_THROUGH[0].stop.page].url_path
    assert parse_qs(query)["present"] == ["lecture"] and parse_qs(query)["stop"] == ["1"]


def widget_value(app: AppTest, key: str):
    for kind in ("selectbox", "multiselect", "number_input", "slider", "select_slider", "text_input", "toggle",
                 "button_group"):
        for widget in app.get(kind):
            if getattr(widget, "key", None) == key:
                return widget.value
    raise AssertionError(f"no widget with key {key!r}")


def same_setting(shown, wanted: str) -> bool:
    if isinstance(shown, (list, tuple)):  # a multiselect: the address's one value replaces the default list
        return list(shown) == [wanted]
    if isinstance(shown, float):
        return shown == float(wanted)
    return str(shown) == wanted


@pytest.mark.parametrize("at", [w for w in WALK_THROUGH if w.stop.params], ids=lambda w: f"stop-{w.number}")
def test_every_stop_sets_the_lecture_settings_on_its_page(at):
    """Each setting a stop names reaches the widget it names: none is dropped as unknown or invalid."""
    app = present(present="lecture", stop=str(at.number))
    assert app.title[0].value == PAGES[at.stop.page].title
    for key, wanted in at.stop.params.items():
        assert same_setting(widget_value(app, key), wanted), (key, wanted, widget_value(app, key))
