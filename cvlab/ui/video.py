"""Streamlit glue of video: where a clip comes from (every page that takes one), tracking it, what is kept.

Clips and tracking results live in one byte-bounded cache shared by every session
(``Settings.page_cache_bytes``), keyed by content: thirty students tracking the generated
clip with the same settings share one result, and a rerun that changes nothing
recomputes nothing. A clip whose tracking costs about what the generated one does (``in_page``:
frames x input size x model) is tracked in the page, a second or two on a CPU; more goes to
the job queue (``cvlab.detection.tracking_job``) and the page follows its progress.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import streamlit as st

from cvlab.data.shapes_clip import ShapesClip, shapes_clip
from cvlab.data.video import DEFAULT_LIMITS, VIDEO_TYPES, Clip, decode_video
from cvlab.detection.tracking import TRACKER_HELP, TRACKER_TITLES as TRACKERS  # noqa: F401  (for the page)
from cvlab.jobs.status import RunStatus
from cvlab.settings import get_settings
from cvlab.ui.bounded_cache import BytesBoundedCache, weigh

IN_PAGE_FRAMES = 90  # longer clips are tracked on the job queue
# What the page tracks itself, in frames of the shipped model at its 192 px: the generated clip's 60 frames are
# about a second on a 2-core CPU. A bigger model or input size costs more per frame, so fewer frames stay here.
IN_PAGE_BUDGET = 90 * 192**2 * 3.2e6  # shapes-yolo has 3.0 M parameters
GENERATED, UPLOAD = "Generated clip", "Upload a clip"
TRACKING_IN_PAGES = threading.BoundedSemaphore(2)  # clips tracked at once in this process, by everyone's pages


def _weigh_video(value) -> int:
    """Arrays and bytes, and a tracking result's boxes at about 200 bytes of Python objects each."""
    from cvlab.detection.tracking import TrackingResult

    items = value if isinstance(value, tuple) else (value,)
    boxes = sum(len(frame.boxes) + 1 for item in items if isinstance(item, TrackingResult) for frame in item.frames)
    return weigh(value) + 200 * boxes


VIDEO_CACHE = BytesBoundedCache(lambda: get_settings().page_cache_bytes // 2, size_of=_weigh_video)


def in_page(frames: int, imgsz: int, parameters: int, on_gpu: bool) -> bool:
    """Whether a clip is tracked in the page (True) or on the job queue: its frames times the work per frame."""
    cost = frames * imgsz**2 * max(parameters, 3e6)
    return frames <= IN_PAGE_FRAMES and cost <= IN_PAGE_BUDGET * (20 if on_gpu else 1)


@dataclass(frozen=True, eq=False)
class ChosenClip:
    clip: Clip
    truth: ShapesClip | None  # the generated clip's true tracks; None for an upload
    upload_bytes: bytes | None = None  # what a job gets to decode again on the worker; None when generated
    upload_name: str = ""
    upload_digest: str = ""  # SHA-256 of upload_bytes
    generated: tuple[int, int, int, int] | None = None  # (seed, frames, size, objects) of a generated clip


def generated_clip(seed: int, frames: int, size: int, objects: int) -> ShapesClip:
    return VIDEO_CACHE.get_or_make(("shapes-clip", seed, frames, size, objects),
                                   lambda: shapes_clip(seed, frames, size, objects))


def uploaded_clip(data: bytes, name: str, digest: str) -> Clip:
    return VIDEO_CACHE.get_or_make(("upload", digest, name.rsplit(".", 1)[-1].lower()),
                                   lambda: decode_video(data, name))


def _upload_digest(upload) -> str:
    """SHA-256 of an upload's bytes, hashed once per upload (up to 50 MB: tens of ms a rerun otherwise)."""
    digests = st.session_state.setdefault("_cvlab_video_digests", {})
    if upload.file_id not in digests:
        digests.clear()  # one upload at a time per session
        digests[upload.file_id] = hashlib.sha256(upload.getvalue()).hexdigest()
    return digests[upload.file_id]


@dataclass(frozen=True)
class GeneratedClipChoices:
    """What a page offers of the generated clip: the frames slider (lowest, highest, default, step), the shapes
    (a slider's lowest, highest, default; or one fixed number), and what the seed and frames are good for."""

    frames: tuple[int, int, int, int]
    shapes: tuple[int, int, int] | int
    seed_help: str
    frames_help: str


TRACKING_CLIPS = GeneratedClipChoices(
    frames=(16, 240, 60, 4), shapes=(2, 8, 5),
    seed_help="Shapes that move, cross and leave the frame; their true tracks are known, so tracking is scored "
              "against them.",
    frames_help=f"At 15 fps. Up to {IN_PAGE_FRAMES} frames are tracked in the page, longer clips on the job queue.")


def clip_picker(key: str, offer: GeneratedClipChoices, bind: str = "query-params") -> ChosenClip | None:
    """The clip source widgets (keys start with ``key``); the chosen clip, or None (with a message shown) when
    there is none yet. Every page that takes a clip uses these, and one cache holds their clips."""
    source = st.segmented_control("Clip", [GENERATED, UPLOAD], default=GENERATED, required=True, key=f"{key}src",
                                  bind=bind, wrap=True)  # wraps, not hides, in a narrow column
    if source == GENERATED:
        low, high, default, step = offer.frames
        seed = st.number_input("Clip seed", 0, 10_000, 0, key=f"{key}seed", bind=bind, help=offer.seed_help)
        frames = st.slider("Frames", low, high, default, step, key=f"{key}frames", bind=bind, help=offer.frames_help)
        objects = (offer.shapes if isinstance(offer.shapes, int)
                   else st.slider("Shapes", *offer.shapes, key=f"{key}objects", bind=bind))
        made = generated_clip(int(seed), int(frames), 256, int(objects))
        return ChosenClip(made.clip, made, generated=(int(seed), int(frames), 256, int(objects)))
    limits = DEFAULT_LIMITS
    # max_upload_size: the browser refuses a larger file before sending it (the server's own cap is the app-wide
    # server.maxUploadSize, which dataset zips need; decode_video refuses what gets past the browser)
    upload = st.file_uploader(f"A short video ({', '.join(VIDEO_TYPES)})", type=list(VIDEO_TYPES), key=f"{key}file",
                              max_upload_size=limits.max_bytes // 2**20,
                              help=f"Up to {limits.max_bytes // 2**20} MB, {limits.max_seconds:g} s and "
                                   f"{limits.max_frames} frames; frames larger than {limits.max_side} px are scaled "
                                   "down.")
    if upload is None:
        st.info("Upload a clip, or pick the generated one.")
        return None
    data, digest = upload.getvalue(), _upload_digest(upload)
    return ChosenClip(uploaded_clip(data, upload.name, digest), None, upload_bytes=data, upload_name=upload.name,
                      upload_digest=digest)


def tracked_in_page(model: str, chosen: ChosenClip, options: dict):
    """(TrackingResult, annotated WebM bytes, MOT score or None), computed once per clip and settings."""
    key = ("tracked", model, chosen.clip.content_hash, tuple(sorted(options.items())))

    def make():
        from cvlab.detection.mot import score_shapes_clip
        from cvlab.detection.tracking import track_clip
        from cvlab.data.video import encode_webm
        from cvlab.viz.tracking import annotated_frames

        with TRACKING_IN_PAGES:
            result = track_clip(model, chosen.clip.frames, fps=chosen.clip.fps, **options)
            webm = encode_webm(annotated_frames(chosen.clip.frames, result), chosen.clip.fps)
        score = score_shapes_clip(chosen.truth, result) if chosen.truth is not None else None
        return result, webm, score, track_rows(result)

    return VIDEO_CACHE.get_or_make(key, make)


def track_rows(result) -> list[dict]:
    classes = result.track_classes()
    return [{"track": f"#{tid}", "class": classes[tid], "frames": len(points), "first frame": points[0][0],
             "last frame": points[-1][0]} for tid, points in result.paths().items()]


def tracking_output(model: str, chosen: ChosenClip, options: dict, info) -> None:
    """Track the clip (here or on the job queue) and show what came of it; ``info`` is the model's ModelInfo."""
    from cvlab.device import pick_device

    clip = chosen.clip
    width, height = clip.size
    st.caption(f"{clip.name}: {clip.n_frames} frames of {width}x{height} px at {clip.fps:g} fps "
               f"({clip.seconds:.1f} s)" + "".join(f"; {note}" for note in clip.notes) + ".")
    imgsz = options.get("imgsz") or info.imgsz
    if in_page(clip.n_frames, imgsz, info.parameters, pick_device(get_settings().device).type == "cuda"):
        with st.spinner(f"Tracking {clip.n_frames} frames…"):
            result, webm, score, rows = tracked_in_page(model, chosen, options)
        key = ("page", model, clip.content_hash, tuple(sorted(options.items())))
        show_tracking(result, webm, score, rows, chosen, key=key)
    else:
        job_panel(model, chosen, options)


def job_panel(model: str, chosen: ChosenClip, options: dict) -> None:
    """A long clip: queue its job on a click, follow it while it runs, show the result once it has finished."""
    from cvlab.detection import tracking_job, tracking_requests
    from cvlab.ui.identity import owner_id

    clip_key = (tracking_job.upload_key(chosen.upload_digest, chosen.upload_name) if chosen.upload_bytes is not None
                else tracking_job.generated_key(chosen.generated))
    job_id = tracking_job.job_id_for(model, options, clip_key)
    state = tracking_job.job_state(job_id)
    if state.state == RunStatus.FINISHED:
        result, webm, score, rows = _job_result(job_id)
        show_tracking(result, webm, score, rows, chosen, key=("job", job_id))
        return
    if not state.active:
        st.info(f"{chosen.clip.n_frames} frames with {model} at {options.get('imgsz') or 'its own'} px is more "
                "work than the page does itself: this clip is tracked on the job queue, like a training run, and "
                "shown here when it is done.")
        if state.error and state.error != "no such tracking job":
            st.error(f"The last try failed: {state.error}", icon=":material/error:")
        if st.button("Track on the job queue", key="vqueue", type="primary"):
            tracking_requests.start_tracking_job(
                model, options, owner_id=owner_id(),
                upload=(chosen.upload_bytes, chosen.upload_name) if chosen.upload_bytes is not None else None,
                generated=chosen.generated, frames=chosen.clip.n_frames)
            st.rerun()
        return
    _follow_job(job_id)


def _job_result(job_id: str):
    from cvlab.detection.tracking_job import job_result

    def make():
        result, webm, score = job_result(job_id)
        return result, webm, score, track_rows(result)

    return VIDEO_CACHE.get_or_make(("job", job_id), make)


@st.fragment(run_every=1.0)
def _follow_job(job_id: str) -> None:
    from cvlab.detection.tracking_job import job_state
    from cvlab.ui import report_errors

    with report_errors():
        _job_progress(job_state(job_id))


def _job_progress(state) -> None:
    if state.state == RunStatus.QUEUED:
        st.progress(0.0, text="Waiting for a worker…")
    elif state.active:
        st.progress(state.done / max(1, state.total), text=f"Tracking: frame {state.done} of {state.total}")
    else:
        st.rerun()  # finished or failed: the whole section shows the outcome


def show_tracking(result, webm: bytes, score, rows: list[dict], chosen: ChosenClip, *, key) -> None:
    from cvlab.ui import cached_figure, show_figure, show_table
    from cvlab.viz import tracking as viz

    st.video(webm, format="video/webm", loop=True)
    mean = result.mean_ms()
    columns = st.columns(4)
    columns[0].metric("Tracks", len(result.paths()))
    columns[1].metric("Time per frame", f"{mean['wall']:.0f} ms", help="The whole track() call: detection, NMS "
                      "and the tracker's association.")
    columns[2].metric("Frames per second", f"{1000 / max(mean['wall'], 1e-6):.0f}",
                      help="On this server, one clip at a time.")
    columns[3].metric("Input", f"{result.imgsz} px", help=result.imgsz_reason.capitalize())
    if score is not None:
        st.markdown(f"**Against the true tracks** (IoU ≥ 0.5): MOTA **{score.mota:.3f}**, "
                    f"{score.id_switches} identity switches, {score.misses} misses and {score.false_positives} false "
                    f"positives over {score.objects} true boxes; MOTP (mean IoU of matches) {score.motp:.3f}; "
                    f"{score.tracks} track ids for {score.true_tracks} true objects.")
        st.caption("MOTA = 1 − (misses + false positives + identity switches) / true boxes. A shape that is mostly "
                   "hidden or out of the frame is not counted either way.")
    if "random" in result.weights_note.lower():
        st.warning("Random weights: this network has never been trained, so its tracks follow nothing real.")
    show_figure(cached_figure(viz.timeline_figure, result, title="Per frame: what was tracked, and the time it took",
                              cache_key=key))
    middle = chosen.clip.frames[len(chosen.clip.frames) // 2]
    show_figure(cached_figure(viz.paths_figure, middle, result, title="Each track's path, over the middle frame",
                              cache_key=key))
    show_table(rows)
    st.download_button("Download the annotated clip (WebM)", webm, file_name="tracked.webm", mime="video/webm",
                       key="vdownload", on_click="ignore")
