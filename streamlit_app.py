"""CV Lab: the app's entry. Navigation over pages/, and the sidebar every page shares."""

import streamlit as st

from cvlab.server.memory import return_big_blocks_to_the_system
from cvlab.syllabus import PAGES
from cvlab.ui import present, projector_toggle
from cvlab.ui.device_panel import device_panel

return_big_blocks_to_the_system()  # once per process: a freed activation map goes back to the system

# ?present=lecture&stop=N: the lecture as a walk-through, projected, the sidebar out of the way.
presenting = present.requested()
st.set_page_config(page_title="CV Lab", page_icon=":material/visibility:", layout="wide",
                   initial_sidebar_state="collapsed" if presenting else "auto")

groups: dict[str, list] = {}
for info in PAGES.values():
    home = info.url_path == "home"
    # The home page is served at the root. Streamlit keeps a default page's own path reserved but
    # unreachable ("/home" said "Page not found"), so it has none, and a hidden page answers "/home".
    page = st.Page(info.script, title=info.title, icon=info.icon, url_path="" if home else info.url_path,
                   default=home)
    groups.setdefault(info.group, []).append(page)
    if home:
        groups[info.group].append(st.Page(info.script, title=info.title, icon=info.icon, url_path="home",
                                          visibility="hidden"))
navigation = st.navigation(groups)
if presenting:
    present.go_to_the_stop(presenting, navigation.url_path)
    present.start_presenting()

with st.sidebar:
    projector_toggle()
    device_panel()

if presenting:
    present.present_bar(presenting)
navigation.run()
