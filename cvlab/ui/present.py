"""Present mode: the lecture as a walk-through, one stop at a time, from ``?present=lecture&stop=N``.

The address is the whole state (which stop, and the stop's own page, section and settings), so a
presenter's address opened on a student's screen lands on the same stop. A bar at the top of every
page says where the lecture is and links to the stops either side; a presenter's clicker (PageDown /
PageUp) or the arrow keys follow those links. Streamlit has no key events, so one small script,
installed once per browser page, listens on the document and clicks the link.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitAPIException

from cvlab.syllabus import PAGES, WALK_THROUGH, WalkStop, walk_stop
from cvlab.ui import PROJECTOR_KEY, SECTION_KEY

PRESENT_KEY = "present"
STOP_KEY = "stop"
LECTURE = "lecture"  # the one walk-through there is: ?present=lecture
LANDED_KEY = "present_landed"  # set once a session has opened its first stop
NOTICE_KEY = "present_notice"  # why the stop landed on is not the one asked for (the session ends at the next)
BAR_KEY = "present_bar"  # the bar's container; Streamlit gives it the class st-key-present_bar

_CSS = "<style>" + (Path(__file__).resolve().parents[2] / "assets" / "present.css").read_text() + "</style>"

# Keys go to the page unless the focus is somewhere typing or a widget uses them itself (a number box,
# a slider, the tabs' own arrow keys): a student typing a number must not change the slide. Modified keys
# (Alt+Left is the browser's Back) are left alone. The guard on window makes the copy that comes with
# every rerun's bar a no-op.
_KEY_SCRIPT = """<script>
if (!window.cvlabPresentKeys) {
  window.cvlabPresentKeys = true;
  const steps = {ArrowRight: "next", PageDown: "next", ArrowLeft: "previous", PageUp: "previous"};
  const busy = "input, textarea, select, [contenteditable], [role=slider], [role=tab], [role=combobox], " +
               "[role=listbox], [role=spinbutton], [role=option]";
  document.addEventListener("keydown", (event) => {
    const step = steps[event.key];
    if (!step || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (event.target instanceof Element && event.target.closest(busy)) return;
    const link = document.querySelector("a.cvlab-present-" + step);
    if (!link) return;
    event.preventDefault();
    link.click();
  }, true);
}
</script>"""


@dataclass(frozen=True)
class Presenting:
    """The stop an address presents, and why it is not the one the address asked for ("" when it is)."""

    at: WalkStop
    notice: str = ""


def requested() -> Presenting | None:
    """The walk-through stop the address asks for, or None when it asks for none (no ``?present=``)."""
    name = st.query_params.get(PRESENT_KEY)
    if name is None:
        return None
    at, notice = walk_stop(st.query_params.get(STOP_KEY))
    if name != LECTURE:
        notice = " ".join(filter(None, [f"The only walk-through is the lecture's (?{PRESENT_KEY}={LECTURE}).",
                                        notice]))
    return Presenting(at, notice)


def stop_address(at: WalkStop) -> dict[str, str]:
    """The query parameters that open ``at`` in present mode: its section and settings, and where it is."""
    return {**at.query, PRESENT_KEY: LECTURE, STOP_KEY: str(at.number)}


def stop_href(at: WalkStop) -> str:
    """The stop's address relative to the page showing the bar (every page sits one level under the app's
    root, a base path included), projector mode on."""
    return f"{PAGES[at.stop.page].url_path}?{urlencode({**stop_address(at), PROJECTOR_KEY: 'true'})}"


def start_presenting() -> None:
    """Projector mode on, before its switch is drawn (the switch then writes it into the address)."""
    st.session_state[PROJECTOR_KEY] = True


def go_to_the_stop(presenting: Presenting, current_url_path: str) -> None:
    """Open the stop's page at its section when the address names only the stop (or another page):
    ``?present=lecture&stop=7`` typed on any page lands where the presenter is.

    Only on a session's first run, an address just opened: later runs have the page's own widgets
    bound to the address (a section left at its first tab is not in it), and the bar's links load
    their stop afresh with the section in them.
    """
    if st.session_state.get(LANDED_KEY):
        return
    st.session_state[LANDED_KEY] = True
    at = presenting.at
    page_key = "home" if current_url_path in ("", "home") else current_url_path
    if page_key != at.stop.page or SECTION_KEY not in st.query_params:
        st.session_state[NOTICE_KEY] = presenting.notice  # the stop's own address carries no reason
        try:
            st.switch_page(PAGES[at.stop.page].script, query_params=stop_address(at))
        except StreamlitAPIException:  # a setting of the stop is held by a widget already drawn in this session
            st.session_state[NOTICE_KEY] = "This page could not open the stop by itself: click its title above."


def present_bar(presenting: Presenting) -> None:
    """Where the lecture is (stop N of M, the topic and the stop) between links to the stops either side.

    Drawn on every rerun of every presenting session, so it is one piece of HTML made from constants.
    Each link loads its stop as a fresh page, exactly as the shared address opens it on a student's
    screen: the page reads its section and settings from the address, with nothing left of the last stop.
    (An in-app switch, st.page_link, kept the last page's widgets bound to their address names: the next
    page lost its ?section=, and st.switch_page may not set a bound name at all.)
    """
    with st.container(key=BAR_KEY):
        st.html(bar_html(presenting.at.number), unsafe_allow_javascript=True)
        notice = presenting.notice or st.session_state.get(NOTICE_KEY, "")
        if notice:
            st.warning(notice, icon=":material/info:")


@functools.cache  # one per stop, made from constants: a rerun only looks it up
def bar_html(number: int) -> str:
    """The bar of stop ``number``: its stylesheet, the links and the title, and the key script."""
    at, last = WALK_THROUGH[number - 1], len(WALK_THROUGH)
    links = []
    for step, neighbour, text in (("previous", number - 1, "← Previous"), ("next", number + 1, "Next →")):
        if 1 <= neighbour <= last:
            to = WALK_THROUGH[neighbour - 1]
            keys = "PageUp or ←" if step == "previous" else "PageDown or →"
            links.append(f'<a class="cvlab-present-{step}" href="{html.escape(stop_href(to))}" '
                         f'title="Stop {neighbour}: {html.escape(to.title)} ({keys})">{text}</a>')
        else:
            links.append(f'<span class="cvlab-present-end">{"Start" if step == "previous" else "End"} '
                         "of the lecture</span>")
    where = (f'<a class="cvlab-present-where" href="{html.escape(stop_href(at))}" title="This stop afresh, at the '
             f'lecture\'s settings"><b>Stop {at.number} of {last}</b> · {html.escape(at.title)}</a>')
    return f'{_CSS}<nav class="cvlab-present" aria-label="The lecture, stop by stop">{links[0]}{where}' \
           f"{links[1]}</nav>{_KEY_SCRIPT}"


def present_link() -> None:
    """The home page's way in: the first stop, loaded as a fresh page like every stop after it."""
    first = WALK_THROUGH[0]
    st.html(f'{_CSS}<a class="cvlab-present-start" href="{html.escape(stop_href(first))}" title="Stop 1 of '
            f'{len(WALK_THROUGH)}: {html.escape(first.title)}. Next and previous: PageDown / PageUp or the arrow '
            'keys.">Present the lecture, stop by stop →</a>')
