"""The Inside a CNN page's convolution, computed and drawn once per image and settings for every session.

A rerun that changes nothing, or a student on settings another has tried, used to convolve the
512 px photo again and rebuild its two heatmaps (a few hundred ms of server CPU, on a 2-core
server shared by a class). Keys are the image's content hash and the settings, never the arrays.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cvlab.cnn import convolution as conv
from cvlab.viz import convolution as conv_viz


@st.cache_resource(max_entries=16, show_spinner=False)  # 1 MB each at 512 px
def grayscale(image_key: str, _pixels: np.ndarray) -> np.ndarray:
    """The picture in gray, (H, W) in [0, 1], made once per picture for every session; read-only."""
    from cvlab.data.images import to_grayscale

    gray = to_grayscale(_pixels)
    gray.setflags(write=False)
    return gray


def kernel_key(kernel: np.ndarray) -> tuple:
    return tuple(map(tuple, np.asarray(kernel, dtype=float).tolist()))


@st.cache_resource(max_entries=16, show_spinner=False)  # each holds the output map (~2 MB at 512 px)
def convolved(image_key: str, _gray: np.ndarray, kernel: tuple, stride: int, padding, dilation: int,
              bias: float) -> conv.ConvResult:
    """``convolve`` of the image whose content hash is ``image_key``; shared, never changed."""
    return conv.convolve(_gray, np.array(kernel), stride=stride, padding=padding, dilation=dilation, bias=bias)


@st.cache_resource(max_entries=16, show_spinner=False)  # the input and output heatmaps: a few MB each
def step_view(image_key: str, _gray: np.ndarray, _result: conv.ConvResult, kernel: tuple, stride: int, padding,
              dilation: int, bias: float, row: int, col: int) -> tuple:
    """(the step through output pixel (row, col), the convolution figure, the step figure); shared."""
    step = conv.step_through(_gray, np.array(kernel), row, col, stride=stride, padding=padding, dilation=dilation,
                             bias=bias)
    return step, conv_viz.conv_figure(_gray, _result, step), conv_viz.step_figure(step)
