"""Exercises: the lecture's quick exercises and generated ones that check themselves; the instructor's class view."""

import streamlit as st

from cvlab.exercise_answers import AnswerStore
from cvlab.exercise_model import MAX_SEED
from cvlab.exercises import generated_exercises, lecture_exercises
from cvlab.ui import open_section, report_errors, sections
from cvlab.ui import exercises as ui
from cvlab.ui.identity import instructor_box, owner_id

st.title("Exercises")
st.caption("Work each one out on paper, then type your answer: you get right or wrong at once, a wrong answer a "
           "hint that names the likely slip, and the worked solution. Your answers are kept for you, and the "
           "instructor sees the class's.")
me = owner_id()
store = AnswerStore()
lecture, practice, whole_class = sections("Lecture", "Practice", "Class view")

for _ in open_section(lecture):
    st.markdown("The lecture's quick exercises, and the three scenarios of *Choose the Architecture*.")
    ui.exercise_list(lecture_exercises(), me, store)

for _ in open_section(practice):
    seed = st.columns([1, 2])[0].number_input(
        "Exercise set (seed)", min_value=0, max_value=MAX_SEED, value=1, step=1, key="seed", bind="query-params",
        help="Everyone who types the same number gets the same exercises: the instructor can give the class one, "
             "and see its answers in the class view.")
    ui.exercise_list(generated_exercises(int(seed)), me, store)

for _ in open_section(whole_class):
    if instructor_box():
        with report_errors():
            ui.class_view(store)
    else:
        st.info("The class view is the instructor's: how many answered each exercise, the most common wrong "
                "answers, and the switch that reveals a solution to everyone. Type the instructor secret above to "
                "open it.", icon=":material/lock:")
