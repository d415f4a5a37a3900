"""The Exercises page: answers checked with their hint, kept per browser; the instructor's class view and reveal.

Each AppTest is its own browser session, so each has its own browser id: two of them are two students.
"""

import pytest
from streamlit.testing.v1 import AppTest

from cvlab.exercise_answers import AnswerStore
from cvlab.exercises import get_exercise
from cvlab.ui import identity
from tests.pages.apptest import run_script

PAGE = "pages/teaching/exercises.py"
SECRET = "correct-horse-battery"


@pytest.fixture(autouse=True)
def fresh_throttle():
    identity.GUESSES.reset()
    yield
    identity.GUESSES.reset()


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def answer(app: AppTest, exercise_id: str, typed: str) -> AppTest:
    app.text_input(key=f"answer-{exercise_id}").input(typed)
    app.button(key=f"check-{exercise_id}").click()
    return rerun(app)


def browser_of(app: AppTest) -> str:
    return f"browser:{app.session_state[identity._BROWSER_KEY]}"


def test_a_wrong_answer_to_a_generated_exercise_gets_its_hint_and_a_right_one_the_solution():
    exercise = get_exercise("chain-5")
    slip = exercise.mistakes[0]
    app = run_script(PAGE, section="Practice", seed="5")
    assert any(exercise.prompt in m.value for m in app.markdown)
    answer(app, "chain-5", slip.answer)
    [warning] = app.warning
    assert f"Not {slip.answer}." in warning.value and slip.hint in warning.value
    assert "Show the worked solution" in [e.label for e in app.expander]
    answer(app, "chain-5", exercise.answer)
    [success] = app.success
    assert success.value == f"Right: {exercise.answer} (2 tries)."
    assert any(block.value == "\n".join(exercise.solution) for block in app.code)
    stored = AnswerStore().answer(browser_of(app), "chain-5")
    assert (stored.first_answer, stored.latest_answer, stored.attempts) == (slip.answer, exercise.answer, 2)


def test_junk_gets_a_message_and_is_not_kept():
    app = run_script(PAGE, section="Lecture")
    answer(app, "lecture-1", "sixty-two")
    assert any("Type the output size in pixels" in e.value for e in app.error)
    assert AnswerStore().answered_exercises() == []


def test_the_instructor_sees_two_students_answers_live_and_reveals_the_solution(monkeypatch):
    monkeypatch.setenv("CVLAB_INSTRUCTOR_SECRET", SECRET)
    alice, bob = run_script(PAGE, section="Lecture"), run_script(PAGE, section="Lecture")
    answer(alice, "lecture-1", "61")  # the forgotten +1
    answer(bob, "lecture-1", "62")
    assert "+1" in alice.warning[0].value and bob.success

    student = run_script(PAGE, section="Class view")
    assert "instructor's" in student.info[0].value and not student.toggle  # no class view, no switch

    teacher = run_script(PAGE, section="Class view")
    teacher.text_input(key="instructor_typed").input(SECRET)
    rerun(teacher)
    assert teacher.selectbox(key="class_exercise").value == "lecture-1"
    counts = {m.label: m.value for m in teacher.metric}
    assert counts == {"Answered": "2", "Right now": "1", "Right first time": "1"}
    assert teacher.get("plotly_chart")  # the bar of wrong answers
    answer(bob, "lecture-2", "31")  # answers keep arriving: the next refresh shows them
    teacher.selectbox(key="class_exercise").select("lecture-2")
    rerun(teacher)
    assert {m.label: m.value for m in teacher.metric}["Answered"] == "1"

    teacher.selectbox(key="class_exercise").select("lecture-1")
    rerun(teacher)
    teacher.toggle(key="reveal-lecture-1").set_value(True)
    rerun(teacher)
    assert AnswerStore().revealed() == {"lecture-1"}
    solution = "\n".join(get_exercise("lecture-1").solution)
    assert any(block.value == solution for block in teacher.code)  # on the projector
    rerun(alice)  # and on every student's page
    assert "The instructor revealed the solution." in [c.value for c in alice.caption]
    assert any(block.value == solution for block in alice.code)
