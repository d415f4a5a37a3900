"""load_dataset: built-in datasets, CIFAR-10 from files in its real format, folders and zips, and the limits."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from cvlab.data.cifar import CifarUnavailable, CorruptDataset, cifar_folder
from cvlab.data.datasets import DATASETS, MAX_DATASET_BYTES, DatasetTooLarge, LabelledImages, load_dataset
from cvlab.errors import InvalidInput, UnknownName
from cvlab.settings import get_settings

CIFAR_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def write_cifar(folder, per_batch=20, seed=0):
    """CIFAR-10's python version on disk: pickled dicts of b"data" (N, 3072) uint8 and b"labels"."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [i % 10 for i in range(per_batch)]
        record = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                  b"filenames": [f"{i}.png".encode() for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(record, protocol=2))
        batches[name] = (data, labels)
    meta = {b"num_cases_per_batch": per_batch, b"label_names": CIFAR_NAMES, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return batches


def check_tensors(data: LabelledImages, size: int):
    for x, y in ((data.train_x, data.train_y), (data.val_x, data.val_y)):
        assert x.dtype == torch.uint8 and y.dtype == torch.int64
        assert x.ndim == 4 and tuple(x.shape[1:]) == (3, size, size) and len(x) == len(y)
        assert x.is_contiguous()


def test_registry_lists_the_built_in_datasets_with_sizes():
    assert DATASETS.names() == ["shapes", "digits", "cifar10"]
    assert all(info.default_image_size == 32 and info.description for _, info in DATASETS.items())


def test_shapes_dataset_is_deterministic_and_stratified():
    a = load_dataset("shapes", limit=200, seed=3)
    b = load_dataset("shapes", limit=200, seed=3)
    check_tensors(a, 32)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.val_y, b.val_y)
    assert a.counts()["val"] == dict.fromkeys(a.class_names, 8)  # 20 % of 40 per class
    assert not torch.equal(load_dataset("shapes", limit=200, seed=4).train_x, a.train_x)
    assert "seed 3" in a.note


def test_shapes_at_another_size():
    check_tensors(load_dataset("shapes", limit=20, image_size=48), 48)


def test_digits_are_all_1797_scans_split_by_class():
    data = load_dataset("digits", seed=0)
    check_tensors(data, 32)
    assert len(data.train_y) + len(data.val_y) == 1797
    assert len(data.val_y) == sum(round(n * 0.2) for n in np.bincount(data.train_y.numpy().tolist()
                                                                          + data.val_y.numpy().tolist()))
    assert data.class_names == tuple("0123456789")
    assert torch.equal(data.train_x[:, 0], data.train_x[:, 2])  # grey copied to three channels
    assert data.train_x.max() > 200 and data.train_x.min() == 0
    other = load_dataset("digits", seed=1)
    assert not torch.equal(other.val_y, data.val_y) or not torch.equal(other.val_x, data.val_x)


def test_digits_at_16_px_with_a_limit():
    data = load_dataset("digits", image_size=16, limit=100, val_fraction=0.3)
    check_tensors(data, 16)
    assert len(data.train_y) + len(data.val_y) == 100
    assert set(data.train_y.tolist()) == set(range(10)) and set(data.val_y.tolist()) == set(range(10))


def test_cifar10_is_read_from_its_real_on_disk_format():
    batches = write_cifar(cifar_folder(get_settings()))
    data = load_dataset("cifar10")
    check_tensors(data, 32)
    assert data.class_names[0] == "airplane" and data.class_names[-1] == "truck"
    assert len(data.train_y) == 100 and len(data.val_y) == 20  # five batches; the test batch validates
    test_data, test_labels = batches["test_batch"]
    first = test_data[0].reshape(3, 32, 32)  # 1,024 red, then green, then blue values, row by row
    assert torch.equal(data.val_x[0], torch.from_numpy(first))
    assert data.val_y.tolist() == test_labels


def test_cifar10_limit_and_resize():
    write_cifar(cifar_folder(get_settings()))
    data = load_dataset("cifar10", limit=50, image_size=16)
    check_tensors(data, 16)
    assert (len(data.train_y), len(data.val_y)) == (40, 10)
    assert sorted(data.counts()["train"].values()) == [4] * 10


def test_cifar10_missing_says_where_to_put_it():
    with pytest.raises(CifarUnavailable) as caught:
        load_dataset("cifar10")
    message = str(caught.value)
    assert str(cifar_folder(get_settings())) in message and "cifar-10-batches-py" in message
    assert "offline" in message


def test_cifar10_with_a_damaged_batch_is_a_clear_error():
    folder = cifar_folder(get_settings())
    write_cifar(folder)
    (folder / "data_batch_3").write_bytes(b"\x80\x02}q\x00(")  # a pickle cut short
    with pytest.raises(CorruptDataset, match="data_batch_3.*fresh copy"):
        load_dataset("cifar10")


def test_cifar10_with_wrong_shapes_is_a_clear_error():
    folder = cifar_folder(get_settings())
    write_cifar(folder)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((3, 100), np.uint8), b"labels": [0, 1, 2]}))
    with pytest.raises(CorruptDataset, match=r"shape \(N, 3072\)"):
        load_dataset("cifar10")


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_cifar10_file_that_would_run_code_is_refused_without_running_it(tmp_path):
    folder = cifar_folder(get_settings())
    write_cifar(folder)
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": _Payload(str(tmp_path / "pwned"))}))
    with pytest.raises(CorruptDataset, match="refused"):
        load_dataset("cifar10")
    assert not (tmp_path / "pwned").exists()


def test_too_large_a_dataset_is_refused_with_sizes_that_fit():
    with pytest.raises(DatasetTooLarge, match="Lower the image size") as caught:
        load_dataset("shapes", image_size=1024, limit=1000)
    assert f"{MAX_DATASET_BYTES / 2**30:.0f} GiB" in str(caught.value)


def png(colour):
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_zip_is_unpacked_once_under_the_data_home(tmp_path):
    archive = tmp_path / "pets.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for cls, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
            for i in range(5):
                z.writestr(f"pets/{cls}/{i}.png", png(colour))
    data = load_dataset(str(archive), image_size=8)
    check_tensors(data, 8)
    assert data.name == "pets" and data.class_names == ("cats", "dogs")
    unpacked = [p for p in (get_settings().data_home / "datasets" / "archives").iterdir() if not p.name.startswith(".")]
    assert len(unpacked) == 1 and (unpacked[0] / "pets" / "cats" / "0.png").is_file()
    load_dataset(str(archive), image_size=8)
    archives = get_settings().data_home / "datasets" / "archives"
    assert [p for p in archives.iterdir() if not p.name.startswith(".")] == unpacked


def test_a_folder_defaults_to_64_px(tmp_path):
    for cls, colour in (("a", (0, 0, 0)), ("b", (255, 255, 255))):
        (tmp_path / "set" / cls).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "set" / cls / f"{i}.png").write_bytes(png(colour))
    check_tensors(load_dataset(str(tmp_path / "set")), 64)


@pytest.mark.parametrize("source, error, message", [
    ("mnist", UnknownName, "shapes, digits, cifar10"),
    ("shapes", InvalidInput, "val_fraction"),
])
def test_unknown_sources_and_bad_options_are_refused(source, error, message):
    with pytest.raises(error, match=message):
        load_dataset(source, val_fraction=1.5 if source == "shapes" else 0.2)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(InvalidInput, match="neither a folder nor a .zip"):
        load_dataset(str(tmp_path / "data.csv"))


@pytest.mark.parametrize("options", [{"limit": 0}, {"image_size": 4}, {"seed": -1}])
def test_out_of_range_options_are_refused(options):
    with pytest.raises(InvalidInput):
        load_dataset("shapes", **options)


def test_a_page_preview_is_drawn_small_but_counted_and_checked_at_full_size():
    from cvlab.data.datasets import PREVIEW_SIZE, DatasetTooLarge, preview_dataset

    preview = preview_dataset("shapes", image_size=256, limit=50, seed=3)
    full = load_dataset("shapes", image_size=256, limit=50, seed=3)
    assert preview.tiles.shape == (8, 3, PREVIEW_SIZE, PREVIEW_SIZE) and preview.image_size == 256
    assert preview.nbytes == 50 * 3 * 256 * 256 == full.train_x.nbytes + full.val_x.nbytes
    assert torch.equal(preview.train_labels, full.train_y) and torch.equal(preview.val_labels, full.val_y)
    assert preview.counts() == full.counts() and "50 synthetic shapes drawn with seed 3 at 256 px" in preview.note
    digits = preview_dataset("digits")
    assert digits.shown_size == digits.tiles.shape[-1] == 32  # small sets are shown as they are
    with pytest.raises(DatasetTooLarge, match="2,800 images at 512×512 px need 2.1 GiB"):
        preview_dataset("shapes", image_size=512, limit=2800)


def test_messages_about_an_upload_name_the_zip_not_the_servers_hash_folder(tmp_path):
    from cvlab.data.image_folder import FolderLayoutError
    from cvlab.data.uploads import UploadStore

    with zipfile.ZipFile(tmp_path / "pets.zip", "w") as z:
        z.writestr("cats/0.png", png((255, 0, 0)))  # one class: not enough
    saved = UploadStore().save_file((tmp_path / "pets.zip").read_bytes(), "pets.zip", "browser:ada")
    with pytest.raises(FolderLayoutError) as caught:
        load_dataset(str(saved), image_size=8)
    assert str(caught.value).startswith("'pets' has 'cats' with 1 usable image")
    legacy = get_settings().data_home / "uploads" / ("3fa2c9" + "0" * 10)  # a folder upload kept before the index
    (legacy / "cats").mkdir(parents=True)
    (legacy / "cats" / "0.png").write_bytes(png((0, 255, 0)))
    with pytest.raises(FolderLayoutError) as caught:
        load_dataset(str(legacy), image_size=8)
    assert "3fa2c9" not in str(caught.value) and str(caught.value).startswith("'your upload' has")


@pytest.mark.parametrize("source", ["shapes", "digits"])
def test_a_preview_shows_the_runs_own_training_images_every_class_in_turn(source):
    """The shapes preview draws only the images it shows: they must be the very pixels the run will train on."""
    from cvlab.data.splits import preview_indices
    from cvlab.data.datasets import PREVIEW_SIZE, preview_dataset

    preview = preview_dataset(source, seed=11, val_fraction=0.3, limit=200)
    full = load_dataset(source, image_size=preview.shown_size, seed=11, val_fraction=0.3, limit=200)
    picked = torch.tensor(preview_indices(full.train_y, 8))
    assert torch.equal(preview.tiles, full.train_x[picked]) and torch.equal(preview.tile_labels, full.train_y[picked])
    assert len(set(preview.tile_labels.tolist())) == len(full.class_names[:8]) and preview.shown_size <= PREVIEW_SIZE
