"""The Activations page's cached calls and its fact card: curves, the two experiments, one function's facts."""

from __future__ import annotations

import streamlit as st

from cvlab.activations import experiments as gx
from cvlab.activations import functions as activations

CURVE_POINTS = 401  # samples over the x range: smooth at any zoom the page allows


def display_name(name: str) -> str:
    return activations.get_activation(name).display_name


def init_name(name: str) -> str:
    return gx.INITS.get(name).display_name


@st.cache_data(max_entries=256, show_spinner=False)
def curve(name: str, x_min: float, x_max: float, params: tuple) -> activations.ActivationCurve:
    """One function and its slope over [x_min, x_max]; ``params`` as (name, value) pairs, hashable."""
    return activations.evaluate(name, x_min, x_max, CURVE_POINTS, **dict(params))


@st.cache_data(max_entries=64, show_spinner="Training…")
def dying_relu(config: gx.DyingReluConfig) -> gx.DyingReluResult:
    return gx.run_dying_relu(config)


@st.cache_data(max_entries=64, show_spinner=False)
def vanishing(config: gx.VanishingConfig) -> gx.VanishingResult:
    return gx.run_vanishing_gradients(config)


def fact_card(entry: activations.Activation, code: str) -> None:
    """A function's formula, range, use, paper, PyTorch name and note, in a bordered card."""
    with st.container(border=True):
        st.markdown(f"**{entry.display_name}**")
        st.latex(entry.latex)
        paper = f"[{entry.paper.title}]({entry.paper.url})" if entry.paper.url else f"*{entry.paper.title}*"
        st.markdown(f"**Range** {entry.value_range}  \n**Used in** {entry.use}  \n"
                    f"**Paper** {entry.paper.authors} ({entry.paper.year}), {paper}")
        st.code(f"torch.{code}", language="python")
        st.caption(entry.note)
