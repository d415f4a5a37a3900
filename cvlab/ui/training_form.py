"""The Training page's new-run form: every TrainConfig field as a widget bound to the address bar.

A copied address therefore reproduces the exact configuration; the learning-rate
curve under the form is drawn by the very scheduler the run will use.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import streamlit as st

from cvlab.data.splits import val_count
from cvlab.errors import InvalidInput
from cvlab.settings import get_settings
from cvlab.training.config import TrainConfig
from cvlab.training.runs import child_path
from cvlab.training.optimizers import OPTIMIZERS
from cvlab.training.schedulers import SCHEDULERS
from cvlab.training.tasks import task_spec
from cvlab.ui import cached_figure, projector_on, report_errors, show_figure
from cvlab.ui.bounded_cache import BytesBoundedCache
from cvlab.viz import training as viz

BIND = "query-params"
UPLOAD, FOLDER = "upload", "folder"
DEFAULT = TrainConfig()

# The lab's exercises: one click queues the runs to compare (changes against the form's settings).
EXERCISES = {
    "VGG-like vs residual": [{"model": "lecture-vgg"}, {"model": "lecture-residual"}],
    "SGD vs Adam vs AdamW": [{"optimizer": "sgd", "lr": 0.05}, {"optimizer": "adam", "lr": 0.002},
                             {"optimizer": "adamw", "lr": 0.002, "weight_decay": 0.05}],
    "Step vs cosine vs OneCycle": [{"scheduler": "step"}, {"scheduler": "cosine"}, {"scheduler": "onecycle"}],
}
FINE_TUNE = {"model": "efficientnet_b0", "pretrained": True, "backbone_lr_scale": 0.1, "optimizer": "adamw",
             "lr": 0.001, "weight_decay": 0.01, "scheduler": "warmup_cosine", "image_size": 64}


# Datasets the form shows, weighed in bytes (Settings.page_cache_bytes for all sessions together), not counted
# in entries: eight cached datasets of 2 GiB each would be 16 GiB of the page server. What is cached is a
# preview at most PREVIEW_SIZE px (classification) or a few decoded pairs of a big mask set: the worker builds
# and checks the full dataset when the run starts.
PAGE_DATASETS = BytesBoundedCache(lambda: get_settings().page_cache_bytes)
PREVIEW_PAIRS = 6  # mask pairs a page decodes of a set too big to check whole in the page


def preview_key(config: TrainConfig) -> tuple:
    """What a classification preview depends on: its key in the page cache."""
    return ("classify", config.data, config.image_size, config.seed, config.val_fraction, config.limit)


def cached_dataset(config: TrainConfig):
    """``preview_dataset``, shared by every session while it fits the page cache."""
    from cvlab.data.datasets import preview_dataset

    key = preview_key(config)
    with st.spinner("Loading the dataset…") if key not in PAGE_DATASETS else contextlib.nullcontext():
        return PAGE_DATASETS.get_or_make(key, lambda: preview_dataset(
            config.data, image_size=config.image_size or None, seed=config.seed, val_fraction=config.val_fraction,
            limit=config.limit or None))


def augmented_tiles(config: TrainConfig, preview) -> tuple[list[bytes], list[str]]:
    """The preview's training images (every class in turn) as the run's augmentation shows them, PNG-encoded,
    with their class names; made once per dataset, augmentation and seed for every session (augmenting and
    encoding them was a third of a rerun that changed nothing)."""
    key = (*preview_key(config), "augmented", config.augmentation)

    def make():
        import io

        from PIL import Image

        from cvlab.data.augment import augment_preview, get_augmentation

        tiles = []
        for tile in augment_preview(preview.tiles, get_augmentation(config.augmentation), len(preview.tiles),
                                    config.seed):
            buffer = io.BytesIO()
            Image.fromarray(tile).save(buffer, format="PNG")
            tiles.append(buffer.getvalue())
        return tiles, [preview.class_names[int(label)] for label in preview.tile_labels]

    return PAGE_DATASETS.get_or_make(key, make)


def _saved_upload(upload) -> str:
    """An uploaded zip kept in the upload store under its own file name (so the dataset and every message
    about it carry the name the user knows), counted in the uploader's quota."""
    from cvlab.ui.uploads import save_zip

    return save_zip(upload)


def _folder_source(task: str = "classify", key=lambda short: short) -> str | None:
    """A folder upload kept in the upload store by the same safe rules as a zip; its path is the source.

    The files' count and total size are checked before any of their bytes are read or hashed."""
    from cvlab.ui.uploads import quota_caption, save_folder

    limit_mb = get_settings().max_upload_bytes // 2**20
    files = st.file_uploader(f"A folder: {LAYOUT[task]}", accept_multiple_files="directory",
                             key=key("data_folder"), max_upload_size=limit_mb,
                             help=f"At most {limit_mb} MB in all.")
    if not files:
        st.info(f"Choose a folder laid out as: {LAYOUT[task]}.")
        return None
    with report_errors():
        dest = Path(save_folder(files))
        quota_caption()
        return str(folder_root(dest, [f.name for f in files]))
    return None


def folder_root(dest: Path, names: list[str]) -> Path:
    """The dataset folder of a folder upload saved in ``dest``: its one top folder, else ``dest``. The names come
    from the browser: a top folder "/" or ".." would make the dataset the server's disk or everyone's uploads."""
    top = {Path(name).parts[0] for name in names if Path(name).parts}
    return child_path(dest, top.pop(), "folder name") if len(top) == 1 else Path(dest)


DATA_HELP = {
    "classify": "shapes: generated from the seed, learns in seconds. digits: 1,797 real 8x8 scans from "
                "scikit-learn. cifar10: downloads when online. upload: your own ImageFolder zip. folder: the same "
                "layout as a folder from your computer.",
    "segment": "shapes: scenes and their masks generated from the seed. upload: a zip with images/ and masks/ "
               "(same file names; mask pixels are class ids). folder: the same layout from your computer.",
    "detect": "shapes: scenes and YOLO labels generated from the seed. upload: a YOLO dataset zip (data.yaml, "
              "images/, labels/). folder: the same layout from your computer.",
}
LAYOUT = {
    "classify": "one folder per class (optionally inside train/ and val/); at least two classes",
    "segment": "images/ and masks/ with matching file names; masks hold class ids (0 = background)",
    "detect": "data.yaml, images/train, images/val, labels/train, labels/val (one .txt per image)",
}


def data_source(task: str = "classify", key=lambda short: short) -> str | None:
    from cvlab.training.tasks import task_spec

    choice = st.selectbox("Dataset", [*task_spec(task).data_choices, UPLOAD, FOLDER], key=key("data"), bind=BIND,
                          help=DATA_HELP[task])
    if choice == FOLDER:
        return _folder_source(task, key)
    if choice != UPLOAD:
        return choice
    upload = st.file_uploader(f"A zip: {LAYOUT[task]}", type=["zip"], key=key("data_zip"), max_upload_size=200)
    if upload is None:
        st.info(f"Upload a zip laid out as: {LAYOUT[task]}.")
        return None
    with report_errors():
        from cvlab.ui.uploads import quota_caption

        saved = _saved_upload(upload)
        quota_caption()
        return saved
    return None


def cached_masks(source: str, size: int, limit: int, seed: int, val_fraction: float, binary: bool):
    """The mask set the form shows: every file checked from its header, and decoded whole only when small."""
    from cvlab.segmentation.mask_data import load_mask_dataset

    key = ("segment", source, size, limit, seed, val_fraction, binary)
    if source == "shapes":  # a sample: the run draws the full set itself
        make = lambda: load_mask_dataset("shapes", n=min(limit or 1280, 96), seed=seed, size=size or 64,  # noqa: E731
                                         binary=binary, val_fraction=val_fraction)
    else:
        make = lambda: load_mask_dataset(source, size=size or None, seed=seed, val_fraction=val_fraction,  # noqa: E731
                                         sample=PREVIEW_PAIRS)
    with st.spinner("Reading the masks…") if key not in PAGE_DATASETS else contextlib.nullcontext():
        return PAGE_DATASETS.get_or_make(key, make)


@st.cache_data(max_entries=8, show_spinner="Checking the YOLO dataset…")
def checked_yolo_source(source: str) -> str:
    """The validation summary of an uploaded YOLO zip (unpacked once into the upload store) or folder."""
    from cvlab.data.uploads import UploadStore, display_name
    from cvlab.detection.yolo_data import find_data_yaml, require_valid, validate_yolo_dataset

    path = Path(source)
    folder = UploadStore().unpacked(path) if path.suffix.lower() == ".zip" else path
    return require_valid(validate_yolo_dataset(find_data_yaml(folder), source=display_name(path))).summary()


def dataset_summary(config: TrainConfig):
    """What the run will learn from, checked now (bad uploads are refused here, before a run is queued).

    Returns the classification preview (for the LR preview's step count), the mask dataset,
    True for a valid detection dataset, or None on error.
    """
    with report_errors():
        summary = task_spec(config.task).hook("data_summary")
        if summary is not None:
            return summary(config)
        preview = cached_dataset(config)
        counts = preview.counts()["train"]
        shown = "" if preview.shown_size == preview.image_size else \
            f" (shown here at {preview.shown_size} px; the run builds all {preview.nbytes / 2**20:,.0f} MiB of it)"
        st.caption(f"**{preview.name}**: {len(preview.train_labels)} training and {len(preview.val_labels)} "
                   f"validation images of {preview.image_size} px, {len(preview.class_names)} classes{shown}. "
                   f"{preview.note}")
        show_figure(cached_figure(viz.class_counts, counts, cache_key=tuple(counts.items())), key="class_counts")
        tiles, names = augmented_tiles(config, preview)
        st.caption(f"Training images of each class in turn, as the '{config.augmentation}' augmentation shows "
                   "them to the network:")
        # wide enough on the projector for a class name in its large type to fit under its image whole
        st.image(tiles, width=128 if projector_on() else 72, caption=names)
        return preview
    return None


def mask_summary(config: TrainConfig):
    from cvlab.viz.training import mask_overlays

    data = cached_masks(config.data, config.image_size, config.limit, config.seed, config.val_fraction,
                        config.binary_masks)
    if config.data == "shapes":
        n = config.limit or task_spec(config.task).shapes_count
        n_val = val_count(n, config.val_fraction)
        st.caption(f"**shapes**: {n - n_val} training and {n_val} validation scenes of "
                   f"{config.image_size or 64} px, drawn with seed {config.seed}; "
                   f"{'object vs background' if config.binary_masks else 'one class per shape'}.")
    else:
        st.caption(data.report.text().replace("\n", "  \n"))
    images = data.train_images[:6].permute(0, 2, 3, 1).numpy()
    masks = data.train_masks[:6].numpy()
    st.image(mask_overlays(images, masks > 0 if config.binary_masks else masks), width=96,
             caption=["image + mask"] * len(images))
    return data


def yolo_summary(config: TrainConfig) -> bool:
    if config.data == "shapes":
        n = config.limit or task_spec(config.task).shapes_count
        n_val = val_count(n, config.val_fraction)
        st.caption(f"**shapes**: {n - n_val} training and {n_val} validation scenes of "
                   f"{config.image_size} px with YOLO labels, drawn with seed {config.seed} into the run folder.")
    else:
        st.caption(checked_yolo_source(config.data))
    st.caption("ultralytics' schedule: a warmup of max(3 epochs, 100 steps), then a linear decay to 1% of the rate.")
    return True


PRETRAINED_LABELS = {"classify": "Pretrained (ImageNet) when weights can be had",
                     "segment": "ImageNet encoder when weights can be had",
                     "detect": "Start from COCO weights when they can be had"}


# Each setting's widget: (column, label, builder(default, key) -> value). Only the task's own settings are drawn.
def _widgets(task: str, defaults: TrainConfig) -> dict:
    from cvlab.training.model_builder import start_models

    models = start_models(task)
    spec = task_spec(task)
    return {
        "model": ("model", lambda d, k: st.selectbox("Model", models, index=_index(models, d), key=k, bind=BIND)),
        "encoder": ("model", lambda d, k: st.selectbox(
            "Encoder", _encoders(), index=_index(_encoders(), d), key=k, bind=BIND,
            help="Any smp encoder fits under the decoder; the Hugging Face SegFormer brings its own (MiT-B0).")),
        "pretrained": ("model", lambda d, k: st.toggle(PRETRAINED_LABELS[task], d, key=k, bind=BIND)),
        "freeze_backbone": ("model", lambda d, k: st.toggle("Freeze the backbone (train the new head only)", d,
                                                            key=k, bind=BIND)),
        "backbone_lr_scale": ("model", lambda d, k: st.number_input(
            "Backbone LR × (per-layer learning rates)", 0.0, 10.0, d, 0.05, key=k, bind=BIND)),
        "image_size": ("model", lambda d, k: st.number_input(
            "Image size (0 = the dataset's own)" if spec.form_sizes[0] == 0 else "Image size (px)",
            spec.form_sizes[0], spec.form_sizes[1], d, spec.form_sizes[2], key=k, bind=BIND)),
        "binary_masks": ("model", lambda d, k: st.toggle("Binary masks (object vs background)", d, key=k, bind=BIND)),
        "loss": ("model", lambda d, k: st.text_input(
            "Mask loss", d, key=k, bind=BIND, help="A weighted sum of bce, dice, iou, focal, ce, e.g. "
                                                 "0.5*bce+0.5*dice (the lecture's) or focal(gamma=2)")),
        "optimizer": ("opt", lambda d, k: st.selectbox("Optimizer", OPTIMIZERS.names(),
                                                       index=_index(OPTIMIZERS.names(), d), key=k, bind=BIND)),
        "lr": ("opt", lambda d, k: st.number_input("Learning rate", 1e-5, 10.0, d, format="%.4f", key=k, bind=BIND)),
        "momentum": ("opt", lambda d, k: st.slider("Momentum (SGD)", 0.0, 0.99, d, key=k, bind=BIND)),
        "weight_decay": ("opt", lambda d, k: st.number_input("Weight decay", 0.0, 0.5, d, format="%.5f", key=k,
                                                             bind=BIND)),
        "scheduler": ("opt", lambda d, k: st.selectbox("Scheduler", SCHEDULERS.names(),
                                                       index=_index(SCHEDULERS.names(), d), key=k, bind=BIND)),
        "epochs": ("loop", lambda d, k: st.number_input("Epochs", 1, 200, d, key=k, bind=BIND)),
        "batch_size": ("loop", lambda d, k: st.select_slider("Batch size", [4, 8, 16, 32, 64, 128, 256, 512], d,
                                                             key=k, bind=BIND)),
        "label_smoothing": ("loop", lambda d, k: st.slider("Label smoothing", 0.0, 0.3, d, 0.05, key=k, bind=BIND)),
        "grad_clip": ("loop", lambda d, k: st.number_input("Gradient clipping (max norm, 0 = off)", 0.0, 100.0, d,
                                                           key=k, bind=BIND)),
        "augmentation": ("loop", lambda d, k: st.selectbox("Augmentation", ["none", "standard", "strong"],
                                                           index=_index(["none", "standard", "strong"], d), key=k,
                                                           bind=BIND)),
        "limit": ("loop", lambda d, k: st.number_input(
            spec.limit_label, 0, 1_000_000, d, spec.limit_step, key=k, bind=BIND)),
        "seed": ("loop", lambda d, k: st.number_input("Seed", 0, 10_000, d, key=k, bind=BIND)),
        "step_size": ("more", lambda d, k: st.number_input("StepLR: epochs per drop", 1, 100, d, key=k, bind=BIND)),
        "gamma": ("more", lambda d, k: st.number_input("StepLR / plateau: factor per drop", 0.01, 1.0, d, key=k,
                                                       bind=BIND)),
        "warmup_epochs": ("more", lambda d, k: st.number_input("Warmup epochs (warmup + cosine)", 0.0, 50.0, d, 0.5,
                                                               key=k, bind=BIND)),
        "amp": ("more", lambda d, k: st.toggle("Mixed precision on a GPU (bf16/fp16)", d, key=k, bind=BIND)),
        "channels_last": ("more", lambda d, k: st.toggle("channels_last memory layout", d, key=k, bind=BIND)),
    }


# The address-bar names of the settings (kept short; classification's are the page's original ones).
SHORT_KEYS = {"freeze_backbone": "freeze", "backbone_lr_scale": "bb_lr", "image_size": "size", "optimizer": "opt",
              "weight_decay": "wd", "scheduler": "sched", "batch_size": "batch", "label_smoothing": "ls",
              "grad_clip": "clip", "augmentation": "aug", "step_size": "step", "warmup_epochs": "warmup",
              "channels_last": "cl", "encoder": "enc", "binary_masks": "binary"}


def _index(options, value) -> int:
    options = list(options)
    return options.index(value) if value in options else 0


def _encoders() -> list[str]:
    from cvlab.segmentation.architectures import ENCODERS

    return ENCODERS.names()


def widget_key(task: str, short: str) -> str:
    """Classification keeps the page's original address names; other tasks prefix theirs (``detect_epochs``),
    so each task keeps its own settings and embedding pages never clash with their own widgets."""
    return f"{task_spec(task).key_prefix}{short}"


def settings_form(task: str = "classify", user_changes: dict | None = None) -> TrainConfig | None:
    """Widgets for the task's settings; None while the input is incomplete or invalid (the reason is shown)."""
    from cvlab.training.tasks import task_spec

    spec = task_spec(task)
    defaults = TrainConfig.for_task(task)
    key = lambda short: widget_key(task, short)  # noqa: E731
    source = data_source(task, key)
    widgets = _widgets(task, defaults)
    columns = dict(zip(("model", "opt", "loop"), st.columns(3)))
    headings = {"model": "Model", "opt": "Optimizer", "loop": "Loop"}
    for name, column in columns.items():
        column.markdown(f"**{headings[name]}**")
    values = {"task": task}
    more = [name for name in spec.settings if name in widgets and widgets[name][0] == "more"]
    for name in spec.settings:
        if name in widgets and widgets[name][0] != "more":
            with columns[widgets[name][0]]:
                values[name] = widgets[name][1](getattr(defaults, name), key(SHORT_KEYS.get(name, name)))
    if more:
        titles = {"step_size": "scheduler details", "amp": "precision", "channels_last": "memory layout"}
        title = ", ".join(t for name, t in titles.items() if name in more)
        with st.expander(title[0].upper() + title[1:]):
            for name in more:
                values[name] = widgets[name][1](getattr(defaults, name), key(SHORT_KEYS.get(name, name)))
    if source is None:
        return None
    with report_errors():
        return TrainConfig.from_dict({**values, "data": source, **(user_changes or {})})
    return None


def train_size(config: TrainConfig, data) -> int | None:
    """Training images per epoch, for the LR preview's step count (None for detection: ultralytics' schedule)."""
    spec = task_spec(config.task)
    if spec.own_trainer or data is None:
        return None
    if spec.per_pixel:
        if config.data == "shapes":
            n = config.limit or task_spec(config.task).shapes_count
            return n - val_count(n, config.val_fraction)
        if config.limit and config.limit < data.report.pairs:  # the run cuts the upload the same way
            from cvlab.training.preparation import limited_split

            return limited_split(config.limit, config.val_fraction)[0]
        return data.report.train  # a preview may hold only a few of the pairs
    return len(data.train_labels)


def lr_preview(config: TrainConfig, train_size: int) -> None:
    from cvlab.training.preparation import batch_count

    steps = batch_count(train_size, config.batch_size)  # the run's own count, so the curve is the run's
    two_groups = config.backbone_lr_scale != 1.0 and not config.freeze_backbone
    scales = (config.backbone_lr_scale, 1.0) if two_groups else (1.0,)
    with report_errors():
        names = ("backbone", "head") if two_groups else ("learning rate",)
        entry = SCHEDULERS.get(config.scheduler)
        # one figure per configuration for every session: the curve steps the run's own scheduler through
        # every batch, and building it was a quarter of a rerun that changed nothing
        show_figure(cached_figure(_lr_figure, config, steps, scales, names,
                                  f"{entry.title}: the rate at every step of this run"), key="lr_preview")
        st.caption(f"{entry.note} Steps {'after every batch' if entry.per_batch else 'once per epoch'}; "
                   f"{steps} batch{'' if steps == 1 else 'es'} per epoch.")


def _lr_figure(config: TrainConfig, steps: int, scales: tuple, names: tuple, title: str):
    from cvlab.training.schedulers import lr_curve

    return viz.lr_preview(lr_curve(config, steps, scales), steps, names, title)


def fine_tune_note(config: TrainConfig) -> str:
    """What the fine-tuning recipe will run with these settings, including a warmup shortened to fit the epochs."""
    try:
        recipe, adapted = config.with_recipe(FINE_TUNE)
    except InvalidInput as err:
        return f"The recipe cannot run with these settings: {err}"
    return (f"ImageNet EfficientNet-B0, AdamW at {recipe.lr:g} (backbone × {recipe.backbone_lr_scale:g}), "
            f"{recipe.warmup_epochs:g}-epoch warmup then cosine, {recipe.image_size} px. {adapted}").strip()


def exercise_configs(base: TrainConfig, name: str) -> list[TrainConfig]:
    from dataclasses import replace

    return [replace(base, **changes).validated() for changes in EXERCISES[name]]


def path_label(source: str) -> str:
    """A run's data as its owner knows it: a built-in's name, an upload's file or folder name (never the
    server's hash folder), or a path's last part."""
    from cvlab.data.uploads import display_name

    return display_name(source) if "/" in source else source
