"""The shipped model's recipe, plumbing only (the real run takes minutes): what it starts from, what it writes."""

import json

import pytest

from cvlab.detection import train as train_module
from cvlab.detection.catalogue import SHAPES_MODEL, get_detector
from cvlab.detection.train_shapes_model import ShapesRecipe, main, train_shapes_model


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """train_yolo replaced by a recorder that 'exports' a copy of the shipped weights."""
    seen = []

    def fake_train_yolo(data_yaml, **options):
        seen.append({"data_yaml": data_yaml, **options})
        target = tmp_path / "fake-run" / "detector.safetensors"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(get_detector(SHAPES_MODEL).path.read_bytes())
        return target

    monkeypatch.setattr(train_module, "train_yolo", fake_train_yolo)
    return seen


@pytest.mark.parametrize("start, expected", [("random", "yolov8n"), ("shapes-yolo", "shapes-yolo"),
                                             ("FILE", "trained-shapes-start")])
def test_the_recipe_starts_from_random_weights_a_detector_or_a_file(calls, tmp_path, start, expected):
    start = str(get_detector(SHAPES_MODEL).path) if start == "FILE" else start
    weights = train_shapes_model(tmp_path / "out", ShapesRecipe(images=5, start=start))
    assert calls[0]["model"] == expected and calls[0]["imgsz"] == 192 and calls[0]["half"] is True
    assert weights == tmp_path / "out" / "weights.safetensors" and weights.is_file()
    assert json.loads((tmp_path / "out" / "recipe.json").read_text())["start"] == start


def test_the_command_line_sets_the_look_and_the_split(calls, tmp_path):
    assert main(["--out", str(tmp_path / "out"), "--images", "5", "--look", "plain", "--val-fraction", "0.4",
                 "--epochs", "2", "--workdir", str(tmp_path / "work")]) == 0
    recipe = json.loads((tmp_path / "out" / "recipe.json").read_text())
    assert (recipe["look"], recipe["val_fraction"], recipe["epochs"], recipe["start"]) == ("plain", 0.4, 2, "random")
    assert len(list((tmp_path / "work" / "data" / "images" / "val").glob("*.png"))) == 2  # 40 % of 5
    assert calls[0]["epochs"] == 2
