"""The Output size page's chain editing: presets loaded, layers added, moved and removed by callbacks.

The chain's text box is bound to the address, so only a callback may change it; each edit goes
through cvlab.sizes.chain_text and an error is kept for the page to show under the box.
"""

from __future__ import annotations

import streamlit as st

from cvlab.errors import CvlabError
from cvlab.sizes import chain_text as spec
from cvlab.sizes.chain import format_shape, layer_spec


def load_preset() -> None:
    """The chosen preset's layers and input into the text boxes ("custom" leaves them)."""
    st.session_state["edit_error"] = None
    if st.session_state["preset"] != "custom":
        preset = spec.PRESETS.get(st.session_state["preset"])
        st.session_state["chain"], st.session_state["inp"] = preset.spec, format_shape(preset.input_shape)


def edit_chain(change, *args) -> None:
    """A button's edit of the chain text; the text box is bound to the URL, so only a callback may set it."""
    try:
        st.session_state["chain"] = change(st.session_state["chain"], *args)
        st.session_state["preset"], st.session_state["edit_error"] = "custom", None
    except CvlabError as err:
        st.session_state["edit_error"] = str(err)


def reorder_layers(layers: tuple) -> None:
    """One line per layer with up, down and remove buttons, in an expander."""
    with st.expander(f"Reorder or remove layers ({len(layers)})"):
        for i, layer in enumerate(layers):
            label, up, down, remove = st.columns([6, 1, 1, 1], vertical_alignment="center")
            label.markdown(f"{i + 1}. `{layer_spec(layer)}`")
            up.button("↑", key=f"up{i}", on_click=edit_chain, args=(spec.move_layer, i, -1), disabled=i == 0)
            down.button("↓", key=f"dn{i}", on_click=edit_chain, args=(spec.move_layer, i, 1),
                        disabled=i == len(layers) - 1)
            remove.button("✕", key=f"rm{i}", on_click=edit_chain, args=(spec.remove_layer, i))
