"""Your own classification dataset in ImageFolder layout: check it, report what is wrong, load it.

The layout is torchvision's ImageFolder: one folder per class, images inside (sub-folders
allowed), optionally split into ``train/`` and ``val/``. An archive whose content sits in
one top-level folder is stepped into. Files that are not images, are damaged, or break
the decoding limits are listed with the reason and skipped; they never stop the rest.
Every image goes through ``decode_image``, so the limits are the same as for uploads.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from cvlab.data.image_decoding import MAX_IMAGE_BYTES, UPLOAD_TYPES, BadImage, decode_image
from cvlab.errors import InvalidInput
from cvlab.settings import Settings, get_settings

IMAGE_SUFFIXES = frozenset(f".{ext}" for ext in UPLOAD_TYPES)
VAL_FOLDER_NAMES = ("val", "valid", "validation", "test")  # any of these next to train/ makes a fixed split
SAMPLES_PER_CLASS = 3
LAYOUT_HELP = ("Expected layout: dataset/<class name>/<image files>, for example dataset/cats/001.jpg and "
               "dataset/dogs/001.jpg (at least two classes); or with a fixed split, dataset/train/<class name>/... "
               "and dataset/val/<class name>/...")


class FolderLayoutError(InvalidInput):
    """A folder that is not in ImageFolder layout; the message shows the expected one."""


@dataclass(frozen=True)
class FolderReport:
    """What a dataset folder holds, and what in it cannot be used."""

    root: Path  # the folder holding the classes (or train/ and val/), after stepping into a wrapper
    classes: tuple[str, ...]  # sorted class folder names, as torchvision's ImageFolder sorts them
    counts: dict[str, int]  # usable images per class, all parts together
    split: dict[str, dict[str, int]] | None  # {"train": {cls: n}, "val": {cls: n}} for a train/ + val/ layout
    bad_files: list[tuple[str, str]] = field(default_factory=list)  # (path relative to root, why it is skipped)
    samples: dict[str, list[str]] = field(default_factory=dict)  # a few relative paths per class
    wrapper: str = ""  # the top-level folder stepped into ("" if none)

    @property
    def images(self) -> int:
        return sum(self.counts.values())


@dataclass
class _Layout:
    root: Path
    wrapper: str
    parts: dict[str, dict[str, list[Path]]]  # "all" (no split) or "train"/"val" -> class -> image files
    bad: list[tuple[str, str]]  # files set aside before decoding
    shown: str = ""  # the folder as the user knows it ("pets.zip", not the server's hash folder)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted({name for part in self.parts.values() for name in part}))


def _visible(folder: Path) -> list[Path]:
    """Children that are data: no dotfiles, no macOS __MACOSX folders, no symlinks; sorted by name."""
    return sorted(c for c in folder.iterdir()
                  if not c.name.startswith(".") and c.name != "__MACOSX" and not c.is_symlink())


def _unwrap(root: Path) -> tuple[Path, str]:
    """Step into a lone top-level folder (``pets.zip`` holding ``pets/cats``, ``pets/dogs``)."""
    wrapper = []
    for _ in range(3):
        children = _visible(root)
        dirs = [c for c in children if c.is_dir()]
        has_images = any(c.suffix.lower() in IMAGE_SUFFIXES for c in children if c.is_file())
        if len(dirs) != 1 or has_images or not any(c.is_dir() for c in _visible(dirs[0])):
            break
        root = dirs[0]
        wrapper.append(root.name)
    return root, "/".join(wrapper)


def _class_files(class_dir: Path, root: Path, bad: list[tuple[str, str]]) -> list[Path]:
    """Image files under a class folder, sub-folders included; other files go to ``bad``."""
    found = []
    for folder, dirs, files in os.walk(class_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(files):
            path = Path(folder) / name
            if name.startswith(".") or path.is_symlink():
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                bad.append((str(path.relative_to(root)), f"not an image file ({path.suffix or 'no extension'})"))
            elif path.stat().st_size > MAX_IMAGE_BYTES:
                bad.append((str(path.relative_to(root)), f"larger than {MAX_IMAGE_BYTES // 2**20} MB"))
            else:
                found.append(path)
    return found


def _classes_in(folder: Path, root: Path, bad: list[tuple[str, str]]) -> dict[str, list[Path]]:
    classes = {}
    for child in _visible(folder):
        if child.is_dir():
            classes[child.name] = _class_files(child, root, bad)
        else:
            bad.append((str(child.relative_to(root)), "not inside a class folder"))
    return classes


def _collect(root: Path, shown: str | None = None) -> _Layout:
    root = Path(root)
    if not root.is_dir():
        raise FolderLayoutError(f"'{shown or root.name}' is not a folder. {LAYOUT_HELP}")
    root, wrapper = _unwrap(root)
    bad: list[tuple[str, str]] = []
    by_name = {c.name.lower(): c for c in _visible(root) if c.is_dir()}
    val_name = next((n for n in VAL_FOLDER_NAMES if n in by_name), None)
    if "train" in by_name and val_name:
        parts = {"train": _classes_in(by_name["train"], root, bad), "val": _classes_in(by_name[val_name], root, bad)}
        for extra in sorted(set(parts["val"]) - set(parts["train"])):
            bad += [(str(p.relative_to(root)), f"class '{extra}' has no train/ folder")
                    for p in parts["val"].pop(extra)]
    else:
        parts = {"all": _classes_in(root, root, bad)}
    layout = _Layout(root, wrapper, parts, bad, shown or root.name)
    _check_classes(layout, {name: sum(len(p.get(name, [])) for p in parts.values()) for name in layout.classes})
    return layout


def _check_classes(layout: _Layout, counts: dict[str, int]) -> None:
    """At least two classes that hold images, or a FolderLayoutError showing the layout."""
    usable = [name for name, n in counts.items() if n > 0]
    if len(usable) >= 2:
        return
    where = f"'{layout.shown}'" + (f" (inside '{layout.wrapper}')" if layout.wrapper else "")
    if not counts:
        found = "no class folders"
    else:
        found = ", ".join(f"'{name}' with {n} usable image{'s' * (n != 1)}" for name, n in counts.items())
    raise FolderLayoutError(f"{where} has {found}; a classifier needs at least two classes with images. {LAYOUT_HELP}")


def _decode(path: Path, root: Path, settings: Settings, size: int | None = None) -> np.ndarray | str:
    """(H, W, 3) uint8 pixels, or the reason the file is skipped. ``size`` (px): the square it will be
    resized to, so a big photo is decoded and reduced no larger than it needs to be."""
    relative = str(path.relative_to(root))
    try:
        return decode_image(path.read_bytes(), relative, settings=settings,
                            draft=(size, size) if size else None).pixels
    except BadImage as err:  # keep the diagnosis, drop the upload advice that follows it
        reason = str(err).replace(f"'{relative}' ", "", 1)
        return re.split(r"\. (?=[A-Z])", reason, maxsplit=1)[0].rstrip(".")
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"


def scan_image_folder(root: Path, *, settings: Settings | None = None, shown: str | None = None) -> FolderReport:
    """Check a dataset folder: classes, images per class (and per part), bad files, a few samples.

    Every image is decoded once, so damaged files are found here rather than in a training run.
    """
    settings = settings or get_settings()
    layout = _collect(Path(root), shown)
    bad = list(layout.bad)
    usable: dict[str, dict[str, list[Path]]] = {}
    for part, classes in layout.parts.items():
        usable[part] = {}
        for name, files in classes.items():
            good = []
            for path in files:
                result = _decode(path, layout.root, settings)
                (good.append(path) if isinstance(result, np.ndarray)
                 else bad.append((str(path.relative_to(layout.root)), result)))
            usable[part][name] = good
    counts = {name: sum(len(p.get(name, [])) for p in usable.values()) for name in layout.classes}
    _check_classes(layout, counts)
    split = None if "all" in usable else {p: {n: len(usable[p].get(n, [])) for n in layout.classes} for p in usable}
    samples = {name: [str(p.relative_to(layout.root)) for part in usable.values()
                      for p in part.get(name, [])][:SAMPLES_PER_CLASS] for name in layout.classes}
    return FolderReport(layout.root, layout.classes, counts, split, bad, samples, layout.wrapper)


def square_resize(pixels: np.ndarray, image_size: int) -> np.ndarray:
    """Centre-crop to a square, then resize to (image_size, image_size, 3) uint8.

    Cropping keeps shapes undistorted; what is lost is the edge of the longer side,
    as with torchvision's ``Resize`` + ``CenterCrop`` evaluation transform.
    """
    height, width = pixels.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(pixels[top:top + side, left:left + side])
    return np.asarray(square.resize((image_size, image_size), Image.Resampling.LANCZOS, reducing_gap=2.0))


def _choose(layout: _Layout, val_fraction: float, limit: int | None, seed: int) -> list[tuple[str, Path, int]]:
    """(part, file, class index) of the images to load: all of them, or a stratified ``limit``."""
    from cvlab.data.splits import split_limit, stratified_take

    index = {name: i for i, name in enumerate(layout.classes)}
    if "all" in layout.parts:
        limits = {"all": limit}
    else:
        limits = dict(zip(("train", "val"), split_limit(limit, val_fraction)))
    chosen = []
    for part, classes in layout.parts.items():
        entries = [(part, path, index[name]) for name, files in classes.items() for path in files]
        keep = stratified_take(np.array([e[2] for e in entries], np.int64), limits[part], seed)
        chosen += [entries[i] for i in keep]
    return chosen


def load_image_folder(root: Path, image_size: int = 64, *, seed: int = 0, val_fraction: float = 0.2,
                      limit: int | None = None, settings: Settings | None = None, name: str | None = None):
    """The folder as a LabelledImages: centre-cropped squares of ``image_size`` px, bad files skipped.

    The split is the folder's own train/ and val/ when it has them, else stratified by ``seed``.
    """
    from cvlab.data.arrays import check_memory, from_arrays, nhwc_to_tensor
    from cvlab.data.splits import check_val_fraction, stratified_split

    check_val_fraction(val_fraction)
    settings = settings or get_settings()
    layout = _collect(Path(root), name)
    name = name or (layout.wrapper.split("/")[0] if layout.wrapper else Path(root).name)
    chosen = _choose(layout, val_fraction, limit, seed)
    check_memory(len(chosen), image_size, name)
    images, labels, parts, bad = [], [], [], list(layout.bad)
    for part, path, label in chosen:
        result = _decode(path, layout.root, settings, image_size)
        if isinstance(result, str):
            bad.append((str(path.relative_to(layout.root)), result))
            continue
        images.append(square_resize(result, image_size))
        labels.append(label)
        parts.append(part)
    counts = {cls: labels.count(i) for i, cls in enumerate(layout.classes)}
    _check_classes(layout, counts)
    classes = tuple(cls for cls in layout.classes if counts[cls])  # a class left with no image is dropped
    relabel = {layout.classes.index(cls): i for i, cls in enumerate(classes)}
    y = np.array([relabel[label] for label in labels], np.int64)
    if "all" in layout.parts:
        train, val = stratified_split(y, val_fraction, seed)
    else:
        is_train = np.array([part == "train" for part in parts])
        train, val = np.flatnonzero(is_train), np.flatnonzero(~is_train)
    x = nhwc_to_tensor(np.stack(images))
    return from_arrays(name, classes, x, y, train, val, _note(layout, len(y), classes, image_size, bad))


def _note(layout: _Layout, n: int, classes: tuple[str, ...], image_size: int, bad: list[tuple[str, str]]) -> str:
    split = "its own train/ and val/ split" if "all" not in layout.parts else "a stratified split"
    note = (f"{n:,} images of {len(classes)} classes from '{layout.shown}', centre-cropped and resized to "
            f"{image_size} px, {split}.")
    dropped = sorted(set(layout.classes) - set(classes))
    if dropped:
        note += f" Classes without a usable image left out: {', '.join(dropped)}."
    if bad:
        shown = "; ".join(f"{path} ({why})" for path, why in bad[:3])
        note += f" Skipped {len(bad)} file{'s' * (len(bad) != 1)}: {shown}" + (" ..." if len(bad) > 3 else ".")
    return note
