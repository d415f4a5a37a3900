"""The source text an exported run is made of: one (title, explanation, code) part per step of the lecture's lab.

Each part is plain Python that imports only torch, torchvision, timm, numpy, Pillow and scikit-learn (what
Colab has). The code is faithful copies of what cvlab runs (the shapes generator, the stratified split, the
lecture's nets, the augmentation on batches, the loop), so an exported run draws the same pixels, splits them
the same way and takes the same random draws. ``$name`` placeholders are filled by ``cvlab.training.export``
with literals it has checked (``string.Template``); nothing else is ever pasted in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodePart:
    title: str  # a heading: "The data"
    explanation: str  # markdown for the notebook, in the lecture's terms
    code: str  # Python source, possibly with $placeholders


IMPORTS = """\
import contextlib
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
"""

SETTINGS = """\
SEED = $seed
EPOCHS = $epochs
BATCH_SIZE = $batch_size
IMAGE_SIZE = $image_size  # pixels per side
LIMIT = $limit  # images to use; 0 takes the whole dataset
VAL_FRACTION = $val_fraction  # share of the images kept for validation
LR = $lr  # the head's learning rate; the backbone's is LR * BACKBONE_LR_SCALE
BACKBONE_LR_SCALE = $backbone_lr_scale
MOMENTUM = $momentum  # SGD only
WEIGHT_DECAY = $weight_decay
LABEL_SMOOTHING = $label_smoothing
GRAD_CLIP = $grad_clip  # max gradient norm; 0 turns clipping off
WARMUP_EPOCHS = $warmup_epochs  # warmup + cosine only
STEP_SIZE = $step_size  # StepLR: epochs between drops
GAMMA = $gamma  # StepLR and ReduceLROnPlateau: the factor of each drop
PRETRAINED = $pretrained  # start from ImageNet weights
FREEZE_BACKBONE = $freeze_backbone  # train only the new classifier head
AMP = $amp  # bf16/fp16 autocast on a GPU (a CPU trains in float32)
CHANNELS_LAST = $channels_last
DATA_DIR = $data_dir  # your ImageFolder dataset (dataset/<class name>/<images>), when the run used one
$device_line
"""

DEVICE_AUTO = ('DEVICE = torch.device("cuda" if torch.cuda.is_available() else '
               '"mps" if torch.backends.mps.is_available() else "cpu")')
DEVICE_CPU = 'DEVICE = torch.device("cpu")  # the run asked for the CPU'

SPLITS = """\
def stratified_order(labels, seed):
    \"\"\"All indices, ordered so that every prefix holds each class in proportion to its size.\"\"\"
    labels = np.asarray(labels)
    rng = np.random.default_rng([int(seed), 7])
    position = np.empty(len(labels), np.float64)
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        position[members] = (np.arange(len(members)) + 0.5) / len(members)
    tie_break = rng.random(len(labels)) * 1e-9  # classes of equal size interleave in a seeded order
    return np.argsort(position + tie_break, kind="stable")


def stratified_take(labels, limit, seed):
    \"\"\"Indices of a stratified sample of ``limit`` images (all of them when limit is None).\"\"\"
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    return np.sort(stratified_order(labels, seed)[:limit])


def stratified_split(labels, val_fraction, seed):
    \"\"\"(train indices, val indices): about ``val_fraction`` of every class goes to validation.\"\"\"
    labels = np.asarray(labels)
    rng = np.random.default_rng([int(seed), 11])
    train, val = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_val = int(round(len(members) * val_fraction))
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        val.append(members[:n_val])
        train.append(members[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def split_limit(limit, val_fraction):
    \"\"\"How many of ``limit`` images to take from a fixed train part and a fixed val part.\"\"\"
    if limit is None:
        return None, None
    n_val = max(1, int(round(limit * val_fraction)))
    return max(1, limit - n_val), n_val


def resize_uint8(x, image_size):
    \"\"\"(N, C, H, W) uint8 -> (N, C, size, size) uint8, bilinear (antialiased when shrinking).\"\"\"
    if x.shape[-2:] == (image_size, image_size):
        return x
    shrinking = image_size < min(x.shape[-2:])
    parts = [F.interpolate(part.float(), size=(image_size, image_size), mode="bilinear", align_corners=False,
                           antialias=shrinking).round_().clamp_(0, 255).to(torch.uint8) for part in x.split(1024)]
    return torch.cat(parts)


def index_split(x, labels, train, val):
    \"\"\"(train_x, train_y, val_x, val_y): uint8 (N, 3, H, W) images and int64 labels of each part.\"\"\"
    labels = torch.from_numpy(np.asarray(labels, np.int64))
    train, val = torch.from_numpy(np.asarray(train, np.int64)), torch.from_numpy(np.asarray(val, np.int64))
    return x[train].contiguous(), labels[train], x[val].contiguous(), labels[val]
"""

SHAPES = """\
from PIL import Image, ImageDraw

SHAPE_CLASSES = ("circle", "square", "triangle", "star", "cross")
SUPERSAMPLE = 4  # drawing scale before the box filter: 16 sub-pixels per pixel, so edges are anti-aliased
MIN_SHAPE_CONTRAST = 100.0  # Euclidean RGB distance (0-255 scale) between shape and background colour
OUTER = 1.06  # the cross's arm corners reach 1.053 r; every other outline stays inside r
CLASSIFY_STREAM = 1  # the generator's stream for classification images
DATASET_SIZE = 5000  # images in the default set (1,000 per class)


def outline(kind, r, angle):
    \"\"\"Polygon vertices around the origin for circumradius ``r`` (px), turned by ``angle`` (rad).\"\"\"
    if kind == "circle":
        polar = [(r, 2 * math.pi * k / 48) for k in range(48)]
    elif kind == "square":
        polar = [(r, math.pi / 4 + k * math.pi / 2) for k in range(4)]
    elif kind == "triangle":
        polar = [(r, -math.pi / 2 + k * 2 * math.pi / 3) for k in range(3)]
    elif kind == "star":  # five points, inner radius 45 % of the outer one
        polar = [(r if k % 2 == 0 else 0.45 * r, -math.pi / 2 + k * math.pi / 5) for k in range(10)]
    else:  # a cross: a plus sign whose arms are a third of r wide on each side
        w = 0.33 * r
        corners = [(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r),
                   (-w, -r), (-w, -w), (-r, -w), (-r, w), (-w, w), (-w, r)]
        polar = [(math.hypot(x, y), math.atan2(y, x)) for x, y in corners]
    return [(rho * math.cos(theta + angle), rho * math.sin(theta + angle)) for rho, theta in polar]


def shape_coverage(kind, cx, cy, r, angle, size):
    \"\"\"(size, size) float32 in [0, 1]: how much of each pixel the shape covers (drawn large, box-filtered).\"\"\"
    reach = OUTER * r + 1
    x0, y0 = max(0, int(cx - reach)), max(0, int(cy - reach))
    x1, y1 = min(size, int(math.ceil(cx + reach))), min(size, int(math.ceil(cy + reach)))
    coverage = np.zeros((size, size), np.float32)
    if x1 <= x0 or y1 <= y0:
        return coverage
    patch = Image.new("L", ((x1 - x0) * SUPERSAMPLE, (y1 - y0) * SUPERSAMPLE), 0)
    points = [((cx - x0 + dx) * SUPERSAMPLE, (cy - y0 + dy) * SUPERSAMPLE) for dx, dy in outline(kind, r, angle)]
    ImageDraw.Draw(patch).polygon(points, fill=255)
    small = patch.resize((x1 - x0, y1 - y0), Image.Resampling.BOX)
    coverage[y0:y1, x0:x1] = np.asarray(small, np.float32) / 255.0
    return coverage


def background(rng, size):
    \"\"\"(size, size, 3) float32: a random colour fading into a nearby one along a random direction.\"\"\"
    start = rng.uniform(0, 255, 3)
    end = np.clip(start + rng.uniform(-60, 60, 3), 0, 255)
    direction = rng.uniform(0, 2 * math.pi)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    t = math.cos(direction) * ramp[None, :] + math.sin(direction) * ramp[:, None]  # (H, W)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return (start + (end - start) * t[..., None]).astype(np.float32)


def shape_colour(rng, canvas):
    \"\"\"A random RGB colour far enough from the background's mean to be seen.\"\"\"
    mean = canvas.reshape(-1, 3).mean(0)
    for _ in range(50):
        colour = rng.uniform(0, 255, 3)
        if np.linalg.norm(colour - mean) >= MIN_SHAPE_CONTRAST:
            return colour.astype(np.float32)
    return np.where(mean > 127, 0.0, 255.0).astype(np.float32)  # black or white: always far enough


def add_noise(rng, canvas):
    \"\"\"Gaussian sensor noise (sigma 2-10 grey levels), rounded to uint8.\"\"\"
    noise = rng.normal(0.0, rng.uniform(2.0, 10.0), canvas.shape).astype(np.float32)
    return np.clip(np.rint(canvas + noise), 0, 255).astype(np.uint8)


def shapes_classification(n, seed, size):
    \"\"\"``n`` images with one shape each, (n, size, size, 3) uint8, and labels (image i shows class i % 5).

    Each image has its own random stream, default_rng([seed, 1, i]), so the set never depends on n.\"\"\"
    labels = np.arange(n, dtype=np.int64) % len(SHAPE_CLASSES)
    images = np.empty((n, size, size, 3), np.uint8)
    for index in range(n):
        rng = np.random.default_rng([seed, CLASSIFY_STREAM, index])
        canvas = background(rng, size)
        r = rng.uniform(0.30, 0.46) * size  # circumradius: at least 9.6 px at 32 px
        margin = OUTER * r
        cx, cy = rng.uniform(margin, size - margin, 2) if size > 2 * margin else (size / 2, size / 2)
        alpha = shape_coverage(SHAPE_CLASSES[labels[index]], cx, cy, r, rng.uniform(0, 2 * math.pi), size)
        canvas += alpha[..., None] * (shape_colour(rng, canvas) - canvas)
        images[index] = add_noise(rng, canvas)
    return images, labels


def load_data():
    \"\"\"(train_x, train_y, val_x, val_y, class names): the shapes, split stratified by the seed.\"\"\"
    images, labels = shapes_classification(LIMIT or DATASET_SIZE, SEED, IMAGE_SIZE)
    train, val = stratified_split(labels, VAL_FRACTION, SEED)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # (N, 3, H, W) uint8
    return (*index_split(x, labels, train, val), SHAPE_CLASSES)
"""

DIGITS = """\
from sklearn.datasets import load_digits


def load_data():
    \"\"\"scikit-learn's 1,797 handwritten 8x8 digit scans, enlarged to IMAGE_SIZE and copied to 3 channels.\"\"\"
    bunch = load_digits()
    grey = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)  # the scans count 0-16 per pixel
    labels = bunch.target.astype(np.int64)
    keep = stratified_take(labels, LIMIT or None, SEED)
    grey, labels = grey[keep], labels[keep]
    x = resize_uint8(torch.from_numpy(grey).unsqueeze(1), IMAGE_SIZE).expand(-1, 3, -1, -1)  # (N, 3, S, S)
    train, val = stratified_split(labels, VAL_FRACTION, SEED)
    return (*index_split(x, labels, train, val), tuple(str(d) for d in range(10)))
"""

CIFAR10 = """\
import torchvision

CIFAR_ROOT = "data"  # where torchvision downloads CIFAR-10 (170 MB) the first time


def load_data():
    \"\"\"CIFAR-10's training images, and its test images as the validation set (LIMIT: a stratified sample).\"\"\"
    train_set = torchvision.datasets.CIFAR10(CIFAR_ROOT, train=True, download=True)
    test_set = torchvision.datasets.CIFAR10(CIFAR_ROOT, train=False, download=True)
    train_x, train_y = train_set.data, np.asarray(train_set.targets, np.int64)  # (N, 32, 32, 3) uint8
    val_x, val_y = test_set.data, np.asarray(test_set.targets, np.int64)
    n_train, n_val = split_limit(LIMIT or None, VAL_FRACTION)
    keep_train, keep_val = stratified_take(train_y, n_train, SEED), stratified_take(val_y, n_val, SEED)
    x = np.concatenate([train_x[keep_train], val_x[keep_val]])
    y = np.concatenate([train_y[keep_train], val_y[keep_val]])
    x = resize_uint8(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), IMAGE_SIZE)
    train, val = np.arange(len(keep_train)), np.arange(len(keep_train), len(y))
    return (*index_split(x, y, train, val), tuple(train_set.classes))
"""

IMAGE_FOLDER = """\
from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
VAL_FOLDER_NAMES = ("val", "valid", "validation", "test")  # any of these beside train/ makes a fixed split


def class_files(folder):
    \"\"\"{class name: sorted image files under its folder, sub-folders included}.\"\"\"
    return {c.name: sorted(p for p in c.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
            for c in sorted(folder.iterdir()) if c.is_dir() and not c.name.startswith(".") and c.name != "__MACOSX"}


def square_image(path, size):
    \"\"\"Centre-crop to a square, then resize to (size, size, 3) uint8.\"\"\"
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    height, width = pixels.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(pixels[top:top + side, left:left + side])
    return np.asarray(square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0))


def load_data():
    \"\"\"Your folder in ImageFolder layout: its own train/ and val/ split, or a stratified one.\"\"\"
    root = Path(DATA_DIR).expanduser()
    names = {c.name.lower(): c for c in root.iterdir() if c.is_dir()}
    val_name = next((n for n in VAL_FOLDER_NAMES if n in names), None)
    parts = ({"train": class_files(names["train"]), "val": class_files(names[val_name])}
             if "train" in names and val_name else {"all": class_files(root)})
    classes = tuple(sorted({name for part in parts.values() for name in part}))
    limits = ({"all": LIMIT or None} if "all" in parts
              else dict(zip(("train", "val"), split_limit(LIMIT or None, VAL_FRACTION))))
    images, labels, part_of = [], [], []
    for part, files in parts.items():
        entries = [(path, classes.index(name)) for name, paths in files.items() for path in paths]
        for i in stratified_take(np.array([label for _, label in entries], np.int64), limits[part], SEED):
            try:
                images.append(square_image(entries[i][0], IMAGE_SIZE))
            except OSError as err:  # a damaged file is skipped, as the lab skips it
                print(f"skipped {entries[i][0]}: {err}")
                continue
            labels.append(entries[i][1])
            part_of.append(part)
    labels = np.array(labels, np.int64)
    if "all" in parts:
        train, val = stratified_split(labels, VAL_FRACTION, SEED)
    else:
        train = np.flatnonzero(np.array(part_of) == "train")
        val = np.flatnonzero(np.array(part_of) != "train")
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return (*index_split(x, labels, train, val), classes)
"""

NORMALISATION_MEASURED = """\
def channel_mean_std(train_x, pretrained):
    \"\"\"Per-channel mean and std in [0, 1] units: ImageNet's for pretrained weights, else measured on
    (at most 4,096 of) the training images.\"\"\"
    if pretrained:
        return (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    sample = train_x[:4096].float().div_(255)
    return tuple(sample.mean(dim=(0, 2, 3)).tolist()), tuple(sample.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist())
"""

NORMALISATION_CIFAR = """\
def channel_mean_std(train_x, pretrained):
    \"\"\"ImageNet's statistics for pretrained weights, else CIFAR-10's published ones.\"\"\"
    if pretrained:
        return (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    return (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
"""

AUGMENT_HEAD = """\
CROP_PADDING = $crop_padding  # px added on each side before a random crop back to the original size
PAD_MODE = $pad_mode
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights, as torchvision's rgb_to_grayscale


def uniform(batch, x, generator, low=0.0, high=1.0):
    \"\"\"(B,) draws from U(low, high) on x's device, through the generator.\"\"\"
    return low + (high - low) * torch.rand(batch, generator=generator, device=x.device, dtype=torch.float32)
"""

RANDOM_CROP = """\
def random_crop(x, padding, pad_mode, generator):
    \"\"\"Pad every side by ``padding`` px, then cut each sample at its own random offset.\"\"\"
    batch, _, height, width = x.shape
    mode = "reflect" if pad_mode == "reflect" and padding < min(height, width) else "constant"
    padded = F.pad(x, (padding,) * 4, mode=mode)
    top = (uniform(batch, x, generator) * (2 * padding + 1)).long().clamp_(max=2 * padding)  # (B,)
    left = (uniform(batch, x, generator) * (2 * padding + 1)).long().clamp_(max=2 * padding)
    rows = (top[:, None] + torch.arange(height, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = (left[:, None] + torch.arange(width, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
    samples = torch.arange(batch, device=x.device)[:, None, None, None]
    channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[samples, channels, rows, cols]  # (B, C, H, W)
"""

RANDOM_FLIP = """\
def random_flip(x, dim, generator):
    \"\"\"Mirror along ``dim`` (3: left-right, 2: top-bottom) for a random half of the batch.\"\"\"
    flip = (uniform(x.shape[0], x, generator) < 0.5).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(dim), x)
"""

COLOR_JITTER = """\
def color_jitter(x, strength, generator):
    \"\"\"Scale brightness, contrast and saturation by per-sample factors in [1 - s, 1 + s]; clamp to [0, 1].\"\"\"
    batch = x.shape[0]
    factor = lambda: uniform(batch, x, generator, 1 - strength, 1 + strength).to(x.dtype).view(-1, 1, 1, 1)
    luma = x.new_tensor(LUMA).view(1, 3, 1, 1)
    x = x * factor()
    mean_grey = (x * luma).sum(1, keepdim=True).mean(dim=(2, 3), keepdim=True)
    x = (x - mean_grey) * factor() + mean_grey
    grey = (x * luma).sum(1, keepdim=True)
    x = (x - grey) * factor() + grey
    return x.clamp(0, 1)
"""

CUTOUT = """\
def cutout(x, fraction, generator):
    \"\"\"Zero a square of side ``fraction`` x image side at a random centre per sample (clipped at the edges).\"\"\"
    batch, _, height, width = x.shape
    half_h, half_w = fraction * height / 2, fraction * width / 2
    cy = uniform(batch, x, generator, 0, height).view(-1, 1, 1, 1)
    cx = uniform(batch, x, generator, 0, width).view(-1, 1, 1, 1)
    ys = torch.arange(height, device=x.device).view(1, 1, -1, 1) + 0.5  # pixel centres
    xs = torch.arange(width, device=x.device).view(1, 1, 1, -1) + 0.5
    erased = ((ys - cy).abs() < half_h) & ((xs - cx).abs() < half_w)  # (B, 1, H, W)
    return x.masked_fill(erased, 0.0)
"""

INPUT = """\
def to_input(x_uint8, mean, std, generator=None):
    \"\"\"uint8 (B, 3, H, W) on the device -> normalised float, augmented when a generator is given (training).\"\"\"
    x = x_uint8.float().div_(255)
    if generator is not None:
        x = augment(x, generator)
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if CHANNELS_LAST else x
"""

LECTURE_VGG = """\
class VGGBlock(nn.Module):
    \"\"\"``num_convs`` 3x3 convolutions with ReLU (BatchNorm between, if asked), then a 2x2 max-pool.\"\"\"

    def __init__(self, in_channels, out_channels, num_convs, batch_norm=False):
        super().__init__()
        layers = []
        for index in range(num_convs):
            # Only the first convolution changes the channel count; padding 1 keeps H and W.
            layers.append(nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3, padding=1))
            if batch_norm:  # as in torchvision's vgg16_bn: it makes training fast and stable
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.MaxPool2d(2, 2))  # halves H and W
        self.block = nn.Sequential(*layers)

    def forward(self, x):  # (B, C_in, H, W) -> (B, C_out, H/2, W/2)
        return self.block(x)


def make_stages():
    \"\"\"Exercise 1: three VGGBlocks of two conv-BN-ReLU each, 32 -> 64 -> 128 channels.\"\"\"
    stages, in_channels = [], 3
    for width in WIDTHS:
        stages.append(VGGBlock(in_channels, width, num_convs=2, batch_norm=True))
        in_channels = width
    return stages
"""

LECTURE_RESIDUAL = """\
class ResidualBlock(nn.Module):
    \"\"\"Two 3x3 conv + BN layers whose output is added to the input: y = ReLU(F(x) + x).\"\"\"

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        # The skip path must match F(x)'s shape: a 1x1 projection when stride or channels change.
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def make_stages():
    \"\"\"Exercise 2: the VGG-like net with each pair of convolutions a ResidualBlock, then the same max-pool.\"\"\"
    stages, in_channels = [], 3
    for width in WIDTHS:
        stages.append(nn.Sequential(ResidualBlock(in_channels, width), nn.MaxPool2d(2, 2)))
        in_channels = width
    return stages
"""

LECTURE_NET = """\
WIDTHS = (32, 64, 128)  # channels of the three stages; each stage halves H and W


class LectureNet(nn.Module):
    \"\"\"``features`` (stages that each halve H and W) -> global average pool -> one linear classifier.\"\"\"

    def __init__(self, stages, features_out, num_classes):
        super().__init__()
        self.features = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(features_out, num_classes)

    def forward(self, x):  # (B, 3, 32, 32) -> (B, num_classes)
        maps = self.features(x)  # (B, 128, 4, 4)
        return self.classifier(torch.flatten(self.pool(maps), 1))  # (B, 128) -> (B, num_classes)


def build_model(num_classes):
    \"\"\"(model, names of the head's parameters, whether ImageNet weights were loaded).\"\"\"
    model = LectureNet(make_stages(), WIDTHS[-1], num_classes)
    # A fresh classifier, as the lab gives every network it trains: the same random draws as the run's.
    model.classifier = nn.Linear(WIDTHS[-1], num_classes)
    return model, ("classifier.weight", "classifier.bias"), False
"""

REPLACE_LAST_LINEAR = """\
def replace_last_linear(model, num_classes):
    \"\"\"Swap the last nn.Linear for a new one with ``num_classes`` outputs; returns its dotted name.\"\"\"
    last = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)][-1]
    parent_name, _, child = last.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = parent[int(child)] if child.isdigit() else getattr(parent, child)
    new = nn.Linear(old.in_features, num_classes)
    if child.isdigit():
        parent[int(child)] = new
    else:
        setattr(parent, child, new)
    return last
"""

TORCHVISION_MODEL = """\
import torchvision

WEIGHTS = $weights  # torchvision's ImageNet weights for this network


def build_model(num_classes):
    \"\"\"(model, names of the head's parameters, whether ImageNet weights were loaded).\"\"\"
    model = torchvision.models.$builder(weights=None)
    loaded = False
    if PRETRAINED and WEIGHTS:
        try:
            model.load_state_dict(torchvision.models.get_weight(WEIGHTS).get_state_dict(progress=True))
            loaded = True
        except Exception as err:  # offline: the run goes on from random weights, as the lab's would
            print(f"random weights: {WEIGHTS} could not be loaded ({type(err).__name__})")
    head = replace_last_linear(model, num_classes)  # transfer learning: a new classifier for our classes
    return model, (f"{head}.weight", f"{head}.bias"), loaded
"""

TIMM_REGISTRY_MODEL = """\
import timm


def build_model(num_classes):
    \"\"\"(model, names of the head's parameters, whether ImageNet weights were loaded): random weights.\"\"\"
    model = timm.create_model($timm_name, pretrained=False)
    head = replace_last_linear(model, num_classes)
    return model, (f"{head}.weight", f"{head}.bias"), False
"""

TIMM_MODEL = """\
import timm


def build_model(num_classes):
    \"\"\"(model, names of the head's parameters, whether ImageNet weights were loaded).\"\"\"
    loaded = PRETRAINED
    try:
        model = timm.create_model($timm_name, pretrained=PRETRAINED, num_classes=num_classes)
    except Exception as err:  # offline, or no pretrained tag: random weights, as the lab's would
        if not PRETRAINED:
            raise
        print(f"random weights: timm could not fetch pretrained weights ({type(err).__name__})")
        model, loaded = timm.create_model($timm_name, pretrained=False, num_classes=num_classes), False
    classifier = list(model.get_classifier().parameters())
    head = tuple(n for n, p in model.named_parameters() if any(p is q for q in classifier))
    return model, head, loaded
"""

PARAM_GROUPS = """\
def param_groups(model, head):
    \"\"\"Backbone and head as two groups, so the backbone can learn at BACKBONE_LR_SCALE times the head's rate.\"\"\"
    if FREEZE_BACKBONE:
        for name, param in model.named_parameters():
            param.requires_grad_(name in head)
    backbone = [p for n, p in model.named_parameters() if p.requires_grad and n not in head]
    groups = [{"params": [p for n, p in model.named_parameters() if p.requires_grad and n in head], "lr": LR}]
    if backbone:
        groups.insert(0, {"params": backbone, "lr": LR * BACKBONE_LR_SCALE})
    return groups
"""

OPTIMIZERS = {
    "sgd": "torch.optim.SGD(groups, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, nesterov=MOMENTUM > 0)",
    "adam": "torch.optim.Adam(groups, lr=LR, weight_decay=WEIGHT_DECAY)",
    "adamw": "torch.optim.AdamW(groups, lr=LR, weight_decay=WEIGHT_DECAY)",
}

SCHEDULERS = {
    "constant": "lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)",
    "step": "lr_scheduler.StepLR(optimizer, step_size=STEP_SIZE, gamma=GAMMA)",
    "cosine": "lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS * steps_per_epoch)",
    "onecycle": ("lr_scheduler.OneCycleLR(optimizer, max_lr=[g[\"lr\"] for g in optimizer.param_groups],\n"
                 "                                    total_steps=EPOCHS * steps_per_epoch)"),
    "plateau": "lr_scheduler.ReduceLROnPlateau(optimizer, mode=\"min\", factor=GAMMA, patience=1)",
    "warmup_cosine": (
        "lr_scheduler.SequentialLR(optimizer, [\n"
        "        lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=warmup),\n"
        "        lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, EPOCHS * steps_per_epoch - warmup))],\n"
        "        milestones=[warmup])"),
}

OPTIMIZER_AND_SCHEDULER = """\
from torch.optim import lr_scheduler

SCHEDULER_STEPS_PER_BATCH = $per_batch  # $scheduler steps after every batch (True) or every epoch (False)


def make_optimizer(groups):
    return $optimizer_call


def make_scheduler(optimizer, steps_per_epoch):
    warmup = max(1, round(WARMUP_EPOCHS * steps_per_epoch))  # batches of linear warmup (warmup + cosine only)
    return $scheduler_call


def step_scheduler(scheduler, val_loss=None):
    \"\"\"ReduceLROnPlateau reads the validation loss; every other scheduler just advances.\"\"\"
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_loss if val_loss is not None else float("inf"))
    else:
        scheduler.step()
"""

LOOP = """\
def batches(n, epoch, device):
    \"\"\"The epoch's shuffled batches as index tensors, seeded by (SEED, epoch).\"\"\"
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SEED * 1000 + epoch))
    chunks = list(order.to(device).split(BATCH_SIZE))
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2:] = [torch.cat(chunks[-2:])]  # BatchNorm cannot normalise a lone last image
    return chunks


def autocast(device):
    \"\"\"bf16 (or fp16) autocast on a GPU when AMP is on; full precision elsewhere.\"\"\"
    if not AMP or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)


def train_epoch(model, data, optimizer, scheduler, criterion, epoch, device):
    \"\"\"One epoch, step by step: augment, forward, loss, backward, clip, optimizer step, scheduler step.\"\"\"
    train_x, train_y, mean, std = data
    model.train()
    fp16 = AMP and device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler(enabled=fp16)
    generator = torch.Generator(device=device).manual_seed(SEED * 7919 + epoch)  # the augmentation's draws
    total_loss, correct, seen = 0.0, 0, 0
    for index in batches(len(train_y), epoch, device):
        x, y = to_input(train_x[index], mean, std, generator), train_y[index]
        with autocast(device):
            logits = model(x)
            loss = criterion(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if GRAD_CLIP > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        scaler.step(optimizer)
        scaler.update()
        if SCHEDULER_STEPS_PER_BATCH:
            step_scheduler(scheduler)
        total_loss += float(loss.detach()) * len(y)
        correct += int((logits.detach().argmax(1) == y).sum())
        seen += len(y)
    return total_loss / seen, correct / seen


def evaluate(model, val_x, val_y, mean, std, device, batch_size=256):
    \"\"\"Validation loss and accuracy, in eval mode (BatchNorm's running statistics) with no gradients.\"\"\"
    model.eval()
    criterion = nn.CrossEntropyLoss()  # no label smoothing when scoring
    total_loss, correct = 0.0, 0
    with torch.no_grad(), autocast(device):
        for start in range(0, len(val_y), batch_size):
            x, y = to_input(val_x[start:start + batch_size], mean, std), val_y[start:start + batch_size]
            logits = model(x).float()
            total_loss += float(criterion(logits, y)) * len(y)
            correct += int((logits.argmax(1) == y).sum())
    n = max(1, len(val_y))
    return total_loss / n, correct / n
"""

MAIN = """\
def main():
    torch.manual_seed(SEED)  # the model's initial weights
    train_x, train_y, val_x, val_y, class_names = load_data()
    model, head, pretrained = build_model(len(class_names))
    mean, std = channel_mean_std(train_x, pretrained)
    device = DEVICE
    print(f"{len(train_y)} training and {len(val_y)} validation images of {len(class_names)} classes, on {device}")
    model = model.to(device, memory_format=torch.channels_last if CHANNELS_LAST else torch.contiguous_format)
    optimizer = make_optimizer(param_groups(model, head))
    steps_per_epoch = max(1, math.ceil(len(train_y) / BATCH_SIZE))
    if steps_per_epoch > 1 and len(train_y) % BATCH_SIZE == 1:
        steps_per_epoch -= 1  # the lone last image joins the batch before it
    scheduler = make_scheduler(optimizer, steps_per_epoch)
    mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=device).view(1, 3, 1, 1)
    train_x, train_y, val_x, val_y = (t.to(device) for t in (train_x, train_y, val_x, val_y))
    criterion = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)
    for epoch in range(EPOCHS):
        started = time.perf_counter()
        train_loss, train_accuracy = train_epoch(model, (train_x, train_y, mean, std), optimizer, scheduler,
                                                 criterion, epoch, device)
        val_loss, val_accuracy = evaluate(model, val_x, val_y, mean, std, device)
        if not SCHEDULER_STEPS_PER_BATCH:
            step_scheduler(scheduler, val_loss)
        print(f"epoch {epoch + 1}/{EPOCHS}  train_loss {train_loss:.4f}  train_accuracy {train_accuracy:.3f}  "
              f"val_loss {val_loss:.4f}  val_accuracy {val_accuracy:.3f}  ({time.perf_counter() - started:.1f} s)")
    val_loss, val_accuracy = evaluate(model, val_x, val_y, mean, std, device)
    print(f"val_accuracy {val_accuracy:.3f}")
    return model
"""

SCRIPT_ENTRY = """\
if __name__ == "__main__":
    main()
"""

SCRIPT_ENTRY_FOLDER = """\
if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Train the exported run on your ImageFolder dataset.")
    parser.add_argument("data_dir", help="the dataset folder: data_dir/<class name>/<images>")
    DATA_DIR = parser.parse_args().data_dir
    main()
"""
