"""Segmentation: the U-Net taken apart, the losses of segmentation side by side, and SAM prompts."""

import streamlit as st

from cvlab.segmentation import architectures as arch
from cvlab.segmentation import loss_explorer as lx
from cvlab.segmentation.losses import LOSSES
from cvlab.ui import (cached_figure, open_section, projector_on, report_errors, sections, show_figure,
                      show_table)
from cvlab.ui import segmentation as ui
from cvlab.ui import sam_video as sam_video_ui
from cvlab.ui import training as training_ui
from cvlab.viz import segmentation as viz

BIND = "query-params"
ENCODERS = arch.ENCODERS.names()
TOY_SIZE = 64  # px: the toy pair's canvas
TARGET = (16, 16, 24)  # the true square: x, y, side in px
UNET_STAGE_COLUMNS = {
    "skip from": st.column_config.TextColumn(help="the encoder stage a decoder block concatenates; a dash: no "
                                                  "skip connection"),
    "channels into conv": st.column_config.NumberColumn(help="upsampled + skip channels entering a decoder block's "
                                                             "first conv; a dash: not a decoder block"),
    "parameters": st.column_config.NumberColumn(format="localized", help="of each decoder block and the head; a dash: "
                                                                         "an encoder stage (their total is above)"),
}


def loss_card(name: str) -> None:
    entry = LOSSES.get(name)
    with st.container(border=True):
        st.markdown(f"**{entry.display_name}** · `{name}` · {entry.paper}")
        st.latex(entry.latex)
        st.caption(f"Used for {entry.use}. {entry.note}")


st.title("Segmentation")
st.caption("Segmentation labels every pixel. A U-Net learns it from examples with a loss that compares masks; "
           "SAM segments whatever you point at, from one heavy encoding of the image and a light decoder per click.")
tab_unet, tab_train, tab_losses, tab_sam = sections("U-Net", "Train a U-Net", "Loss explorer", "Segment Anything")

for _ in open_section(tab_unet):
    left, right = st.columns(2)
    encoder = left.selectbox("Encoder", ENCODERS, index=ENCODERS.index(arch.DEFAULT_ENCODER), key="unet_enc",
                             bind=BIND, help="Any smp encoder fits under the same decoder.")
    size = right.select_slider("Input size (px)", [64, 96, 128, 160, 192, 256], value=128, key="unet_size", bind=BIND,
                               help="Sides must be divisible by 32: the encoder halves the image five times.")
    if tab_unet.open:
        with report_errors():
            anatomy = ui.cached_anatomy(encoder, size)
            show_figure(cached_figure(viz.unet_figure, anatomy, cache_key=(encoder, size)))
            st.markdown(
                f"**Encoder** ({anatomy.encoder_params / 1e6:.1f} M parameters): the contracting path halves height "
                "and width at each stage and adds channels: *what* is in the image. **Bottleneck**: the lowest "
                "resolution, the widest context. **Decoder** "
                f"({anatomy.decoder_params / 1e6:.2f} M): each block doubles the size back and **concatenates** the "
                "encoder map of the same size (dashed lines, the skip connections), which gives back *where* things "
                "are. The head is one 3×3 conv to one logit per pixel per class.")
            show_table([{"stage": s.name, "shape (C×H×W)": f"{s.channels}×{s.height}×{s.width}",
                         "skip from": s.skip_from, "channels into conv": s.conv_in_channels, "parameters": s.params}
                        for s in anatomy.stages], column_config=UNET_STAGE_COLUMNS, height="content")  # every stage
            st.code(f'smp.Unet(encoder_name="{encoder}", encoder_weights=None, in_channels=3, classes=1)',
                    language="python", wrap_lines=True)
            image, truth, probability = ui.cached_random_prediction(encoder, size, 0)
            show_figure(cached_figure(viz.random_prediction_figure, image, truth, probability,
                                      cache_key=(encoder, size, 0)))  # what cached_random_prediction keys on
            st.caption("An UNTRAINED U-Net (random weights) on a shapes scene: its output is noise around 0.5. "
                       "Training with a segmentation loss is what turns it into the true mask.")
    with st.expander("The architectures and encoders on offer"):
        show_table([{"architecture": a.display_name, "year": a.year, "idea": a.idea, "skip connections": a.skips}
                    for _, a in arch.ARCHITECTURES.items()])

for _ in open_section(tab_train):
    if tab_train.open:
        st.caption("Train an smp model on the job queue: the shapes generator's masks (offline), or your own zip of "
                   "images/ and masks/. The default recipe (U-Net, ResNet-18 encoder, 0.5 BCE + 0.5 Dice, 64 px, "
                   "6 epochs) passes an IoU of 0.9 in about two minutes on a 2-core CPU.")
        training_ui.task_training_section("segment")

for _ in open_section(tab_losses):
    chosen = st.multiselect("Losses", lx.BINARY_LOSSES, default=list(lx.BINARY_LOSSES), key="loss_names", bind=BIND)
    smooth = st.slider("Dice / IoU smoothing s", 0.0, 5.0, 1.0, 0.5, key="smooth", bind=BIND,
                       help="Added to numerator and denominator so an empty mask has a defined loss.")
    if tab_losses.open and chosen:
        with report_errors():
            params = tuple((n, (("smooth", smooth),)) for n in chosen if n in ("dice", "iou"))
            show_figure(viz.pixel_loss_figure(ui.cached_pixel_curves(tuple(chosen), params)))
            st.caption("BCE and focal loss judge each pixel on its own and punish a confident mistake without "
                       "limit. Dice and IoU judge the overlap of the whole mask: on a lone pixel they saturate, "
                       "and on a background pixel they only count a false positive.")
    st.subheader("A toy prediction")
    cols = st.columns(4)
    dx = cols[0].slider("Shift right (px)", -24, 24, 6, key="toy_dx", bind=BIND)
    dy = cols[1].slider("Shift down (px)", -24, 24, 4, key="toy_dy", bind=BIND)
    side = cols[2].slider("Predicted side (px)", 4, 48, 24, key="toy_side", bind=BIND)
    confidence = cols[3].slider("Confidence", 0.55, 0.99, 0.9, 0.01, key="toy_conf", bind=BIND)
    if tab_losses.open:
        with report_errors():
            pair = ui.cached_toy_pair(TARGET, (TARGET[0] + dx, TARGET[1] + dy, side), confidence)
            left, right = st.columns([3, 2])
            with left:
                show_figure(viz.toy_pair_figure(pair))
            with right:
                for name, value in pair.losses.items():
                    st.metric(LOSSES.get(name).display_name, f"{value:.3f}")
                st.metric("IoU, thresholded", f"{pair.hard_iou:.3f}")
                st.metric("Dice, thresholded", f"{pair.hard_dice:.3f}")
            st.caption(f"The prediction says p = {confidence:g} inside its square and {1 - confidence:.2f} outside. "
                       "Soft Dice and IoU count that leftover probability on every background pixel, so raising "
                       "the confidence lowers them even when the squares do not move.")
    st.subheader("Focal loss on an imbalanced mask")
    left, right = st.columns(2)
    alpha = left.slider("alpha (weight of object pixels)", 0.0, 1.0, 0.25, 0.05, key="focal_alpha", bind=BIND)
    gamma = right.slider("gamma (focusing)", 0.0, 5.0, 2.0, 0.5, key="focal_gamma", bind=BIND)
    if tab_losses.open:
        with report_errors():
            show_figure(viz.focal_figure(ui.cached_focal(alpha, gamma)))
            focal_params = (("focal", (("alpha", alpha), ("gamma", gamma))),)
            show_figure(viz.focal_curve_figure(ui.cached_pixel_curves(("bce", "focal"), focal_params)))
            st.caption("With BCE, the 9,000 easy background pixels make half of the loss although the model "
                       "already gets them right. (1 − p_t)^γ shrinks an easy pixel's loss towards zero, so the hard "
                       "background and the object take over the gradient.")
    with st.expander("The formulas"):
        columns = st.columns(1 if projector_on() else 2)  # a formula in projector type needs the full width
        for index, name in enumerate(LOSSES.names()):
            with columns[index % len(columns)]:
                loss_card(name)
        st.markdown("The lecture's combination, `0.5*bce+0.5*dice`, balances a per-pixel signal with an overlap one.")

for _ in open_section(tab_sam):
    ui.sam_panel(tab_sam.open)
    sam_video_ui.sam_video_panel(tab_sam.open)
