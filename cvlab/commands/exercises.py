"""``python -m cvlab exercises``: list, show and check the self-checking exercises; the class view and reveal.

An answer checked here is kept like one typed on the Exercises page, for this operating-system
account. The class view and the reveal switch are the instructor's (``--instructor``: the secret
is asked at a prompt, from the account that runs the server).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.errors import InvalidInput

ACTIONS = ("list", "show", "check", "class", "reveal", "hide")


@dataclass(frozen=True)
class ExerciseView:
    exercise_id: str
    topic: str
    prompt: str
    answer_format: str
    choices: tuple[str, ...]
    answer: str | None = None  # with --solution, or once checked
    solution: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    exercise_id: str
    given: str
    correct: bool
    hint: str
    attempts: int
    answer: str
    solution: tuple[str, ...]


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="list", choices=ACTIONS,
                        help="list (the lecture's, or --seed N's set), show ID, check ID ANSWER, class ID, reveal ID, "
                             "hide ID")
    parser.add_argument("exercise", nargs="?", metavar="ID", help="e.g. lecture-1, scenario-A, chain-7")
    parser.add_argument("answer", nargs="?", metavar="ANSWER", help="for check: 62, 62x62, or a choice")
    parser.add_argument("--seed", type=int, help="list the exercises generated from this seed")
    parser.add_argument("--solution", action="store_true", help="show: include the answer and the worked solution")
    parser.add_argument("--instructor", action="store_true", help="class, reveal, hide: the instructor's (asks the "
                                                                  "secret)")


def _view(exercise, solution: bool) -> ExerciseView:
    return ExerciseView(exercise.exercise_id, exercise.topic, exercise.prompt, exercise.answer_format,
                        exercise.choices, exercise.answer if solution else None,
                        exercise.solution if solution else ())


def run(args: argparse.Namespace):
    from cvlab.exercise_answers import AnswerStore, NotInstructor
    from cvlab.exercises import generated_exercises, get_exercise, lecture_exercises

    if args.action == "list":
        chosen = lecture_exercises() if args.seed is None else generated_exercises(args.seed)
        return [_view(exercise, False) for exercise in chosen]
    if not args.exercise:
        raise InvalidInput(f"`{args.action}` needs an exercise id: python -m cvlab exercises {args.action} ID "
                           "(python -m cvlab exercises list shows them).")
    exercise = get_exercise(args.exercise)
    if args.action == "show":
        return _view(exercise, args.solution)
    if args.action == "check":
        from cvlab.server.access import account_id

        stored, hint = AnswerStore().record(account_id(), exercise, args.answer or "")
        return CheckResult(exercise.exercise_id, stored.latest_answer, stored.correct, hint, stored.attempts,
                           exercise.answer, exercise.solution)
    if not args.instructor:
        raise NotInstructor(f"`{args.action}` is the instructor's: add --instructor (the secret is asked).")
    from cvlab.commands.runs import _instructor_secret_checked

    instructor = _instructor_secret_checked()
    store = AnswerStore()
    if args.action in ("reveal", "hide"):
        store.set_revealed(exercise, args.action == "reveal", instructor=instructor)
    return store.class_summary(exercise)


def render(result) -> str:
    if isinstance(result, list):
        return text_table([{"id": v.exercise_id, "topic": v.topic, "prompt": v.prompt} for v in result])
    if isinstance(result, ExerciseView):
        lines = [f"{result.exercise_id} ({result.topic})", result.prompt]
        lines += [f"choices: {', '.join(result.choices)}"] if result.choices else []
        if result.answer is not None:
            lines += ["", f"answer: {result.answer}", *result.solution]
        return "\n".join(lines)
    if isinstance(result, CheckResult):
        verdict = f"Right: {result.given}." if result.correct else f"Not {result.given}. {result.hint}"
        return "\n".join([verdict, f"(attempt {result.attempts})", *([""] + list(result.solution)
                                                                      if result.correct else [])])
    wrong = [{"wrong answer": w.answer, "students": w.count, "slip": w.hint.split(":")[0]}
             for w in result.wrong_answers]
    return "\n".join([f"{result.exercise_id}: {result.answered} answered, {result.right} right now, "
                      f"{result.right_first_time} right first time; solution "
                      f"{'revealed' if result.revealed else 'hidden'}", "", text_table(wrong)])


COMMANDS.register("exercises", Command(
    name="exercises", help="the self-checking exercises: list, show, check an answer; the class view (instructor)",
    configure=_configure, run=run, render=render))
