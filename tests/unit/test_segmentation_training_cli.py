"""Segmentation runs from settings to exit status: uploads of black-and-white masks, settings refused before a
run folder exists, and a failed run's exit status."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cvlab.training import runs
from cvlab.training.config import TrainConfig
from cvlab.training.engine import train_run
from cvlab.training.evaluation import read_evaluation, read_preview
from tests.unit.test_segmentation_mask_data import black_and_white_zip


def test_a_black_and_white_upload_trains_two_classes_not_256(tmp_path):
    archive = black_and_white_zip(tmp_path, n=8)
    config = TrainConfig.for_task("segment", data=archive, binary_masks=False, image_size=32, epochs=1,
                                  batch_size=4)
    run_dir = runs.RunStore(tmp_path / "runs").create(config, "ada")
    summary = train_run(run_dir)
    assert summary["status"] == "finished", summary
    assert read_evaluation(run_dir).classes == ("background", "class 1")
    assert runs.read_info(run_dir).record["classes"] == ["background", "class 1"]
    assert set(np.unique(read_preview(run_dir).truth)) <= {0, 1}
