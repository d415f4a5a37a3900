"""Image folders: layouts found, bad files listed and skipped, layouts without two classes refused."""

import io

import numpy as np
import pytest
from PIL import Image

from cvlab.data.image_folder import FolderLayoutError, load_image_folder, scan_image_folder, square_resize


def png(colour, size=(24, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def write(root, files: dict):
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def three_classes(prefix="", n=5):
    colours = {"cats": (200, 30, 30), "dogs": (30, 200, 30), "owls": (30, 30, 200)}
    return {f"{prefix}{cls}/{i}.png": png(rgb) for cls, rgb in colours.items() for i in range(n)}


def test_flat_layout_counts_classes_and_samples(tmp_path):
    report = scan_image_folder(write(tmp_path / "set", three_classes()))
    assert report.classes == ("cats", "dogs", "owls")
    assert report.counts == {"cats": 5, "dogs": 5, "owls": 5} and report.images == 15
    assert report.split is None and report.bad_files == [] and report.wrapper == ""
    assert report.samples["dogs"] == ["dogs/0.png", "dogs/1.png", "dogs/2.png"]


def test_a_wrapping_top_folder_is_stepped_into(tmp_path):
    report = scan_image_folder(write(tmp_path / "unzipped", three_classes("pets/")))
    assert report.wrapper == "pets" and report.root == tmp_path / "unzipped" / "pets"
    assert report.classes == ("cats", "dogs", "owls")


def test_train_and_val_folders_give_the_split(tmp_path):
    files = {**three_classes("data/train/", 4), **three_classes("data/val/", 2)}
    report = scan_image_folder(write(tmp_path / "x", files))
    assert report.split == {"train": {"cats": 4, "dogs": 4, "owls": 4}, "val": {"cats": 2, "dogs": 2, "owls": 2}}
    assert report.counts == {"cats": 6, "dogs": 6, "owls": 6}


def test_corrupt_and_non_image_files_are_listed_and_skipped(tmp_path):
    good = png((1, 2, 3))
    files = {**three_classes(), "cats/broken.png": good[:40], "dogs/notes.txt": b"hello",
             "owls/fake.jpg": b"this is text", "readme.md": b"# set", ".DS_Store": b"junk",
             "__MACOSX/cats/._0.png": b"fork", "owls/tiny.png": png((0, 0, 0), (4, 4))}
    report = scan_image_folder(write(tmp_path / "set", files))
    reasons = dict(report.bad_files)
    assert set(reasons) == {"cats/broken.png", "dogs/notes.txt", "owls/fake.jpg", "readme.md", "owls/tiny.png"}
    assert "damaged" in reasons["cats/broken.png"] or "not a" in reasons["cats/broken.png"]
    assert "not an image file" in reasons["dogs/notes.txt"]
    assert "looks like text" in reasons["owls/fake.jpg"]
    assert "not inside a class folder" in reasons["readme.md"]
    assert "8 px" in reasons["owls/tiny.png"]
    assert report.counts == {"cats": 5, "dogs": 5, "owls": 5}


def test_one_class_is_refused_with_the_expected_layout(tmp_path):
    write(tmp_path / "set", {f"cats/{i}.png": png((9, 9, 9)) for i in range(3)})
    with pytest.raises(FolderLayoutError, match=r"'cats' with 3 usable images.*dataset/<class name>/<image files>"):
        scan_image_folder(tmp_path / "set")


@pytest.mark.parametrize("files", [{}, {"notes.txt": b"x"}, {"a/readme.txt": b"x", "b/readme.txt": b"y"}],
                         ids=["empty", "only a file", "classes without images"])
def test_folders_without_two_classes_of_images_are_refused(tmp_path, files):
    (tmp_path / "set").mkdir()
    write(tmp_path / "set", files)
    with pytest.raises(FolderLayoutError, match="at least two classes"):
        scan_image_folder(tmp_path / "set")


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(FolderLayoutError, match="is not a folder"):
        scan_image_folder(tmp_path / "nowhere")


def test_load_makes_uint8_tensors_with_a_stratified_split(tmp_path):
    data = load_image_folder(write(tmp_path / "set", three_classes(n=10)), 16, seed=0, val_fraction=0.2)
    assert data.class_names == ("cats", "dogs", "owls") and data.name == "set"
    assert tuple(data.train_x.shape) == (24, 3, 16, 16) and tuple(data.val_x.shape) == (6, 3, 16, 16)
    assert str(data.train_x.dtype) == "torch.uint8" and str(data.train_y.dtype) == "torch.int64"
    assert data.counts()["val"] == {"cats": 2, "dogs": 2, "owls": 2}
    reds = data.train_x[data.train_y == 0]
    assert (reds[:, 0] == 200).all() and (reds[:, 1] == 30).all()  # the pixels of the cats' files


def test_load_keeps_the_folders_own_split_and_names_skipped_files(tmp_path):
    files = {**three_classes("pets/train/", 4), **three_classes("pets/val/", 2), "pets/train/cats/bad.png": b"xx"}
    data = load_image_folder(write(tmp_path / "upload", files), 8)
    assert data.name == "pets"
    assert len(data.train_y) == 12 and len(data.val_y) == 6
    assert "train/cats/bad.png" in data.note and "own train/ and val/ split" in data.note


def test_limit_takes_a_stratified_share(tmp_path):
    data = load_image_folder(write(tmp_path / "set", three_classes(n=10)), 8, limit=9, val_fraction=1 / 3)
    assert len(data.train_y) + len(data.val_y) == 9
    assert sorted(data.counts()["train"].values()) == [2, 2, 2]


def test_square_resize_centre_crops_before_resizing():
    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, 10:20] = 255  # the centre square is white, the sides black
    assert square_resize(wide, 5).min() > 240


def test_big_photos_are_reduced_while_they_are_read(tmp_path, monkeypatch):
    """A 4000x3000 JPEG loaded at 32 px is decoded at 1/8 scale, never at 12 megapixels."""
    from PIL import Image, JpegImagePlugin

    from cvlab.data.image_folder import load_image_folder

    for cls, colour in (("cats", (250, 0, 0)), ("dogs", (0, 0, 250))):
        (tmp_path / "set" / cls).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (4000, 3000), colour).save(tmp_path / "set" / cls / f"{i}.jpg", quality=90)
    sizes, real_load = [], JpegImagePlugin.JpegImageFile.load
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", lambda self: sizes.append(self.size) or real_load(self))
    data = load_image_folder(tmp_path / "set", 32, val_fraction=0.5)
    assert data.train_x.shape[1:] == (3, 32, 32) and max(sizes) == (500, 375)
    assert int(data.train_x[0, 0].float().mean()) > 200 or int(data.train_x[0, 2].float().mean()) > 200
