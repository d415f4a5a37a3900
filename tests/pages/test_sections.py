"""Sections against a real Streamlit server, spoken to as a browser does (websocket, protobuf).

A closed section builds nothing, and its address-bound settings are not lost: an address's value
waits for its section to open, and a value set there survives a visit to another section.
"""

import asyncio
from pathlib import Path

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from benchmarks.classroom import Session, streamlit_server

SCRIPT = "tests/pages/scripts/sections_page.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_server(SCRIPT, Path(tmp_path_factory.mktemp("sections-home"))) as (url, _process):
        yield url


def visit(url: str, query: str, steps):
    async def go():
        session = Session(url, "", query_string=query)
        await session.open()
        try:
            return await steps(session)
        finally:
            await session.close()

    return asyncio.run(go())


def test_a_closed_section_builds_nothing(server):
    async def steps(session):
        return session.texts, [w.kind for w in session.widgets.values()]

    texts, widgets = visit(server, "section=Other", steps)
    assert texts == ["built Other"]
    assert "number_input" not in widgets  # the closed section's setting was not even drawn


def test_an_address_setting_waits_for_its_closed_section(server):
    async def steps(session):
        await session.open_tab("section", "Settings")
        return session.texts

    assert visit(server, "section=Other&kernel=5", steps) == ["built Settings", "kernel=5"]


def test_a_setting_survives_a_visit_to_another_section(server):
    async def steps(session):
        kernel = next(w for w in session.widgets.values() if w.kind == "number_input")
        await session.set(WidgetState(id=kernel.id, double_value=7))
        await session.open_tab("section", "Other")
        closed = session.texts
        await session.open_tab("section", "Settings")
        return closed, session.texts

    closed, reopened = visit(server, "", steps)
    assert closed == ["built Other"]
    assert reopened == ["built Settings", "kernel=7"]
