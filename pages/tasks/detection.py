"""Detection: YOLO on your pictures, IoU and GIoU drawn, NMS step by step, your own data and weights."""

import streamlit as st

from cvlab.detection import boxes as bx
from cvlab.ui import cached_figure, open_section, projector_on, report_errors, sections, show_figure, show_table
from cvlab.ui import detection as ui
from cvlab.ui import training as training_ui
from cvlab.ui import video as video_ui
from cvlab.ui.image_picker import image_picker
from cvlab.viz import detection as viz

BIND = "query-params"
SHAPES, PHOTO, SEVERAL = "Shapes scene", "Photo", "Several photos"
AUTO = "auto"  # the size the model was trained at
IMAGE_SIZES = [AUTO, 128, 160, 192, 256, 320, 416, 480, 640, 800, 960, 1280]
CANVAS = (200, 160)  # px of the IoU playground

st.title("Object detection with YOLO")
st.caption("One network pass predicts boxes, scores and classes for the whole image (You Only Look Once); "
           "confidence filtering and non-maximum suppression then keep one box per object.")
tab_detect, tab_video, tab_nms, tab_iou, tab_train, tab_data = sections("Detect", "Video", "NMS step by step",
                                                                        "IoU", "Train", "Your data")

with tab_detect:
    controls, output = st.columns([2, 3] if projector_on() else [1, 2], gap="large")  # big text needs room
    choices = ui.model_choices()
    unknown = ui.unknown_model_note(choices)  # before the selectbox puts its default in the address
    model = controls.selectbox("Model", list(choices), index=ui.default_model(choices), key="model", bind=BIND,
                               help="shapes-yolo and models trained here first, then ultralytics' YOLO generations: "
                                    "COCO weights where they can be had, and every one with random weights.")
    if unknown:
        controls.warning(unknown, icon=":material/help:")
    controls.caption(ui.weights_note(model))
    source = controls.segmented_control("Picture", [SHAPES, PHOTO, SEVERAL], default=SHAPES, required=True,
                                        key="src", bind=BIND, wrap=True)  # wraps, not hides, in a narrow column
    with controls:
        images: list = []
        if source == SHAPES:
            seed = st.number_input("Scene seed", 0, 10_000, 7, key="scene", bind=BIND,
                                   help="Scenes the shapes model never saw in training (it was trained on seed 0).")
            images = [ui.shapes_scene(int(seed))]
            st.caption(images[0].caption)
        elif source == PHOTO:
            images = [image for image in [image_picker("img", max_side=1024, default="bus")] if image is not None]
        else:
            images = ui.several_photos("photos")
    conf = controls.slider("Confidence threshold", 0.0, 1.0, 0.25, 0.01, key="conf", bind=BIND)
    iou = controls.slider("NMS IoU threshold", 0.05, 1.0, 0.7, 0.05, key="iou", bind=BIND,
                          help="A box is dropped when it overlaps a higher-scoring box of its class by more than this.")
    size = controls.select_slider("Network input size (px)", IMAGE_SIZES, value=AUTO, key="imgsz", bind=BIND,
                                  help="auto: the size the model was trained at (shapes-yolo 192 px, COCO models "
                                       "640 px). The picture is letterboxed to it, so objects keep the scale "
                                       "training showed; far from it, detection degrades.")
    max_det = controls.number_input("Max detections", 1, 1000, 300, key="maxdet", bind=BIND)
    info = None
    with report_errors():
        info = ui.model_info(model)
    class_names = list(info.names) if info else []
    imgsz = None if size == AUTO else int(size)  # None: the model's training size, chosen by cvlab
    picked = controls.multiselect("Classes (all when empty)", class_names, key="classes", bind=BIND,
                                  placeholder="All classes")
    agnostic = controls.toggle("Class-agnostic NMS", key="agnostic", bind=BIND,
                               help="Let boxes of different classes suppress each other.")
    classes = tuple(class_names.index(name) for name in picked) or None
    results = []
    if info is None or not images:
        output.info("Choose a model and a picture on the left.")
    elif tab_detect.open:
        with output, report_errors():
            results = [ui.detect(model, ui.cache_key(im), conf, iou, imgsz, classes, max_det, agnostic, im.pixels)
                       for im in images]
            shown = 0
            if len(images) > 1:
                show_table(ui.batch_rows([im.name for im in images], results))
                shown = st.selectbox("Show", range(len(images)), format_func=lambda i: images[i].name, key="shown",
                                     bind=BIND)
            result = results[shown]
            shown_key = (model, ui.cache_key(images[shown]), conf, iou, imgsz, classes, max_det, agnostic)
            show_figure(cached_figure(viz.detections_figure, images[shown].pixels, result.detections,
                                      cache_key=shown_key))
            ui.result_metrics(result)
            if info.kind == "random":
                st.warning("Random weights: this architecture has never been trained, so it finds nothing real. "
                           "Pick shapes-yolo, a model trained here, or COCO weights.")
            if result.detections:
                show_figure(cached_figure(viz.class_counts_figure, result.counts(), result.names,
                                          title="Detections per class", cache_key=shown_key))
                show_table(ui.detection_rows(result))
            show_figure(cached_figure(viz.timings_figure, result.timings, title="Time per stage", cache_key=shown_key))
            st.caption("`box.xyxy` are pixel corners in the original picture; the network saw it letterboxed to "
                       f"{result.imgsz} px: {result.imgsz_reason}. {info.parameters / 1e6:.1f} M parameters.")

for _ in open_section(tab_video):
    st.caption("Detection on every frame, and a tracker that links the boxes into tracks: each object keeps one "
               "id while it moves, crosses another and comes back (`model.track(source, persist=True, "
               "tracker='bytetrack.yaml')`).")
    controls, output = st.columns([2, 3] if projector_on() else [1, 2], gap="large")
    with controls:
        video_model = st.selectbox("Model", list(choices), index=ui.default_model(choices), key="vmodel", bind=BIND)
        tracker = st.selectbox("Tracker", list(video_ui.TRACKERS), format_func=video_ui.TRACKERS.get,
                               key="tracker", bind=BIND, help=video_ui.TRACKER_HELP)
        video_conf = st.slider("Confidence threshold", 0.05, 1.0, 0.25, 0.01, key="vconf", bind=BIND)
        video_iou = st.slider("NMS IoU threshold", 0.05, 1.0, 0.7, 0.05, key="viou", bind=BIND)
        video_size = st.select_slider("Network input size (px)", IMAGE_SIZES, value=AUTO, key="vimgsz", bind=BIND)
        chosen = None
        with report_errors():
            chosen = video_ui.clip_picker("v", video_ui.TRACKING_CLIPS)
        st.caption("A live camera is not streamed: that needs streamlit-webrtc (aiortc, and a TURN relay on "
                   "Community Cloud) and a detector thread per watching student on a shared server. Record a clip "
                   "and upload it, or take a camera snapshot in *Detect*.")
    if chosen is not None:
        with output, report_errors():
            options = dict(tracker=tracker, conf=float(video_conf), iou=float(video_iou),
                           imgsz=None if video_size == AUTO else int(video_size))
            video_ui.tracking_output(video_model, chosen, options, ui.model_info(video_model))

with tab_nms:
    if info is None or not images:
        st.info("Choose a model and a picture in the Detect tab.")
    elif tab_nms.open:
        with report_errors():
            image = images[0]
            cands = ui.above(ui.candidates(model, ui.cache_key(image), imgsz, classes, image.pixels), conf)
            trace = bx.nms_steps(cands.boxes, cands.scores, iou, None if agnostic else cands.classes)
            st.markdown(f"**{len(cands.scores)}** candidate boxes score above the confidence threshold {conf:.2f}; "
                        f"greedy NMS at IoU {iou:.2f} keeps **{len(trace.keep)}** "
                        f"({'any class suppresses any' if agnostic else 'a box only suppresses its own class'}).")
            if info.nms_free:
                st.info("This model's head is NMS-free (one-to-one matching): it already predicts one box per "
                        "object, so NMS has little left to remove.")
            step = ui.nms_step_slider(len(trace.steps))
            show_figure(viz.nms_step_figure(image.pixels, cands, trace, step))
            show_table(ui.nms_rows(cands, trace))
            all_cands = ui.candidates(model, ui.cache_key(image), imgsz, classes, image.pixels)
            confs, ious, counts = bx.threshold_sweep(all_cands.boxes, all_cands.scores, all_cands.classes, iou,
                                                     class_agnostic=agnostic, max_det=max_det)
            show_figure(viz.count_figure(confs, ious, counts, conf=conf, iou=iou,
                                         title="How many boxes survive the two thresholds"))
            st.caption("Each step keeps the highest-scoring box still standing and removes every later box of its "
                       "class whose IoU with it is above the threshold. Raising the confidence threshold only cuts "
                       "the end of the kept list; raising the IoU threshold lets more overlapping boxes live.")

with tab_iou:
    st.latex(r"\mathrm{IoU} = \frac{|A \cap B|}{|A \cup B|} \qquad L_{IoU} = 1 - \mathrm{IoU} \qquad "
             r"\mathrm{GIoU} = \mathrm{IoU} - \frac{|C \setminus (A \cup B)|}{|C|}")
    corners = [ui.box_sliders(column, name, default, CANVAS) for column, name, default
               in zip(st.columns(2), "ab", ((40, 30, 80, 60), (80, 60, 90, 70)))]
    if tab_iou.open:
        with report_errors():
            pair = bx.compare_boxes(*corners)
            ui.iou_metrics(pair)
            extent = (max(CANVAS[0], pair.enclosing[2]), max(CANVAS[1], pair.enclosing[3]))  # grows with the boxes
            show_figure(viz.iou_figure(pair, extent))
            st.markdown(f"IoU = {pair.intersection_area:.0f} / {pair.union_area:.0f} px². When the boxes do not "
                        "touch, IoU is 0 however far apart they are, so the IoU loss gives no direction to move in; "
                        "GIoU subtracts the empty share of C and keeps improving as B approaches A. "
                        f"At the Detect tab's NMS threshold {iou:.2f}, the lower-scoring of two same-class boxes "
                        f"like these would be **{'suppressed' if pair.iou > iou else 'kept'}**.")

for _ in open_section(tab_train):
    if tab_train.open:
        st.caption("Train a YOLO detector on the job queue, as `model.train(data='custom.yaml', epochs=..., "
                   "imgsz=...)` does: on shapes scenes written in YOLO format (offline), or on your own YOLO zip. "
                   "A finished run is selectable in *Detect* as `trained-<run>`.")
        training_ui.task_training_section("detect")

for _ in open_section(tab_data):
    ui.data_panel()
