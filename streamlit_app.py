"""CV Lab: the app's entry. Navigation over pages/, and the sidebar every page shares."""

import streamlit as st

from cvlab.syllabus import available_pages
from cvlab.ui import projector_toggle
from cvlab.ui.device_panel import device_panel

st.set_page_config(page_title="CV Lab", page_icon=":material/visibility:", layout="wide")

groups: dict[str, list] = {}
for info in available_pages():
    page = st.Page(info.script, title=info.title, icon=info.icon, url_path=info.url_path,
                   default=info.url_path == "home")
    groups.setdefault(info.group, []).append(page)
navigation = st.navigation(groups)

with st.sidebar:
    projector_toggle()
    device_panel()

navigation.run()
