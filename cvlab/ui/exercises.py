"""Streamlit glue for the Exercises page: an answer box per exercise, and the instructor's live class view.

Answers go through ``cvlab.exercise_answers.AnswerStore`` (the same calls as
``python -m cvlab exercises check``); a student is who ``cvlab.ui.identity`` says, never a typed name.
"""

from __future__ import annotations

import streamlit as st

from cvlab.exercise_answers import AnswerStore, StoredAnswer
from cvlab.exercise_model import CHOICE, MAX_ANSWER_CHARS, SIZE, Exercise
from cvlab.exercises import get_exercise, lecture_exercises
from cvlab.ui import cached_figure, report_errors, show_figure, show_table
from cvlab.viz.exercises import wrong_answers_figure

CLASS_REFRESH_S = 2.0
PLACEHOLDER = {SIZE: "e.g. 31x31", CHOICE: "", "count": "e.g. 1792"}


def _solution(exercise: Exercise) -> None:
    st.code("\n".join(exercise.solution), language=None, wrap_lines=True)


def exercise_card(exercise: Exercise, me: str, stored: StoredAnswer | None, revealed: bool,
                  store: AnswerStore) -> None:
    """The prompt, an answer box checked on submit, the verdict with its hint, and the worked solution."""
    key = exercise.exercise_id
    with st.container(border=True):
        st.markdown(f"**{exercise.topic}.** {exercise.prompt}")
        with st.form(f"form-{key}", border=False, enter_to_submit=True):
            if exercise.answer_format == CHOICE:
                typed = st.radio("Your answer", exercise.choices, index=None, key=f"answer-{key}", horizontal=True)
            else:  # a third of the width: an answer is a few characters
                typed = st.columns([1, 2])[0].text_input("Your answer", key=f"answer-{key}",
                                                         max_chars=MAX_ANSWER_CHARS,
                                                         placeholder=PLACEHOLDER[exercise.answer_format])
            submitted = st.form_submit_button("Check", key=f"check-{key}", disabled=not me)
        if submitted:
            with report_errors():
                stored, _ = store.record(me, exercise, typed or "")
        if stored is not None:
            tries = f" ({stored.attempts} tries)" if stored.attempts > 1 else ""
            if stored.correct:
                st.success(f"Right: {stored.latest_answer}{tries}.", icon=":material/check:")
            else:
                st.warning(f"Not {stored.latest_answer}{tries}. {exercise.diagnose(stored.latest_answer)}",
                           icon=":material/lightbulb:")
        if revealed or (stored is not None and stored.correct):
            if revealed:
                st.caption("The instructor revealed the solution.")
            _solution(exercise)
        elif stored is not None:
            with st.expander("Show the worked solution"):
                _solution(exercise)


def exercise_list(exercises: tuple[Exercise, ...], me: str, store: AnswerStore) -> None:
    if not me:
        st.info("Log in at the top of the Training page to answer: answers are kept per user.")
    with report_errors():
        mine, revealed = store.answers_of(me) if me else {}, store.revealed()
        for exercise in exercises:
            exercise_card(exercise, me, mine.get(exercise.exercise_id), exercise.exercise_id in revealed, store)


# ---- the instructor's view ----
def _set_reveal(store: AnswerStore, exercise: Exercise, key: str) -> None:
    with report_errors():
        store.set_revealed(exercise, bool(st.session_state[key]), instructor=True)


def class_view(store: AnswerStore) -> None:
    """Pick an exercise; its live counts and wrong-answer bars, and the switch that reveals its solution."""
    answered = {row["exercise"]: row["answered"] for row in store.overview()}
    ids = list(dict.fromkeys([*(e.exercise_id for e in lecture_exercises()), *answered]))
    chosen = st.selectbox("Exercise", ids, key="class_exercise",
                          format_func=lambda exercise_id: f"{exercise_id} ({answered.get(exercise_id, 0)} answered)")
    exercise = get_exercise(chosen)
    st.markdown(f"**{exercise.topic}.** {exercise.prompt}")
    _class_counts(chosen)


@st.fragment(run_every=CLASS_REFRESH_S)
def _class_counts(exercise_id: str) -> None:
    """Polled only while the instructor has this view open: it is drawn nowhere else."""
    store, exercise = AnswerStore(), get_exercise(exercise_id)
    with report_errors():
        summary = store.class_summary(exercise)
        answered, right, first = st.columns(3)
        answered.metric("Answered", summary.answered)
        right.metric("Right now", summary.right)
        first.metric("Right first time", summary.right_first_time)
        if summary.wrong_answers:
            show_figure(cached_figure(wrong_answers_figure, summary))
        elif summary.answered:
            st.success("Every first answer was right.")
        else:
            st.info("Nobody has answered this one yet; the counts update as answers arrive.")
        key = f"reveal-{exercise_id}"
        st.session_state[key] = summary.revealed  # the switch follows the server, where another tab may change it
        st.toggle("Reveal the solution to the class", key=key, on_change=_set_reveal, args=(store, exercise, key),
                  help="Every student's page and the projector show the worked solution while this is on.")
        if summary.revealed:
            _solution(exercise)
        with st.expander("Every answered exercise"):
            show_table(store.overview())
