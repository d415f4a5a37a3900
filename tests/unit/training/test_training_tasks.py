"""Segmentation and detection through the training engine: the same run folder, metrics, control and CLI."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from cvlab.errors import CvlabError, InvalidInput
from cvlab.training import runs
from cvlab.training.config import TrainConfig
from cvlab.training.engine import train_run
from cvlab.training.evaluation import export_onnx, load_trained, predict_mask, read_evaluation, read_preview
from cvlab.training.preparation import segmentation_objective

SEGMENT = dict(limit=48, epochs=2, batch_size=8)
DETECT = dict(limit=20, epochs=2, batch_size=8, image_size=64)


# ---- settings ----
def test_each_task_starts_from_its_own_recipe():
    segment, detect = TrainConfig.for_task("segment"), TrainConfig.for_task("detect")
    assert (segment.model, segment.encoder, segment.loss, segment.image_size) == ("unet", "resnet18",
                                                                                  "0.5*bce+0.5*dice", 64)
    assert (detect.model, detect.optimizer, detect.lr, detect.image_size) == ("yolov8n", "sgd", 0.01, 160)
    assert TrainConfig.from_dict({"task": "segment", "epochs": 2}).lr == pytest.approx(3e-3)
    assert TrainConfig().task == "classify" and TrainConfig().model == "lecture-vgg"


@pytest.mark.parametrize("task, changes, message", [
    ("detect", {"label_smoothing": 0.1}, "label_smoothing: not a setting of detection"),
    ("classify", {"encoder": "resnet34"}, "encoder: not a setting of classification"),
    ("segment", {"image_size": 100}, "multiple of 32"),
    ("detect", {"image_size": 16}, "32..1280"),
    ("paint", {}, "Unknown task .paint.*classify, segment, detect"),
])
def test_settings_that_do_not_fit_the_task_are_refused(task, changes, message):
    with pytest.raises(CvlabError, match=message):  # InvalidInput, or UnknownName for the task itself
        TrainConfig.for_task(task, **changes)


# ---- segmentation ----
def test_the_segmentation_objective_scores_as_the_segmentation_module_defines():
    from cvlab.segmentation.train import segmentation_metrics

    generator = torch.Generator().manual_seed(0)
    config = TrainConfig.for_task("segment", binary_masks=False)
    logits = torch.randn(4, 4, 32, 32, generator=generator)
    masks = torch.randint(0, 4, (4, 32, 32), generator=generator)
    objective = segmentation_objective(config, classes=4)
    # counts add up over batches: two halves give the scores of the whole
    counts = objective.counts(logits[:2], masks[:2]) + objective.counts(logits[2:], masks[2:])
    scores = objective.scores(counts, 4)
    expected = segmentation_metrics(logits, masks, classes=4)
    assert scores["iou"] == pytest.approx(expected["iou"]) and scores["dice"] == pytest.approx(expected["dice"])
    perfect = torch.nn.functional.one_hot(masks, 4).permute(0, 3, 1, 2).float() * 10
    assert objective.scores(objective.counts(perfect, masks), 4) == {"iou": 1.0, "dice": 1.0}


@pytest.fixture(scope="module")
def segment_run(tmp_path_factory):
    run_dir = runs.RunStore(tmp_path_factory.mktemp("runs")).create(TrainConfig.for_task("segment", **SEGMENT), "ada")
    return run_dir, train_run(run_dir)


def test_a_segmentation_run_writes_iou_dice_curves_and_mask_previews(segment_run):
    run_dir, summary = segment_run
    assert summary["status"] == "finished" and summary["epochs"] == 2, summary
    assert 0 <= summary["val_iou"] <= 1 and 0 <= summary["val_dice"] <= 1
    assert summary["val_dice"] >= summary["val_iou"]  # Dice = 2 IoU / (1 + IoU) for one class
    records = runs.read_metrics(run_dir)
    steps = [r for r in records if r["kind"] == "step"]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert {"loss", "iou", "dice", "lr", "progress"} <= set(steps[-1])
    assert {"val_iou", "val_dice", "train_iou", "val_loss"} <= set(epochs[-1])
    preview = read_preview(run_dir)
    assert preview.epoch == 2 and preview.images.shape == (6, 64, 64, 3)
    assert preview.truth.shape == preview.predicted.shape == (6, 64, 64) and set(np.unique(preview.truth)) <= {0, 1}
    evaluation = read_evaluation(run_dir)
    assert evaluation.classes == ("background", "object")
    assert evaluation.iou == pytest.approx(summary["val_iou"]) and evaluation.per_class_iou[0] == evaluation.iou


def test_a_trained_segmentation_model_segments_a_new_image_and_exports(segment_run):
    run_dir, _ = segment_run
    trained = load_trained(run_dir / "model.safetensors")
    assert trained.task == "segment" and trained.image_size == 64
    photo = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    mask = predict_mask(trained, photo)
    assert mask.shape == (50, 70) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    import onnx

    model = onnx.load(str(export_onnx(run_dir)))
    assert [o.name for o in model.graph.output] == ["mask_logits"]
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in (model.graph.input[0], model.graph.output[0])]
    assert dims == [["batch", 3, "height", "width"], ["batch", 1, "height", "width"]]  # a mask as big as the image


def test_a_bad_mask_upload_fails_the_run_with_the_reason(tmp_path):
    archive = tmp_path / "masks.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("images/a.png", b"not a png")
    run_dir = runs.RunStore(tmp_path / "runs").create(TrainConfig.for_task("segment", data=str(archive)), "ada")
    summary = train_run(run_dir)
    assert summary["status"] == "failed" and "masks.zip" in summary["reason"]


# ---- detection ----
@pytest.fixture(scope="module")
def detect_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("detect")
    store = runs.RunStore(root / "runs")
    run_dir = store.create(TrainConfig.for_task("detect", **DETECT), "ada", owner_id="ada")
    records = []

    def stop_in_the_second_epoch(record):
        records.append(record)
        if record["kind"] == "step" and record["epoch"] == 1 and not any(r["kind"] == "event" for r in records):
            store.request(run_dir.name, "ada", stop=True)

    return run_dir, train_run(run_dir, on_record=stop_in_the_second_epoch)


def test_a_detection_run_writes_losses_map_and_a_selectable_detector(detect_run, monkeypatch):
    run_dir, summary = detect_run
    records = runs.read_metrics(run_dir)
    steps = [r for r in records if r["kind"] == "step"]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert {"box_loss", "cls_loss", "dfl_loss", "loss", "lr", "progress"} <= set(steps[0])
    assert steps[0]["loss"] == pytest.approx(steps[0]["box_loss"] + steps[0]["cls_loss"] + steps[0]["dfl_loss"])
    assert {"val_map50", "val_map50_95", "train_loss", "images_per_second"} <= set(epochs[0])
    assert 0 <= epochs[0]["val_map50"] <= 1
    assert (run_dir / "detector.safetensors").is_file()
    final = json.loads((run_dir / "eval.json").read_text())
    assert final["task"] == "detect" and final["classes"] == ["circle", "square", "triangle", "star", "cross"]
    assert final["per_class"] and {row["class"] for row in final["per_class"]} <= set(final["classes"])
    assert all(0 <= row["ap50_95"] <= row["ap50"] <= 1 for row in final["per_class"])
    assert sum(row["ap50"] for row in final["per_class"]) / len(final["per_class"]) == pytest.approx(final["map50"],
                                                                                                  abs=1e-4)
    from cvlab.detection.catalogue import trained_models
    from cvlab.settings import Settings

    monkeypatch.setenv("CVLAB_RUNS_DIR", str(run_dir.parent))
    assert f"trained-{run_dir.name}" in [spec.name for spec in trained_models(Settings.from_env())]


def test_a_stop_request_ends_a_detection_run_after_saving_the_epoch(detect_run):
    run_dir, summary = detect_run
    assert summary["status"] == "stopped" and summary["epochs"] == 2, summary  # the second epoch ended early
    assert [r["what"] for r in runs.read_metrics(run_dir) if r["kind"] == "event"] == ["stop"]
    assert runs.read_info(run_dir).status == "stopped" and (run_dir / "detector.safetensors").is_file()


def test_a_yolo_zip_is_unpacked_into_the_run_only_when_valid(tmp_path):
    from cvlab.data.writers import write_yolo_dataset
    from cvlab.detection.training_run import run_dataset

    write_yolo_dataset(tmp_path / "set", 6, 1, size=64)
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        for path in (tmp_path / "set").rglob("*"):
            if path.is_file():
                zf.write(path, f"set/{path.relative_to(tmp_path / 'set')}")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    data_yaml, report = run_dataset(run_dir, TrainConfig.for_task("detect", data=str(good)))
    assert data_yaml == run_dir / "data" / "set" / "data.yaml" and report.ok
    assert sum(s.images for s in report.splits) == 6
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as zf:
        for item in source.namelist():
            text = source.read(item)
            zf.writestr(item, b"9 0.5 0.5 0.2 0.2\n" if item.endswith(".txt") else text)  # class 9 of 5
    other = tmp_path / "other-run"
    other.mkdir()
    with pytest.raises(InvalidInput, match="class"):
        run_dataset(other, TrainConfig.for_task("detect", data=str(bad)))
    assert not (other / "data").exists()


# ---- command line ----
@pytest.mark.parametrize("task, flags, keys", [
    ("segment", ["--arch", "unet", "--encoder", "resnet18", "--limit", "32", "--epochs", "1"], ("val_iou", "val_dice")),
    ("detect", ["--limit", "12", "--epochs", "1", "--image-size", "64"], ("val_map50", "val_map50_95")),
])
def test_train_task_json_ends_with_the_run_summary(task, flags, keys, tmp_path):
    done = subprocess.run([sys.executable, "-m", "cvlab", "train", "--task", task, "--data", "shapes", *flags,
                           "--json"],
                          capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "CVLAB_RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]  # every stdout line is JSON
    summary = lines[-1]
    assert summary["status"] == "finished" and all(0 <= summary[k] <= 1 for k in keys)
    assert summary["run_dir"].startswith(str(tmp_path / "runs")) and lines[0]["kind"] == "epoch"
    listed = subprocess.run([sys.executable, "-m", "cvlab", "runs", "--json"], capture_output=True, text=True,
                            timeout=120, env={**__import__("os").environ, "CVLAB_RUNS_DIR": str(tmp_path / "runs")})
    [row] = json.loads(listed.stdout)
    assert (row["task"], row["status"], row["epochs"]) == (task, "finished", "1/1")
    assert row["value"] == pytest.approx(summary[keys[0]], abs=1e-4)  # the task's headline figure


def test_a_new_rate_scales_ultralytics_schedule_from_then_on(tmp_path):
    store = runs.RunStore(tmp_path / "runs")
    config = TrainConfig.for_task("detect", **{**DETECT, "epochs": 3})
    plain = store.create(config, "ada")
    train_run(plain)
    changed = store.create(config, "ada", owner_id="ada")
    asked = []

    def halve_the_rate(record):
        if record["kind"] == "step" and not asked:
            asked.append(store.request(changed.name, "ada", lr=0.005))  # the base rate is 0.01

    assert train_run(changed, on_record=halve_the_rate)["status"] == "finished"
    [event] = [r for r in runs.read_metrics(changed) if r["kind"] == "event"]
    assert (event["what"], event["value"]) == ("lr", 0.005)
    rates = lambda run_dir: [r["lr"][0] for r in runs.read_metrics(run_dir) if r["kind"] == "epoch"]  # noqa: E731
    assert rates(changed) == pytest.approx([0.5 * rate for rate in rates(plain)])  # the schedule keeps its shape


# ---- figures ----
def test_run_curves_draw_each_tasks_own_figures():
    from cvlab.training.tasks import TASKS
    from cvlab.viz.training import run_curves

    step = {"kind": "step", "step": 1, "loss": 1.0, "lr": [0.01], "images_per_second": 10.0}
    segment = [{**step, "iou": 0.5, "dice": 0.6}, {"kind": "epoch", "step": 1, "val_loss": 0.9, "val_iou": 0.55,
                                                    "val_dice": 0.7}]
    names = {t.name: t for t in run_curves(segment, metrics=TASKS.get("segment").metrics).data}
    assert names["train IoU"].y[0] == 0.5 and names["validation Dice"].y[0] == 0.7
    detect = [{**step, "box_loss": 0.4}, {"kind": "epoch", "step": 1, "val_loss": 2.0, "val_map50": 0.3,
                                          "val_map50_95": 0.1}]
    names = {t.name: t for t in run_curves(detect, metrics=TASKS.get("detect").metrics).data}
    assert names["validation mAP@0.5"].y[0] == 0.3 and not any(n.startswith("train mAP") for n in names)


def test_mask_comparison_puts_image_truth_and_prediction_side_by_side():
    from cvlab.viz.training import MASK_COLOURS, mask_comparison

    images = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    truth = np.zeros((2, 8, 8), dtype=np.uint8)
    truth[:, :4] = 1
    predicted = np.zeros_like(truth)
    [strip, _] = mask_comparison(images, truth, predicted, gap=2)
    assert strip.shape == (8, 8 * 3 + 2 * 2, 3)
    assert (strip[0, 10] == MASK_COLOURS[1]).all() and (strip[7, 10] == 40).all()  # truth: object top, ground below
    assert (strip[:, 20:] == 40).all()  # the prediction found nothing


def test_a_lone_last_image_joins_the_batch_before_it():
    from types import SimpleNamespace

    from cvlab.training.engine import batches
    from cvlab.training.preparation import batch_count

    for images, batch_size in ((9, 4), (8, 4), (5, 4), (1, 4), (3, 4)):
        p = SimpleNamespace(train_y=torch.zeros(images), device=torch.device("cpu"),
                            config=SimpleNamespace(seed=0, batch_size=batch_size))
        sizes = [len(chunk) for chunk in batches(p, epoch=0)]
        assert sum(sizes) == images and len(sizes) == batch_count(images, batch_size)
        assert 1 not in sizes or images == 1, sizes


def test_pan_at_its_minimum_size_trains_when_one_image_is_left_over(tmp_path):
    config = TrainConfig.for_task("segment", model="pan", encoder="resnet18", image_size=128, limit=11,
                                  batch_size=4, epochs=1)
    run_dir = runs.RunStore(tmp_path).create(config, "ada")
    summary = train_run(run_dir)
    assert summary["status"] == "finished", summary
    assert runs.read_info(run_dir).record["train_size"] % 4 == 1  # the case that used to fail in BatchNorm


def test_the_lr_preview_of_a_small_zip_counts_the_batches_the_run_takes(tmp_path):
    """60 images, one epoch at batch 64: one batch, in the preview as in the run."""
    import io

    from PIL import Image

    from cvlab.data.datasets import load_dataset
    from cvlab.training.preparation import batch_count, prepare
    from cvlab.training.schedulers import lr_curve

    archive = tmp_path / "sixty.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for index in range(60):
            buffer = io.BytesIO()
            Image.new("RGB", (16, 16), (index * 4, 200 - index * 3, 90)).save(buffer, "PNG")
            zf.writestr(f"{('cats', 'dogs', 'owls')[index % 3]}/{index}.png", buffer.getvalue())
    config = TrainConfig(data=str(archive), model="lecture-vgg", epochs=1, batch_size=64, scheduler="cosine",
                         image_size=32)
    data = load_dataset(config.data, image_size=32, seed=config.seed, val_fraction=config.val_fraction)
    steps = batch_count(len(data.train_y), config.batch_size)
    assert steps == prepare(config).steps_per_epoch == 1
    [curve] = lr_curve(config, steps)
    assert curve == [config.lr]  # one rate, which the preview draws across the epoch


def test_the_lr_preview_counts_an_uploaded_mask_set_cut_to_the_image_limit_as_the_run_does(tmp_path):
    from cvlab.data.writers import write_mask_dataset
    from cvlab.segmentation.mask_data import load_mask_dataset
    from cvlab.training.preparation import prepare
    from cvlab.ui.training_form import train_size

    folder = write_mask_dataset(tmp_path / "masks", n=40, seed=4, size=64)
    config = TrainConfig.for_task("segment", data=str(folder), limit=10, batch_size=4, epochs=1, image_size=64)
    data = load_mask_dataset(str(folder), size=64, seed=config.seed, val_fraction=config.val_fraction)
    assert train_size(config, data) == len(prepare(config).train_y) == 8  # 10 pairs: 8 to train on, 2 to validate
