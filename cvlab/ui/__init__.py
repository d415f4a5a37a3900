"""Streamlit glue shared by every page; the only part of cvlab that imports streamlit.

House rules every page follows:
- every setting widget has a stable ``key=`` and ``bind="query-params"``, so the
  address bar holds the exact configuration and an instructor can share it;
- a page's sections are ``sections(...)`` tabs, bound to ``?section=`` so the
  home page can link straight to one;
- figures go through ``show_figure`` (projector mode restyles them);
- work that can fail runs inside ``with report_errors():``, which turns any
  error into a readable message instead of a traceback.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

import streamlit as st

from cvlab.errors import CvlabError

log = logging.getLogger("cvlab.ui")

PROJECTOR_KEY = "projector"
SECTION_KEY = "section"
_ASSETS = Path(__file__).resolve().parents[2] / "assets"


def projector_on() -> bool:
    return bool(st.session_state.get(PROJECTOR_KEY, False))


def projector_toggle() -> bool:
    """The one app-wide switch; bound to ``?projector=true`` so it survives page changes."""
    on = st.toggle(
        "Projector mode",
        key=PROJECTOR_KEY,
        bind="query-params",
        help="Large text, thick lines and strong contrast for a classroom projector.",
    )
    sheets = ["app.css", "projector.css"] if on else ["app.css"]
    st.html("".join(f"<style>{(_ASSETS / name).read_text()}</style>" for name in sheets))
    return on


def show_figure(fig, *, key: str | None = None) -> None:
    """Show a plotly figure from cvlab.viz, restyled for the projector when it is on."""
    if projector_on():
        from cvlab.viz.style import for_projector

        fig = for_projector(fig)
    st.plotly_chart(fig, key=key, config={"displaylogo": False})


def page_link(script: str, label: str, *, icon: str | None = None, query_params: dict | None = None) -> None:
    """A link to another page of the app; plain text where that page is not in the navigation
    (a page script run on its own, as in tests or Streamlit's pages-directory mode)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link(script, label=label, icon=icon, query_params=query_params)
    except StreamlitAPIException:
        st.caption(f"{label}: open it from the navigation.")


def sections(*labels: str) -> list:
    """Tabs for a page's sections, deep-linkable as ``?section=<label>``."""
    return st.tabs(list(labels), key=SECTION_KEY, bind="query-params")


def _friendly(err: BaseException) -> str:
    if isinstance(err, CvlabError):
        return str(err)
    name = type(err).__name__
    if name == "OutOfMemoryError" or isinstance(err, MemoryError):
        return (
            "The computation ran out of memory. Try a smaller input, batch or model; "
            "nothing you entered was lost."
        )
    return (
        f"Something went wrong ({name}: {err}). Your settings are kept; change one and "
        "try again, and if it happens again please report it with the page's address."
    )


@contextlib.contextmanager
def report_errors() -> Iterator[None]:
    """Show any error raised inside the block as a message, never a traceback.

    Streamlit's own control flow (st.stop, st.rerun) derives from BaseException
    and passes through untouched.
    """
    try:
        yield
    except Exception as err:  # noqa: BLE001 - the point is to catch everything
        if not isinstance(err, CvlabError):
            log.exception("Unexpected error on a page")
        st.error(_friendly(err), icon=":material/error:")
