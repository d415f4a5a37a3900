"""A run's live view alone, for the run named by ``?run=``."""

import streamlit as st

from cvlab.ui.identity import Identity
from cvlab.ui.training import live_panel

live_panel(st.query_params["run"], Identity(owner_id="browser:watcher", name="watcher", via_login=False), False)
