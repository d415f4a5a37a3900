"""Class board: every student's runs of a lab exercise on one chart and in one table, and the class's answer."""

import streamlit as st

from cvlab.board import LAB_EXERCISES
from cvlab.ui import open_section, sections
from cvlab.ui.board import board_section
from cvlab.ui.identity import owner_id

st.title("Class board")
st.caption("The lab's exercises as the whole class ran them: start one with one click on the Training page, and "
           "your runs appear here, highlighted, beside everyone else's.")
me = owner_id()
x = st.segmented_control("Against", ["epoch", "time"], default="epoch", required=True, key="board_x",
                         bind="query-params", help="Validation accuracy per epoch, or against training time.")
tags = LAB_EXERCISES.names()
for tab, tag in zip(sections(*(LAB_EXERCISES.get(tag).title for tag in tags)), tags):
    for _ in open_section(tab):
        board_section(tag, me, x)
