"""Streamlit glue of SAM 2 across frames (the Segment Anything section's video part).

A clip (the generated one, offline and the default, or an upload), a prompt on one frame
(clicked or typed, as the still-image panel takes it) and an optional correction on another
frame; **Propagate** sends the clip through SAM 2 in the page, with a progress bar. Only
clips SAM 2 gets through in about a minute on this device are run here (the generated
24-frame clip takes about 7 s on 2 CPU cores); longer ones are refused with what fits and
the command line that runs them. The result stays in this session, keyed by the clip and
the prompts, so a rerun that changes neither shows it again without running SAM 2.
"""

from __future__ import annotations

import hashlib

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots
from streamlit_image_coordinates import streamlit_image_coordinates

from cvlab.data.video import encode_webm
from cvlab.segmentation import sam as sam_api
from cvlab.segmentation import sam_video as sv
from cvlab.ui import report_errors, show_figure
from cvlab.settings import get_settings
from cvlab.ui import video as video_ui
from cvlab.viz import segmentation as viz
from cvlab.viz.style import COLORWAY, styled

BIND = "query-params"
GENERATED, UPLOAD = video_ui.GENERATED, video_ui.UPLOAD
PROMPT, CORRECTION = "the prompt frame", "the correction frame"
OBJECT, BACKGROUND = "+ object", "− background"
PAGE_CPU_SECONDS = 60.0  # a longer estimated propagation is for the command line, not a page's script thread
_RESULT = "_sv_result"  # session key: (inputs key, VideoMasks, WebM bytes, clip hash) of the last propagation
_LAST_CLICK = "_sv_last_click"
SAM_CLIPS = video_ui.GeneratedClipChoices(
    frames=(8, 48, 24, 4), shapes=3,
    seed_help="Moving shapes whose true masks are known, so SAM 2's can be scored.",
    frames_help="At 15 fps, 256 px; each frame costs SAM 2 a whole image encoding.")


def _take_click(width: int, height: int) -> None:
    """Write the image's newest click into the points text of the frame it was shown for."""
    click = st.session_state.get("svclick")
    if not click or click.get("unix_time") == st.session_state.get(_LAST_CLICK):
        return
    st.session_state[_LAST_CLICK] = click["unix_time"]
    x = min(round(click["x"] * width / max(click["width"], 1)), width - 1)
    y = min(round(click["y"] * height / max(click["height"], 1)), height - 1)
    target = "svfixpts" if st.session_state.get("svtarget") == CORRECTION else "svpts"
    current = sam_api.parse_points(st.session_state.get(target, ""))
    st.session_state[target] = sam_api.format_points(current + ((x, y, st.session_state.get("svmode") != BACKGROUND),))


def _clear() -> None:
    for key in ("svpts", "svbox", "svfixpts"):
        st.session_state[key] = ""


def _prompts(n_frames: int) -> tuple[sv.FramePrompt, tuple[sv.FramePrompt, ...], int]:
    """The prompt, the corrections (none or one) and the frame clicks go to, from the widgets."""
    last = max(n_frames - 1, 1)  # a slider needs two ends
    left, right = st.columns(2)
    frame = left.slider("Prompt frame", 0, last, min(n_frames // 2, last), key="svframe", bind=BIND,
                        help="SAM 2 tracks from here to the clip's end, then back to its start.")
    fix_frame = right.slider("Correction frame", 0, last, last, key="svfixframe", bind=BIND,
                             help="Points here correct the mask SAM 2 tracked on this frame; then the clip is "
                                  "tracked again.")
    target = st.segmented_control("Clicks go to", [PROMPT, CORRECTION], default=PROMPT, required=True,
                                  key="svtarget", bind=BIND)
    st.segmented_control("A click adds", [OBJECT, BACKGROUND], default=OBJECT, required=True, key="svmode",
                         bind=BIND)
    left, right = st.columns([3, 2])
    points = left.text_input("Prompt points: x,y,+ or x,y,-, separated by ;", key="svpts", bind=BIND,
                             placeholder="click the frame, or type 120,80,+")
    box = right.text_input("Prompt box x0,y0,x1,y1", key="svbox", bind=BIND, placeholder="optional")
    fix_points = st.text_input("Correction points on the correction frame", key="svfixpts", bind=BIND,
                               placeholder="optional: e.g. 90,60,- where the mask spilled over")
    st.button("Clear the prompts", key="svclear", on_click=_clear)
    prompt = sv.FramePrompt(int(frame), sam_api.parse_points(points), sam_api.parse_box(box) if box.strip() else None)
    fixes = sam_api.parse_points(fix_points)
    corrections = (sv.FramePrompt(int(fix_frame), fixes),) if fixes else ()
    return prompt, corrections, int(fix_frame) if target == CORRECTION else int(frame)


def _inputs_key(clip, prompt: sv.FramePrompt, corrections: tuple[sv.FramePrompt, ...]) -> str:
    return hashlib.sha256(repr((clip.content_hash, prompt, corrections)).encode()).hexdigest()[:24]


def sam_video_panel(open_: bool) -> None:
    """The video part of the Segment Anything section; SAM 2 runs only while the tab is ``open_``."""
    st.subheader("SAM 2 across the frames of a clip")
    st.caption("SAM 2 adds a memory to SAM: each frame's features attend to the masks of the prompted frame and of "
               "the last few frames, so one click is carried through the clip. Every frame still costs a whole "
               "image encoding; the memory is what the state below holds.")
    left, right = st.columns([2, 3])
    ready = False
    with left, report_errors():
        chosen = video_ui.clip_picker("sv", SAM_CLIPS)
        if chosen is not None:
            clip, truth = chosen.clip, chosen.truth
            _take_click(*clip.size)
            prompt, corrections, shown_frame = _prompts(clip.n_frames)
            ready = True
    if not ready:
        return
    with right, report_errors():
        _clickable_frame(clip, shown_frame, prompt, corrections)
        if open_:
            _propagate_controls(clip, truth, prompt, corrections)


def _clickable_frame(clip, t: int, prompt: sv.FramePrompt, corrections: tuple[sv.FramePrompt, ...]) -> None:
    stored = st.session_state.get(_RESULT)
    mask = stored[1].masks[t] if stored is not None and stored[3] == clip.content_hash else None
    points = prompt.points if t == prompt.frame else ()
    points += sum((c.points for c in corrections if c.frame == t), ())
    overlay = viz.mask_overlay(clip.frames[t], mask, points, prompt.box if t == prompt.frame else None)
    zoom = max(1, 384 // max(clip.size))  # the generated 256 px clip at 384 px would blur; 2x stays sharp
    streamlit_image_coordinates(overlay.repeat(zoom, 0).repeat(zoom, 1), key="svclick", width="content",
                                cursor="crosshair")
    st.caption(f"Frame {t} of {clip.n_frames} ({clip.name}, {clip.size[0]}x{clip.size[1]} px). Green dots: object "
               "points · red: background · yellow: the box · blue: the mask of the last propagation.")


def _propagate_controls(clip, truth, prompt: sv.FramePrompt, corrections: tuple[sv.FramePrompt, ...]) -> None:
    from cvlab.device import pick_device

    device_type = pick_device(get_settings().device).type
    side = sv.default_input_side(device_type)
    passes = 2 if corrections else 1
    estimate = sv.estimated_cpu_seconds(clip.n_frames, side, passes)
    if device_type == "cpu":
        st.caption(f"SAM 2 tiny at {side} px on this CPU: about {sv.CPU_SECONDS_PER_FRAME[side]:g} s a frame, "
                   f"{estimate:.0f} s for {clip.n_frames} frames" + (" twice (the correction)" if passes > 1 else "")
                   + ".")
        if estimate > PAGE_CPU_SECONDS:
            st.error(f"About {estimate:.0f} s is longer than the page runs SAM 2 for ({PAGE_CPU_SECONDS:.0f} s): "
                     f"trim the clip to {int(PAGE_CPU_SECONDS / (sv.CPU_SECONDS_PER_FRAME[side] * passes))} frames, "
                     "or run it from a terminal: python -m cvlab sam-video VIDEO --point x,y --frame N --out masks/",
                     icon=":material/error:")
            return
    key = _inputs_key(clip, prompt, corrections)
    ready = bool(prompt.points) or prompt.box is not None
    if st.button("Propagate through the clip", key="svrun", type="primary", disabled=not ready,
                 help=None if ready else "Click the object on the frame first, or type a point or a box."):
        result = _run(clip, prompt, corrections)
        overlays = np.stack([viz.mask_overlay(frame, mask) for frame, mask in zip(clip.frames, result.masks)])
        st.session_state[_RESULT] = (key, result, encode_webm(overlays, clip.fps), clip.content_hash)
    stored = st.session_state.get(_RESULT)
    if stored is None or stored[0] != key:
        st.info("Press Propagate to run SAM 2 through the clip with these prompts." if ready else
                "Click the object on the frame (or type a point or a box), then press Propagate.")
        return
    _show_result(stored[1], stored[2], truth, prompt)


def _run(clip, prompt: sv.FramePrompt, corrections: tuple[sv.FramePrompt, ...]) -> sv.VideoMasks:
    with st.status(f"SAM 2 through {clip.n_frames} frames…", expanded=True) as status:
        bar = st.progress(0.0, text="building SAM 2 tiny")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total, text=f"frame {done} of {total}")

        result = sv.propagate(clip, prompt, corrections, progress=progress, max_cpu_seconds=PAGE_CPU_SECONDS)
        status.update(label=f"SAM 2 through {clip.n_frames} frames: {result.seconds:.1f} s", state="complete",
                      expanded=False)
    return result


def _show_result(result: sv.VideoMasks, webm: bytes, truth, prompt: sv.FramePrompt) -> None:
    if result.random_weights:
        st.warning("SAM 2 has RANDOM weights: masks are meaningless, timings and memory are real. Put sam2_t.pt in "
                   "the weights folder (CVLAB_WEIGHTS_DIR) for real masks.", icon=":material/warning:")
    width = result.masks.shape[2]
    st.video(webm, format="video/webm", loop=True, autoplay=True, muted=True,
             width=min(480, max(384, width)))  # a small clip blown up to the column's width only blurs
    columns = st.columns(3)
    columns[0].metric("Per frame", f"{np.mean(result.frame_ms):,.0f} ms",
                      help="Mean over the clip: image encoder + memory attention + mask decoder + memory encoder.")
    columns[1].metric("State memory", f"{result.peak_state_bytes / 2**20:,.1f} MB",
                      help="The tensors SAM 2's propagation state held at most: the prompted frames' memory and "
                           "a window of recent frames'.")
    cuda = result.peak_cuda_bytes
    columns[2].metric("GPU peak" if cuda is not None else "Process peak",
                      f"{(cuda if cuda is not None else result.peak_rss_bytes) / 2**20:,.0f} MB",
                      help="torch's peak allocation during the propagation" if cuda is not None else
                           "The server process's resident peak so far (every model it has loaded counts).")
    show_figure(propagation_figure(result.frame_ms, result.state_bytes, result.prompted_frames))
    track = sv.track_under_prompt(truth.instances, prompt) if truth is not None else None
    if track is not None and not result.random_weights:
        iou = sv.mask_iou_per_frame(result.masks, truth.instances == track)
        st.metric("Mean IoU against the true mask", f"{iou.mean():.3f}")
        show_figure(iou_figure(iou, result.prompted_frames))
    elif truth is not None:
        st.caption("IoU against the true masks is shown with real weights and a first point on a shape.")
    st.download_button(f"Masks ({result.n_frames} PNGs, zip)", lambda: sv.masks_zip(result.masks), "masks.zip",
                       "application/zip", key="svdl", width="stretch")
    prompted = ", ".join(map(str, result.prompted_frames))
    st.caption(f"{result.weights_label} · {result.input_side} px input on {result.device} · {result.passes} "
               f"pass(es) · {result.seconds:.1f} s in all · prompted frames {prompted}")


def propagation_figure(frame_ms, state_bytes, prompted) -> go.Figure:
    """Per frame: the time SAM 2 took (bars; prompted frames in orange) and the state's memory (line)."""
    frames = list(range(len(frame_ms)))
    colours = [COLORWAY[1] if t in prompted else COLORWAY[0] for t in frames]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=frames, y=list(frame_ms), marker_color=colours, name="ms per frame"))
    fig.add_trace(go.Scatter(x=frames, y=[b / 2**20 for b in state_bytes], mode="lines+markers",
                             line_color=COLORWAY[2], name="state MB"), secondary_y=True)
    fig.update_xaxes(title_text="frame")
    fig.update_yaxes(title_text="milliseconds", secondary_y=False)
    fig.update_yaxes(title_text="state MB", rangemode="tozero", tickformat=".1f", secondary_y=True)
    fig.update_layout(height=320)
    return styled(fig, title="Time and state memory per frame (orange: a prompted frame)")


def iou_figure(iou: np.ndarray, prompted) -> go.Figure:
    frames = list(range(len(iou)))
    fig = go.Figure(go.Scatter(x=frames, y=[float(v) for v in iou], mode="lines+markers", line_color=COLORWAY[0],
                               name="IoU"))
    fig.add_trace(go.Scatter(x=list(prompted), y=[float(iou[t]) for t in prompted], mode="markers",
                             marker=dict(size=12, color=COLORWAY[1]), name="prompted"))
    fig.update_xaxes(title_text="frame")
    fig.update_yaxes(title_text="IoU", range=[0, 1.05])
    fig.update_layout(height=300)
    return styled(fig, title="Mask IoU per frame against the true mask")
