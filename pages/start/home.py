"""Home: what CV Lab offers, and the lecture path with a link to every interactive stop."""

import streamlit as st

from cvlab.syllabus import LECTURE_PATH, PAGES

st.title("CV Lab")
st.markdown(
    "An interactive lab for **CNN architectures and modeling**. Every formula of the lecture "
    "is something you can change and watch: the output-size arithmetic, activation functions "
    "and their gradients, and, as the lab grows, real networks, training runs, detection and "
    "segmentation. It runs PyTorch on this server's GPU when it has one and on the CPU otherwise."
)
st.caption(
    "Every page keeps its settings in the address bar: copy the address to share the exact "
    "configuration. The **Projector mode** switch in the sidebar enlarges everything for a classroom."
)

st.header("What you can do here", anchor="pages")
ready = [page for key, page in PAGES.items() if key != "home" and page.exists]
for column, page in zip(st.columns(len(ready) or 1), ready):
    with column.container(border=True):
        st.page_link(page.script, label=page.title, icon=page.icon)
        st.caption(page.summary)

st.header("The lecture path", anchor="lecture-path")
st.caption("Session 4, *CNN Architectures & Modeling*, topic by topic in the lecture's order.")
for number, topic in enumerate(LECTURE_PATH, start=1):
    with st.container(border=True):
        text, links = st.columns([5, 4], vertical_alignment="center")
        text.markdown(f"**{number}. {topic.title}**  \n{topic.summary}")
        with links:
            missing: list[str] = []
            for stop in topic.stops:
                page = PAGES[stop.page]
                if not page.exists:
                    missing += [page.title] if page.title not in missing else []
                    continue
                query = {**({"section": stop.section} if stop.section else {}), **stop.params}
                label = f"{page.title}: {stop.label or stop.section or 'open'}"
                st.page_link(page.script, label=label, icon=page.icon, query_params=query)
            if missing:
                plural = "pages" if len(missing) > 1 else "page"
                st.caption(f":material/construction: Not built yet: the {' and '.join(missing)} {plural}.")
