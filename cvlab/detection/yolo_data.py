"""Check a YOLO-format detection dataset (a folder, or an uploaded zip) before anyone trains on it.

The layout ultralytics reads::

    data.yaml            path: .   train: images/train   val: images/val   names: [circle, square]
    images/train/a.jpg   labels/train/a.txt   one line per box: "class cx cy w h", all but class in [0, 1]

A label file sits where its image is, with the last ``images`` folder renamed
``labels`` and the extension ``.txt``; an empty label file marks an image with no
objects. Every problem found is reported as one line naming the file (and line),
what is wrong and the rule it breaks, so a student can fix the data rather than
guess from a training crash. A zip goes through ``cvlab.data.archives.safe_extract``
first (no paths outside the folder, no zip bombs).

Every image is checked from its header before ultralytics ever sees it: it must be the
format its name says (OpenCV in the trainer decodes by content, whatever the name) and
within the pixel limit, since the trainer decodes each one whole. ``data.yaml`` is data
the user wrote, and ultralytics acts on some of its keys (``download:`` is fetched or run
as a shell command or as Python): ``trainable_data`` keeps only the keys a dataset needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from cvlab.errors import InvalidInput

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MAX_PROBLEMS = 50  # listed one by one; beyond that only counted
# The data.yaml keys a detection dataset needs; every other key (download, yaml_file, kpt_shape, channels...)
# is dropped before ultralytics reads the file, since some of them make it fetch or run something.
DATA_YAML_KEYS = ("path", "train", "val", "test", "names", "nc")
MAX_DATA_YAML_BYTES = 256 * 1024  # thousands of class names fit; YAML alias bombs do not


class InvalidDataset(InvalidInput):
    """A dataset that cannot be trained on; the message lists the first problems and how to fix them."""


@dataclass(frozen=True)
class SplitReport:
    name: str  # "train" / "val" / "test"
    folder: Path
    images: int
    labelled: int  # images with a label file
    boxes: int
    background: int  # images whose label file is empty: allowed, no objects


@dataclass(frozen=True)
class DatasetReport:
    root: Path
    data_yaml: Path
    names: tuple[str, ...]
    splits: tuple[SplitReport, ...]
    boxes_per_class: tuple[int, ...]  # by class id, over every split
    problems: tuple[str, ...]  # the first MAX_PROBLEMS, one line each
    more_problems: int  # how many more were found but not listed
    source: str = ""  # the dataset as the user knows it ("birds.zip"); "" for the data.yaml's own folder

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        sizes = ", ".join(f"{s.name}: {s.images} images, {s.boxes} boxes" for s in self.splits)
        head = f"{len(self.names)} classes ({', '.join(self.names)}); {sizes}."
        if self.ok:
            return f"Valid YOLO dataset: {head}"
        extra = f"\n… and {self.more_problems} more" if self.more_problems else ""
        where = self.source or self.data_yaml.parent.name
        return f"{len(self.problems) + self.more_problems} problem(s) in {where}: {head}\n" \
               + "\n".join(self.problems) + extra


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.more = 0

    def add(self, line: str) -> None:
        if len(self.lines) < MAX_PROBLEMS:
            self.lines.append(line)
        else:
            self.more += 1


def _read_data_yaml(data_yaml: Path) -> dict:
    import yaml

    if not data_yaml.is_file():
        raise InvalidDataset(f"No {data_yaml.name} in {data_yaml.parent.name}. A YOLO dataset needs a data.yaml "
                             "with `train`, `val` and `names` (see python -m cvlab data shapes --task detect).")
    if data_yaml.stat().st_size > MAX_DATA_YAML_BYTES:
        raise InvalidDataset(f"{data_yaml.name} is {data_yaml.stat().st_size:,} bytes; a data.yaml is a few lines "
                             f"(at most {MAX_DATA_YAML_BYTES:,} bytes). Keep `path`, `train`, `val` and `names`.")
    try:
        data = yaml.safe_load(data_yaml.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InvalidDataset(f"{data_yaml.name} is not valid YAML ({err}).") from None
    if not isinstance(data, dict):
        raise InvalidDataset(f"{data_yaml.name} must be a mapping with `train`, `val` and `names`.")
    missing = [key for key in ("train", "val", "names") if key not in data]
    if missing:
        raise InvalidDataset(f"{data_yaml.name} lacks {', '.join(missing)}: it needs `train` and `val` (image "
                             "folders) and `names` (the class names).")
    return data


def class_names(data: dict) -> tuple[str, ...]:
    """``names`` as a list or as {id: name}; ids must run 0..n-1 and agree with ``nc`` when given."""
    names = data["names"]
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise InvalidDataset(f"`names` ids must be 0..{len(names) - 1} without gaps; got {sorted(names)}.")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names:
        raise InvalidDataset("`names` must be a non-empty list of class names (or a mapping 0: name, 1: ...).")
    from cvlab.detection.stored import MAX_CLASSES, MAX_CLASS_NAME

    if len(names) > MAX_CLASSES or any(len(str(n)) > MAX_CLASS_NAME for n in names):
        raise InvalidDataset(f"`names` lists {len(names):,} classes; a detector here may have up to {MAX_CLASSES} "
                             f"with names of up to {MAX_CLASS_NAME} characters (a model with more could be "
                             "trained but never loaded again).")
    if "nc" in data and data["nc"] != len(names):
        raise InvalidDataset(f"`nc` says {data['nc']} classes but `names` lists {len(names)}; make them agree.")
    return tuple(str(n) for n in names)


def _split_folder(root: Path, value, split: str) -> Path:
    if not isinstance(value, str):
        raise InvalidDataset(f"`{split}` must be one folder of images relative to the dataset, got {value!r}.")
    folder = (root / value).resolve()
    if not folder.is_relative_to(root.resolve()):
        raise InvalidDataset(f"`{split}: {value}` points outside the dataset folder; use a relative folder "
                             "such as images/train.")
    if not folder.is_dir():
        raise InvalidDataset(f"`{split}: {value}` is not a folder in the dataset (there is no {value}/ beside "
                             "data.yaml).")
    return folder


def label_path(image: Path) -> Path:
    """Where ultralytics looks for an image's labels: the last ``images`` folder renamed ``labels``."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _check_label_line(line: str, where: str, n_classes: int, problems: _Problems) -> int | None:
    """The class id of one valid "class cx cy w h" line; None (and a problem) otherwise."""
    fields = line.split()
    if len(fields) != 5:
        problems.add(f"{where}: {len(fields)} numbers; a box line has exactly 5 (class cx cy w h).")
        return None
    try:
        cls, values = float(fields[0]), [float(v) for v in fields[1:]]
    except ValueError:
        problems.add(f"{where}: '{line.strip()[:40]}' is not five numbers.")
        return None
    if not 0 <= cls < n_classes or cls != int(cls):  # the range first: int() of nan or inf raises
        problems.add(f"{where}: class {fields[0]} is not a class id 0..{n_classes - 1} of data.yaml's names.")
        return None
    if not all(0.0 <= v <= 1.0 for v in values):  # nan fails every comparison, so it lands here too
        what = "is not all numbers (nan or inf)" if not all(math.isfinite(v) for v in values) else "leaves [0, 1]"
        problems.add(f"{where}: box {' '.join(fields[1:])} {what}; coordinates are fractions of the "
                     "image width and height.")
        return None
    if values[2] <= 0 or values[3] <= 0:
        problems.add(f"{where}: box width and height must be above 0.")
        return None
    return int(cls)


def _image_problem(image: Path, max_pixels: int) -> str:
    """Why the trainer should not decode this file ("" when it may), from its header and Pillow's structural
    check, never a full decode: OpenCV in the trainer decodes whatever format the bytes are, and all of it."""
    from PIL import Image

    from cvlab.data.image_decoding import ALLOWED_FORMATS, MAX_IMAGE_BYTES, SUFFIX_FORMATS

    formats = SUFFIX_FORMATS[image.suffix.lower()]
    if image.stat().st_size > MAX_IMAGE_BYTES:
        return f"larger than {MAX_IMAGE_BYTES // 2**20} MB; save a smaller copy."
    try:
        with Image.open(image, formats=formats) as handle:
            width, height = handle.size
            handle.verify()  # header and structure, without decoding every pixel
    except Image.DecompressionBombError:
        return f"claims more pixels than the limit of {max_pixels:,}; shrink it."
    except Exception:  # noqa: BLE001 - any failure means the file is not a usable image
        try:
            with Image.open(image, formats=ALLOWED_FORMATS) as other:
                return f"not a readable image: a {other.format} file named {image.suffix}; save it as {formats[0]}."
        except Exception:  # noqa: BLE001 - neither the named format nor another allowed one
            return "not a readable image."
    if width * height > max_pixels:
        return (f"{width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,} "
                "(CVLAB_MAX_IMAGE_PIXELS). Shrink it.")
    return ""


def _check_split(name: str, folder: Path, root: Path, n_classes: int, counts: list[int],
                 problems: _Problems) -> SplitReport:
    from cvlab.settings import get_settings

    settings = get_settings()
    images = sorted(p for p in folder.rglob("*")
                    if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.is_symlink())
    if not images:
        problems.add(f"{folder.relative_to(root)}: no images ({', '.join(IMAGE_SUFFIXES)}).")
    labelled = boxes = background = 0
    for image in images:
        shown = image.relative_to(root)
        reason = _image_problem(image, settings.max_image_pixels)
        if reason:
            problems.add(f"{shown}: {reason}")
        labels = label_path(image)
        if not labels.is_file():
            problems.add(f"{shown}: no label file {labels.relative_to(root)} (an image without objects needs "
                         "an empty .txt).")
            continue
        labelled += 1
        lines = [line for line in labels.read_text(errors="replace").splitlines() if line.strip()]
        background += not lines
        for number, line in enumerate(lines, 1):
            cls = _check_label_line(line, f"{labels.relative_to(root)}:{number}", n_classes, problems)
            if cls is not None:
                counts[cls] += 1
                boxes += 1
    return SplitReport(name, folder, len(images), labelled, boxes, background)


def _orphan_labels(root: Path, image_folders: list[Path], problems: _Problems) -> None:
    images = {label_path(p) for folder in image_folders for p in folder.rglob("*")
              if p.suffix.lower() in IMAGE_SUFFIXES}
    for folder in image_folders:
        labels = label_path(folder / "x.png").parent
        for label in sorted(labels.rglob("*.txt")) if labels.is_dir() else []:
            if label not in images:
                problems.add(f"{label.relative_to(root)}: a label file with no image of the same name.")


def trainable_data(data: dict, root: Path) -> dict:
    """The data.yaml ultralytics may read: only DATA_YAML_KEYS, with ``path`` the dataset's absolute folder.

    ``download`` above all: ultralytics fetches a URL there, runs a ``bash ...`` value as a shell
    command and any other value as Python, when a split folder is missing.
    """
    kept = {key: data[key] for key in DATA_YAML_KEYS if key in data}
    kept["path"] = str(Path(root).resolve())
    kept.setdefault("val", kept.get("train"))
    return kept


def validate_yolo_dataset(data_yaml: Path, *, source: str = "") -> DatasetReport:
    """Check a dataset folder through its data.yaml; the report lists every problem (none when valid).

    ``source`` names the dataset in the summary as the user knows it (an upload's file name).
    """
    data_yaml = Path(data_yaml)
    data = _read_data_yaml(data_yaml)
    names = class_names(data)
    base = data_yaml.parent.resolve()
    root = (base / str(data.get("path") or ".")).resolve()
    if not root.is_relative_to(base):
        raise InvalidDataset(f"`path: {data.get('path')}` points outside the dataset folder; use `path: .`.")
    problems, counts, splits = _Problems(), [0] * len(names), []
    folders = {split: _split_folder(root, data[split], split) for split in ("train", "val", "test") if data.get(split)}
    for split, folder in folders.items():
        if split != "val" or folder != folders.get("train"):
            splits.append(_check_split(split, folder, root, len(names), counts, problems))
    _orphan_labels(root, list(dict.fromkeys(folders.values())), problems)
    return DatasetReport(root, data_yaml, names, tuple(splits), tuple(counts), tuple(problems.lines), problems.more,
                         source)


def find_data_yaml(folder: Path) -> Path:
    """data.yaml at the top of an unpacked archive, or one folder down (zips often hold the folder itself)."""
    found = [p for p in (folder / "data.yaml", *sorted(folder.glob("*/data.yaml"))) if p.is_file()]
    if len(found) != 1:
        where = "none" if not found else ", ".join(str(p.relative_to(folder)) for p in found)
        raise InvalidDataset(f"Expected one data.yaml at the top of the archive (or one folder down); found {where}.")
    return found[0]


def validate_yolo_archive(archive, dest: Path, *, source: str = "") -> DatasetReport:
    """Unpack a zip (path, bytes or file object) safely into ``dest``, then validate it; an uploaded zip is
    named in the report as the user named it."""
    from cvlab.data.archives import safe_extract
    from cvlab.data.uploads import display_name, mark_used

    if isinstance(archive, (str, Path)):
        source = source or display_name(archive)
        mark_used(archive)  # a run reading an upload keeps it from being the next one dropped
    safe_extract(archive, dest)
    return validate_yolo_dataset(find_data_yaml(Path(dest)), source=source)


def require_valid(report: DatasetReport) -> DatasetReport:
    """The report, or InvalidDataset listing its problems."""
    if not report.ok:
        raise InvalidDataset(report.summary())
    return report
