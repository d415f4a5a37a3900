"""Pure plotly figure builders: arrays in, ``plotly.graph_objects.Figure`` out.

Nothing here imports streamlit or torch, so every builder is unit-tested on its
``fig.data`` and ``fig.layout``.
"""
