"""train_yolo on a tiny generated shapes set: epoch reports, stopping, the exported model, nothing left in cwd."""

from pathlib import Path

import numpy as np
import pytest

from cvlab.data.writers import write_yolo_dataset
from cvlab.detection import facade
from cvlab.detection.catalogue import (EXPORTED_WEIGHTS, SHAPES_MODEL, available_detectors, get_detector,
                                   register_trained_model)
from cvlab.detection.stored import read_header
from cvlab.detection.train import train_yolo
from cvlab.errors import InvalidInput
from cvlab.settings import get_settings


@pytest.fixture(scope="module")
def data_yaml(tmp_path_factory):
    return write_yolo_dataset(tmp_path_factory.mktemp("data") / "shapes", 16, 3, size=64, val_fraction=0.25)


def test_train_reports_every_epoch_and_exports_a_loadable_model(data_yaml, tmp_path):
    before = set(Path.cwd().iterdir())
    reports = []
    run_dir = get_settings().runs_dir / "tiny"
    weights = train_yolo(data_yaml, model="yolov8n", epochs=2, imgsz=64, batch=8, run_dir=run_dir, device="cpu",
                         on_epoch=reports.append)
    assert weights == run_dir / EXPORTED_WEIGHTS and weights.is_file()
    assert [(r["epoch"], r["final"]) for r in reports] == [(1, False), (2, False), (2, True)]
    for key in ("box_loss", "cls_loss", "dfl_loss", "mAP50", "mAP50-95", "precision", "recall", "seconds"):
        assert isinstance(reports[0][key], float), key
    assert 0 <= reports[-1]["mAP50"] <= 1
    header = read_header(weights)
    assert header.names == ("circle", "square", "triangle", "star", "cross") and header.imgsz == 64
    assert "trained-tiny" in [spec.name for spec in available_detectors()]
    result = facade.detect("trained-tiny", np.zeros((96, 96, 3), np.uint8))  # no size given: its training size
    assert result.names == header.names and result.imgsz == 64 and "trained at" in result.imgsz_reason
    assert set(Path.cwd().iterdir()) == before  # no runs/ or weights in the working directory


def test_should_stop_ends_training_after_the_current_batch(data_yaml, tmp_path):
    reports = []
    weights = train_yolo(data_yaml, model="yolov8n-random", epochs=5, imgsz=64, batch=4, run_dir=tmp_path / "run",
                         device="cpu", on_epoch=reports.append, should_stop=lambda: True)
    assert [r["epoch"] for r in reports if not r["final"]] == [1]  # stopped in the first epoch
    assert register_trained_model("stopped", weights).name == "trained-stopped"


def test_fine_tuning_a_stored_model_starts_from_its_weights(data_yaml, tmp_path):
    """A stored model has no ultralytics checkpoint; train() must still start from its tensors, not rebuild
    the architecture with random weights."""
    import torch
    from safetensors.torch import load_file

    stored = {k: v.float() for k, v in load_file(str(get_detector(SHAPES_MODEL).path)).items() if v.is_floating_point()}
    seen = {}

    def compare(trainer) -> None:  # after the trainer has built its model, before the first step
        state = trainer.model.state_dict()
        seen["differing"] = [k for k, v in stored.items() if not torch.allclose(state[k].float(), v, atol=1e-3)]

    train_yolo(data_yaml, model=SHAPES_MODEL, epochs=1, imgsz=64, batch=8, run_dir=tmp_path / "run", device="cpu",
               callbacks={"on_pretrain_routine_end": compare})
    assert seen["differing"] == []


def test_bad_arguments_are_refused_before_anything_runs(data_yaml, tmp_path):
    with pytest.raises(InvalidInput, match="epochs"):
        train_yolo(data_yaml, model="yolov8n", epochs=0, imgsz=64, batch=4, run_dir=tmp_path, device="cpu")
    with pytest.raises(InvalidInput, match="does not exist"):
        train_yolo(tmp_path / "nope.yaml", model="yolov8n", epochs=1, imgsz=64, batch=4, run_dir=tmp_path,
                   device="cpu")
