"""python -m cvlab data: shapes for each task, inspect, load, list."""

import io
import json
import shutil

import pytest
import yaml
from PIL import Image

from cvlab.__main__ import main
from cvlab.data.shapes import SHAPE_CLASSES


def run_json(capsys, *argv):
    code = main(["data", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_shapes_classify_writes_an_imagefolder(tmp_path, capsys):
    code, out = run_json(capsys, "shapes", "--task", "classify", "--n", "30", "--seed", "1",
                         "--out", str(tmp_path / "c"))
    assert code == 0
    assert out["task"] == "classify" and out["n"] == 30 and out["size"] == 32
    assert sorted(out["classes"]) == sorted(SHAPE_CLASSES)
    assert sum(out["counts"]["train"].values()) == 25 and sum(out["counts"]["val"].values()) == 5  # 1 of 6 per class
    assert len(list((tmp_path / "c").rglob("*.png"))) == 30 == out["files"]
    assert out["data_yaml"] is None


def test_shapes_detect_writes_yolo_with_a_data_yaml(tmp_path, capsys):
    code, out = run_json(capsys, "shapes", "--task", "detect", "--n", "10", "--out", str(tmp_path / "d"),
                         "--size", "64")
    assert code == 0 and out["task"] == "detect" and out["size"] == 64
    config = yaml.safe_load(open(out["data_yaml"]))
    assert "path" not in config and config["names"][0] == "circle"
    assert len(list((tmp_path / "d" / "labels").rglob("*.txt"))) == 10
    objects = sum(len(p.read_text().splitlines()) for p in (tmp_path / "d" / "labels").rglob("*.txt"))
    assert sum(sum(part.values()) for part in out["counts"].values()) == objects
    assert Image.open(next((tmp_path / "d" / "images" / "train").glob("*.png"))).size == (64, 64)


def test_shapes_segment_writes_masks(tmp_path, capsys):
    code, out = run_json(capsys, "shapes", "--task", "segment", "--n", "5", "--out", str(tmp_path / "s"))
    assert code == 0 and out["n"] == 5 and out["files"] == 11
    assert (tmp_path / "s" / "classes.json").is_file() and len(list((tmp_path / "s" / "masks").glob("*.png"))) == 5


def test_shapes_text_output_lists_counts(tmp_path, capsys):
    assert main(["data", "shapes", "--n", "10", "--out", str(tmp_path / "c")]) == 0
    text = capsys.readouterr().out
    assert "wrote 10 classify images" in text and "circle" in text


def test_shapes_into_a_busy_folder_exits_2_with_a_message(tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "f").write_text("x")
    code, out = run_json(capsys, "shapes", "--out", str(tmp_path / "busy"))
    assert code == 2 and "empty folder" in out["error"]["message"]


def png(colour):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_inspect_a_folder_and_a_zip(tmp_path, capsys):
    assert main(["data", "shapes", "--n", "20", "--out", str(tmp_path / "set")]) == 0
    capsys.readouterr()
    (tmp_path / "set" / "train" / "star" / "broken.png").write_bytes(b"not really")
    code, out = run_json(capsys, "inspect", str(tmp_path / "set"))
    assert code == 0 and out["kind"] == "folder"
    report = out["report"]
    assert report["split"]["train"]["star"] == 3 and report["bad_files"][0][0] == "train/star/broken.png"
    archive = shutil.make_archive(str(tmp_path / "set-zip"), "zip", tmp_path, "set")
    code, out = run_json(capsys, "inspect", archive)
    assert code == 0 and out["kind"] == "zip" and out["report"]["wrapper"] == "set"
    assert out["report"]["counts"]["circle"] == 4
    assert main(["data", "inspect", archive]) == 0
    assert "1 files skipped" in capsys.readouterr().out


def test_inspect_refuses_one_class_with_the_layout(tmp_path, capsys):
    (tmp_path / "one" / "cats").mkdir(parents=True)
    (tmp_path / "one" / "cats" / "a.png").write_bytes(png((1, 1, 1)))
    code, out = run_json(capsys, "inspect", str(tmp_path / "one"))
    assert code == 2 and "dataset/<class name>/<image files>" in out["error"]["message"]


def test_load_summarises_a_dataset(capsys):
    code, out = run_json(capsys, "load", "digits", "--image-size", "16", "--limit", "100")
    assert code == 0 and out["name"] == "digits" and out["image_size"] == 16
    assert out["train"] + out["val"] == 100 and len(out["classes"]) == 10
    assert out["megabytes"] == pytest.approx(100 * 3 * 16 * 16 / 2**20, abs=0.01)


def test_list_shows_datasets_and_presets(capsys):
    code, out = run_json(capsys, "list")
    assert code == 0
    assert [d["name"] for d in out["datasets"]] == ["shapes", "digits", "cifar10"]
    assert [a["name"] for a in out["augmentations"]] == ["none", "standard", "strong"]
