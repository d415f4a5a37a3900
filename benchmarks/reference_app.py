"""The reference for page benchmarks: a Streamlit app that does almost nothing."""

import streamlit as st

st.title("Reference")
st.write("A bare Streamlit page, measured in the same run as CV Lab's pages.")
