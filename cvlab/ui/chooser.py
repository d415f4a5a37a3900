"""The Architectures page's chooser form: hard limits and preferences read into ``chooser.Constraints``."""

from __future__ import annotations

import streamlit as st

from cvlab.zoo import chooser

BIND = "query-params"


def own_constraints() -> chooser.Constraints:
    """Four limits in a row and two preferences; 0 means no limit. Raises InvalidInput like Constraints."""
    cols = st.columns(4)
    size = cols[0].number_input("Max size (MB)", 0.0, 2000.0, 0.0, key="mb", bind=BIND, help="0: no limit")
    latency = cols[1].number_input("Max latency (ms)", 0.0, 10000.0, 0.0, key="ms", bind=BIND, help="0: no limit")
    top1 = cols[2].number_input("Min top-1 (%)", 0.0, 100.0, 0.0, key="top1", bind=BIND)
    images = cols[3].number_input("Labelled images", 0, 100_000_000, 5000, key="imgs", bind=BIND)
    prefer = st.segmented_control("Prefer", chooser.PREFERENCES, default="accuracy", key="pref", bind=BIND)
    precision = st.segmented_control("Weights as", list(chooser.BYTES_PER_WEIGHT), default="fp32", key="prec",
                                     bind=BIND)
    return chooser.Constraints(max_size_mb=size or None, max_latency_ms=latency or None, min_top1=top1 or None,
                               labelled_images=int(images), prefer=prefer or "accuracy",
                               precision=precision or "fp32")
