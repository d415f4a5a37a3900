"""Inference through the facade: the shipped shapes model, bad images, bad options, threads on one model."""

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from cvlab.data.image_decoding import BadImage, decode_image
from cvlab.data.shapes import SHAPE_CLASSES, shapes_detection
from cvlab.detection import boxes as bx
from cvlab.detection import facade
from cvlab.detection.catalogue import SHAPES_MODEL, DetectorSpec
from cvlab.errors import InvalidInput

SIDE = 192  # the shapes model's training size


@pytest.fixture(scope="module")
def scenes():
    return shapes_detection(6, 4242, size=SIDE)  # a seed the model was not trained on


def png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def test_the_shipped_model_finds_the_shapes_of_unseen_scenes(scenes):
    matched = total = 0
    for scene in scenes:
        result = facade.detect(SHAPES_MODEL, scene.image, imgsz=SIDE)
        assert result.names == SHAPE_CLASSES and result.width == result.height == SIDE
        assert all(0 <= v <= SIDE for det in result.detections for v in det.xyxy)
        if not result.detections:
            total += len(scene.classes)
            continue
        found = np.array([d.xyxy for d in result.detections])
        overlaps = bx.box_iou(scene.boxes_xyxy, found)  # (truth, found)
        for truth, cls in enumerate(scene.classes):
            best = int(overlaps[truth].argmax())
            matched += overlaps[truth, best] > 0.5 and result.detections[best].cls == cls
        total += len(scene.classes)
    assert matched / total >= 0.8, (matched, total)


def test_without_a_size_the_model_sees_the_size_it_was_trained_at_and_says_so(scenes):
    small = shapes_detection(1, 4243, size=128)[0]  # the generator's default side, below the training size
    result = facade.detect(SHAPES_MODEL, small.image)
    assert result.imgsz == SIDE and result.imgsz_reason == "the size shapes-yolo was trained at (from its weights file)"
    found = bx.box_iou(small.boxes_xyxy, np.array([d.xyxy for d in result.detections]).reshape(-1, 4))
    assert (found.max(1) > 0.5).all()  # every shape is found in the 128 px scene
    asked = facade.detect(SHAPES_MODEL, small.image, imgsz=256)
    assert asked.imgsz == 256 and asked.imgsz_reason == "chosen by hand (shapes-yolo was trained at 192 px)"
    info = facade.model_info(SHAPES_MODEL)
    assert (info.imgsz, info.imgsz_reason) == (SIDE, result.imgsz_reason)
    random = facade.model_info("yolov8n-random")
    assert random.imgsz == 640 and random.imgsz_reason.startswith("random weights, never trained")


@pytest.mark.parametrize("args, expected", [
    ({"imgsz": 640}, (640, "the size yolov8n was trained at (from its checkpoint's training settings)")),
    ({"imgsz": 320}, (320, "the size yolov8n was trained at (from its checkpoint's training settings)")),
    ({}, (640, "ultralytics' default 640 px: the weights do not say what size they were trained at")),
    ({"imgsz": [640, 480]},
     (640, "ultralytics' default 640 px: the weights do not say what size they were trained at")),
])
def test_a_checkpoints_training_settings_give_its_default_size(args, expected):
    """COCO checkpoints carry the arguments they were trained with (ultralytics puts them in model.args)."""
    spec = DetectorSpec("yolov8n", "pretrained", "YOLOv8 n, COCO weights", config="yolov8n")
    assert facade.training_size(spec, SimpleNamespace(model=SimpleNamespace(args=args))) == expected


def test_results_are_plain_dataclasses_with_stage_timings(scenes):
    result = facade.detect(SHAPES_MODEL, scenes[0].image, imgsz=SIDE)
    assert isinstance(result, facade.DetectionResult) and isinstance(result.detections, tuple)
    assert all(isinstance(d, facade.Detection) and isinstance(d.xyxy, tuple) for d in result.detections)
    assert result.timings.inference > 0 and result.timings.total >= result.timings.inference
    assert [d.conf for d in result.detections] == sorted((d.conf for d in result.detections), reverse=True)
    assert sum(result.counts().values()) == len(result.detections)


def test_my_nms_over_the_candidates_gives_the_pipeline_result(scenes):
    """Candidates (IoU threshold 1) filtered and suppressed by cvlab's NMS = ultralytics' own output."""
    for scene in scenes[:3]:
        cands = facade.candidates(SHAPES_MODEL, scene.image, imgsz=SIDE, conf_floor=0.05)
        for iou in (0.3, 0.7):
            expected = facade.detect(SHAPES_MODEL, scene.image, imgsz=SIDE, conf=0.05, iou=iou)
            keep = bx.batched_nms(cands.boxes, cands.scores, cands.classes, iou)  # highest score first
            assert cands.classes[keep].tolist() == [d.cls for d in expected.detections]
            np.testing.assert_allclose(cands.scores[keep], [d.conf for d in expected.detections], atol=1e-4)
            np.testing.assert_allclose(cands.boxes[keep], [d.xyxy for d in expected.detections], atol=0.01)
        assert len(cands.scores) > len(expected.detections)  # there was something to suppress


def test_class_filter_max_det_and_agnostic_nms(scenes):
    busiest = max(scenes, key=lambda scene: len(scene.classes))
    image = busiest.image
    every = facade.detect(SHAPES_MODEL, image, imgsz=SIDE, conf=0.01)
    assert len(every.detections) >= 3
    wanted = every.detections[0].cls
    only = facade.detect(SHAPES_MODEL, image, imgsz=SIDE, conf=0.01, classes=[wanted])
    assert only.detections and {d.cls for d in only.detections} == {wanted}
    assert len(facade.detect(SHAPES_MODEL, image, imgsz=SIDE, conf=0.01, max_det=2).detections) == 2
    agnostic = facade.detect(SHAPES_MODEL, image, imgsz=SIDE, conf=0.01, agnostic_nms=True)
    assert len(agnostic.detections) <= len(every.detections)


def test_concurrent_sessions_on_one_model_each_get_their_own_settings(scenes):
    settings = [dict(conf=0.05, iou=0.3), dict(conf=0.5, iou=0.7), dict(conf=0.2, iou=0.5, agnostic_nms=True)]
    jobs = [(i % len(scenes), settings[i % len(settings)]) for i in range(18)]

    def run(job):
        index, options = job
        return facade.detect(SHAPES_MODEL, scenes[index].image, imgsz=SIDE, **options).detections

    expected = [run(job) for job in jobs]  # one at a time
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(run, jobs))
    assert together == expected
    assert len({len(e) for e in expected}) > 1  # the settings really differ in what they return


@pytest.mark.parametrize("options, fragment", [
    (dict(conf=1.5), "between 0 and 1"),
    (dict(imgsz=5000), "outside 32..1280"),
    (dict(max_det=0), "at least 1"),
    (dict(classes=[9]), r"Class ids \[9\] are not classes of shapes-yolo"),
])
def test_bad_options_say_what_is_allowed(scenes, options, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        facade.detect(SHAPES_MODEL, scenes[0].image, **options)


def test_pixels_that_are_not_an_rgb_image_are_refused():
    with pytest.raises(InvalidInput, match=r"\(H, W, 3\) uint8 RGB"):
        facade.detect(SHAPES_MODEL, np.zeros((32, 32), np.float32))


def bad_files() -> dict:
    good = png(Image.new("RGB", (64, 64), "red"))
    return {
        "corrupt.png": (good[:20] + b"\x00" * 40 + good[60:], "is not a PNG|damaged"),
        "truncated.png": (png(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)))[:300],
                          "damaged or cut short|not a PNG"),
        "notes.png": (b"hello, not an image\n", "it looks like text"),
        "dot.png": (png(Image.new("RGB", (1, 1))), "only 1×1 px"),
        "bomb.png": (png(Image.new("1", (9000, 9000))), "81,000,000 pixels; the limit is 40,000,000"),
    }


@pytest.mark.parametrize("name", list(bad_files()))
def test_bad_image_files_give_a_clear_message(name):
    data, fragment = bad_files()[name]
    with pytest.raises(BadImage, match=fragment):
        decode_image(data, name)  # what every page and command runs on a file before detecting


@pytest.mark.parametrize("image, note", [
    (Image.new("L", (64, 48), 128), "grayscale: copied to 3 channels"),
    (Image.new("RGBA", (64, 48), (255, 0, 0, 100)), "transparency flattened on white"),
    (Image.fromarray(np.full((48, 64), 40000, np.uint16)), "16-bit grayscale"),
])
def test_unusual_but_valid_images_are_converted_with_a_note(image, note):
    loaded = decode_image(png(image), "odd.png")
    result = facade.detect(SHAPES_MODEL, loaded.pixels, imgsz=64)
    assert (result.width, result.height) == (64, 48)
    assert any(note in n for n in loaded.notes), loaded.notes


def test_a_slow_load_blocks_neither_a_loaded_model_nor_loads_twice(scenes, monkeypatch):
    facade.detect(SHAPES_MODEL, scenes[0].image, imgsz=SIDE)  # the shapes model is in the cache
    real_load, started, release, loads = facade.load_yolo, threading.Event(), threading.Event(), []

    def slow_load(spec, settings):
        if spec.name == "yolov8n-random":
            loads.append(spec.name)
            started.set()
            assert release.wait(30), "the test never released the slow load"
        return real_load(spec, settings)

    monkeypatch.setattr(facade, "load_yolo", slow_load)
    with ThreadPoolExecutor(3) as pool:
        slow = [pool.submit(facade.load_detector, "yolov8n-random") for _ in range(2)]
        assert started.wait(30)
        # While yolov8n-random is still loading, the shapes model answers at once.
        quick = pool.submit(facade.detect, SHAPES_MODEL, scenes[1].image, imgsz=SIDE)
        assert quick.result(timeout=20).detections
        assert not any(f.done() for f in slow)
        release.set()
        first, second = (f.result(timeout=60) for f in slow)
    assert first is second and loads == ["yolov8n-random"]


def test_moving_a_threshold_reruns_the_postprocessing_not_the_network_and_returns_what_a_fresh_model_does(scenes):
    settings = [dict(conf=0.25), dict(conf=0.05, iou=0.3), dict(conf=0.5, max_det=2), dict(conf=0.1, agnostic_nms=True),
                dict(conf=0.01, classes=[1, 3])]
    facade._cache.clear()
    detector = facade.load_detector(SHAPES_MODEL)
    network_runs = []
    detector._yolo.predictor.model.register_forward_hook(lambda *_: network_runs.append(1))  # the network itself
    kept = [facade.detect(SHAPES_MODEL, scenes[0].image, imgsz=SIDE, picture_key="scene-0", **options)
            for options in settings]
    assert len(network_runs) == 1  # one picture at one size: one pass, whatever the thresholds
    facade.detect(SHAPES_MODEL, scenes[0].image, imgsz=160, picture_key="scene-0")  # another input size
    facade.detect(SHAPES_MODEL, scenes[1].image, imgsz=SIDE, picture_key="scene-1")  # another picture
    assert len(network_runs) == 3
    for _ in range(2):  # a caller that names no picture (the command line) runs the network every time
        facade.detect(SHAPES_MODEL, scenes[0].image, imgsz=SIDE)
    assert len(network_runs) == 5
    assert {r.timings.inference for r in kept} == {kept[0].timings.inference} and kept[0].timings.inference > 0
    facade._cache.clear()  # a model that has seen nothing yet, for each setting
    for options, result in zip(settings, kept):
        fresh = facade.detect(SHAPES_MODEL, scenes[0].image, imgsz=SIDE, **options)
        facade._cache.clear()
        assert fresh.detections == result.detections, options
    assert len({len(r.detections) for r in kept}) > 2  # the settings really differ in what they return


def test_a_model_keeps_only_the_boxes_nms_reads_and_is_freed_with_them_when_evicted(scenes):
    import gc
    import weakref

    import torch

    facade._cache.clear()
    facade.detect(SHAPES_MODEL, scenes[0].image, imgsz=SIDE, picture_key="scene-0")
    detector = facade.load_detector(SHAPES_MODEL)
    [(kept, inference_ms)] = detector._outputs.values()
    assert isinstance(kept, torch.Tensor) and kept.shape[:2] == (1, 4 + len(detector.names)) and inference_ms > 0
    gone = weakref.ref(detector)
    del detector, kept
    gc.disable()  # freed by reference counting as it is evicted, not whenever a full collection comes
    try:
        facade._cache.clear()
        assert gone() is None
    finally:
        gc.enable()
