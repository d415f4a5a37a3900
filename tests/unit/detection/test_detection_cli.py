"""python -m cvlab detect: one JSON object per image, errors with a message and status 2."""

import json

from PIL import Image

from cvlab.__main__ import main
from cvlab.data.shapes import SHAPE_CLASSES, shapes_detection
from cvlab.detection.boxes import box_iou


def run(capsys, *argv):
    status = main(list(argv))
    return status, capsys.readouterr()


def test_json_has_one_object_per_image_with_pixel_boxes(tmp_path, capsys):
    scenes = shapes_detection(2, 31, size=192)
    paths = []
    for i, scene in enumerate(scenes):
        paths.append(tmp_path / f"scene{i}.png")
        Image.fromarray(scene.image).save(paths[-1])
    status, out = run(capsys, "detect", *map(str, paths), "--model", "shapes-yolo", "--imgsz", "192", "--json")
    assert status == 0
    results = json.loads(out.out)
    assert [r["image"] for r in results] == list(map(str, paths))
    for result, _scene in zip(results, scenes):
        assert (result["width"], result["height"]) == (192, 192)
        assert set(result["timings"]) == {"preprocess", "inference", "postprocess"}
        assert len(result["detections"]) >= 1
        for det in result["detections"]:
            assert set(det) == {"xyxy", "conf", "cls", "name"} and det["name"] == SHAPE_CLASSES[det["cls"]]
            x1, y1, x2, y2 = det["xyxy"]
            assert 0 <= x1 < x2 <= 192 and 0 <= y1 < y2 <= 192 and 0 < det["conf"] <= 1


def test_without_imgsz_the_scenes_data_shapes_writes_are_seen_at_the_training_size(tmp_path, capsys):
    """128 px scenes (data shapes --task detect's default side): each shape is found, and the JSON says
    which input size was used and why."""
    scenes = shapes_detection(4, 987654, size=128)
    paths = []
    for i, scene in enumerate(scenes):
        paths.append(tmp_path / f"scene{i}.png")
        Image.fromarray(scene.image).save(paths[-1])
    status, out = run(capsys, "detect", *map(str, paths), "--json")
    assert status == 0
    hits = total = 0
    for result, scene in zip(json.loads(out.out), scenes):
        assert result["imgsz"] == 192
        assert result["imgsz_reason"] == "the size shapes-yolo was trained at (from its weights file)"
        found = [d for d in result["detections"]]
        overlap = box_iou(scene.boxes_xyxy, [d["xyxy"] for d in found]) if found else None
        for t, cls in enumerate(scene.classes):
            best = int(overlap[t].argmax()) if found else -1
            hits += found != [] and overlap[t, best] > 0.5 and found[best]["cls"] == cls
            total += 1
    assert hits / total >= 0.8, (hits, total)


def test_sample_photos_by_name_and_text_output(capsys):
    status, out = run(capsys, "detect", "bus", "--model", "yolov8n-random", "--imgsz", "160")
    assert status == 0 and out.out.startswith("bus (810x1080): ")
    assert "at 160 px (chosen by hand (yolov8n-random was trained at 640 px))" in out.out.splitlines()[0]


def test_unknown_model_and_bad_file_exit_2_with_a_message(tmp_path, capsys):
    status, out = run(capsys, "detect", "bus", "--model", "yolo99", "--json")
    assert status == 2 and "Unknown detector 'yolo99'" in json.loads(out.out)["error"]["message"]
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    status, out = run(capsys, "detect", str(text), "--model", "shapes-yolo")
    assert status == 2 and "it looks like text" in out.err


def test_one_bad_image_among_several_is_reported_and_the_others_run(tmp_path, capsys):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    status, out = run(capsys, "detect", "zidane", str(text), "--model", "yolov8n-random", "--imgsz", "160", "--json")
    first, second = json.loads(out.out)
    assert status == 0 and first["width"] == 1280 and "it looks like text" in second["error"]


def test_list_shows_the_detectors(capsys):
    status, out = run(capsys, "detect", "--list", "--json")
    names = [row["name"] for row in json.loads(out.out)]
    assert status == 0 and "shapes-yolo" in names and "yolo26n-random" in names
