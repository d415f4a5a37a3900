"""The Training page's new-run form: every TrainConfig field as a widget bound to the address bar.

A copied address therefore reproduces the exact configuration; the learning-rate
curve under the form is drawn by the very scheduler the run will use.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from cvlab.settings import get_settings
from cvlab.training.config import TrainConfig
from cvlab.training.optimizers import OPTIMIZERS
from cvlab.training.schedulers import SCHEDULERS
from cvlab.ui import report_errors, show_figure
from cvlab.viz import training as viz

BIND = "query-params"
BUILT_IN_DATA = ("shapes", "digits", "cifar10")
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


@st.cache_resource(max_entries=8, show_spinner="Loading the dataset…")
def cached_dataset(source: str, image_size: int, seed: int, val_fraction: float, limit: int):
    from cvlab.data.datasets import load_dataset

    return load_dataset(source, image_size=image_size or None, seed=seed, val_fraction=val_fraction,
                        limit=limit or None)


def _saved_upload(upload) -> str:
    """An uploaded zip saved under the data home, in a folder named by its content hash, under its own
    file name (so the dataset and every message about it carry the name the user knows)."""
    data = upload.getvalue()
    folder = get_settings().data_home / "uploads" / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (Path(upload.name).name or "dataset.zip")
    if not path.exists():
        path.write_bytes(data)
    return str(path)


def _folder_source() -> str | None:
    """A folder upload written under the data home by the same safe rules as a zip; its path is the source."""
    from cvlab.data.archives import save_uploaded_folder

    files = st.file_uploader("A folder laid out as dataset/<class name>/<images>", accept_multiple_files="directory",
                             key="data_folder", max_upload_size=200)
    if not files:
        st.info("Choose a folder with one subfolder per class (optionally inside train/ and val/); "
                "at least two classes.")
        return None
    digest = hashlib.sha256()
    for upload in files:
        digest.update(upload.name.encode() + b"\0" + upload.getvalue())
    dest = get_settings().data_home / "uploads" / digest.hexdigest()[:16]
    with report_errors():
        if not dest.is_dir():
            save_uploaded_folder(((f.name, f.getvalue()) for f in files), dest)
        top = {Path(f.name).parts[0] for f in files}
        return str(dest / top.pop()) if len(top) == 1 else str(dest)
    return None


def data_source() -> str | None:
    choice = st.selectbox("Dataset", [*BUILT_IN_DATA, UPLOAD, FOLDER], key="data", bind=BIND,
                          help="shapes: generated from the seed, learns in seconds. digits: 1,797 real 8x8 scans "
                               "from scikit-learn. cifar10: downloads when online. upload: your own ImageFolder "
                               "zip. folder: the same layout as a folder from your computer.")
    if choice == FOLDER:
        return _folder_source()
    if choice != UPLOAD:
        return choice
    upload = st.file_uploader("ImageFolder zip: one folder per class (optionally inside train/ and val/)",
                              type=["zip"], key="data_zip", max_upload_size=200)
    if upload is None:
        st.info("Upload a zip laid out as `dataset/<class name>/<images>`; at least two classes.")
        return None
    return _saved_upload(upload)


def dataset_summary(config: TrainConfig):
    """Class counts and a preview of augmented training images; returns the dataset or None on error."""
    with report_errors():
        data = cached_dataset(config.data, config.image_size, config.seed, config.val_fraction, config.limit)
        counts = data.counts()["train"]
        st.caption(f"**{data.name}**: {len(data.train_y)} training and {len(data.val_y)} validation images of "
                   f"{data.train_x.shape[-1]} px, {len(data.class_names)} classes. {data.note}")
        st.bar_chart(counts, height=180, x_label="class", y_label="training images")
        from cvlab.data.augment import augment_preview, get_augmentation

        preview = augment_preview(data.train_x[:8], get_augmentation(config.augmentation), 8, config.seed)
        st.image(list(preview), width=72, caption=["augmented"] * len(preview))
        return data
    return None


def settings_form(user_changes: dict | None = None) -> TrainConfig | None:
    """Widgets for every setting; None while the input is incomplete or invalid (the reason is shown)."""
    from cvlab.training.models import model_choices

    source = data_source()
    left, middle, right = st.columns(3)
    with left:
        st.markdown("**Model**")
        model = st.selectbox("Model", model_choices(), key="model", bind=BIND)
        pretrained = st.toggle("Pretrained (ImageNet) when weights can be had", key="pretrained", bind=BIND)
        freeze = st.toggle("Freeze the backbone (train the new head only)", key="freeze", bind=BIND)
        scale = st.number_input("Backbone LR × (per-layer learning rates)", 0.0, 10.0, 1.0, 0.05, key="bb_lr",
                                bind=BIND)
        image_size = st.number_input("Image size (0 = the dataset's own)", 0, 512, 0, 8, key="size", bind=BIND)
    with middle:
        st.markdown("**Optimizer**")
        optimizer = st.selectbox("Optimizer", OPTIMIZERS.names(), key="opt", bind=BIND)
        lr = st.number_input("Learning rate", 1e-5, 10.0, DEFAULT.lr, format="%.4f", key="lr", bind=BIND)
        momentum = st.slider("Momentum (SGD)", 0.0, 0.99, DEFAULT.momentum, key="momentum", bind=BIND)
        weight_decay = st.number_input("Weight decay", 0.0, 0.5, DEFAULT.weight_decay, format="%.5f", key="wd",
                                       bind=BIND)
        scheduler = st.selectbox("Scheduler", SCHEDULERS.names(), index=SCHEDULERS.names().index(DEFAULT.scheduler),
                                 key="sched", bind=BIND)
    with right:
        st.markdown("**Loop**")
        epochs = st.number_input("Epochs", 1, 200, DEFAULT.epochs, key="epochs", bind=BIND)
        batch = st.select_slider("Batch size", [16, 32, 64, 128, 256, 512], DEFAULT.batch_size, key="batch", bind=BIND)
        smoothing = st.slider("Label smoothing", 0.0, 0.3, 0.0, 0.05, key="ls", bind=BIND)
        clip = st.number_input("Gradient clipping (max norm, 0 = off)", 0.0, 100.0, 0.0, key="clip", bind=BIND)
        augmentation = st.selectbox("Augmentation", ["none", "standard", "strong"], index=1, key="aug", bind=BIND)
        limit = st.number_input("Use only N images (0 = all)", 0, 1_000_000, 0, 100, key="limit", bind=BIND)
        seed = st.number_input("Seed", 0, 10_000, 0, key="seed", bind=BIND)
    with st.expander("Scheduler details, precision, memory layout"):
        step_size = st.number_input("StepLR: epochs per drop", 1, 100, DEFAULT.step_size, key="step", bind=BIND)
        gamma = st.number_input("StepLR / plateau: factor per drop", 0.01, 1.0, DEFAULT.gamma, key="gamma", bind=BIND)
        warmup = st.number_input("Warmup epochs (warmup + cosine)", 0.0, 50.0, DEFAULT.warmup_epochs, 0.5,
                                 key="warmup", bind=BIND)
        amp = st.toggle("Mixed precision on a GPU (bf16/fp16)", value=True, key="amp", bind=BIND)
        channels_last = st.toggle("channels_last memory layout", value=True, key="cl", bind=BIND)
    if source is None:
        return None
    values = dict(data=source, model=model, pretrained=pretrained, freeze_backbone=freeze, backbone_lr_scale=scale,
                  image_size=image_size, optimizer=optimizer, lr=lr, momentum=momentum, weight_decay=weight_decay,
                  scheduler=scheduler, epochs=epochs, batch_size=batch, label_smoothing=smoothing, grad_clip=clip,
                  augmentation=augmentation, limit=limit, seed=seed, step_size=step_size, gamma=gamma,
                  warmup_epochs=warmup, amp=amp, channels_last=channels_last, **(user_changes or {}))
    with report_errors():
        return TrainConfig.from_dict(values)
    return None


def lr_preview(config: TrainConfig, train_size: int) -> None:
    from cvlab.training.schedulers import lr_curve

    steps = max(1, -(-train_size // config.batch_size))
    two_groups = config.backbone_lr_scale != 1.0 and not config.freeze_backbone
    scales = (config.backbone_lr_scale, 1.0) if two_groups else (1.0,)
    with report_errors():
        curves = lr_curve(config, steps, scales)
        names = ("backbone", "head") if two_groups else ("learning rate",)
        entry = SCHEDULERS.get(config.scheduler)
        show_figure(viz.lr_preview(curves, steps, names, f"{entry.title}: the rate at every step of this run"),
                    key="lr_preview")
        st.caption(f"{entry.note} Steps {'after every batch' if entry.per_batch else 'once per epoch'}; "
                   f"{steps} batches per epoch.")


def exercise_configs(base: TrainConfig, name: str) -> list[TrainConfig]:
    from dataclasses import replace

    return [replace(base, **changes).validated() for changes in EXERCISES[name]]


def path_label(source: str) -> str:
    return Path(source).name if "/" in source else source
