"""Exercises that check themselves: a prompt, the answer cvlab computes, the worked solution, and the likely slips.

An ``Exercise`` is the lecture's own question or one generated from a seed
(cvlab.exercise_generators): the same id always gives the same exercise, so a
class that types one seed works on the same numbers. Answers are computed by
cvlab.sizes, never typed in here. Each exercise also carries its ``mistakes``:
the answer a known slip gives (the +1 forgotten, padding on one side only, the
bias counted twice...), computed by redoing the arithmetic with that slip, so a
wrong answer that matches one gets a hint naming it.

What a student types is parsed strictly (``parse_answer``): a whole number, a size
``HxW`` or one of the offered choices, at most ``MAX_ANSWER_CHARS`` characters;
anything else is refused with a message saying what to type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from cvlab.errors import InvalidInput, UnknownName
from cvlab.sizes import working as size_working
from cvlab.sizes.chain import Conv, MaxPool
from cvlab.zoo import chooser

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

    def diagnose(self, answer: str) -> str:
        """The hint for a wrong canonical answer: the slip that gives exactly it, else the general hint."""
        for mistake in self.mistakes:
            if mistake.answer == answer:
                return mistake.hint
        return self.general_hint

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


# ---- the lecture's own questions -------------------------------------------------------------------

def _lecture_size(number: int, layers: tuple, size: int) -> Exercise:
    """The lecture's Quick Exercise ``number``, its answer from cvlab.sizes.working (the Output size page's)."""
    from cvlab.exercise_generators import chain_exercise

    asked = size_working.lecture_exercises()[number - 1]
    exercise = chain_exercise(f"lecture-{number}", "Quick exercise (lecture)", size, size, layers, asked.question,
                              extra_solution=(asked.note,))
    assert exercise.answer == size_text(asked.answer)  # one arithmetic behind the page and this check
    return exercise


def _scenario(name: str) -> Exercise:
    """The lecture's "Choose the Architecture" scenarios as choices; the reasons follow cvlab.zoo.chooser."""
    scenario = chooser.LECTURE_SCENARIOS[name]
    if name == "A":
        choices = ("ResNet-50", "EfficientNet-B0", "ViT-B")
        answer = "EfficientNet-B0"  # tests/unit/test_exercises.py checks it against chooser.answer_scenario("A")
        solution = ("A 5 MB limit counts every weight: ResNet-50 has 25.6M parameters (98 MB in fp32), ViT-B 86.6M "
                    "(330 MB), EfficientNet-B0 5.3M (21 MB).",
                    "None fits in fp32; quantised to int8 (one byte a weight) EfficientNet-B0 is 5.3 MB, within "
                    "reach of the limit, and the fastest of the three on a phone.",
                    "The Architectures page's chooser works this out from counted facts.")
        mistakes = (Mistake("ResNet-50", "ResNet-50 is 25.6M parameters: about 98 MB in fp32, 26 MB even in "
                                         "int8. Count megabytes per model before choosing."),
                    Mistake("ViT-B", "ViT-B has 86.6M parameters and needs a large dataset; it is the furthest "
                                     "from both the size limit and real time."))
    elif name == "B":
        choices = ("Train from scratch", "Fine-tune a pretrained model")
        answer = choices[1] if scenario.constraints.labelled_images < chooser.FEW_IMAGES else choices[0]
        solution = (chooser.training_advice(scenario.constraints.labelled_images),
                    "Lecture: start with a pretrained EfficientNet or ResNet. Fine-tune, don't train from scratch!")
        mistakes = (Mistake(choices[0], "500 images cannot teach millions of weights from nothing: the model would "
                                        "memorise them. What did ImageNet pretraining already learn?"),)
    else:
        choices = ("CNN", "Transformer-based")
        answer = choices[1] if scenario.constraints.labelled_images >= chooser.MANY_IMAGES else choices[0]
        solution = (chooser.training_advice(scenario.constraints.labelled_images),
                    "Lecture: ViT requires large datasets to outperform CNNs; with 10M+ images and cost no "
                    "concern, transformers (or ConvNeXt) keep gaining with data.")
        mistakes = (Mistake(choices[0], "With less data CNNs win; here there are 10M+ images and cost is no "
                                        "concern. Which models keep improving as data grows?"),)
    return Exercise(f"scenario-{name}", f"Choose the architecture: scenario {name}", scenario.question, CHOICE,
                    answer, solution, mistakes, "Think about the limits first: size, speed, amount of data.", choices)


LECTURE: dict[str, Callable[[], Exercise]] = {
    "lecture-1": lambda: _lecture_size(1, (Conv(1, 3, 1, 0),), 64),
    "lecture-2": lambda: _lecture_size(2, (Conv(1, 3, 2, 1),), 64),
    "lecture-3": lambda: _lecture_size(3, (Conv(64, 7, 2, 3), MaxPool(3, 2)), 224),
    **{f"scenario-{name}": (lambda name=name: _scenario(name)) for name in chooser.LECTURE_SCENARIOS},
}


def lecture_exercises() -> tuple[Exercise, ...]:
    return tuple(make() for make in LECTURE.values())


def get_exercise(exercise_id: object) -> Exercise:
    """The lecture's exercise by id, or a generated one from "<kind>-<seed>"; UnknownName for anything else."""
    from cvlab.exercise_generators import GENERATORS

    text = str(exercise_id)[:64]
    if text in LECTURE:
        return LECTURE[text]()
    kind, _, seed = text.rpartition("-")
    if kind in GENERATORS and seed.isdigit() and len(seed) <= 6 and int(seed) <= MAX_SEED and seed == str(int(seed)):
        return GENERATORS.get(kind).make(int(seed))
    raise UnknownName(f"No exercise {text!r}. Use one of: {', '.join(LECTURE)}, or a generated one as KIND-SEED "
                      f"with KIND one of {', '.join(GENERATORS.names())} and SEED 0 to {MAX_SEED} (e.g. chain-7).")


def generated_exercises(seed: int) -> tuple[Exercise, ...]:
    """One exercise of every generated kind from ``seed``: a practice set the whole class can share."""
    from cvlab.exercise_generators import GENERATORS

    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"The seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}.")
    return tuple(GENERATORS.get(kind).make(seed) for kind in GENERATORS.names())
