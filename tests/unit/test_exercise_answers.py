"""Answers kept per user in SQLite: latest and first answer, attempts, the class's wrong answers, reveals, bounds."""

import threading

import pytest

from cvlab import exercise_answers
from cvlab.errors import InvalidInput
from cvlab.exercise_answers import AnswerStore, NotInstructor
from cvlab.exercises import get_exercise

LECTURE_1 = get_exercise("lecture-1")  # 62x62; 61 is the forgotten +1


def test_one_row_per_user_and_exercise_keeps_the_first_and_latest_answer():
    store = AnswerStore()
    stored, hint = store.record("browser:alice", LECTURE_1, "61")
    assert (stored.latest_answer, stored.correct, stored.attempts) == ("61x61", False, 1) and "+1" in hint
    stored, hint = store.record("browser:alice", LECTURE_1, "62")
    assert (stored.latest_answer, stored.correct, stored.attempts, stored.first_answer) == ("62x62", True, 2, "61x61")
    assert hint == ""
    assert store.answer("browser:bob", "lecture-1") is None


def test_the_class_summary_counts_first_answers_most_common_wrong_first():
    store = AnswerStore()
    for user, typed in [("a", "61"), ("b", "61"), ("c", "40"), ("d", "62"), ("e", "61")]:
        store.record(f"browser:{user}", LECTURE_1, typed)
    store.record("browser:a", LECTURE_1, "62")  # a corrects it: right now, but the first try was still 61
    summary = store.class_summary(LECTURE_1)
    assert (summary.answered, summary.right, summary.right_first_time) == (5, 2, 1)
    assert [(w.answer, w.count) for w in summary.wrong_answers] == [("61x61", 3), ("40x40", 1)]
    assert "+1" in summary.wrong_answers[0].hint and summary.wrong_answers[1].hint == ""  # 40: no known slip
    assert store.answered_exercises() == [("lecture-1", 5)]


def test_junk_is_refused_before_anything_is_stored():
    store = AnswerStore()
    with pytest.raises(InvalidInput):
        store.record("browser:a", LECTURE_1, "<script>alert(1)</script>")
    with pytest.raises(InvalidInput, match="log in"):
        store.record("", LECTURE_1, "62")
    assert store.answered_exercises() == []


def test_only_the_instructor_reveals_a_solution_and_everyone_sees_it():
    store = AnswerStore()
    with pytest.raises(NotInstructor):
        store.set_revealed(LECTURE_1, True, instructor=False)
    assert store.revealed() == frozenset()
    store.set_revealed(LECTURE_1, True, instructor=True)
    assert AnswerStore().revealed() == {"lecture-1"} and store.class_summary(LECTURE_1).revealed
    store.set_revealed(LECTURE_1, False, instructor=True)
    assert store.revealed() == frozenset()


def test_the_store_is_bounded_per_user_and_in_users(monkeypatch):
    store = AnswerStore()
    monkeypatch.setattr(exercise_answers, "MAX_EXERCISES_PER_USER", 2)
    store.record("browser:a", get_exercise("chain-1"), "1")
    store.record("browser:a", get_exercise("chain-2"), "1")
    with pytest.raises(InvalidInput, match="most one user"):
        store.record("browser:a", get_exercise("chain-3"), "1")
    store.record("browser:a", get_exercise("chain-2"), "2")  # changing an answer is still fine
    monkeypatch.setattr(exercise_answers, "MAX_USERS", 1)
    with pytest.raises(InvalidInput, match="full"):
        store.record("browser:b", LECTURE_1, "62")


def test_a_class_answering_at_once_loses_no_answer():
    store = AnswerStore()
    errors = []

    def answer(user: int) -> None:
        try:
            for typed in ("61", "62"):
                store.record(f"browser:{user}", LECTURE_1, typed)
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=answer, args=(user,)) for user in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    summary = store.class_summary(LECTURE_1)
    assert (summary.answered, summary.right) == (20, 20) and summary.wrong_answers[0].count == 20
