"""The YOLO dataset validator on a good dataset and on each kind of broken one."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvlab.data.archives import UnsafeArchive
from cvlab.errors import InvalidInput
from cvlab.detection.yolo_data import (
    InvalidDataset,
    label_path,
    require_valid,
    validate_yolo_archive,
    validate_yolo_dataset,
)

NAMES = ["circle", "square"]


def write_dataset(root: Path, *, per_split: int = 3, names=NAMES) -> Path:
    """A tiny valid dataset: 32 px images, one box each, class i % 2."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(per_split):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
                root / "images" / split / f"{i}.png")
            (root / "labels" / split / f"{i}.txt").write_text(f"{i % 2} 0.5 0.5 0.25 0.25\n")
    data = root / "data.yaml"
    data.write_text("path: .\ntrain: images/train\nval: images/val\nnames:\n" + "".join(f"  - {n}\n" for n in names))
    return data


def test_a_good_dataset_passes_with_counts(tmp_path):
    report = validate_yolo_dataset(write_dataset(tmp_path))
    assert report.ok, report.summary()
    assert report.names == ("circle", "square")
    assert [(s.name, s.images, s.boxes) for s in report.splits] == [("train", 3, 3), ("val", 3, 3)]
    assert report.boxes_per_class == (4, 2)
    assert require_valid(report) is report
    assert "Valid YOLO dataset" in report.summary()


def test_label_path_renames_the_last_images_folder(tmp_path):
    assert label_path(Path("/d/images/x/images/train/a.jpg")) == Path("/d/images/x/labels/train/a.txt")


@pytest.mark.parametrize("line, fragment", [
    ("5 0.5 0.5 0.2 0.2", "class 5 is not a class id 0..1"),
    ("0 0.5 0.5 0.2", "4 numbers"),
    ("0 1.5 0.5 0.2 0.2", "leaves [0, 1]"),
    ("0 0.5 0.5 0 0.2", "width and height must be above 0"),
    ("a b c d e", "is not five numbers"),
    ("0.5 0.5 0.5 0.2 0.2", "is not a class id"),
    ("nan 0.5 0.5 0.2 0.2", "class nan is not a class id"),
    ("inf 0.5 0.5 0.2 0.2", "class inf is not a class id"),
    ("-inf 0.5 0.5 0.2 0.2", "class -inf is not a class id"),
    ("0 nan 0.5 0.2 0.2", "box nan 0.5 0.2 0.2 is not all numbers (nan or inf)"),
    ("0 0.5 0.5 inf 0.2", "is not all numbers (nan or inf)"),
])
def test_each_bad_label_line_is_named_with_file_and_line(tmp_path, line, fragment):
    write_dataset(tmp_path)
    (tmp_path / "labels" / "train" / "1.txt").write_text(f"0 0.5 0.5 0.2 0.2\n{line}\n")
    report = validate_yolo_dataset(tmp_path / "data.yaml")
    assert not report.ok
    assert any(p.startswith("labels/train/1.txt:2") and fragment in p for p in report.problems), report.problems
    with pytest.raises(InvalidDataset, match="problem"):
        require_valid(report)


def test_images_and_labels_must_match(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "labels" / "train" / "0.txt").unlink()
    (tmp_path / "labels" / "val" / "extra.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    problems = validate_yolo_dataset(tmp_path / "data.yaml").problems
    assert any("images/train/0.png: no label file" in p for p in problems)
    assert any("labels/val/extra.txt: a label file with no image" in p for p in problems)


def test_empty_label_file_is_a_background_image(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "labels" / "val" / "2.txt").write_text("")
    report = validate_yolo_dataset(tmp_path / "data.yaml")
    assert report.ok and report.splits[1].background == 1 and report.splits[1].boxes == 2


def test_a_corrupt_image_is_reported(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "images" / "val" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    problems = validate_yolo_dataset(tmp_path / "data.yaml").problems
    assert any("images/val/1.png: not a readable image" in p for p in problems)


@pytest.mark.parametrize("yaml_text, fragment", [
    ("train: images/train\nnames: [a]\n", "lacks val"),
    ("train: images/train\nval: images/val\nnames: [a, b]\nnc: 3\n", "`nc` says 3"),
    ("train: images/train\nval: images/val\nnames: {0: a, 2: b}\n", "without gaps"),
    ("train: images/nowhere\nval: images/val\nnames: [a, b]\n", "is not a folder"),
    ("train: ../../etc\nval: images/val\nnames: [a, b]\n", "outside the dataset"),
    ("path: /etc\ntrain: images/train\nval: images/val\nnames: [a, b]\n", "outside the dataset"),
    ("train: [", "not valid YAML"),
    ("train: images/train\nval: images/val\nnames: [" + ",".join(["a"] * 120_000) + "]\n", "120,000 classes"),
    ("train: images/train\nval: images/val\nnames: [a, " + "b" * 101 + "]\n", "up to 100 characters"),
])
def test_bad_data_yaml_says_what_to_fix(tmp_path, yaml_text, fragment):
    write_dataset(tmp_path)
    (tmp_path / "data.yaml").write_text(yaml_text)
    with pytest.raises(InvalidDataset, match=fragment.replace("[", r"\[")):
        validate_yolo_dataset(tmp_path / "data.yaml")


def zip_folder(folder: Path, prefix: str = "shapes/") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + str(path.relative_to(folder)))
    return buffer.getvalue()


def test_a_zip_is_unpacked_safely_and_validated(tmp_path):
    write_dataset(tmp_path / "src")
    report = validate_yolo_archive(zip_folder(tmp_path / "src"), tmp_path / "unpacked")
    assert report.ok and report.data_yaml == tmp_path / "unpacked" / "shapes" / "data.yaml"


def test_a_zip_with_nan_and_inf_numbers_is_reported_not_crashed(tmp_path):
    write_dataset(tmp_path / "src")
    (tmp_path / "src" / "labels" / "val" / "0.txt").write_text("nan 0.5 0.5 0.2 0.2\n0 0.5 inf 0.2 0.2\n")
    report = validate_yolo_archive(zip_folder(tmp_path / "src"), tmp_path / "unpacked")
    assert not report.ok
    assert any("0.txt:1" in p and "class nan" in p for p in report.problems), report.problems
    assert any("0.txt:2" in p and "nan or inf" in p for p in report.problems), report.problems


def test_an_unsafe_zip_is_refused_before_validation(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil/data.yaml", "train: x\n")
    with pytest.raises(UnsafeArchive, match=r"\.\."):
        validate_yolo_archive(buffer.getvalue(), tmp_path / "unpacked")
    assert not (tmp_path / "evil").exists()


def test_a_zip_without_data_yaml_says_so(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("images/a.txt", "x")
    with pytest.raises(InvalidDataset, match="one data.yaml"):
        validate_yolo_archive(buffer.getvalue(), tmp_path / "unpacked")


def test_images_are_checked_from_their_headers_against_the_pixel_limit_and_their_format(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_MAX_IMAGE_PIXELS", "1000000")
    write_dataset(tmp_path)
    Image.new("RGB", (2000, 1000)).save(tmp_path / "images" / "train" / "0.png")  # 2 Mpx, a few kB
    Image.new("RGB", (32, 32)).save(tmp_path / "images" / "train" / "1.png", format="JPEG")
    Image.new("RGB", (32, 32)).save(tmp_path / "images" / "val" / "2.png", format="PCX")
    problems = validate_yolo_dataset(tmp_path / "data.yaml").problems
    assert "images/train/0.png: 2000x1000 = 2,000,000 pixels; the limit is 1,000,000 (CVLAB_MAX_IMAGE_PIXELS). " \
           "Shrink it." in problems
    assert "images/train/1.png: not a readable image: a JPEG file named .png; save it as PNG." in problems
    assert "images/val/2.png: not a readable image." in problems


def test_only_the_keys_a_dataset_needs_reach_ultralytics(tmp_path):
    """`download:` is fetched, or run as a shell command or as Python by ultralytics when a split is missing."""
    import yaml

    from cvlab.detection.train import _resolved_data_yaml

    data = write_dataset(tmp_path / "set")
    data.write_text(data.read_text() + "download: bash -c 'touch /tmp/owned'\nyaml_file: /etc/passwd\n"
                    "nc: 2\ntest: images/val\n")
    assert validate_yolo_dataset(data).ok
    (tmp_path / "run").mkdir()
    copied = yaml.safe_load(_resolved_data_yaml(data, tmp_path / "run").read_text())
    assert set(copied) == {"path", "train", "val", "test", "names", "nc"}
    assert copied["path"] == str((tmp_path / "set").resolve()) and copied["names"] == NAMES


def test_the_summary_names_the_uploaded_zip_not_the_folder_it_was_unpacked_to(tmp_path):
    from cvlab.data.uploads import UploadStore

    write_dataset(tmp_path / "src")
    (tmp_path / "src" / "labels" / "val" / "0.txt").write_text("7 0.5 0.5 0.2 0.2\n")
    saved = UploadStore().save_file(zip_folder(tmp_path / "src"), "birds.zip", "browser:ada")
    report = validate_yolo_archive(saved, tmp_path / "3fa2c9e1d0b7a6f5")
    assert report.summary().startswith("1 problem(s) in birds.zip:") and "3fa2c9" not in report.summary()
    with pytest.raises(InvalidDataset) as caught:
        validate_yolo_dataset(tmp_path / "3fa2c9e1d0b7a6f5" / "shapes" / "nothing.yaml")
    assert str(tmp_path) not in str(caught.value)


def test_a_detection_run_names_an_uploaded_folder_and_a_deleted_upload_as_the_user_knows_them(tmp_path):
    from types import SimpleNamespace

    from cvlab.data.uploads import UploadStore
    from cvlab.detection.training_run import run_dataset

    class Upload:
        def __init__(self, path):
            self.name, self.data = str(path.relative_to(tmp_path / "src")), path.read_bytes()
            self.size = len(self.data)

        def getbuffer(self):
            return memoryview(self.data)

        def getvalue(self):
            return self.data

    write_dataset(tmp_path / "src")
    (tmp_path / "src" / "labels" / "val" / "0.txt").write_text("5 0.5 0.5 0.2 0.2\n")
    store = UploadStore()
    folder = store.save_folder([Upload(p) for p in sorted((tmp_path / "src").rglob("*")) if p.is_file()], "ada")
    (tmp_path / "run").mkdir()
    with pytest.raises(InvalidDataset) as caught:
        run_dataset(tmp_path / "run", SimpleNamespace(data=str(folder)))
    assert str(caught.value).startswith("1 problem(s) in the uploaded folder:") and folder.name not in str(caught.value)
    saved = store.save_file(b"PK\x05\x06" + bytes(18), "birds.zip", "ada")
    saved.unlink()
    with pytest.raises(InvalidInput, match="'birds.zip' is no longer on the server") as caught:
        run_dataset(tmp_path / "run", SimpleNamespace(data=str(saved)))
    assert saved.parent.name not in str(caught.value)
