"""Mask datasets: the shapes masks, and zips of images and masks, good and broken."""

import io
import json
import shutil
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from cvlab.data.archives import BadArchive, UnsafeArchive
from cvlab.data.shapes import SHAPE_CLASSES, shapes_segmentation
from cvlab.data.writers import write_mask_dataset
from cvlab.errors import InvalidInput
from cvlab.segmentation.mask_data import InvalidMaskDataset, load_mask_archive, load_mask_dataset, \
    read_mask_folder, shapes_mask_dataset


@pytest.fixture
def dataset_dir(tmp_path):
    return write_mask_dataset(tmp_path / "shapes-masks", n=10, seed=4, size=64)


def zipped(folder, tmp_path) -> str:
    """The folder zipped as people do it: the folder itself inside the archive."""
    return shutil.make_archive(str(tmp_path / "upload"), "zip", folder.parent, folder.name)


def save_png(array: np.ndarray, path) -> None:
    Image.fromarray(array).save(path)


def test_shapes_masks_split_into_train_and_val_tensors():
    data = shapes_mask_dataset(n=20, seed=1, size=64)
    assert data.train_images.shape == (16, 3, 64, 64) and data.train_images.dtype == torch.uint8
    assert data.val_masks.shape == (4, 64, 64) and data.val_masks.dtype == torch.uint8
    assert data.classes == 1 + len(SHAPE_CLASSES) and data.report.class_names[0] == "background"
    images, masks = shapes_segmentation(20, 1, size=64)
    every = torch.cat([data.train_masks, data.val_masks]).sum().item()
    assert every == int(masks.astype(np.int64).sum())  # the same masks, only shuffled
    binary = shapes_mask_dataset(n=20, seed=1, size=64, binary=True)
    assert binary.classes == 2 and int(binary.train_masks.max()) == 1
    assert sum(binary.report.pixel_share.values()) == pytest.approx(1.0)


def test_a_good_archive_loads_with_a_readable_report(dataset_dir, tmp_path):
    data = load_mask_archive(zipped(dataset_dir, tmp_path), name="upload.zip", val_fraction=0.3, seed=2)
    report = data.report
    assert (report.pairs, report.train, report.val) == (10, 7, 3)
    assert report.class_names == ("background", *SHAPE_CLASSES)  # from classes.json
    assert data.train_images.shape == (7, 3, 64, 64)
    text = report.text()
    assert "upload.zip: 10 image/mask pairs at 64x64 px, 7 for training and 3 for validation" in text
    assert "6 classes (mask values 0..5)" in text


def test_the_pixels_survive_the_round_trip(dataset_dir):
    data = read_mask_folder(dataset_dir, val_fraction=0.5, seed=0)
    images, masks = shapes_segmentation(10, 4, size=64)
    stack = lambda imgs: {img.tobytes() for img in imgs}
    loaded = torch.cat([data.train_images, data.val_images]).permute(0, 2, 3, 1).numpy()
    assert stack(loaded) == stack(images)
    assert stack(torch.cat([data.train_masks, data.val_masks]).numpy()) == stack(masks)


def test_resizing_keeps_class_ids(dataset_dir):
    data = read_mask_folder(dataset_dir, size=32)
    assert data.train_images.shape[-2:] == (32, 32)
    assert set(torch.unique(data.train_masks).tolist()) <= set(range(6))
    assert any("resized to 32x32" in note for note in data.report.notes)


def test_every_problem_is_listed_at_once(dataset_dir):
    (dataset_dir / "masks" / "000001.png").unlink()
    save_png(np.zeros((64, 64, 3), np.uint8), dataset_dir / "images" / "extra.png")
    save_png(np.zeros((32, 32), np.uint8), dataset_dir / "masks" / "000002.png")  # wrong size
    save_png(np.full((64, 64), 9, np.uint8), dataset_dir / "masks" / "000003.png")  # no class 9
    save_png(np.zeros((64, 64), np.uint8), dataset_dir / "masks" / "000004.jpg")  # lossy mask
    (dataset_dir / "images" / "000005.png").write_bytes(b"not an image")
    with pytest.raises(InvalidMaskDataset) as caught:
        read_mask_folder(dataset_dir)
    message = str(caught.value)
    for words in ("image 000001.png has no mask", "image extra.png has no mask",
                  "000002: image is 64x64 px but its mask is 32x32 px", "holds values [9]",
                  "000004.jpg is a JPEG", "'000005.png' is not a PNG"):
        assert words in message


def test_a_black_and_white_mask_gets_a_hint(dataset_dir):
    (dataset_dir / "classes.json").unlink()
    mask = np.zeros((64, 64), np.uint8)
    mask[10:20, 10:20] = 255
    save_png(mask, dataset_dir / "masks" / "000000.png")
    with pytest.raises(InvalidMaskDataset, match="0/255 looks like a black-and-white mask"):
        read_mask_folder(dataset_dir, classes=6)


def test_colour_masks_are_refused(dataset_dir):
    colour = np.zeros((64, 64, 3), np.uint8)
    colour[..., 0] = 1
    save_png(colour, dataset_dir / "masks" / "000000.png")
    with pytest.raises(InvalidMaskDataset, match="colour image"):
        read_mask_folder(dataset_dir)


def test_classes_are_inferred_without_classes_json(tmp_path):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index in range(3):
        save_png(np.full((32, 48, 3), 40 * index, np.uint8), root / "images" / f"a{index}.jpg")
        save_png(np.full((32, 48), index, np.uint8), root / "masks" / f"a{index}.png")
    data = read_mask_folder(root, val_fraction=0.34)
    assert data.report.class_names == ("background", "class 1", "class 2")
    assert data.report.image_size == (32, 48)


def test_images_of_several_sizes_need_a_size(tmp_path):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index, side in enumerate((32, 40)):
        save_png(np.zeros((side, side, 3), np.uint8), root / "images" / f"{index}.png")
        save_png(np.zeros((side, side), np.uint8), root / "masks" / f"{index}.png")
    with pytest.raises(InvalidMaskDataset, match="2 sizes"):
        read_mask_folder(root)
    assert read_mask_folder(root, size=32).report.image_size == (32, 32)


def test_an_archive_without_the_layout_explains_it(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photos/a.png", b"x")
    with pytest.raises(InvalidMaskDataset, match="images/<name>.png"):
        load_mask_archive(buffer.getvalue())


def test_unsafe_and_broken_archives_are_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../escape/images/a.png", b"x")
    with pytest.raises(UnsafeArchive):
        load_mask_archive(buffer.getvalue())
    with pytest.raises(BadArchive):
        load_mask_archive(b"this is not a zip")


def test_load_mask_dataset_dispatches_on_its_source(dataset_dir, tmp_path):
    assert load_mask_dataset("shapes", n=10, size=32).report.source == "shapes (seed 0)"
    assert load_mask_dataset(zipped(dataset_dir, tmp_path)).report.source == "upload.zip"
    assert load_mask_dataset(str(dataset_dir)).report.pairs == 10
    with pytest.raises(InvalidInput, match="neither 'shapes'"):
        load_mask_dataset(str(tmp_path / "missing.zip"))
    with pytest.raises(InvalidInput, match="val_fraction"):
        read_mask_folder(dataset_dir, val_fraction=1.5)
    assert json.loads((dataset_dir / "classes.json").read_text())["classes"][0] == "background"


def black_and_white_zip(tmp_path, n: int = 6, side: int = 32, classes_json: dict | None = None) -> str:
    """A zip of photos and 0/255 masks as most tools save one object class; the first mask is all object,
    the second all background."""
    buffer = tmp_path / "bw.zip"
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(buffer, "w") as zf:
        for index in range(n):
            mask = np.zeros((side, side), np.uint8)
            mask[4 + index:20 + index, 6:22] = 255
            mask = np.full_like(mask, 255) if index == 0 else np.zeros_like(mask) if index == 1 else mask
            for folder, array in (("images", rng.integers(0, 255, (side, side, 3), dtype=np.uint8)), ("masks", mask)):
                png = io.BytesIO()
                Image.fromarray(array).save(png, format="PNG")
                zf.writestr(f"bw/{folder}/{index:03d}.png", png.getvalue())
        if classes_json is not None:
            zf.writestr("bw/classes.json", json.dumps(classes_json))
    return str(buffer)


def test_black_and_white_masks_read_as_background_and_object(tmp_path):
    data = load_mask_archive(black_and_white_zip(tmp_path), name="bw.zip", val_fraction=0.34)
    assert data.report.class_names == ("background", "class 1")
    masks = torch.cat([data.train_masks, data.val_masks])
    assert set(torch.unique(masks).tolist()) == {0, 1}
    assert int(masks.sum()) == 32 * 32 + 4 * 16 * 16  # every white pixel became class 1, nothing else did
    assert "Note: the masks are black and white (only 0 and 255)" in data.report.text()
    assert "255 -> class 1" in data.report.text()
    named = load_mask_archive(black_and_white_zip(tmp_path, classes_json={"classes": ["background", "cell"]}))
    assert named.report.class_names == ("background", "cell") and int(named.train_masks.max()) == 1


def test_black_and_white_masks_with_more_classes_declared_still_get_the_hint(tmp_path):
    archive = black_and_white_zip(tmp_path, classes_json={"classes": ["background", "cat", "dog"]})
    with pytest.raises(InvalidMaskDataset, match="holds values \\[255\\].*0/255 looks like a black-and-white"):
        load_mask_archive(archive)


def test_values_above_the_declared_classes_are_still_refused(tmp_path):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "classes.json").write_text(json.dumps({"classes": ["background", "object"]}))
    for index in range(3):
        save_png(np.zeros((32, 32, 3), np.uint8), root / "images" / f"{index}.png")
        save_png(np.full((32, 32), 7 * index, np.uint8), root / "masks" / f"{index}.png")
    with pytest.raises(InvalidMaskDataset, match=r"mask 1 holds values \[7\] but there are 2 classes \(ids 0..1\)"):
        read_mask_folder(root)


def test_class_ids_with_255_ignore_pixels_need_classes_json(tmp_path):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index in range(3):
        save_png(np.zeros((32, 32, 3), np.uint8), root / "images" / f"{index}.png")
        mask = np.full((32, 32), index, np.uint8)
        mask[0] = 255  # a VOC-style 'ignore' border
        save_png(mask, root / "masks" / f"{index}.png")
    with pytest.raises(InvalidMaskDataset, match=r"class ids \[1, 2\] and also 255.*'ignore' pixels"):
        read_mask_folder(root)


def uniform_pairs(root, count: int, size: tuple[int, int], mask_format: str = "PNG") -> None:
    """``count`` pairs of one-colour images and masks: megapixels that compress to a few kB."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index in range(count):
        Image.new("L", size, 120).save(root / "images" / f"{index:03d}.png")
        Image.new("L", size, index % 2).save(root / "masks" / f"{index:03d}.png", format=mask_format)


def test_a_dataset_too_big_for_memory_is_refused_from_its_headers_before_anything_is_decoded(tmp_path, monkeypatch):
    from cvlab.segmentation import mask_files

    uniform_pairs(tmp_path / "big", 6, (4000, 4000))  # 96 Mpx in all, a few kB on disk
    decoded = []
    monkeypatch.setattr(mask_files, "decode_image", lambda *a, **k: decoded.append(a[1]) or 1 / 0)
    with pytest.raises(InvalidMaskDataset, match="6 images of 4000x4000 px do not fit in memory"):
        read_mask_folder(tmp_path / "big")
    assert decoded == []


def test_reading_at_a_small_size_never_holds_the_big_images(tmp_path):
    """Pair after pair, shrunk as they are read: the old path held every pair at full size as RGB first."""
    import tracemalloc

    uniform_pairs(tmp_path / "big", 4, (4000, 3000))  # 12 Mpx each: 48 MB of RGB per image at full size
    tracemalloc.start()
    try:
        data = read_mask_folder(tmp_path / "big", size=32, val_fraction=0.5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.train_images.shape == (2, 3, 32, 32) and int(data.train_images[0, 0, 0, 0]) == 120
    assert set(torch.cat([data.train_masks, data.val_masks]).unique().tolist()) == {0, 1}
    assert peak < 30 * 2**20, f"{peak / 2**20:.0f} MiB traced"


@pytest.mark.parametrize("fmt", ["PCX", "SGI", "EPS", "JPEG", "TGA"])
def test_a_mask_must_be_the_format_its_name_says(tmp_path, fmt):
    """EPS runs Ghostscript, PCX and SGI are decoders nobody needs here, a JPEG blurs class ids."""
    uniform_pairs(tmp_path / "set", 2, (16, 16))
    Image.new("L", (16, 16), 1).save(tmp_path / "set" / "masks" / "001.png", format=fmt)
    with pytest.raises(InvalidMaskDataset, match="'mask 001.png' is not a PNG image"):
        read_mask_folder(tmp_path / "set")


def test_a_preview_reads_a_few_pairs_and_counts_them_all(dataset_dir, monkeypatch):
    from cvlab.segmentation import mask_data, mask_files

    decoded, real = [], mask_files.decode_image
    monkeypatch.setattr(mask_files, "decode_image",
                        lambda data, name, **k: decoded.append(name) or real(data, name, **k))
    assert read_mask_folder(dataset_dir, sample=3).train_images.shape[0] == 8  # small: read and checked whole
    decoded.clear()
    monkeypatch.setattr(mask_data, "PREVIEW_ALL_PIXELS", 64 * 64 * 9)  # as if its files were big
    preview = read_mask_folder(dataset_dir, sample=3, val_fraction=0.2)
    assert len(decoded) == 3 and preview.train_images.shape[0] == 3
    assert (preview.report.pairs, preview.report.train, preview.report.val) == (10, 8, 2)
    assert "3 of the 10 pairs read here to preview" in preview.report.text()


def test_messages_name_the_upload_not_its_hash_folder(tmp_path):
    from cvlab.data.uploads import UploadStore

    class Upload:
        def __init__(self, name, data):
            self.name, self.data, self.size = name, data, len(data)

        def getbuffer(self):
            return memoryview(self.data)

        def getvalue(self):
            return self.data

    png = io.BytesIO()
    Image.new("L", (16, 16)).save(png, format="PNG")
    store = UploadStore()
    folder = store.save_folder([Upload("images/a.png", png.getvalue()), Upload("masks/b.png", png.getvalue())], "ada")
    with pytest.raises(InvalidMaskDataset) as caught:
        load_mask_dataset(str(folder))
    assert str(caught.value).startswith("the uploaded folder has 2 problem(s)") and folder.name not in str(caught.value)
    saved = store.save_file(b"PK\x05\x06" + bytes(18), "my masks.zip", "ada")
    with pytest.raises(InvalidMaskDataset, match="^my masks.zip has|^No images/") as caught:
        load_mask_dataset(str(saved))
    assert saved.parent.name not in str(caught.value)
    saved.unlink()
    with pytest.raises(InvalidInput, match="'my masks.zip' is no longer on the server") as caught:
        load_mask_dataset(str(saved))
