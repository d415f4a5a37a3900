"""Home: what CV Lab offers, and the lecture path with a link to every interactive stop."""

import streamlit as st

from cvlab.syllabus import LECTURE_PATH, PAGES
from cvlab.ui import projector_on
from cvlab.ui.present import present_link

# Cards per row: each title must fit its card on one line, in large type too ("Architectures" at
# 1400 px wide did not fit one of seven columns and broke mid-word).
CARDS_PER_ROW = {False: 4, True: 2}

st.title("CV Lab")
st.markdown(
    "An interactive lab for **CNN architectures and modeling**. Every formula of the lecture "
    "is something you can change and watch: the output-size arithmetic, what a real network sees "
    "inside, activation functions and their gradients, architectures compared on this machine, "
    "live training runs, detection and segmentation. It runs PyTorch on this server's GPU when it "
    "has one and on the CPU otherwise."
)
st.caption(
    "Every page keeps its settings in the address bar: copy the address to share the exact "
    "configuration. The **Projector mode** switch in the sidebar enlarges everything for a classroom."
)

st.header("What you can do here", anchor="pages")
pages = [page for key, page in PAGES.items() if key != "home"]
per_row = CARDS_PER_ROW[projector_on()]
for start in range(0, len(pages), per_row):
    for column, page in zip(st.columns(per_row), pages[start:start + per_row]):
        with column.container(border=True, height="stretch"):
            st.page_link(page.script, label=page.title, icon=page.icon)
            st.caption(page.summary)

st.header("The lecture path", anchor="lecture-path")
st.caption("Session 4, *CNN Architectures & Modeling*, topic by topic in the lecture's order. Presented, it is "
           "one stop at a time, projected, with the stop's number and title at the top; its address opens the same "
           "stop on a student's screen.")
present_link()
for number, topic in enumerate(LECTURE_PATH, start=1):
    with st.container(border=True):
        text, links = st.columns([5, 4], vertical_alignment="center")
        text.markdown(f"**{number}. {topic.title}**  \n{topic.summary}")
        with links:
            for stop in topic.stops:
                page = PAGES[stop.page]
                query = {"section": stop.section, **stop.params}
                st.page_link(page.script, label=f"{page.title}: {stop.label or stop.section}", icon=page.icon,
                             query_params=query)
