"""A page with two sections, the first holding an address-bound setting; each says when it is built."""

import streamlit as st

from cvlab.ui import open_section, sections

first, second = sections("Settings", "Other")
for _ in open_section(first):
    st.markdown("built Settings")
    size = st.number_input("Kernel", 1, 9, 3, key="kernel", bind="query-params")
    st.markdown(f"kernel={size}")
for _ in open_section(second):
    st.markdown("built Other")
