"""An exercise that checks itself: its prompt, canonical answer, worked solution and likely slips; typed answers parsed.

An ``Exercise`` carries its ``mistakes``: the answer a known slip gives (the +1
forgotten, padding on one side only, the bias counted twice...), computed by
whoever makes the exercise by redoing the arithmetic with that slip, so a wrong
answer that matches one gets a hint naming it. What a student types is parsed
strictly (``parse_answer``): a whole number, a size ``HxW`` or one of the offered
choices, at most ``MAX_ANSWER_CHARS`` characters; anything else is refused with a
message saying what to type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cvlab.errors import InvalidInput

MAX_ANSWER_CHARS = 32  # the longest answer any exercise needs is a choice label
MAX_SEED = 999_999  # seeds a student may type; a generated id is "<kind>-<seed>"
SIZE, COUNT, CHOICE = "size", "count", "choice"  # answer formats: "HxW", a whole number, one of the choices

_SIZE = re.compile(r"(\d{1,6})\s*[xX×*]\s*(\d{1,6})")
_COUNT = re.compile(r"\d{1,12}|\d{1,3}(?:[,_ ]\d{3}){1,3}")


@dataclass(frozen=True)
class Mistake:
    answer: str  # the answer this slip gives, in canonical form ("31x31", "1792", a choice)
    hint: str  # names the slip and how to avoid it, without giving the answer away


@dataclass(frozen=True)
class Verdict:
    correct: bool
    given: str  # the answer as parsed, in canonical form
    hint: str  # for a wrong answer: the likely mistake, or where to look; "" when right
    solution: tuple[str, ...]  # the worked solution, step by step


@dataclass(frozen=True)
class Exercise:
    exercise_id: str  # "lecture-1", "scenario-A", "chain-42" ...
    topic: str  # what it practises, shown above the prompt
    prompt: str
    answer_format: str  # SIZE, COUNT or CHOICE
    answer: str  # canonical form
    solution: tuple[str, ...]
    mistakes: tuple[Mistake, ...] = ()
    general_hint: str = ""  # for a wrong answer no known slip explains
    choices: tuple[str, ...] = ()  # CHOICE only

    def parse(self, text: object) -> str:
        return parse_answer(text, self.answer_format, self.choices, square=_is_square(self.answer))

    def slip(self, answer: str) -> str:
        """The hint of the known slip that gives exactly this canonical answer; "" when none does."""
        return next((mistake.hint for mistake in self.mistakes if mistake.answer == answer), "")

    def diagnose(self, answer: str) -> str:
        """The hint for a wrong canonical answer: the slip that gives exactly it, else the general hint."""
        return self.slip(answer) or self.general_hint

    def check(self, text: object) -> Verdict:
        given = self.parse(text)
        correct = given == self.answer
        return Verdict(correct, given, "" if correct else self.diagnose(given), self.solution)


def _is_square(answer: str) -> bool:
    match = _SIZE.fullmatch(answer)
    return bool(match) and match.group(1) == match.group(2)


def size_text(height: int, width: int | None = None) -> str:
    return f"{height}x{height if width is None else width}"


def parse_answer(text: object, answer_format: str, choices: tuple[str, ...] = (), *, square: bool = True) -> str:
    """A typed answer in canonical form, or InvalidInput saying what to type."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("Type an answer first.")
    if len(text) > MAX_ANSWER_CHARS:
        raise InvalidInput(f"That answer is {len(text)} characters long; an answer here is at most "
                           f"{MAX_ANSWER_CHARS}: a number such as 62, or a size such as 62x62.")
    typed = text.strip()
    if answer_format == CHOICE:
        by_text = {choice.casefold(): choice for choice in choices}
        if typed.casefold() in by_text:
            return by_text[typed.casefold()]
        if typed.isdigit() and 1 <= int(typed) <= len(choices):
            return choices[int(typed) - 1]
        raise InvalidInput(f"Choose one of: {', '.join(choices)}.")
    if answer_format == SIZE:
        if match := _SIZE.fullmatch(typed):
            return size_text(int(match.group(1)), int(match.group(2)))
        if typed.isdigit() and len(typed) <= 6:
            if not square:
                raise InvalidInput("Height and width differ here: type both sides as HxW, e.g. 31x15.")
            return size_text(int(typed))
        raise InvalidInput("Type the output size in pixels: one number for a square output (62) or HxW (62x31).")
    if answer_format == COUNT:
        if _COUNT.fullmatch(typed):
            return str(int(re.sub(r"[,_ ]", "", typed)))
        raise InvalidInput("Type a whole number, digits only (thousands may be separated by commas: 23,296).")
    raise InvalidInput(f"Unknown answer format {answer_format!r}.")


def slips(correct: str, candidates: list[tuple[str | None, str]]) -> tuple[Mistake, ...]:
    """The slips that give an answer other than the right one; where two slips give the same answer, the hint
    names both, the likelier (earlier) first."""
    found: dict[str, list[str]] = {}
    for answer, hint in candidates:
        if answer is not None and answer != correct:
            found.setdefault(answer, []).append(hint)
    return tuple(Mistake(answer, " Or: ".join(hints[:2])) for answer, hints in found.items())
