"""Segmentation and detection training from their playgrounds: the same form, queue, worker and live view."""

import os
import signal
import time

import pytest

from cvlab.training import runs
from cvlab.jobs.worker import live_local_workers
from tests.pages.apptest import run_script

TRAINING = "pages/training/live_training.py"


@pytest.fixture
def workers():
    yield
    for worker in live_local_workers():
        os.kill(worker.pid, signal.SIGKILL)


def wait_until_ended(run_id: str, seconds: float = 300) -> runs.RunInfo:
    deadline = time.monotonic() + seconds
    while (info := runs.RunStore().info(run_id)).status not in runs.ENDED:
        assert time.monotonic() < deadline, info
        time.sleep(0.5)
    return info


def test_the_training_form_follows_the_task():
    segment = run_script(TRAINING, timeout=120, section="New run", task="Segmentation")
    from cvlab.data.splits import val_count
    from cvlab.training.tasks import SEGMENT_SHAPES

    n_val = val_count(SEGMENT_SHAPES, 0.2)  # the count the run's data layer splits off
    assert any(f"{SEGMENT_SHAPES - n_val} training and {n_val} validation scenes of 64 px" in c.value
               for c in segment.caption)
    assert segment.selectbox(key="segment_model").value == "unet"
    assert segment.selectbox(key="segment_enc").value == "resnet18"
    assert any("Half a cosine" in c.value and "128 batches per epoch" in c.value for c in segment.caption)
    detect = run_script(TRAINING, timeout=120, section="New run", task="Detection")
    assert detect.selectbox(key="detect_model").value == "yolov8n"
    assert any("with YOLO labels" in c.value for c in detect.caption)
    with pytest.raises(KeyError):  # label smoothing is not a detection setting, so it is not offered
        detect.slider(key="detect_ls")
    with pytest.raises(KeyError):  # nor the classification exercises
        detect.button(key="fine_tune")


def test_a_u_net_trained_from_the_segmentation_page(workers):
    quick = dict(segment_limit="48", segment_epochs="1", segment_batch="8")
    page = run_script("pages/tasks/segmentation.py", timeout=120, section="Train a U-Net", **quick)
    page.text_input(key="user").input("ada").run()
    page.button(key="segment_start").click().run()
    assert not page.exception, page.exception
    [info] = runs.RunStore().list()
    assert info.config.task == "segment" and info.config.limit == 48 and info.owner == "ada"
    assert wait_until_ended(info.run_id).status == "finished"
    live = run_script("pages/tasks/segmentation.py", timeout=120, section="Train a U-Net", **quick)
    assert any("finished: epoch 1/1" in str(p.proto) for p in live.get("progress"))
    assert any("Validation masks after epoch 1" in m.value for m in live.markdown)
    assert len(live.get("image")) >= 2  # the data preview and the truth/prediction strips
    results = run_script(TRAINING, timeout=120, section="Results", user="ada")
    [iou] = [m for m in results.metric if m.label == "Validation IoU"]
    assert 0 <= float(iou.value) <= 1


def test_a_detector_trained_from_the_detection_page_becomes_selectable(workers):
    quick = dict(detect_limit="16", detect_epochs="1", detect_size="64", detect_batch="8")
    page = run_script("pages/tasks/detection.py", timeout=120, section="Train", **quick)
    page.text_input(key="user").input("ada").run()
    page.button(key="detect_start").click().run()
    assert not page.exception, page.exception
    [info] = runs.RunStore().list()
    assert info.config.task == "detect" and info.config.image_size == 64
    assert wait_until_ended(info.run_id).status == "finished"
    detect = run_script("pages/tasks/detection.py", timeout=120, section="Detect")
    assert f"trained-{info.run_id}" in detect.selectbox(key="model").options
    results = run_script(TRAINING, timeout=120, section="Results", user="ada")
    assert {"mAP@0.5", "mAP@0.5:0.95"} <= {m.label for m in results.metric}
    [per_class] = [d.value for d in results.dataframe if "AP@0.5" in d.value.columns]
    assert set(per_class["class"]) <= {"circle", "square", "triangle", "star", "cross"}
    assert any(f"trained-{info.run_id}" in s.value for s in results.success)
