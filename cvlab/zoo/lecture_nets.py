"""The lecture's own CIFAR-10 networks: a VGG-like net of ``VGGBlock``s, and the same net with ``ResidualBlock``s.

How they map to the lecture's code (session 4, "VGG-16 Implementation" and
"Residual Block Implementation", and the hands-on lab's exercises 1 and 2):

- ``VGGBlock`` is the lecture's class line for line, plus one switch,
  ``batch_norm``, that puts a BatchNorm after each convolution as torchvision's
  ``vgg16_bn`` does. With the default ``batch_norm=False`` it is the slide.
- ``ResidualBlock`` is the lecture's class as written: conv-BN-ReLU, conv-BN,
  plus the skip (a 1x1 projection when the channels or stride change), then ReLU.
- ``lecture-vgg`` (exercise 1): three ``VGGBlock(batch_norm=True)`` stages of two
  3x3 convolutions each, 32 -> 64 -> 128 channels, each ending in a 2x2 max-pool
  (32 px -> 16 -> 8 -> 4), then global average pooling and one linear layer.
  VGG-16's 4096-wide fully connected head would hold most of the weights of a
  net this size; the average pool keeps it at 128 x num_classes.
- ``lecture-residual`` (exercise 2, "add residual connections"): the same three
  stages with each pair of convolutions made a ``ResidualBlock`` followed by the
  same max-pool, so the only differences are the skip additions (and their 1x1
  projections where the channel count changes).

Both take 32x32 inputs (CIFAR-10's size; any side divisible by 8 works, the
head pools globally) and any ``num_classes``. They are small on purpose
(about 0.29 M parameters, 39 M multiply-accumulates per image), so they train
on a CPU in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from cvlab.errors import InvalidInput
from cvlab.registry import Registry

INPUT_SIZE = 32  # CIFAR-10 images are 32x32
WIDTHS = (32, 64, 128)  # channels of the three stages; each stage halves H and W


# ---- the lecture's two blocks ----------------------------------------------------------------------------------

class VGGBlock(nn.Module):
    """``num_convs`` 3x3 convolutions with ReLU (BatchNorm between, if asked), then a 2x2 max-pool."""

    def __init__(self, in_channels: int, out_channels: int, num_convs: int, batch_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index in range(num_convs):
            # Only the first convolution changes the channel count; padding 1 keeps H and W.
            layers.append(nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3, padding=1))
            if batch_norm:  # not on the slide: as in torchvision's vgg16_bn, it makes training fast and stable
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.MaxPool2d(2, 2))  # halves H and W
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, H/2, W/2)
        return self.block(x)


class ResidualBlock(nn.Module):
    """Two 3x3 conv + BN layers whose output is added to the input: y = ReLU(F(x) + x)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)  # may downsample
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        # The skip path must match F(x)'s shape: a 1x1 projection when stride or channels change.
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


# ---- the two networks ----------------------------------------------------------------------------------------

class LectureNet(nn.Module):
    """``features`` (stages that each halve H and W) -> global average pool -> one linear classifier."""

    def __init__(self, stages: Sequence[nn.Module], features_out: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(features_out, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 32, 32) -> (B, num_classes)
        maps = self.features(x)  # (B, 128, 4, 4)
        return self.classifier(torch.flatten(self.pool(maps), 1))  # (B, 128) -> (B, num_classes)


def lecture_vgg(num_classes: int = 10, widths: Sequence[int] = WIDTHS) -> LectureNet:
    """Exercise 1: a VGG-like CIFAR net, one ``VGGBlock`` of two convolutions per width."""
    stages, in_channels = [], 3
    for width in widths:
        stages.append(VGGBlock(in_channels, width, num_convs=2, batch_norm=True))
        in_channels = width
    return LectureNet(stages, in_channels, num_classes)


def lecture_residual(num_classes: int = 10, widths: Sequence[int] = WIDTHS) -> LectureNet:
    """Exercise 2: the same net with each pair of convolutions a ``ResidualBlock``, then the same max-pool."""
    stages, in_channels = [], 3
    for width in widths:
        stages.append(nn.Sequential(ResidualBlock(in_channels, width), nn.MaxPool2d(2, 2)))
        in_channels = width
    return LectureNet(stages, in_channels, num_classes)


@dataclass(frozen=True)
class LectureNetSpec:
    name: str
    title: str
    build: Callable[[int], LectureNet]  # num_classes -> a model with fresh random weights
    exercise: str  # which lab exercise it answers


LECTURE_NETS: Registry[LectureNetSpec] = Registry("lecture network")
LECTURE_NETS.register("lecture-vgg", LectureNetSpec(
    "lecture-vgg", "Lecture VGG-like CIFAR net", lecture_vgg, "1. Implement a VGG-like network for CIFAR-10"))
LECTURE_NETS.register("lecture-residual", LectureNetSpec(
    "lecture-residual", "Lecture VGG-like CIFAR net + residual connections", lecture_residual,
    "2. Add residual connections and compare accuracy"))


def build_lecture_net(name: str, num_classes: int = 10) -> nn.Module:
    """``"lecture-vgg"`` or ``"lecture-residual"`` for 32x32 images and ``num_classes`` outputs, random weights."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise InvalidInput(f"num_classes must be a whole number of at least 1, got {num_classes!r}.")
    return LECTURE_NETS.get(name).build(num_classes)
