"""Streamlit glue shared by every page; the only part of cvlab that imports streamlit.

House rules every page follows:
- every setting widget has a stable ``key=`` and ``bind="query-params"``, so the
  address bar holds the exact configuration and an instructor can share it;
- a page's sections are ``sections(...)`` tabs, bound to ``?section=`` so the
  home page can link straight to one;
- figures go through ``show_figure`` and tables through ``show_table`` (projector
  mode restyles both);
- work that can fail runs inside ``with report_errors():``, which turns any
  error into a readable message instead of a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

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
    """Show a plotly figure from cvlab.viz, restyled for the projector when it is on.

    Projected, the title is text above the chart: it wraps to the chart's width in the page's large
    type, where inside the figure a half-width chart's title ran off its right edge.
    """
    if projector_on():
        title = fig.layout.title.text
        fig = _projected(fig)
        if title:
            st.markdown(f"**{figure_title_text(title)}**")
    st.plotly_chart(fig, key=key, config={"displaylogo": False})


_PROJECTED: dict[int, Any] = {}  # id(figure) -> its projector copy, while the figure lives


def _projected(fig):
    """``for_projector(fig)``, made once per figure: a figure from ``cached_figure`` is shown on every rerun of
    every projecting session, and restyling it was most of such a rerun. Dropped when the figure is."""
    from cvlab.viz.style import for_projector

    with _FIGURES_LOCK:
        copy = _PROJECTED.get(id(fig))
    if copy is None:
        copy = for_projector(fig, keep_title=False)
        with _FIGURES_LOCK:
            _PROJECTED[id(fig)] = copy
        weakref.finalize(fig, _PROJECTED.pop, id(fig), None)
    return copy


_FIGURES: OrderedDict = OrderedDict()  # (builder, inputs) -> figure, shared by every session
_FIGURES_LOCK = threading.Lock()
FIGURE_CACHE_ENTRIES = 256  # a few hundred small figures: a few MB


def cached_figure(builder: Callable[..., Any], *args: Any, cache_key: Any = None, **kwargs: Any) -> Any:
    """``builder(*args, **kwargs)``, built once for the same inputs and shared by every session.

    For the pure figure builders of cvlab.viz, whose inputs are numbers, strings and tuples of them:
    a rerun that changes nothing, or a student landing on settings another has seen, rebuilds no
    figure (building one, and styling it, was the larger part of such a rerun). A figure is never
    changed once built (``show_figure`` restyles a copy for the projector). Inputs that cannot be
    hashed (an image, a model's result) need ``cache_key``: what they are computed from (the image's
    content hash and the settings), which then stands for ``args``; without it they build anew.
    """
    try:
        key = (builder, args if cache_key is None else cache_key, tuple(sorted(kwargs.items())))
        hash(key)
    except TypeError:
        return builder(*args, **kwargs)
    with _FIGURES_LOCK:
        if key in _FIGURES:
            _FIGURES.move_to_end(key)
            return _FIGURES[key]
    figure = builder(*args, **kwargs)
    with _FIGURES_LOCK:
        _FIGURES[key] = figure
        while len(_FIGURES) > FIGURE_CACHE_ENTRIES:
            _FIGURES.popitem(last=False)
    return figure


def figure_title_text(title: str) -> str:
    """A plotly title (HTML-ish: line breaks, <b>, <sup>) as one line of Markdown that shows it as written."""
    plain = re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", " ", title)).strip()
    return plain.translate(_MARKDOWN_SPECIAL)


MISSING = "—"  # a value that does not exist (not published, not measured yet); the column's help says why
PROJECTOR_TABLE_ROWS = 16  # more rows scroll inside the table, so what follows it stays in reach
PROJECTOR_TABLE_HEIGHT = 900  # px, at the projector's type: the header and about 16 rows
# What a static table's Markdown would act on: links and images, code, emphasis, headings, maths,
# Streamlit's :directives:, cell rules. Escaped, a class name from an upload shows as it is.
_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#~$:|"})


def for_the_room(value: Any, *, group: bool | None = None) -> str:
    """A cell as a projected table shows it: what a room reads, and no more.

    Missing is a dash; whole numbers are grouped (138,357,544: every digit of VGG-16's parameters)
    from five digits on, or as ``group`` says (a column groups all or none, so 1792 sits well above
    36,928; years are not grouped); other numbers keep about three significant digits, so that a
    table's fixed four decimals in large type do not push the last columns off the screen (187.4 px
    -> 187, 0.959 stays); text is escaped, since a static table reads its cells as Markdown.
    """
    if value is None or (isinstance(value, float) and value != value):  # None, or NaN from a library
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if (abs(value) >= 10_000 if group is None else group) else str(value)
    if isinstance(value, float):
        if value == 0:
            return "0"  # not "-0" for a difference that rounds to nothing
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value).translate(_MARKDOWN_SPECIAL)


def show_table(rows: Sequence[dict], *, column_config: dict | None = None, height: int | str = "auto",
               projector_columns: Sequence[str] | None = None, key: str | None = None) -> None:
    """Rows of plain values as a table; every table on every page goes through here.

    Normally a dataframe: sortable, scrollable, each column's help on its header, a missing value
    shown as "—". A dataframe is drawn on a canvas that the projector's large type never reaches,
    and it cuts what does not fit its columns ("138,357,..."), so on the projector the rows become
    a static table in that type, cells as ``for_the_room`` writes them, only ``projector_columns``
    when given (a wide table in large type runs off the screen), a long one scrolling inside.
    """
    if not projector_on():
        st.dataframe(list(rows), hide_index=True, column_config=column_config, height=height,
                     placeholder=MISSING, key=key)
        return
    columns = list(projector_columns or (rows[0].keys() if rows else ()))
    grouped = {column: any(isinstance(row.get(column), int) and abs(row[column]) >= 10_000 for row in rows)
               for column in columns}
    cells = [{for_the_room(column): for_the_room(row.get(column), group=grouped[column]) for column in columns}
             for row in rows]
    st.table(cells, hide_index=True, height=PROJECTOR_TABLE_HEIGHT if len(cells) > PROJECTOR_TABLE_ROWS else "content")


def page_link(script: str, label: str, *, icon: str | None = None, query_params: dict | None = None) -> None:
    """A link to another page of the app; plain text where that page is not in the navigation
    (a page script run on its own, as in tests or Streamlit's pages-directory mode)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link(script, label=label, icon=icon, query_params=query_params)
    except StreamlitAPIException:
        st.caption(f"{label}: open it from the navigation.")


def sections(*labels: str) -> list:
    """Tabs for a page's sections, deep-linkable as ``?section=<label>``.

    Bound to the address bar, the tabs track which one is open (a click reruns the page), so a page
    builds only the open section: each section's body goes under ``for _ in open_section(tab):``.
    """
    return st.tabs(list(labels), key=SECTION_KEY, bind="query-params")


def open_section(tab) -> Iterator[None]:
    """Run the loop's body once, inside ``tab``, when it is the open section; a closed one runs nothing.

    A browser draws, and first loads the code of, every element it is sent, hidden tabs' too, and the
    server would compute them all on every rerun. Settings outlive a closed section: a query-bound
    widget that is not drawn keeps its address-bar value until its section opens again
    (tests/pages/test_sections.py shows it against a real server).
    """
    if tab.open is False:
        return
    with tab:
        yield


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
