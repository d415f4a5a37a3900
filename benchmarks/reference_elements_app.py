"""A reference for page benchmarks: a bare page holding a table and a plotly chart.

What Streamlit's own table and chart cost a browser (their frontend code loads on
first use), without any of a page's work: the floor for a page that shows both.
"""

import plotly.graph_objects as go
import streamlit as st

st.title("Reference with a table and a chart")
st.dataframe([{"name": f"model {i}", "value": i} for i in range(40)], hide_index=True)
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2], mode="markers")))
