"""The exercises: the lecture's own questions and those generated from a seed, found by id.

The lecture's Quick Exercises and its "Choose the Architecture" scenarios are here;
cvlab.exercise_generators makes the rest from a seed, so an id such as ``chain-7`` is the
same exercise for everyone and a class that types one seed works on the same numbers.
Answers are computed by cvlab.sizes (and the scenarios follow cvlab.zoo.chooser), never
typed in; the exercise itself (cvlab.exercise_model) checks a typed answer and names the slip.
"""

from __future__ import annotations

from typing import Callable

from cvlab.errors import InvalidInput, UnknownName
from cvlab.exercise_generators import GENERATORS, chain_exercise
from cvlab.exercise_model import CHOICE, MAX_SEED, Exercise, Mistake, size_text
from cvlab.sizes import working as size_working
from cvlab.sizes.chain import Conv, MaxPool
from cvlab.zoo import chooser


# ---- the lecture's own questions -------------------------------------------------------------------

def _lecture_size(number: int, layers: tuple, size: int) -> Exercise:
    """The lecture's Quick Exercise ``number``, its answer from cvlab.sizes.working (the Output size page's)."""
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
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"The seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}.")
    return tuple(GENERATORS.get(kind).make(seed) for kind in GENERATORS.names())
