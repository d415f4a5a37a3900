"""Networks for the pages: built once per server process, traced once per image."""

from __future__ import annotations

import numpy as np
import streamlit as st

from cvlab.cnn import inside_network as network

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


MAPS_CAPTION = ("Each map is scaled on its own for display: its 1st to 99th percentile runs from black to white "
                "(beyond that it is clipped), so a few very strong pixels do not leave the rest of the map black. "
                "Brightness is therefore not comparable between maps.")
NO_GRAD_CAM = ("Grad-CAM is not shown for {title}: it weighs the channels of a convolutional feature map by their "
               "gradients, and a vision transformer's only convolution is the patch embedding, which runs before "
               "any patch has seen another, so Grad-CAM there says nothing about the decision. Shown instead: how "
               "much the class token, whose output the head reads, attends to each 16x16 patch in the last block "
               "(averaged over the heads).")


def feature_maps(stage) -> None:
    """A stage's most active maps (a transformer's tokens on their patch grid), or why there are none."""
    from cvlab.ui import show_figure
    from cvlab.viz import network as net_viz

    if stage.maps is None:
        st.info(f"Stage {stage.name} is a vector of {stage.shape[0]} values, not a map: pick an earlier one.")
        return
    side = stage.maps.shape[-1]
    # A transformer's stage names are long ("encoder.layers.encoder_layer_5"): its title says no more, to fit
    # the projector, and the caption says what the maps are.
    title = f"Stage {stage.name}" + ("" if stage.from_tokens else f": its {len(stage.maps)} most active maps")
    show_figure(net_viz.feature_map_grid(stage.maps, stage.channels, title,
                                         label="feature" if stage.from_tokens else "channel"))
    tokens = (f"A transformer stage is {stage.shape[0]} tokens, one per 16x16 patch plus the class token. Shown: "
              f"{len(stage.maps)} of its {stage.shape[-1]} features (the most active), each on the {side}x{side} "
              f"grid of the {side * side} patch tokens. ") if stage.from_tokens else ""
    st.caption(tokens + MAPS_CAPTION)


def prediction(net, trace) -> None:
    """The top-5 where the network has learned something; otherwise why it is not shown."""
    from cvlab.cnn.inside_network import prediction_note
    from cvlab.ui import show_figure
    from cvlab.viz import network as net_viz

    note = prediction_note(net, trace)
    if note:
        st.info(f"**No top-5.** {note}", icon=":material/block:")
    else:
        show_figure(net_viz.top5_figure(trace.top5, pretrained=net.pretrained))


def where_it_looks(net, trace, image, cam_class, pretrained: bool) -> None:
    """Grad-CAM for a CNN; for a vision transformer, why not, and its class token's attention instead."""
    from cvlab.cnn.inside_network import class_label
    from cvlab.ui import show_figure
    from cvlab.viz import network as net_viz

    arch = net.architecture
    if arch.attention_block is None:
        cam, target = cached_grad_cam(arch.name, pretrained, image.content_hash, cam_class, image.pixels)
        show_figure(net_viz.cam_overlay(image.pixels, cam, f"Grad-CAM for {class_label(net, target)} at "
                                                           f"{arch.cam_layer}"))
        return
    st.info(NO_GRAD_CAM.format(title=arch.title), icon=":material/info:")
    grid = trace.attention
    side = grid.shape[0]
    show_figure(net_viz.attention_overlay(image.pixels, grid, "Class-token attention in the last block"))
    uniform = 1 / (side * side)
    spread = (f"Colour: the share of the class token's attention each patch gets in {arch.attention_block}, from "
              f"{grid.min():.2%} to {grid.max():.2%} here (all alike would be {uniform:.2%} each).")
    if not net.pretrained:
        spread += " With random weights the attention is close to uniform, so the pattern is noise."
    st.caption(spread)
