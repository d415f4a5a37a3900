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
    timm_name: str | None = None  # timm model name when the builder is timm's (its pretrained cfg has the facts)
    block: str = ""  # the building block the network repeats, as the lecture names it
    first_stage: str | None = None  # the stage a page opens on; None: the third (a map in every CNN)
    # A transformer's last encoder block: its class token's attention is shown instead of Grad-CAM,
    # which has no convolutional map to weigh after the patch embedding.
    attention_block: str | None = None
    hub_id: str | None = None  # a Hugging Face Hub id (cvlab.zoo.huggingface) when the network is transformers'

    @property
    def default_stage(self) -> str:
        """The stage shown first: one with feature maps, never the classifier's vector."""
        return self.first_stage or self.stages[min(2, len(self.stages) - 1)]


ARCHITECTURES: Registry[Architecture] = Registry("architecture")

# The block each family repeats (the page's "Inside a model" section draws most of them beside their code).
VGG_BLOCK = "VGG block (3x3 convs + max-pool)"
VGG_BN_BLOCK = "VGG block (3x3 conv-BN-ReLU + max-pool)"
BASIC_RESIDUAL = "basic residual (two 3x3 convs + shortcut)"
BOTTLENECK_RESIDUAL = "bottleneck residual (1x1-3x3-1x1 + shortcut)"
MBCONV = "MBConv (inverted residual, depthwise 3x3/5x5, SE)"
FUSED_MBCONV = "Fused-MBConv early, MBConv + SE later"
INVERTED_RESIDUAL_SE = "inverted residual + SE, h-swish (MobileNetV3)"
REGNET_Y = "RegNet Y block (bottleneck, group conv, SE)"
CONVNEXT_BLOCK = "ConvNeXt block (7x7 depthwise, LayerNorm, MLP)"
SWIN_BLOCK = "Swin block (window + shifted-window attention)"
VIT_BLOCK = "patch embedding + transformer encoder"


def _overview():
    from cvlab.sizes.frameworks import build_sequential
    from cvlab.sizes.chain_text import PRESETS, parse_chain

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
    chain_preset="overview", block="conv + ReLU + max-pool"))
def _lecture_net(name: str) -> Callable[[], object]:
    def build():
        from cvlab.zoo.lecture_nets import build_lecture_net

        return build_lecture_net(name)  # 10 classes, as CIFAR-10

    return build


_LECTURE_CIFAR_PAPER = ("this lecture's hands-on lab (VGGBlock, ResidualBlock), "
                        "after Simonyan & Zisserman 2014 / He et al. 2015")
ARCHITECTURES.register("lecture-vgg", Architecture(
    "lecture-vgg", "Lecture VGG-like CIFAR net", "Lecture", 2026, _LECTURE_CIFAR_PAPER, 32,
    _lecture_net("lecture-vgg"), stages=("features.0", "features.1", "features.2", "pool", "classifier"),
    cam_layer="features.2.block.5",  # the last ReLU, 8x8, before the final pool
    block="VGGBlock (two 3x3 conv-BN-ReLU, 2x2 max-pool)"))
ARCHITECTURES.register("lecture-residual", Architecture(
    "lecture-residual", "Lecture CIFAR net + residual connections", "Lecture", 2026, _LECTURE_CIFAR_PAPER, 32,
    _lecture_net("lecture-residual"), stages=("features.0", "features.1", "features.2", "pool", "classifier"),
    cam_layer="features.2.0",  # the last ResidualBlock's output, 8x8, before the final pool
    block="ResidualBlock (two 3x3 conv-BN + shortcut)"))
ARCHITECTURES.register("vgg16", Architecture(
    "vgg16", "VGG-16", "VGG", 2014, "Simonyan & Zisserman, Very Deep Convolutional Networks", 224,
    _torchvision("vgg16"), stages=("features.3", "features.8", "features.15", "features.22", "features.29",
                                   "features.30", "avgpool", "classifier.6"),
    cam_layer="features.29", weights="VGG16_Weights.IMAGENET1K_V1", block=VGG_BLOCK))
ARCHITECTURES.register("resnet18", Architecture(
    "resnet18", "ResNet-18", "ResNet", 2015, "He et al., Deep Residual Learning for Image Recognition", 224,
    _torchvision("resnet18"), stages=("relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"),
    cam_layer="layer4", weights="ResNet18_Weights.IMAGENET1K_V1", block=BASIC_RESIDUAL))
ARCHITECTURES.register("resnet50", Architecture(
    "resnet50", "ResNet-50", "ResNet", 2015, "He et al., Deep Residual Learning for Image Recognition", 224,
    _torchvision("resnet50"), stages=("relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"),
    cam_layer="layer4", weights="ResNet50_Weights.IMAGENET1K_V2", block=BOTTLENECK_RESIDUAL))
ARCHITECTURES.register("efficientnet_b0", Architecture(
    "efficientnet_b0", "EfficientNet-B0", "EfficientNet", 2019,
    "Tan & Le, EfficientNet: Rethinking Model Scaling for CNNs", 224, _torchvision("efficientnet_b0"),
    stages=("features.0", "features.2", "features.3", "features.4", "features.6", "features.8", "avgpool",
            "classifier.1"),
    cam_layer="features.8", weights="EfficientNet_B0_Weights.IMAGENET1K_V1",
    block=MBCONV))
ARCHITECTURES.register("mobilenet_v3_small", Architecture(
    "mobilenet_v3_small", "MobileNetV3-Small", "MobileNet", 2019, "Howard et al., Searching for MobileNetV3", 224,
    _torchvision("mobilenet_v3_small"),
    stages=("features.0", "features.1", "features.3", "features.8", "features.12", "avgpool", "classifier.3"),
    cam_layer="features.12", weights="MobileNet_V3_Small_Weights.IMAGENET1K_V1",
    block=INVERTED_RESIDUAL_SE))


# ---- The lecture's comparison zoo: one or two lines per network (facts in cvlab.zoo.facts) ----------------------

_PAPERS = {
    "VGG": (2014, "Simonyan & Zisserman, Very Deep Convolutional Networks"),
    "ResNet": (2015, "He et al., Deep Residual Learning for Image Recognition"),
    "EfficientNet": (2019, "Tan & Le, EfficientNet: Rethinking Model Scaling for CNNs"),
    "EfficientNetV2": (2021, "Tan & Le, EfficientNetV2: Smaller Models and Faster Training"),
    "MobileNet": (2019, "Howard et al., Searching for MobileNetV3"),
    "ViT": (2020, "Dosovitskiy et al., An Image is Worth 16x16 Words: Transformers for Image Recognition"),
    "ConvNeXt": (2022, "Liu et al., A ConvNet for the 2020s"),
    "Swin": (2021, "Liu et al., Swin Transformer: Hierarchical Vision Transformer using Shifted Windows"),
    "RegNet": (2020, "Radosavovic et al., Designing Network Design Spaces"),
}
_VGG_CONFIGS = {11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
                16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
                19: (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                     512, 512, 512, 512, "M")}


def _timm(model_name: str) -> Callable[[], object]:
    def build():
        import timm

        return timm.create_model(model_name, pretrained=False)

    return build


def _hub(hub_id: str) -> Callable[[], object]:
    def build():
        from cvlab.zoo.huggingface import HUB_MODELS, build_random
        from cvlab.zoo.hub_modules import HubClassifier

        return HubClassifier(build_random(HUB_MODELS.get(hub_id)))

    return build


def _add(name: str, title: str, family: str, input_size: int, stages: tuple[str, ...], cam_layer: str,
         weights: str | None = None, *, block: str, timm_name: str | None = None, first_stage: str | None = None,
         attention_block: str | None = None, hub_id: str | None = None) -> None:
    year, paper = _PAPERS[family]
    build = _timm(timm_name) if timm_name else _hub(hub_id) if hub_id else _torchvision(name)
    ARCHITECTURES.register(name, Architecture(name, title, family, year, paper, input_size, build, stages,
                                              cam_layer, weights, timm_name=timm_name, block=block,
                                              first_stage=first_stage, attention_block=attention_block,
                                              hub_id=hub_id))


def _vgg_stages(depth: int, batch_norm: bool) -> tuple[tuple[str, ...], str]:
    """The max-pool outputs of ``features`` (one per resolution) and the last ReLU, for Grad-CAM."""
    index, pools = 0, []
    for item in _VGG_CONFIGS[depth]:
        if item == "M":
            pools.append(index)
        index += 1 if item == "M" else 3 if batch_norm else 2  # conv, [bn], relu
    return (*(f"features.{i}" for i in pools), "avgpool", "classifier.6"), f"features.{pools[-1] - 1}"


def _add_vgg(depth: int, batch_norm: bool) -> None:
    suffix, title = ("_bn", f"VGG-{depth}-BN") if batch_norm else ("", f"VGG-{depth}")
    stages, cam = _vgg_stages(depth, batch_norm)
    weights = f"VGG{depth}{suffix.upper()}_Weights.IMAGENET1K_V1"
    _add(f"vgg{depth}{suffix}", title, "VGG", 224, stages, cam, weights,
         block=VGG_BN_BLOCK if batch_norm else VGG_BLOCK)


_RESNET = ("relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc")
_EFFICIENTNET = ("features.0", "features.2", "features.3", "features.4", "features.6", "features.8", "avgpool",
                 "classifier.1")
_CONVNEXT = ("features.0", "features.1", "features.3", "features.5", "features.7", "avgpool", "classifier.2")
_SWIN = ("features.0.0", "permute", "avgpool", "head")  # features.N are channels-last; permute gives (C, H, W)

for _depth, _bn in ((11, False), (11, True), (16, True), (19, False), (19, True)):
    _add_vgg(_depth, _bn)
for _depth in (34, 101, 152):
    _add(f"resnet{_depth}", f"ResNet-{_depth}", "ResNet", 224, _RESNET, "layer4",
         f"ResNet{_depth}_Weights.IMAGENET1K_V1", block=BASIC_RESIDUAL if _depth == 34 else BOTTLENECK_RESIDUAL)
# B1..B7 at the crop sizes their torchvision weights were evaluated at (compound scaling of resolution)
for _b, _size in ((1, 240), (2, 288), (3, 300), (4, 380), (5, 456), (6, 528), (7, 600)):
    _add(f"efficientnet_b{_b}", f"EfficientNet-B{_b}", "EfficientNet", _size, _EFFICIENTNET, "features.8",
         f"EfficientNet_B{_b}_Weights.IMAGENET1K_V1", block=MBCONV)
_add("efficientnet_v2_s", "EfficientNetV2-S", "EfficientNetV2", 384,
     ("features.0", "features.2", "features.3", "features.4", "features.6", "features.7", "avgpool", "classifier.1"),
     "features.7", "EfficientNet_V2_S_Weights.IMAGENET1K_V1", block=FUSED_MBCONV)
_add("mobilenet_v3_large", "MobileNetV3-Large", "MobileNet", 224,
     ("features.0", "features.1", "features.3", "features.6", "features.12", "features.16", "avgpool",
      "classifier.3"), "features.16", "MobileNet_V3_Large_Weights.IMAGENET1K_V1",
     block=INVERTED_RESIDUAL_SE)
_add("regnet_y_400mf", "RegNetY-400MF", "RegNet", 224,
     ("stem", "trunk_output.block1", "trunk_output.block2", "trunk_output.block3", "trunk_output.block4",
      "avgpool", "fc"), "trunk_output.block4", "RegNet_Y_400MF_Weights.IMAGENET1K_V1", block=REGNET_Y)
for _size, _title in (("tiny", "T"), ("small", "S"), ("base", "B")):
    _add(f"convnext_{_size}", f"ConvNeXt-{_title}", "ConvNeXt", 224, _CONVNEXT, "features.7",
         f"ConvNeXt_{_size.title()}_Weights.IMAGENET1K_V1", block=CONVNEXT_BLOCK)
for _size in ("t", "s", "b"):
    _add(f"swin_{_size}", f"Swin-{_size.upper()}", "Swin", 224, _SWIN, "permute",
         f"Swin_{_size.upper()}_Weights.IMAGENET1K_V1", block=SWIN_BLOCK, first_stage="permute")
# Transformers: after the patch embedding (a conv, the last (C, H, W) map they have) every stage is a
# sequence of tokens, one per 16x16 patch plus the class token; cvlab.cnn.inside_network lays the patch tokens
# back on their 14x14 grid. Instead of Grad-CAM, the class token's attention in the last block.
_VIT_B = tuple(f"encoder.layers.encoder_layer_{i}" for i in (0, 5, 11))
_add("vit_b_16", "ViT-B/16", "ViT", 224, ("conv_proj", *_VIT_B, "encoder.ln", "heads.head"), "conv_proj",
     "ViT_B_16_Weights.IMAGENET1K_V1", block=VIT_BLOCK, first_stage=_VIT_B[1], attention_block=_VIT_B[-1])
_add("vit_tiny_patch16_224", "ViT-Ti/16 (timm)", "ViT", 224,
     ("patch_embed.proj", "blocks.0", "blocks.5", "blocks.11", "norm", "head"), "patch_embed.proj",
     block=VIT_BLOCK, timm_name="vit_tiny_patch16_224", first_stage="blocks.5", attention_block="blocks.11")
# The same ViT-B/16 from the lecture's other two libraries: timm and Hugging Face Transformers. All three count
# 86,567,656 parameters and 17.56 GMACs at 224 px, torchvision's published figures: one network, three codebases.
_add("vit_base_patch16_224", "ViT-B/16 (timm)", "ViT", 224,
     ("patch_embed.proj", "blocks.0", "blocks.5", "blocks.11", "norm", "head"), "patch_embed.proj",
     block=VIT_BLOCK, timm_name="vit_base_patch16_224", first_stage="blocks.5", attention_block="blocks.11")
_HF_VIT = tuple(f"hf.vit.layers.{i}" for i in (0, 5, 11))
_add("hf_vit_base_patch16_224", "ViT-B/16 (Hugging Face)", "ViT", 224,
     ("hf.vit.embeddings.patch_embeddings.projection", *_HF_VIT, "hf.vit.layernorm", "hf.classifier"),
     "hf.vit.embeddings.patch_embeddings.projection", block=VIT_BLOCK, hub_id="google/vit-base-patch16-224",
     first_stage=_HF_VIT[1], attention_block=_HF_VIT[-1])
