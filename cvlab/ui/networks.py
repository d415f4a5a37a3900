"""Networks for the pages: built once per server process, traced once per image."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from cvlab import network


def image_key(pixels: np.ndarray) -> str:
    """A short content hash, so caches key on the image rather than on the array object."""
    return hashlib.blake2b(np.ascontiguousarray(pixels).tobytes(), digest_size=12).hexdigest()


@st.cache_resource(max_entries=2, show_spinner="Building the network…")  # VGG-16 alone is 0.55 GB
def cached_network(name: str, pretrained: bool) -> network.LoadedNetwork:
    """Shared by every session and never changed; its lock serialises the passes through it."""
    return network.load_network(name, pretrained=pretrained)


@st.cache_data(max_entries=16, show_spinner="Running the image through the network…")
def cached_trace(name: str, pretrained: bool, key: str, _pixels: np.ndarray) -> network.NetworkTrace:
    return network.trace(cached_network(name, pretrained), _pixels)


@st.cache_data(max_entries=16, show_spinner="Computing Grad-CAM…")
def cached_grad_cam(name: str, pretrained: bool, key: str, class_index: int | None,
                    _pixels: np.ndarray) -> tuple[np.ndarray, int]:
    return network.grad_cam(cached_network(name, pretrained), _pixels, class_index)
