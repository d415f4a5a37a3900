"""Writers: ImageFolder, ultralytics' YOLO format and mask datasets, read back from the files."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from cvlab.data.shapes import SHAPE_CLASSES, shapes_classification, shapes_detection, shapes_segmentation
from cvlab.data.writers import (dataset_summary, write_imagefolder, write_mask_dataset,
                                write_yolo_dataset, yolo_lines)
from cvlab.errors import InvalidInput


def test_imagefolder_has_train_and_val_class_folders_with_the_generated_pixels(tmp_path):
    out = write_imagefolder(tmp_path / "cls", 50, seed=1, size=32)
    files = sorted(out.rglob("*.png"))
    assert len(files) == 50
    assert {p.parent.parent.name for p in files} == {"train", "val"}
    assert {p.parent.name for p in files} == set(SHAPE_CLASSES)
    assert len(list((out / "val").rglob("*.png"))) == 10  # 20 % of each class: 2 of 10
    images, labels, _ = shapes_classification(50, seed=1, size=32)
    first = next(p for p in files if p.stem == "000003")
    assert first.parent.name == SHAPE_CLASSES[labels[3]]
    assert np.array_equal(np.asarray(Image.open(first)), images[3])  # PNG is lossless


def test_imagefolder_without_validation_is_flat(tmp_path):
    out = write_imagefolder(tmp_path / "flat", 10, seed=0, size=32, val_fraction=0)
    assert sorted(p.name for p in out.iterdir()) == sorted(SHAPE_CLASSES)


def test_yolo_dataset_layout_and_data_yaml(tmp_path):
    data_yaml = write_yolo_dataset(tmp_path / "yolo", 20, seed=2, size=96, val_fraction=0.25)
    config = yaml.safe_load(data_yaml.read_text())
    root = data_yaml.parent
    assert "path" not in config  # the folder of data.yaml is the root, wherever it is moved or unzipped
    assert config["train"] == "images/train" and config["val"] == "images/val"
    assert config["names"] == dict(enumerate(SHAPE_CLASSES))
    for part, count in (("train", 15), ("val", 5)):
        images = sorted((root / "images" / part).glob("*.png"))
        labels = sorted((root / "labels" / part).glob("*.txt"))
        assert len(images) == count and [p.stem for p in images] == [p.stem for p in labels]


def test_yolo_labels_parse_back_to_the_same_boxes(tmp_path):
    data_yaml = write_yolo_dataset(tmp_path / "yolo", 12, seed=3, size=128)
    samples = shapes_detection(12, seed=3, size=128)
    for label in (data_yaml.parent / "labels").rglob("*.txt"):
        sample = samples[int(label.stem)]
        for line in label.read_text().splitlines():
            values = [float(v) for v in line.split()[1:]]
            assert all(0 <= v <= 1 for v in values)  # normalised centre and size
        rows = np.array([line.split() for line in label.read_text().splitlines()], np.float64).reshape(-1, 5)
        classes, (cx, cy, w, h) = rows[:, 0].astype(np.int64), rows[:, 1:].T * 128
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
        assert np.array_equal(classes, sample.classes)
        np.testing.assert_allclose(boxes, sample.boxes_xyxy, atol=1e-3)
        image = np.asarray(Image.open(data_yaml.parent / "images" / label.parent.name / f"{label.stem}.png"))
        assert np.array_equal(image, sample.image)


def test_yolo_lines_put_the_centre_and_size_as_fractions():
    assert (yolo_lines(np.array([[10, 20, 30, 60]]), np.array([2]), 100, 200)
            == ["2 0.200000 0.200000 0.200000 0.200000"])


def test_mask_dataset_pairs_images_and_class_id_masks(tmp_path):
    out = write_mask_dataset(tmp_path / "masks", 8, seed=4, size=64)
    images, masks = shapes_segmentation(8, seed=4, size=64)
    assert (sorted(p.stem for p in (out / "images").glob("*.png"))
            == sorted(p.stem for p in (out / "masks").glob("*.png")))
    classes = json.loads((out / "classes.json").read_text())["classes"]
    assert classes == ["background", *SHAPE_CLASSES]
    for i in range(8):
        mask = Image.open(out / "masks" / f"{i:06d}.png")
        assert mask.mode == "L"
        assert np.array_equal(np.asarray(mask), masks[i])
        assert np.array_equal(np.asarray(Image.open(out / "images" / f"{i:06d}.png")), images[i])


def test_summaries_count_what_is_on_disk(tmp_path):
    cls = dataset_summary(write_imagefolder(tmp_path / "c", 25, seed=0), "classify")
    assert cls.n == 25 and cls.counts["train"]["circle"] == 4 and cls.counts["val"]["circle"] == 1
    det_root = write_yolo_dataset(tmp_path / "d", 10, seed=0, size=64).parent
    det = dataset_summary(det_root, "detect")
    objects = sum(len(s.classes) for s in shapes_detection(10, seed=0, size=64))
    assert det.n == 10 and sum(sum(part.values()) for part in det.counts.values()) == objects
    seg = dataset_summary(write_mask_dataset(tmp_path / "s", 6, seed=0, size=64), "segment")
    _, masks = shapes_segmentation(6, seed=0, size=64)
    assert seg.counts["all"]["circle"] == sum(1 in np.unique(m) for m in masks)
    assert seg.files == 6 * 2 + 1


@pytest.mark.parametrize("fmt", ["TIFF", "GIF", "BMP"])
def test_a_mask_that_is_not_really_a_png_is_refused_by_the_summary(tmp_path, fmt):
    root = write_mask_dataset(tmp_path / "s", 4, seed=0, size=64)
    first = sorted((root / "masks").glob("*.png"))[0]
    values = np.asarray(Image.open(first))
    Image.fromarray(values).save(first, format=fmt)  # readable by Pillow, but named .png
    with pytest.raises(InvalidInput, match=f"mask {first.name} is not a PNG"):
        dataset_summary(root, "segment")


def test_writing_into_a_folder_that_holds_files_is_refused(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="not an empty folder"):
        write_yolo_dataset(tmp_path / "busy", 5, seed=0)
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("writer, options", [(write_imagefolder, {"size": 8}), (write_yolo_dataset, {"max_objects": 0}),
                                             (write_mask_dataset, {"size": 16})])
def test_a_refused_request_creates_no_folder(tmp_path, writer, options):
    with pytest.raises(InvalidInput):
        writer(tmp_path / "out", 5, 0, **options)
    assert not (tmp_path / "out").exists()


def test_every_split_counts_its_validation_share_with_one_function():
    from cvlab.data.splits import val_count
    from cvlab.data.writers import _split_parts

    assert [val_count(n, f) for n, f in ((1280, 0.2), (400, 0.2), (2, 0.2), (2, 0.9), (1, 0.5))] == [256, 80, 1, 1, 0]
    for n, f in ((2, 0.2), (2, 0.9), (10, 0.95), (400, 0.2)):  # both parts keep an image, even at the extremes
        parts = _split_parts(n, f, seed=0)
        assert (parts == "val").sum() == val_count(n, f) and (parts == "train").sum() == n - val_count(n, f)
