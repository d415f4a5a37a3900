"""The ARCHITECTURES registry: networks a page can build without a download, and how to look inside.

Each entry names the modules whose outputs are worth showing as feature maps
(``stages``), the last convolutional stage for Grad-CAM (``cam_layer``), and
the torchvision weights that make it pretrained when they can be had.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cvlab.registry import Registry


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    family: str
    year: int
    paper: str
    input_size: int  # pixels per side the network was designed for
    build: Callable[[], object]  # -> torch.nn.Module with random weights, no download
    stages: tuple[str, ...]  # dotted module names, input to output
    cam_layer: str  # the module whose output Grad-CAM weighs
    weights: str | None = None  # torchvision weights enum, e.g. "ResNet18_Weights.IMAGENET1K_V1"
    chain_preset: str | None = None  # the output-size calculator preset with the same shapes


ARCHITECTURES: Registry[Architecture] = Registry("architecture")


def _overview():
    from cvlab.layer_chain_frameworks import build_sequential
    from cvlab.layer_chain_spec import PRESETS, parse_chain

    preset = PRESETS.get("overview")
    return build_sequential(preset.input_shape, parse_chain(preset.spec))


def _torchvision(builder: str) -> Callable[[], object]:
    def build():
        import torchvision.models

        return getattr(torchvision.models, builder)(weights=None)

    return build


ARCHITECTURES.register("overview", Architecture(
    "overview", "The lecture's overview CNN", "Lecture", 2026, "CNN overview flowchart (this lecture)", 224,
    _overview, stages=("1", "2", "4", "5", "7", "8", "10", "11", "12", "14"), cam_layer="10",
    chain_preset="overview"))
ARCHITECTURES.register("vgg16", Architecture(
    "vgg16", "VGG-16", "VGG", 2014, "Simonyan & Zisserman, Very Deep Convolutional Networks", 224,
    _torchvision("vgg16"), stages=("features.3", "features.8", "features.15", "features.22", "features.29",
                                   "features.30", "avgpool", "classifier.6"),
    cam_layer="features.29", weights="VGG16_Weights.IMAGENET1K_V1"))
ARCHITECTURES.register("resnet18", Architecture(
    "resnet18", "ResNet-18", "ResNet", 2015, "He et al., Deep Residual Learning for Image Recognition", 224,
    _torchvision("resnet18"), stages=("relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"),
    cam_layer="layer4", weights="ResNet18_Weights.IMAGENET1K_V1"))
ARCHITECTURES.register("resnet50", Architecture(
    "resnet50", "ResNet-50", "ResNet", 2015, "He et al., Deep Residual Learning for Image Recognition", 224,
    _torchvision("resnet50"), stages=("relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"),
    cam_layer="layer4", weights="ResNet50_Weights.IMAGENET1K_V2"))
ARCHITECTURES.register("efficientnet_b0", Architecture(
    "efficientnet_b0", "EfficientNet-B0", "EfficientNet", 2019,
    "Tan & Le, EfficientNet: Rethinking Model Scaling for CNNs", 224, _torchvision("efficientnet_b0"),
    stages=("features.0", "features.2", "features.3", "features.4", "features.6", "features.8", "avgpool",
            "classifier.1"),
    cam_layer="features.8", weights="EfficientNet_B0_Weights.IMAGENET1K_V1"))
ARCHITECTURES.register("mobilenet_v3_small", Architecture(
    "mobilenet_v3_small", "MobileNetV3-Small", "MobileNet", 2019, "Howard et al., Searching for MobileNetV3", 224,
    _torchvision("mobilenet_v3_small"),
    stages=("features.0", "features.1", "features.3", "features.8", "features.12", "avgpool", "classifier.3"),
    cam_layer="features.12", weights="MobileNet_V3_Small_Weights.IMAGENET1K_V1"))
