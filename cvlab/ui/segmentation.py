"""Streamlit glue of the segmentation page: cached computations and the Segment Anything panel.

SAM's rule on this page: the image encoder runs once per image, behind a spinner, and every
later rerun (a click, a typed box, a toggle) pays only for the decoder. The model's embedding
cache is shared by every session and holds a few images, so each session also keeps its own
image's embedding in its session state: other users' images cannot evict it between the
spinner and a click. Clicks come from streamlit-image-coordinates; the component keeps
its last click in session state, so a click is taken once, by its timestamp, and written into
the points text box (which lives in the address bar, so a shared link shows the same prompt).
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from cvlab.errors import CvlabError
from cvlab.segmentation import loss_explorer as lx
from cvlab.segmentation import sam as sam_api
from cvlab.segmentation import unet_anatomy
from cvlab.ui import report_errors, show_figure
from cvlab.ui.image_picker import image_picker
from cvlab.viz import segmentation as viz

BIND = "query-params"
OBJECT, BACKGROUND, BOX = "+ object", "− background", "box (drag)"
_LAST_CLICK = "_sam_last_click"  # session key: timestamp of the click already taken
_EMBEDDING = "_sam_embedding"  # session key: the EncodedImage of this session's current image and model


@st.cache_data(max_entries=16, show_spinner="Building the U-Net and measuring its stages…")
def cached_anatomy(encoder: str, size: int) -> unet_anatomy.UnetAnatomy:
    return unet_anatomy.unet_anatomy(encoder, size)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_random_prediction(encoder: str, size: int, seed: int) -> tuple[np.ndarray, ...]:
    return unet_anatomy.random_unet_prediction(encoder, size, seed)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_pixel_curves(names: tuple[str, ...], params: tuple) -> list[lx.PixelLossCurve]:
    return lx.pixel_loss_curves(names, params={name: dict(values) for name, values in params})


@st.cache_data(max_entries=256, show_spinner=False)
def cached_toy_pair(target: tuple[int, int, int], prediction: tuple[int, int, int], confidence: float) -> lx.ToyPair:
    return lx.toy_pair(target=target, prediction=prediction, confidence=confidence)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_focal(alpha: float, gamma: float) -> lx.FocalComparison:
    return lx.focal_vs_bce(alpha, gamma)


@st.cache_resource(max_entries=2, show_spinner="Building the SAM model…")  # SAM ViT-B alone is 360 MB
def cached_sam(name: str) -> sam_api.SamModel:
    """Shared by every session and never changed; its lock serialises calls, its cache holds embeddings."""
    return sam_api.build_sam_model(name)


def _take_click(click_key: str, width: int, height: int) -> None:
    """Write the component's newest click into the points or box text (before those widgets exist)."""
    click = st.session_state.get(click_key)
    if not click or click.get("unix_time") == st.session_state.get(_LAST_CLICK):
        return
    st.session_state[_LAST_CLICK] = click["unix_time"]
    scale_x, scale_y = width / max(click["width"], 1), height / max(click["height"], 1)
    if "x1" in click:  # a drag: the box's two corners, in either order, clipped to the image
        xs = sorted(min(max(round(v * scale_x), 0), width) for v in (click["x1"], click["x2"]))
        ys = sorted(min(max(round(v * scale_y), 0), height) for v in (click["y1"], click["y2"]))
        if xs[1] - xs[0] >= 2 and ys[1] - ys[0] >= 2:
            st.session_state["sam_box"] = f"{xs[0]},{ys[0]},{xs[1]},{ys[1]}"
        return
    point = (min(round(click["x"] * scale_x), width - 1), min(round(click["y"] * scale_y), height - 1),
             st.session_state.get("sam_mode", OBJECT) == OBJECT)
    current = sam_api.parse_points(st.session_state.get("sam_pts", ""))
    st.session_state["sam_pts"] = sam_api.format_points(current + (point,))


def _clear_prompt() -> None:
    st.session_state["sam_pts"] = ""
    st.session_state["sam_box"] = ""


def _prompt_controls() -> tuple[sam_api.SamPrompt, bool, str]:
    mode = st.segmented_control("A click adds", [OBJECT, BACKGROUND, BOX], default=OBJECT, required=True,
                                key="sam_mode", bind=BIND,
                                help="Object points say 'this is it', background points 'not this'; "
                                     "in box mode, press, drag and release over the object.")
    left, right = st.columns([3, 2])
    points_text = left.text_input("Points (x,y,+ or x,y,-; separated by ;)", key="sam_pts", bind=BIND,
                                  placeholder="click the image, or type 120,80,+")
    box_text = right.text_input("Box x0,y0,x1,y1 (px)", key="sam_box", bind=BIND,
                                placeholder="drag in box mode, or type")
    left, right = st.columns([3, 2])
    multimask = left.toggle("Multimask output (3 masks)", value=True, key="sam_multi", bind=BIND,
                            help="One click is ambiguous (a shirt, or the person wearing it?): SAM answers "
                                 "with three masks and a predicted IoU score for each.")
    right.button("Clear the prompt", key="sam_clear", on_click=_clear_prompt)
    prompt = sam_api.SamPrompt(sam_api.parse_points(points_text),
                               sam_api.parse_box(box_text) if box_text.strip() else None)
    return prompt, multimask, mode


def _mask_choice(result: sam_api.SamResult | None) -> int | None:
    """The mask to lay over the image. Drawn before the image whether or not there is a result yet,
    so the image never moves down the page when the first click brings masks."""
    choice = st.segmented_control("Mask shown", ["best", "1", "2", "3"], default="best", required=True,
                                  key="sam_pick", bind=BIND, disabled=result is None,
                                  help="SAM's best guess by its own predicted IoU, or one of its three candidates.")
    if result is None:
        return None
    return result.best if choice in (None, "best") or int(choice) > len(result.masks) else int(choice) - 1


def _show_result(result: sam_api.SamResult, pixels: np.ndarray, index: int, encoded_now: bool) -> None:
    """Candidate masks with scores, timings, downloads: under the image, so they never push it down."""
    area = pixels.shape[0] * pixels.shape[1]
    captions = [f"mask {i + 1}: score {s:.2f} · {a / area:.0%} of the image"
                for i, (s, a) in enumerate(zip(result.scores, result.areas))]
    st.image([viz.mask_overlay(pixels, m) for m in result.masks], caption=captions, width=180)
    columns = st.columns(2)
    columns[0].metric("Encoder", f"{1000 * result.encoder_seconds:,.0f} ms",
                      "computed now" if encoded_now else "cached", delta_color="off", delta_arrow="off",
                      help="The image encoder runs once per image; this is what it took then.")
    columns[1].metric("Decoder", f"{1000 * result.decoder_seconds:,.0f} ms",
                      help="Prompt encoder + mask decoder + upsampling to the image, for this prompt.")
    columns = st.columns(2)
    chosen = result.masks[index]
    # Callables: the PNGs are encoded only when a button is pressed, not on every click's rerun.
    columns[0].download_button("Mask PNG", lambda: sam_api.mask_png(chosen), "mask.png", "image/png",
                               key="sam_dl_mask", width="stretch")
    columns[1].download_button("Cut-out PNG", lambda: sam_api.cutout_png(pixels, chosen), "cutout.png",
                               "image/png", key="sam_dl_cut", width="stretch",
                               help="The object on a transparent background (RGBA).")
    show_figure(viz.sam_timing_figure(result.encoder_seconds, result.decoder_seconds, result.model))


def sam_panel(open_: bool) -> None:
    """The Segment Anything section; the model is built and the image encoded only while the tab is ``open_``."""
    names = sam_api.SAM_MODELS.names()
    left, right = st.columns([2, 3])  # wide enough for the image picker's three buttons when projected
    with left:
        name = st.selectbox("Model", names, index=names.index(sam_api.DEFAULT_SAM), key="sam", bind=BIND,
                            help="MobileSAM encodes an image in about 1 s on a CPU; SAM ViT-B takes about 12 s.")
        variant = sam_api.SAM_MODELS.get(name)
        st.caption(f"{variant.display_name}: {variant.encoder}. {variant.paper}. Encoder on 2 CPU cores: "
                   f"{variant.cpu_encoder_note}.")
        loaded = image_picker("sam_img", max_side=1024)
    with right, report_errors():
        if loaded is not None:
            _take_click("sam_click_box" if st.session_state.get("sam_mode") == BOX else "sam_click",
                        loaded.width, loaded.height)
        prompt, multimask, mode = _prompt_controls()
        if loaded is None or not open_:
            st.info("Choose an image on the left." if loaded is None else "Open this tab to prompt SAM.")
            return
        _run_sam(name, loaded.pixels, prompt, multimask, mode)


def _run_sam(name: str, pixels: np.ndarray, prompt: sam_api.SamPrompt, multimask: bool, mode: str) -> None:
    variant = sam_api.SAM_MODELS.get(name)
    model = cached_sam(name)
    if model.weights.random:
        st.warning(model.weights.message, icon=":material/warning:")
    else:
        st.caption(model.weights.message)
    encoded, encoded_now = st.session_state.get(_EMBEDDING), False
    if encoded is None or not encoded.matches(name, pixels):
        with st.spinner(f"Encoding the image once with {variant.display_name} ({variant.cpu_encoder_note} on a "
                        "CPU)…", show_time=True):
            encoded = model.encode(pixels)
        encoded_now = not encoded.cached
        st.session_state[_EMBEDDING] = encoded  # one per session: replaced when the image or model changes
    result, problem = None, None
    if prompt.points or prompt.box is not None:
        try:
            result = model.segment(pixels, prompt, multimask=multimask, encoded=encoded)
        except CvlabError as err:
            problem = str(err)
    index = _mask_choice(result)
    # The clickable image comes before anything a prompt adds, at the same place with or without masks.
    overlay = viz.mask_overlay(pixels, None if result is None else result.masks[index], prompt.points, prompt.box)
    streamlit_image_coordinates(overlay, key="sam_click_box" if mode == BOX else "sam_click", width="content",
                                click_and_drag=mode == BOX, cursor="crosshair")
    st.caption("Green dots: object points · red: background points · yellow: the box · blue: the mask."
               + ("" if result is not None or problem else
                  " Click the object on the image (or drag a box in box mode) to prompt SAM."))
    if problem:
        st.error(problem, icon=":material/error:")
    if result is not None:
        _show_result(result, pixels, index, encoded_now)
