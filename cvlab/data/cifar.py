"""CIFAR-10 (Krizhevsky 2009): a copy in the data folder, else torchvision's download, else a clear refusal.

The copy is read here, not through ``torchvision.datasets.CIFAR10``: torchvision checks
each file's MD5, which refuses the small files tests write, and we want our own
messages for a damaged file. The on-disk format is the "python version" of the
dataset: ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``, each a pickled dict
with ``b"data"`` (N, 3072) uint8 (1,024 red, then green, then blue values, row by
row) and ``b"labels"`` (N ints 0-9), plus ``batches.meta`` with ``b"label_names"``.
The unpickler accepts only the numpy classes those files need, so a file swapped for
a malicious pickle cannot run code.
"""

from __future__ import annotations

import pickle
import socket
from pathlib import Path

import numpy as np

from cvlab.data.arrays import LabelledImages, check_memory, from_arrays, resize_uint8
from cvlab.data.splits import split_limit, stratified_take
from cvlab.errors import CvlabError
from cvlab.settings import Settings, get_settings

FOLDER_NAME = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE, META_FILE = "test_batch", "batches.meta"
HOME_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
DOWNLOAD_HOST = "www.cs.toronto.edu"
PIXELS_PER_IMAGE = 3 * 32 * 32
_NUMPY_GLOBALS = {  # what pickled numpy arrays and scalars refer to, in numpy 1.x and 2.x names
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
     ("numpy._core.numeric", "_frombuffer"),
     ("_codecs", "encode")}  # how protocol-2 pickles written by Python 3 store bytes


class CifarUnavailable(CvlabError):
    """CIFAR-10 is neither on disk nor downloadable; the message says where to put it."""


class CorruptDataset(CvlabError):
    """A dataset file on disk that cannot be read as what it should be."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def cifar_folder(settings: Settings | None = None) -> Path:
    """Where the extracted ``cifar-10-batches-py`` folder is looked for (and downloaded to)."""
    return (settings or get_settings()).data_home / "datasets" / FOLDER_NAME


def _read_pickle(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            content = _NumpyOnlyUnpickler(handle, encoding="bytes").load()
    except Exception as err:  # UnpicklingError, EOFError, ValueError... a damaged or foreign file
        raise CorruptDataset(f"{path} is not a readable CIFAR-10 batch ({type(err).__name__}: {err}). "
                             f"Delete the {FOLDER_NAME} folder and extract a fresh copy from {HOME_PAGE}.") from None
    if not isinstance(content, dict):
        raise CorruptDataset(f"{path} holds a {type(content).__name__}, not CIFAR-10's dict of data and labels. "
                             f"Extract a fresh copy of {FOLDER_NAME} from {HOME_PAGE}.")
    return content


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file as images (N, 3, 32, 32) uint8 and labels (N,) int64, checked."""
    content = _read_pickle(path)
    data, labels = content.get(b"data"), content.get(b"labels")
    fix = f"Extract a fresh copy of {FOLDER_NAME} from {HOME_PAGE}."
    if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2
            or data.shape[1] != PIXELS_PER_IMAGE):
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise CorruptDataset(f"{path}: b'data' should be a uint8 array of shape (N, 3072), found {found}. {fix}")
    try:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise CorruptDataset(f"{path}: b'labels' should be a list of class numbers 0-9. {fix}") from None
    if len(labels) != len(data) or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise CorruptDataset(f"{path}: {len(labels)} labels for {len(data)} images, or labels outside 0-9. {fix}")
    return data.reshape(-1, 3, 32, 32), labels


def read_label_names(folder: Path) -> tuple[str, ...]:
    names = _read_pickle(folder / META_FILE).get(b"label_names")
    if not isinstance(names, (list, tuple)) or len(names) != 10:
        raise CorruptDataset(f"{folder / META_FILE}: b'label_names' should list 10 class names. "
                             f"Extract a fresh copy of {FOLDER_NAME} from {HOME_PAGE}.")
    return tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names)


def _missing(folder: Path) -> list[str]:
    return [name for name in (*TRAIN_FILES, TEST_FILE, META_FILE) if not (folder / name).is_file()]


def _download_reachable(settings: Settings, timeout_s: float = 1.5) -> tuple[bool, str]:
    if settings.offline:
        return False, "offline mode is on"
    try:
        with socket.create_connection((DOWNLOAD_HOST, 443), timeout=timeout_s):
            return True, f"{DOWNLOAD_HOST} is reachable"
    except OSError:
        return False, f"{DOWNLOAD_HOST} cannot be reached"


def ensure_cifar10(settings: Settings | None = None) -> Path:
    """The folder holding CIFAR-10's batches: found on disk, or downloaded by torchvision, or CifarUnavailable."""
    settings = settings or get_settings()
    folder = cifar_folder(settings)
    missing = _missing(folder)
    if not missing:
        return folder
    online, why = _download_reachable(settings)
    if not online:
        where = f"(missing there: {', '.join(missing)})" if folder.is_dir() else "(that folder does not exist)"
        raise CifarUnavailable(
            f"CIFAR-10 is not in {folder} {where} and cannot be downloaded here ({why}). Download "
            f"cifar-10-python.tar.gz from {HOME_PAGE}, extract it, and put its {FOLDER_NAME} folder at {folder} "
            f"(so that {folder / TRAIN_FILES[0]} exists); or go online and try again.")
    from torchvision.datasets import CIFAR10

    folder.parent.mkdir(parents=True, exist_ok=True)
    CIFAR10(root=str(folder.parent), train=True, download=True)  # downloads, checks MD5s, extracts
    return folder


def load_cifar10(image_size: int = 32, *, seed: int = 0, val_fraction: float = 0.2, limit: int | None = None,
                 settings: Settings | None = None) -> LabelledImages:
    """CIFAR-10's 50,000 training images, and its 10,000 test images as the validation set.

    ``limit`` takes a stratified sample: (1 - val_fraction) of it from the training
    batches and val_fraction from the test batch.
    """
    import torch

    folder = ensure_cifar10(settings)
    classes = read_label_names(folder)
    parts = [read_batch(folder / name) for name in TRAIN_FILES]
    train_x, train_y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    val_x, val_y = read_batch(folder / TEST_FILE)
    n_train, n_val = split_limit(limit, val_fraction)
    keep_train, keep_val = stratified_take(train_y, n_train, seed), stratified_take(val_y, n_val, seed)
    check_memory(len(keep_train) + len(keep_val), image_size, "cifar10")
    x = np.concatenate([train_x[keep_train], val_x[keep_val]])
    y = np.concatenate([train_y[keep_train], val_y[keep_val]])
    x = resize_uint8(torch.from_numpy(x), image_size)
    train, val = np.arange(len(keep_train)), np.arange(len(keep_train), len(y))
    note = (f"CIFAR-10 from {folder}: {len(train):,} training images, and {len(val):,} of its test images as the "
            f"validation set" + (f", resized from 32 to {image_size} px" if image_size != 32 else ""))
    return from_arrays("cifar10", classes, x, y, train, val, note)
