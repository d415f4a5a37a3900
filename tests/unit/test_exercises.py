"""Exercises that check themselves: right answers accepted, each named slip diagnosed, junk refused.

The answers come from cvlab.sizes; here they are checked against real PyTorch layers and against the
lecture's own numbers, and every slip's answer is recomputed by hand from the prompt's numbers.
"""

import re

import pytest

from cvlab.errors import InvalidInput, UnknownName
from cvlab.exercise_generators import GENERATORS
from cvlab.exercise_model import MAX_SEED, parse_answer
from cvlab.exercises import generated_exercises, get_exercise, lecture_exercises
from cvlab.sizes import working as size_working
from cvlab.sizes.chain_text import parse_chain

SEEDS = range(60)


def numbers(prompt: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", prompt)]


# ---- the lecture's questions ----
def test_the_lecture_answers_are_the_output_size_pages():
    page = [e.answer for e in size_working.lecture_exercises()]
    assert page == [62, 32, 55]
    assert [get_exercise(f"lecture-{n}").answer for n in (1, 2, 3)] == ["62x62", "32x32", "55x55"]


@pytest.mark.parametrize("exercise_id, typed", [("lecture-1", "62"), ("lecture-1", " 62 X 62 "),
                                                ("lecture-2", "32x32"), ("lecture-3", "55×55"),
                                                ("scenario-A", "efficientnet-b0"), ("scenario-A", "2"),
                                                ("scenario-B", "Fine-tune a pretrained model"),
                                                ("scenario-C", "transformer-based")])
def test_a_right_answer_is_accepted_with_the_worked_solution(exercise_id, typed):
    verdict = get_exercise(exercise_id).check(typed)
    assert verdict.correct and verdict.hint == "" and verdict.solution


@pytest.mark.parametrize("exercise_id, typed, slip", [
    ("lecture-1", "61", "forgot the +1"),
    ("lecture-2", "31", "forgot the +1"),
    ("lecture-2", "64", "ignored the stride"),
    ("lecture-2", "33", "rounded up"),
    ("lecture-3", "54", "forgot the +1"),
    ("lecture-3", "56", "padded the pool"),
    ("lecture-3", "112x112", "after the first layer"),
    ("scenario-A", "ResNet-50", "98 MB"),
    ("scenario-B", "train from scratch", "memorise"),
    ("scenario-C", "CNN", "10M+"),
])
def test_a_wrong_answer_gets_the_hint_that_names_the_slip(exercise_id, typed, slip):
    verdict = get_exercise(exercise_id).check(typed)
    assert not verdict.correct and slip in verdict.hint


def test_an_unexplained_wrong_answer_gets_the_general_hint():
    exercise = get_exercise("lecture-1")
    assert exercise.check("40").hint == exercise.general_hint and "floor" in exercise.general_hint


def test_scenario_a_agrees_with_the_architecture_chooser():
    from cvlab.zoo import chooser

    recommendation = chooser.answer_scenario("A")
    assert f"{get_exercise('scenario-A').answer} is the best" in recommendation.summary


# ---- generated exercises ----
def test_a_seed_always_gives_the_same_exercise_and_its_id_gives_it_back():
    for seed in (0, 7, MAX_SEED):
        first, again = generated_exercises(seed), generated_exercises(seed)
        assert first == again
        assert all(get_exercise(e.exercise_id) == e for e in first)
    assert generated_exercises(1) != generated_exercises(2)


def test_every_generated_exercise_accepts_its_answer_and_diagnoses_every_slip():
    for seed in SEEDS:
        for exercise in generated_exercises(seed):
            assert exercise.check(exercise.answer).correct, exercise
            answers = [m.answer for m in exercise.mistakes]
            assert exercise.answer not in answers and len(set(answers)) == len(answers)
            for mistake in exercise.mistakes:
                verdict = exercise.check(mistake.answer)
                assert not verdict.correct and verdict.hint == mistake.hint


def test_generated_output_sizes_match_real_pytorch_layers():
    import torch

    from cvlab.sizes.frameworks import build_sequential

    for seed in range(25):
        chain = get_exercise(f"chain-{seed}")
        size = numbers(chain.prompt)[1]
        layers = parse_chain(re.search(r"through (.+?) \(k kernel", chain.prompt).group(1))
        with torch.no_grad():
            out = build_sequential((3, size, size), layers)(torch.zeros(1, 3, size, size))
        assert chain.answer == f"{out.shape[2]}x{out.shape[3]}"


def test_one_layer_slips_are_the_formula_with_the_slip():
    seen = set()
    for seed in SEEDS:
        exercise = get_exercise(f"size-{seed}")
        h, w, k, _, p, s = numbers(exercise.prompt)
        slip = lambda n, pad, plus: (n + pad - k) // s + plus  # noqa: E731
        if p:
            one_side = f"{slip(h, p, 1)}x{slip(w, p, 1)}"
            if one_side != exercise.answer:
                assert "padded one side only" in exercise.check(one_side).hint
                seen.add("one side")
        assert "forgot the +1" in exercise.check(f"{slip(h, 2 * p, 0)}x{slip(w, 2 * p, 0)}").hint
    assert seen


def test_parameter_slips_and_answers_match_pytorch():
    import torch

    for seed in range(30):
        conv = get_exercise(f"conv-params-{seed}")
        cin, cout, k = numbers(conv.prompt)[1:4]
        bias = "bias=False" not in conv.prompt
        layer = torch.nn.Conv2d(cin, cout, k, bias=bias)
        assert conv.answer == str(sum(p.numel() for p in layer.parameters()))
        weights = cout * cin * k * k
        if bias:
            assert "forgot the biases" in conv.check(str(weights)).hint
            assert "bias twice" in conv.check(str(weights + 2 * cout)).hint
        else:
            assert "bias=False" in conv.check(str(weights + cout)).hint
        dense = get_exercise(f"dense-params-{seed}")
        c, h, w, out = numbers(dense.prompt)
        assert dense.answer == str(sum(p.numel() for p in torch.nn.Linear(c * h * w, out).parameters()))
        assert "forgot the biases" in dense.check(str(c * h * w * out)).hint
        if h > 1:
            assert "C x H x W features" in dense.check(str(c * out + out)).hint


def test_receptive_field_and_floor_slips():
    jumps = lost = 0
    for seed in SEEDS:
        rf = get_exercise(f"receptive-field-{seed}")
        layers = parse_chain(re.search(r"Through (.+?): how", rf.prompt).group(1))
        no_jump = 1 + sum(layer.kernel_size - 1 for layer in layers)
        if str(no_jump) != rf.answer:
            assert "ignored the jump" in rf.check(str(no_jump)).hint
            jumps += 1
        floor = get_exercise(f"floor-{seed}")
        k, s, p, width = numbers(floor.prompt)
        out = (width + 2 * p - k) // s + 1
        assert floor.answer == str(max(0, width - ((out - 1) * s + k - p)))
        if p and str((width + 2 * p - k) % s) != floor.answer:
            assert "counted the padding" in floor.check(str((width + 2 * p - k) % s)).hint
            lost += 1
    assert jumps and lost


# ---- what a student types ----
@pytest.mark.parametrize("typed", ["", "   ", "abc", "62x", "1e3", "9" * 40, "-5", "62x62x3", "6 2", None, 62,
                                   "62; DROP TABLE answers"])
def test_junk_is_refused_with_what_to_type(typed):
    with pytest.raises(InvalidInput) as refused:
        get_exercise("lecture-1").check(typed)
    assert "answer" in str(refused.value).lower() or "type" in str(refused.value).lower()


def test_a_non_square_answer_needs_both_sides_and_a_choice_must_be_offered():
    with pytest.raises(InvalidInput, match="HxW"):
        parse_answer("31", "size", square=False)
    assert parse_answer("23,296", "count") == "23296"
    with pytest.raises(InvalidInput, match="Choose one of"):
        get_exercise("scenario-A").check("MobileNet")
    with pytest.raises(InvalidInput, match="Choose one of"):
        get_exercise("scenario-A").check("4")


@pytest.mark.parametrize("exercise_id", ["lecture-9", "chain-01", "chain-1000000", "chain--1", "../chain-1",
                                         "chain", "nope-3", "x" * 500])
def test_an_unknown_exercise_lists_what_exists(exercise_id):
    with pytest.raises(UnknownName, match="KIND-SEED"):
        get_exercise(exercise_id)


def test_every_kind_is_in_a_practice_set_and_seeds_are_bounded():
    assert [e.exercise_id.rsplit("-", 1)[0] for e in generated_exercises(3)] == GENERATORS.names()
    assert len(lecture_exercises()) == 6
    with pytest.raises(InvalidInput):
        generated_exercises(MAX_SEED + 1)
