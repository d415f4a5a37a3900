"""Streamlit glue of the detection playground: cached calls, the picture input, tables for the page.

Models are cached by ``cvlab.detection.facade`` itself (bounded, shared, locked),
so the command line and the page share one mechanism; here only results are
cached, per (model, settings, picture).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from cvlab.data.images import UPLOAD_TYPES, LoadedImage
from cvlab.detection import boxes as bx
from cvlab.detection import facade
from cvlab.detection.catalogue import available_detectors, get_detector
from cvlab.detection.yolo_data import DatasetReport
from cvlab.settings import get_settings
from cvlab.ui import show_table

SHAPES_SIDE = 192  # px: the size the shapes model was trained at
_RESULTS = 32  # results kept per process; each is a few kB of boxes


def model_choices() -> dict[str, str]:
    """Selectable model name -> its title, in the page's order; a run that has just finished, or weights
    just uploaded, are listed at once (the trained models are looked up on every run; the rest is cached)."""
    from cvlab.detection.catalogue import trained_models

    trained = tuple((spec.name, spec.title) for spec in trained_models(get_settings()))
    return _model_choices(trained)


@st.cache_data(ttl=60, show_spinner=False)
def _model_choices(trained: tuple[tuple[str, str], ...]) -> dict[str, str]:
    from cvlab.detection.ultralytics_env import library_weights_dir

    settings = get_settings()
    library = None if settings.offline else library_weights_dir(settings)
    return {spec.name: spec.title for spec in available_detectors(settings, library_dir=library)}


def default_model(choices: dict[str, str]) -> int:
    """Index of the first model that shows real boxes offline: the shipped one, else small COCO, else random."""
    for name in ("shapes-yolo", "yolo11n", "yolov8n", "yolov8n-random"):
        if name in choices:
            return list(choices).index(name)
    return 0


def weights_note(name: str) -> str:
    """Where the model's weights come from, as a sentence: its first letter capitalised, the rest (a
    trained model's path) exactly as it is."""
    note = get_detector(name).weights_note
    return note[:1].upper() + note[1:]


def unknown_model_note(choices: dict[str, str]) -> str | None:
    """What to say when the address names a model that is not here; None when it names none, or one that is.

    Read before the model selectbox runs: the selectbox quietly replaces a value it does not
    know with its default, and the address with it.
    """
    import difflib

    from cvlab.ui.identity import plain_markdown

    asked = st.query_params.get("model")
    if not asked or asked in choices:
        return None
    fallback = list(choices)[default_model(choices)] if choices else "none"
    close = difflib.get_close_matches(asked, list(choices), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return (f"No model called “{plain_markdown(asked[:60])}” here; this shows {fallback} instead.{hint} "
            "Models trained here appear as trained-<run> when their run finishes.")


@st.cache_data(max_entries=8, show_spinner="Loading the model…")
def model_info(name: str) -> facade.ModelInfo:
    return facade.model_info(name)


@st.cache_data(max_entries=_RESULTS, show_spinner="Detecting…")
def detect(name: str, key: str, conf: float, iou: float, imgsz: int | None, classes: tuple[int, ...] | None,
           max_det: int, agnostic: bool, _pixels: np.ndarray) -> facade.DetectionResult:
    return facade.detect(name, _pixels, conf=conf, iou=iou, imgsz=imgsz, classes=classes, max_det=max_det,
                         agnostic_nms=agnostic, picture_key=key)


@st.cache_data(max_entries=_RESULTS, show_spinner="Collecting the boxes before NMS…")
def candidates(name: str, key: str, imgsz: int | None, classes: tuple[int, ...] | None,
               _pixels: np.ndarray) -> facade.Candidates:
    return facade.candidates(name, _pixels, imgsz=imgsz, classes=classes, picture_key=key)


@st.cache_data(max_entries=64, show_spinner=False)
def shapes_scene(seed: int) -> LoadedImage:
    """One scene of the shapes generator, with its true boxes in the caption."""
    from cvlab.data.shapes import SHAPE_CLASSES, shapes_detection

    sample = shapes_detection(1, seed, size=SHAPES_SIDE)[0]
    truth = ", ".join(SHAPE_CLASSES[c] for c in sample.classes)
    pixels = sample.image.copy()
    pixels.flags.writeable = False
    return LoadedImage(pixels, f"shapes scene {seed}", "shapes generator", (SHAPES_SIDE, SHAPES_SIDE), "RGB", "PNG",
                       notes=(f"drawn with: {truth}",), title=f"Shapes scene, seed {seed}")


def several_photos(key: str) -> list[LoadedImage]:
    """A batch upload, each file decoded safely; a bad file is named in an error and left out."""
    from cvlab.ui import report_errors
    from cvlab.ui.image_picker import cached_decode

    files = st.file_uploader("Photos", type=list(UPLOAD_TYPES), accept_multiple_files=True, key=key,
                             label_visibility="collapsed", help="Several images at once: a batch, as model([...]).")
    images = []
    for file in files or []:
        with report_errors():
            images.append(cached_decode(file.getvalue(), file.name, "upload", 1024, get_settings()))
    if not files:
        st.caption("Drop a few PNG or JPEG files.")
    return images


def detection_rows(result: facade.DetectionResult) -> list[dict]:
    return [{"#": i, "class": d.name, "conf": round(d.conf, 3), "x1": round(d.xyxy[0], 1), "y1": round(d.xyxy[1], 1),
             "x2": round(d.xyxy[2], 1), "y2": round(d.xyxy[3], 1)} for i, d in enumerate(result.detections)]


def above(cands: facade.Candidates, conf: float) -> facade.Candidates:
    """The candidates whose score passes ``conf`` (score > conf, as ultralytics filters)."""
    keep = cands.scores > conf
    return facade.Candidates(cands.model, cands.boxes[keep], cands.scores[keep], cands.classes[keep], cands.names,
                             conf, cands.nms_free)


def nms_rows(cands: facade.Candidates, trace: bx.NmsTrace, limit: int = 60) -> list[dict]:
    def label(i: int) -> str:
        return f"#{i} {cands.names[int(cands.classes[i])]} {float(cands.scores[i]):.2f}"

    return [{"step": n, "keeps": label(step.kept),
             "suppresses (IoU)": ", ".join(f"#{s.index} ({s.iou:.2f})" for s in step.suppressed) or "nothing"}
            for n, step in enumerate(trace.steps[:limit], 1)]


def batch_rows(names: list[str], results: list[facade.DetectionResult]) -> list[dict]:
    return [{"image": name, "detections": len(r.detections),
             "per class": ", ".join(f"{k} {v}" for k, v in r.counts().items()) or "-",
             "total ms": round(r.timings.total, 1)} for name, r in zip(names, results)]


def result_metrics(result: facade.DetectionResult) -> None:
    """Detections, total time and the network's input size, in a row."""
    left, middle, right = st.columns(3)
    left.metric("Detections", len(result.detections))
    middle.metric("Total time", f"{result.timings.total:.0f} ms")
    right.metric("Input", f"{result.imgsz} px", help=result.imgsz_reason.capitalize())


def nms_step_slider(steps: int, key: str = "step") -> int:
    """The NMS step to draw, 0..steps; a step kept from a longer trace falls back to the last one."""
    if st.session_state.get(key, 0) > steps:
        st.session_state[key] = steps
    step = st.slider("NMS step", 0, max(steps, 1), min(steps, 1), key=key, bind="query-params", disabled=steps == 0)
    return min(step, steps)


def box_sliders(column, name: str, default: tuple[int, int, int, int], canvas: tuple[int, int]) -> tuple:
    """Box ``name``'s left, top, width and height as sliders in ``column``; returns its (x1, y1, x2, y2)."""
    with column:
        st.markdown(f"**Box {name.upper()}**")
        x = st.slider("x (left)", 0, canvas[0], default[0], key=f"{name}x", bind="query-params")
        y = st.slider("y (top)", 0, canvas[1], default[1], key=f"{name}y", bind="query-params")
        w = st.slider("width", 1, canvas[0], default[2], key=f"{name}w", bind="query-params")
        h = st.slider("height", 1, canvas[1], default[3], key=f"{name}h", bind="query-params")
    return x, y, x + w, y + h


def iou_metrics(pair: bx.BoxPair) -> None:
    cells = st.columns(4)
    cells[0].metric("IoU", f"{pair.iou:.3f}")
    cells[1].metric("IoU loss", f"{pair.iou_loss:.3f}", help="1 − IoU")
    cells[2].metric("GIoU", f"{pair.giou:.3f}")
    cells[3].metric("GIoU loss", f"{pair.giou_loss:.3f}", help="1 − GIoU")


def cache_key(image: LoadedImage) -> str:
    return image.content_hash  # hashed once, when the image was decoded


@st.cache_data(max_entries=16, show_spinner="Unpacking and checking the dataset…")
def check_dataset_zip(saved: str) -> DatasetReport:
    """A zip kept in the upload store (its path names its content), unpacked once there and validated."""
    from cvlab.data.uploads import UploadStore, display_name
    from cvlab.detection.yolo_data import find_data_yaml, validate_yolo_dataset

    folder = UploadStore().unpacked(Path(saved))
    return validate_yolo_dataset(find_data_yaml(folder), source=display_name(saved))


def _take_weights(key: str) -> None:
    """Upload callback: keep the weights and select them, or remember why not (callbacks cannot show errors)."""
    from cvlab.detection.catalogue import accept_weights_upload
    from cvlab.errors import CvlabError
    from cvlab.ui.uploads import upload_owner

    file = st.session_state.get(key)
    st.session_state.pop("weights_error", None)
    if file is None:
        return
    try:
        spec = accept_weights_upload(file.getvalue(), file.name, owner=upload_owner())
    except CvlabError as err:
        st.session_state["weights_error"] = str(err)
        return
    model_choices.clear()
    st.session_state["model"] = spec.name


def data_panel() -> None:
    """Check a YOLO dataset zip; bring in your own weights."""
    from cvlab.ui import report_errors

    st.markdown("Train in the *Train* section (the same job queue as the **Training** page) on the shapes "
                "generator's dataset (`python -m cvlab data shapes --task detect`) or your own. A finished run "
                "appears in the model list as `trained-<run>`.")
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**Check a YOLO dataset** (a zip with `data.yaml`, `images/`, `labels/`)")
        file = st.file_uploader("YOLO dataset zip", type=["zip"], key="dataset_zip", label_visibility="collapsed")
        if file is not None:
            with report_errors():
                from cvlab.ui.uploads import quota_caption, save_zip

                report = check_dataset_zip(save_zip(file))
                quota_caption()
                (st.success if report.ok else st.error)(report.summary().splitlines()[0])
                if report.problems:
                    show_table([{"problem": p} for p in report.problems])
                show_table([{"class": n, "boxes": c} for n, c in zip(report.names, report.boxes_per_class)])
    with right:
        st.markdown("**Use your own weights** (`.safetensors` written by CV Lab training)")
        st.file_uploader("Weights", type=["safetensors", "pt", "pth"], key="weights_file",
                         label_visibility="collapsed", on_change=_take_weights, args=("weights_file",),
                         help="An ultralytics .pt is a pickle that can run code: it is refused unless the server "
                              "sets CVLAB_ALLOW_UNSAFE_WEIGHTS=1.")
        if "weights_error" in st.session_state:
            st.error(st.session_state["weights_error"], icon=":material/error:")
        elif st.session_state.get("weights_file") is not None:
            st.success(f"Loaded: now selected as {st.session_state.get('model')} in the Detect tab.")
