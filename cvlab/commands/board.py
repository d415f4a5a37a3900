"""``python -m cvlab board EXERCISE``: the class board of one lab exercise, as the Class board page shows it."""

from __future__ import annotations

import argparse

from cvlab.commands import COMMANDS, Command, text_table


def _configure(parser: argparse.ArgumentParser) -> None:
    from cvlab.board import LAB_EXERCISES

    parser.add_argument("exercise", nargs="?", metavar="EXERCISE",
                        help=f"one of: {', '.join(LAB_EXERCISES.names())}")
    parser.add_argument("--list", action="store_true", help="the lab exercises and their questions")


def run(args: argparse.Namespace):
    from cvlab.board import LAB_EXERCISES, exercise_board
    from cvlab.errors import InvalidInput
    from cvlab.training.runs import RunStore

    if args.list or not args.exercise:
        if not args.list:
            raise InvalidInput(f"Name an exercise: one of {', '.join(LAB_EXERCISES.names())} (or --list).")
        return [exercise for _, exercise in LAB_EXERCISES.items()]
    return exercise_board(args.exercise, RunStore().list())


def render(result) -> str:
    from cvlab.board import board_rows
    from cvlab.server.access import account_id

    if isinstance(result, list):
        return text_table([{"exercise": e.tag, "title": e.title, "question": e.question} for e in result])
    rows = board_rows(result, account_id())
    return "\n".join([f"{result.exercise.title}: {result.exercise.question}", result.answer.summary, "",
                      text_table(rows, ("student", "arm", "final accuracy %", "epochs", "time s", "status", "run"))])


COMMANDS.register("board", Command(
    name="board", help="the class board of a lab exercise: every student's runs and the class's answer",
    configure=_configure, run=run, render=render))
