"""Streamlit glue for the Class board: a lab exercise's board, built from the app's cached run listing.

A board reads the metrics of every run of its exercise. Those reads are kept while a run's
metrics.jsonl is unchanged (its size and mtime are the key) and boards while no run of theirs
changed, so a projected board that a class reloads costs a few stats per rerun.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from cvlab.board import Board, board_rows, exercise_board
from cvlab.jobs.status import RunStatus
from cvlab.training.runs import RunInfo, read_metrics
from cvlab.ui import cached_figure, report_errors, show_figure, show_table
from cvlab.ui.training import listed_runs
from cvlab.viz.board import board_figure

LIVE_REFRESH_S = 5.0  # while a run of the board trains: an epoch takes longer than this
CACHED_RUNS = 512  # metrics of this many runs; a class of 30 running four exercises of three arms is 360
_metrics: OrderedDict = OrderedDict()  # (path, mtime_ns, size) -> records
_boards: dict = {}  # tag -> (key, Board)
_lock = threading.Lock()


def _file_key(run_dir: Path) -> tuple:
    path = run_dir / "metrics.jsonl"
    try:
        stat = path.stat()
    except OSError:
        return (str(path), 0, 0)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _records(info: RunInfo) -> list[dict]:
    key = _file_key(info.run_dir)
    with _lock:
        if key in _metrics:
            _metrics.move_to_end(key)
            return _metrics[key]
    records = read_metrics(info.run_dir)
    with _lock:
        _metrics[key] = records
        while len(_metrics) > CACHED_RUNS:
            _metrics.popitem(last=False)
    return records


def cached_board(tag: str) -> Board:
    """``exercise_board(tag, ...)`` over the app's run listing, rebuilt only when one of its runs changed."""
    infos = [info for info in listed_runs() if info.record.get("exercise") == tag]
    key = tuple((info.run_id, info.status, _file_key(info.run_dir)) for info in infos)
    with _lock:
        if tag in _boards and _boards[tag][0] == key:
            return _boards[tag][1]
    board = exercise_board(tag, infos, _records)
    with _lock:
        _boards[tag] = (key, board)
    return board


def board_section(tag: str, me: str, x: str) -> None:
    board = cached_board(tag)
    live = any(run.status == RunStatus.RUNNING for run in board.runs)
    (_live_board if live else _still_board)(tag, me, x)


@st.fragment(run_every=LIVE_REFRESH_S)
def _live_board(tag: str, me: str, x: str) -> None:
    _draw(cached_board(tag), me, x)


@st.fragment
def _still_board(tag: str, me: str, x: str) -> None:
    _draw(cached_board(tag), me, x)


def _draw(board: Board, me: str, x: str) -> None:
    with report_errors():
        st.markdown(f"**{board.exercise.question}**")
        st.info(board.answer.summary, icon=":material/groups:")
        if not board.runs:
            st.caption("No runs of this exercise yet: start it with one click on the Training page "
                       f"(New run, *{board.exercise.title}*).")
            return
        mine = sum(run.owner_id == me for run in board.runs) if me else 0
        st.caption(f"{len(board.runs)} run(s) by {len({run.owner_id for run in board.runs})} student(s)"
                   + (f"; yours ({mine}) are the thick lines marked *you*." if mine else "."))
        show_figure(cached_figure(board_figure, board.runs, me, x, f"{board.exercise.title}: validation accuracy"))
        show_table(board_rows(board, me), projector_columns=("student", "arm", "final accuracy %", "epochs", "time s"),
                   column_config={"final accuracy %": st.column_config.NumberColumn(format="%.1f"),
                                  "time s": st.column_config.NumberColumn(format="%.0f")})
