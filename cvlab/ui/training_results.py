"""The Training page's Results section: what a finished or stopped run learnt, per task.

A classifier: confusion matrix, per-class accuracy, the misclassified images. A
segmentation model: IoU, Dice, per-class IoU and its masks. A detector: mAP and AP per
class, and where to use it. Each trained model can be tried on an image and downloaded.
"""

from __future__ import annotations

import streamlit as st

from cvlab.training import runs
from cvlab.training.tasks import task_spec
from cvlab.ui import page_link, report_errors, show_figure, show_table
from cvlab.ui.training import mask_preview
from cvlab.viz import training as viz


@st.cache_resource(max_entries=4, show_spinner="Loading the trained model…")
def _trained(weights_path: str, modified: float):
    from cvlab.training.evaluation import load_trained

    return load_trained(weights_path)


def results(info: runs.RunInfo) -> None:
    """After a run: its evaluation, the model on a new image, downloads (per task)."""
    task_spec(info.config.task).hook("results_view")(info)


def detection_results(info: runs.RunInfo) -> None:
    final = runs.read_final_scores(info.run_dir)
    if final is None:
        st.info("This run has no evaluation yet.")
        return
    cells = st.columns(4)
    for cell, (key, title) in zip(cells, (("map50", "mAP@0.5"), ("map50_95", "mAP@0.5:0.95"),
                                          ("precision", "Precision"), ("recall", "Recall"))):
        if final.get(key) is not None:
            cell.metric(title, f"{final[key]:.3f}")
    if final.get("per_class"):
        show_table([{"class": row["class"], "AP@0.5": row["ap50"], "AP@0.5:0.95": row["ap50_95"]}
                    for row in final["per_class"]])
        st.caption("Average precision per class on the validation images, with the best epoch's weights; "
                   "mAP is their mean.")
    weights = info.run_dir / "detector.safetensors"
    if weights.is_file():
        st.success(f"The model is selectable in the Detection playground as **trained-{info.run_id}**.")
        page_link("pages/tasks/detection.py", "Open the Detection playground", icon=":material/search:")
        st.download_button("Download the detector (safetensors)", weights.read_bytes(),
                           f"{info.run_id}-detector.safetensors", key="download_detector")


def segmentation_results(info: runs.RunInfo) -> None:
    from cvlab.training.evaluation import predict_mask, read_evaluation

    evaluation = read_evaluation(info.run_dir)
    if evaluation is None:
        st.info("This run has no evaluation yet.")
        return
    cells = st.columns(3)
    cells[0].metric("Validation IoU", f"{evaluation.iou:.3f}")
    cells[1].metric("Validation Dice", f"{evaluation.dice:.3f}")
    cells[2].metric("Validation loss", f"{evaluation.val_loss:.4f}")
    if len(evaluation.per_class_iou) > 1:
        show_table([{"class": name, "IoU": iou} for name, iou in
                    zip(evaluation.classes[1:], evaluation.per_class_iou)])
    mask_preview(info)
    def show_mask(model, pixels) -> None:
        mask = predict_mask(model, pixels)
        st.image(viz.mask_overlays(pixels[None], mask[None])[0], width=320,
                 caption=f"predicted mask ({(mask > 0).mean():.1%} of the pixels)")

    try_on_an_image(info, show_mask)
    downloads(info)


def try_on_an_image(info: runs.RunInfo, show) -> None:
    """The run's trained model on an image the user picks; ``show(model, pixels)`` draws what it says."""
    from cvlab.ui.image_picker import image_picker

    weights = info.run_dir / "model.safetensors"
    st.markdown("**Try the model on an image**")
    picked = image_picker("try", max_side=512)
    if picked is not None:
        with report_errors():
            show(_trained(str(weights), weights.stat().st_mtime), picked.pixels)


def downloads(info: runs.RunInfo) -> None:
    from cvlab.training.evaluation import export_onnx

    weights = info.run_dir / "model.safetensors"
    download, onnx = st.columns(2)
    download.download_button("Download weights (safetensors)", weights.read_bytes(), f"{info.run_id}.safetensors",
                             key="download_weights")
    with onnx:
        with report_errors():
            if st.button("Export to ONNX", key="export_onnx"):
                st.session_state["onnx_path"] = str(export_onnx(info.run_dir))
            path = st.session_state.get("onnx_path")
            if path and path.startswith(str(info.run_dir)):
                st.download_button("Download ONNX", open(path, "rb").read(), f"{info.run_id}.onnx", key="download_onnx")


def classification_results(info: runs.RunInfo) -> None:
    """Confusion matrix, per-class accuracy, mistakes, the model on a new image, downloads."""
    from cvlab.training.evaluation import predict, read_evaluation, read_misclassified

    evaluation = read_evaluation(info.run_dir)
    if evaluation is None:
        st.info("This run has no evaluation yet.")
        return
    st.metric("Validation accuracy", f"{evaluation.accuracy:.2%}")
    left, right = st.columns(2)
    with left:
        show_figure(viz.confusion_matrix(evaluation.confusion, evaluation.classes), key="confusion")
    with right:
        show_figure(viz.per_class_accuracy(evaluation.per_class_accuracy, evaluation.classes), key="per_class")
    wrong = read_misclassified(info.run_dir)
    st.markdown("**Misclassified validation images** (true → predicted)")
    if wrong is None or len(wrong.images) == 0:
        st.caption("None: every validation image was classified correctly.")
    else:
        names = evaluation.classes
        st.image(list(wrong.images), width=84,
                 caption=[f"{names[t]} → {names[p]}" for t, p in zip(wrong.true, wrong.predicted)])
    def show_top5(model, pixels) -> None:
        st.image(pixels, width=160)
        show_table([{"class": name, "probability": round(p, 4)} for name, p in predict(model, pixels).top(5)])

    try_on_an_image(info, show_top5)
    downloads(info)
    take_home(info)


@st.cache_data(max_entries=16, show_spinner=False)
def _exported(run_id: str, runs_root: str, changed: tuple[float, ...]) -> tuple[bytes, bytes]:
    """The run's script and notebook, made once per change of its record or metrics (``changed``)."""
    from cvlab.training.export import notebook_source, plan_export, script_source

    plan = plan_export(runs.RunStore(runs_root).info(run_id))
    return script_source(plan).encode(), notebook_source(plan).encode()


def take_home(info: runs.RunInfo) -> None:
    """The run as a standalone PyTorch script and a Jupyter notebook: no CV Lab needed (the lecture's lab ran on
    Colab). A run the export cannot recreate says which setting stops it."""
    from cvlab.training.export import NotExportable

    files = [info.run_dir / name for name in ("run.json", "metrics.jsonl")]
    changed = tuple(path.stat().st_mtime if path.exists() else 0.0 for path in files)
    st.markdown("**Take the lab home**")
    try:
        script, notebook = _exported(info.run_dir.name, str(info.run_dir.parent), changed)
    except NotExportable as err:
        st.caption(f"This run cannot be exported as a script: {err}")
        return
    left, right = st.columns(2)
    left.download_button("Download as a PyTorch script", script, f"{info.run_dir.name}.py", mime="text/x-python",
                         key="download_script")
    right.download_button("Download as a Jupyter notebook", notebook, f"{info.run_dir.name}.ipynb",
                          mime="application/x-ipynb+json", key="download_notebook")
    st.caption("Both train this run again without CV Lab, on your computer or on Colab: the same data, model, "
               "optimizer, schedule and seed. The script's last line is its validation accuracy.")
