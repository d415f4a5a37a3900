"""A bare page with one titled chart, for tests/pages/test_projector_tables.py."""

import plotly.graph_objects as go

from cvlab.ui import show_figure
from cvlab.viz.style import styled

show_figure(styled(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])),
                   title="Where the loss comes from on an imbalanced mask"))
