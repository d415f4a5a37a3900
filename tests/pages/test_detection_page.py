"""The detection page under AppTest: the shipped shapes model, a model from ultralytics' YAML, every section."""

import io

from PIL import Image
from streamlit.testing.v1 import AppTest

from cvlab.syllabus import REPO_ROOT
from tests.pages.apptest import run_script

PAGE = "pages/tasks/detection.py"
TIMEOUT = 180  # the first run imports torch and ultralytics and builds the model


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def text(app: AppTest) -> str:
    return "\n".join(str(el.value) for el in [*app.markdown, *app.caption, *app.info, *app.warning, *app.error])


def test_shapes_model_finds_the_shapes_and_the_confidence_slider_changes_the_result():
    app = run_script(PAGE, timeout=TIMEOUT)
    assert app.selectbox(key="model").value == "shapes-yolo" and not app.error
    found = int(metric(app, "Detections"))
    assert found >= 1
    table = app.dataframe[-1].value
    assert set(table["class"]) <= {"circle", "square", "triangle", "star", "cross"} and len(table) == found
    app.slider(key="conf").set_value(0.99)
    assert int(metric(rerun(app), "Detections")) < found


def test_auto_input_size_is_the_models_training_size_and_the_page_says_why():
    app = run_script(PAGE, timeout=TIMEOUT)
    assert metric(app, "Input") == "192 px"
    assert "letterboxed to 192 px: the size shapes-yolo was trained at (from its weights file)" in text(app)
    app = run_script(PAGE, timeout=TIMEOUT, model="yolov8n-random", src="Photo", img="bus")
    assert metric(app, "Input") == "640 px"
    assert "letterboxed to 640 px: random weights, never trained: ultralytics' default 640 px" in text(app)


def test_the_class_filter_keeps_only_the_chosen_class():
    app = run_script(PAGE, timeout=TIMEOUT, conf="0.05")
    classes = set(app.dataframe[-1].value["class"])
    keep = sorted(classes)[0]
    app.multiselect(key="classes").set_value([keep])
    assert set(rerun(app).dataframe[-1].value["class"]) == {keep}


def test_a_random_weights_model_from_ultralytics_yaml_runs_and_says_so():
    app = run_script(PAGE, timeout=TIMEOUT, model="yolov8n-random", src="Photo", img="bus", imgsz="320")
    assert not app.error
    assert "Random weights" in app.warning[0].value
    assert metric(app, "Input") == "320 px"
    assert app.multiselect(key="classes").options[0] == "person"  # COCO names


def test_a_bad_upload_is_one_message_and_the_page_keeps_working():
    app = run_script(PAGE, timeout=TIMEOUT, src="Photo", img_src="Upload")
    app.file_uploader(key="img_file").upload("notes.jpg", b"just some text\n", "image/jpeg")
    rerun(app)
    assert len(app.error) == 1 and "is not a PNG, JPEG" in app.error[0].value
    assert "Choose a model and a picture" in text(app)
    tiny = io.BytesIO()
    Image.new("RGB", (1, 1)).save(tiny, "PNG")
    app.file_uploader(key="img_file").upload("dot.png", tiny.getvalue(), "image/png")
    assert "only 1×1 px" in rerun(app).error[0].value


def test_nms_section_steps_through_the_suppressions():
    app = run_script(PAGE, timeout=TIMEOUT, section="NMS step by step", conf="0.05", iou="0.5")
    assert not app.error
    steps = app.dataframe[0].value
    assert len(steps) >= 1 and list(steps.columns) == ["step", "keeps", "suppresses (IoU)"]
    assert app.slider(key="step").value == 1
    assert len(app.get("plotly_chart")) == 2  # the step figure and the count chart
    assert "greedy NMS at IoU 0.50 keeps" in text(app)


def test_iou_section_computes_from_the_address_bar():
    app = run_script(PAGE, timeout=TIMEOUT, section="IoU", ax="0", ay="0", aw="10", ah="10", bx="5", by="5",
                     bw="10", bh="10")
    assert metric(app, "IoU") == f"{25 / 175:.3f}"
    assert metric(app, "IoU loss") == f"{1 - 25 / 175:.3f}"
    assert metric(app, "GIoU") == f"{25 / 175 - 50 / 225:.3f}"
    app.slider(key="bx").set_value(100)
    assert metric(rerun(app), "IoU") == "0.000" and float(metric(app, "GIoU")) < 0


def test_an_uploaded_pickle_is_refused_in_the_data_section():
    app = run_script(PAGE, timeout=TIMEOUT, section="Your data")
    app.file_uploader(key="weights_file").upload("best.pt", b"\x80\x04 pickle", "application/octet-stream")
    rerun(app)
    assert "full pickle checkpoint" in app.error[0].value
    assert app.selectbox(key="model").value == "shapes-yolo"


def test_several_photos_are_detected_as_a_batch():
    from cvlab.data.shapes import shapes_detection

    files = []
    for i, scene in enumerate(shapes_detection(2, 77, size=192)):
        buffer = io.BytesIO()
        Image.fromarray(scene.image).save(buffer, "PNG")
        files.append((f"scene{i}.png", buffer.getvalue(), "image/png"))
    app = run_script(PAGE, timeout=TIMEOUT, src="Several photos")
    app.file_uploader(key="photos").set_value(files)
    rerun(app)
    batch = app.dataframe[0].value
    assert list(batch["image"]) == ["scene0.png", "scene1.png"] and (batch["detections"] >= 1).all()
    app.selectbox(key="shown").set_value(1)
    assert int(metric(rerun(app), "Detections")) == batch["detections"][1]


def test_projector_mode_shows_tables_in_its_large_type_and_wraps_the_picture_choice():
    app = AppTest.from_file(str(REPO_ROOT / PAGE), default_timeout=TIMEOUT)
    app.session_state["projector"] = True
    rerun(app)
    found = int(metric(app, "Detections"))
    # A static table takes the projector's type; a dataframe's canvas would not.
    assert not app.dataframe and len(app.table) == 1
    table = app.table[0].value
    assert len(table) == found >= 1 and set(table["class"]) <= {"circle", "square", "triangle", "star", "cross"}
    assert all(len(corner) <= 4 for corner in table["x2"])  # 187 px, not 187.4000: the columns fit the screen
    assert [group.proto.wrap for group in app.get("button_group")] == [True]


def _crafted_detector(config_yaml: str) -> bytes:
    """A few hundred bytes of safetensors in CV Lab's format whose config text is an attack."""
    import json

    import torch
    from safetensors.torch import save

    meta = {"format": "cvlab-yolo/1", "config": "yolov8n.yaml", "config_yaml": config_yaml,
            "names": json.dumps(["a", "b"])}
    return save({"model.0.conv.weight": torch.zeros(1)}, metadata=meta)


def test_crafted_detector_uploads_run_nothing_and_take_no_memory(tmp_path):
    """The nested-model ``eval`` and the 7000-channel conv, uploaded through the page's own uploader."""
    import psutil

    pwned = tmp_path / "PWNED"
    nested = ("nc: 2\nbackbone:\n  - [-1, 1, DetectionModel, [{nc: 2, activation: \"__import__('pathlib').Path("
              f"'{pwned}').touch()\", backbone: [[-1, 1, Conv, [16, 3, 2]]], head: []}}]]\nhead: []\n")
    huge = "nc: 2\nbackbone:\n  - [-1, 1, nn.Conv2d, [3, 7000, 7000]]\nhead: []\n"
    app = run_script(PAGE, timeout=TIMEOUT, section="Your data")
    process = psutil.Process()
    before = process.memory_info().rss
    for name, text in (("nested.safetensors", nested), ("huge.safetensors", huge)):
        data = _crafted_detector(text)
        assert len(data) < 1000
        app.file_uploader(key="weights_file").upload(name, data, "application/octet-stream")
        rerun(app)
        assert app.error[0].value.startswith(f"{name} does not fit its model config (yolov8n, 2 classes)")
        assert app.selectbox(key="model").value == "shapes-yolo"
    assert not pwned.exists()
    assert process.memory_info().rss - before < 300e6  # the 7000-channel conv alone would be 1.8 GB


def test_an_unknown_model_in_the_address_is_named_and_the_page_says_what_it_shows_instead():
    app = run_script(PAGE, timeout=TIMEOUT, model="shapes-yol")
    assert app.selectbox(key="model").value == "shapes-yolo"
    [warning] = [w.value for w in app.warning if "No model called" in w.value]
    assert ("“shapes\\-yol”" in warning and "this shows shapes-yolo instead" in warning
            and "Did you mean shapes-yolo" in warning)
    quiet = run_script(PAGE, timeout=TIMEOUT, model="shapes-yolo")
    assert not any("No model called" in w.value for w in quiet.warning)


def test_a_trained_models_note_keeps_the_case_of_its_path():
    from cvlab.detection.catalogue import EXPORTED_WEIGHTS
    from cvlab.settings import get_settings

    weights = get_settings().runs_dir / "20261206-Ada-YoloRun" / EXPORTED_WEIGHTS
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"not weights")  # the note is about the path; loading it fails with a message
    app = run_script(PAGE, timeout=TIMEOUT, model="trained-20261206-Ada-YoloRun")
    assert f"Trained in this lab ({weights})" in text(app)  # not ".../20261206-ada-yolorun/..."
