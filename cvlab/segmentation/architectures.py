"""The smp architectures and encoders the lab offers, with their teaching facts, and the one builder.

segmentation_models_pytorch pairs any decoder with any encoder: ``smp.Unet(encoder_name="resnet34")``.
Its default ``encoder_weights="imagenet"`` is a download from the Hugging Face hub, so the builder
always passes ``encoder_weights=None`` and, when ImageNet weights are asked for, loads them itself
through ``cvlab.weights`` (local folder first, then a download; ``WeightsUnavailable`` otherwise).
torch and smp are imported only inside the builder: the facts cost nothing to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cvlab.errors import InvalidInput
from cvlab.registry import Registry
from cvlab.settings import Settings

if TYPE_CHECKING:
    from torch import nn

SIZE_DIVISOR = 32  # every encoder here halves the image five times: 2**5


@dataclass(frozen=True)
class SegArchitecture:
    name: str  # registry key: "unet"
    smp_class: str  # the class in segmentation_models_pytorch: "Unet"
    display_name: str  # "U-Net"
    paper: str  # authors, title
    year: int
    idea: str  # the one thing this decoder adds, in a sentence
    skips: str  # how encoder features reach the decoder
    # px per side; smaller inputs leave a stage with no pixels. PAN pools its 1/32 map down twice more
    # (to 1/128) in its feature pyramid attention, so below 128 px a pooled map is empty.
    min_size: int = SIZE_DIVISOR
    # A Hugging Face Hub id (cvlab.zoo.huggingface): the model brings its own encoder, and the encoder setting
    # does not apply; smp_class is then the transformers class, for the record.
    hub_id: str | None = None


@dataclass(frozen=True)
class SegEncoder:
    name: str  # smp encoder name: "resnet34"
    display_name: str
    family: str
    note: str


ARCHITECTURES: Registry[SegArchitecture] = Registry("segmentation architecture")
ENCODERS: Registry[SegEncoder] = Registry("segmentation encoder")

for _arch in (
    SegArchitecture("unet", "Unet", "U-Net", "Ronneberger, Fischer & Brox, U-Net: Convolutional Networks for "
                    "Biomedical Image Segmentation", 2015,
                    "An encoder that contracts and a decoder that expands back, in a U shape.",
                    "concatenated at every scale: the decoder sees fine detail the bottleneck lost"),
    SegArchitecture("unetplusplus", "UnetPlusPlus", "U-Net++", "Zhou et al., UNet++: A Nested U-Net "
                    "Architecture for Medical Image Segmentation", 2018,
                    "Nested, dense skip pathways close the gap between encoder and decoder features.",
                    "through rows of intermediate conv blocks, each fed by all the ones before it"),
    SegArchitecture("fpn", "FPN", "FPN", "Lin et al., Feature Pyramid Networks for Object Detection; Kirillov "
                    "et al., Panoptic FPN", 2017,
                    "A top-down pathway adds coarse, semantic features to finer ones; every level predicts.",
                    "1x1 lateral convs, summed with the upsampled coarser level"),
    SegArchitecture("deeplabv3", "DeepLabV3", "DeepLabV3", "Chen et al., Rethinking Atrous Convolution for "
                    "Semantic Image Segmentation", 2017,
                    "Atrous (dilated) convolutions keep resolution; ASPP looks at several scales at once.",
                    "none: the output is upsampled 8x from the dilated encoder"),
    SegArchitecture("deeplabv3plus", "DeepLabV3Plus", "DeepLabV3+", "Chen et al., Encoder-Decoder with Atrous "
                    "Separable Convolution for Semantic Image Segmentation", 2018,
                    "ASPP for context plus a light decoder that sharpens object edges.",
                    "one: the stride-4 encoder features, concatenated once"),
    SegArchitecture("linknet", "Linknet", "LinkNet", "Chaurasia & Culurciello, LinkNet: Exploiting Encoder "
                    "Representations for Efficient Semantic Segmentation", 2017,
                    "A light, fast U-shape: encoder features are added, not concatenated.",
                    "added to the decoder at every scale (no extra channels)"),
    SegArchitecture("pspnet", "PSPNet", "PSPNet", "Zhao et al., Pyramid Scene Parsing Network", 2017,
                    "A pyramid pooling module pools the feature map at 1, 2, 3 and 6 bins for global context.",
                    "none: pooled context at four scales instead"),
    SegArchitecture("pan", "PAN", "PAN", "Li et al., Pyramid Attention Network for Semantic Segmentation", 2018,
                    "Feature pyramid attention on the deepest features, global attention to guide upsampling.",
                    "weighted by attention from the coarser level", min_size=128),
    SegArchitecture("manet", "MAnet", "MA-Net", "Fan et al., MA-Net: A Multi-Scale Attention Network for "
                    "Liver and Tumor Segmentation", 2020,
                    "Position-wise attention in the bottleneck, multi-scale fusion attention on the skips.",
                    "concatenated after channel attention picks what to keep"),
    SegArchitecture("upernet", "UPerNet", "UPerNet", "Xiao et al., Unified Perceptual Parsing for Scene "
                    "Understanding", 2018,
                    "PSPNet's pyramid pooling on top of an FPN, all levels fused for the output.",
                    "FPN lateral connections"),
    SegArchitecture("segformer", "Segformer", "SegFormer", "Xie et al., SegFormer: Simple and Efficient Design "
                    "for Semantic Segmentation with Transformers", 2021,
                    "An all-MLP decoder: every level projected to one width, upsampled and fused.",
                    "every level, projected by a 1x1 (MLP) layer and concatenated"),
    SegArchitecture("hf_segformer_b0", "SegformerForSemanticSegmentation", "SegFormer-B0 (Hugging Face)",
                    "Xie et al., SegFormer: Simple and Efficient Design for Semantic Segmentation with "
                    "Transformers", 2021,
                    "The lecture's Hugging Face SegFormer: a Mix Transformer (MiT-B0) encoder and the all-MLP "
                    "decoder, predicting at 1/4 of the input (upsampled here to the mask's size).",
                    "every level, projected by a 1x1 (MLP) layer and concatenated",
                    hub_id="nvidia/segformer-b0-finetuned-ade-512-512"),
):
    ARCHITECTURES.register(_arch.name, _arch)

for _encoder in (
    SegEncoder("resnet18", "ResNet-18", "ResNet", "the fastest here on a CPU; 11 M parameters"),
    SegEncoder("resnet34", "ResNet-34", "ResNet", "the lecture's U-Net encoder; 21 M parameters"),
    SegEncoder("mobilenet_v2", "MobileNetV2", "MobileNet", "inverted residuals for phones; 2 M parameters"),
    SegEncoder("efficientnet-b0", "EfficientNet-B0", "EfficientNet", "compound-scaled MBConv; 4 M parameters"),
    SegEncoder("efficientnet-b3", "EfficientNet-B3", "EfficientNet", "the lecture's U-Net++ encoder; 11 M"),
):
    ENCODERS.register(_encoder.name, _encoder)

DEFAULT_ARCHITECTURE, DEFAULT_ENCODER = "unet", "resnet18"


def check_input_size(arch: str, height: int, width: int) -> None:
    """Refuse a size the decoder cannot map back exactly, saying which sizes would work."""
    entry = ARCHITECTURES.get(arch)
    bad = [side for side in (height, width) if side % SIZE_DIVISOR]
    if bad:
        # Width first, as in the "Input WxH" the message starts with.
        fix = "x".join(str(max(entry.min_size, -(-side // SIZE_DIVISOR) * SIZE_DIVISOR)) for side in (width, height))
        raise InvalidInput(
            f"Input {width}x{height} px: {entry.display_name} needs both sides divisible by {SIZE_DIVISOR} "
            f"(the encoder halves the image 5 times, and every skip connection must line up with its "
            f"decoder stage). Pad or resize to {fix} px.")
    if min(height, width) < entry.min_size:
        raise InvalidInput(f"Input {width}x{height} px is too small for {entry.display_name}: it needs at least "
                           f"{entry.min_size} px per side. Set the image size to {entry.min_size} px or more, "
                           "or choose another architecture.")


def _imagenet_state_dict(encoder: str, settings: Settings | None) -> dict:
    """The encoder's ImageNet weights as smp publishes them, found through cvlab.weights."""
    from safetensors.torch import load_file
    from segmentation_models_pytorch.encoders import encoders

    from cvlab.weights import WeightsUnavailable, resolve_weights_file

    hub = encoders[encoder]["pretrained_settings"]["imagenet"]
    url = f"https://huggingface.co/{hub['repo_id']}/resolve/{hub['revision']}/model.safetensors"
    path, _ = resolve_weights_file(f"smp-{encoder}-imagenet.safetensors", url=url,
                                   what=f"the ImageNet {ENCODERS.get(encoder).display_name} encoder",
                                   settings=settings)
    try:
        return load_file(str(path), device="cpu")
    except Exception as err:  # a truncated or foreign file
        raise WeightsUnavailable(f"{path} is not a readable safetensors file ({type(err).__name__}). "
                                 "Delete it and copy a fresh one there.") from None


def build_segmentation_model(arch: str, encoder: str, classes: int, *, pretrained: bool = False,
                             in_channels: int = 3, settings: Settings | None = None) -> "nn.Module":
    """An smp model with random weights, or ImageNet encoder weights when ``pretrained``.

    ``classes=1`` is binary (one logit per pixel); ``classes >= 2`` is multi-class, background
    included. ``pretrained=True`` raises WeightsUnavailable when the weights cannot be had.
    """
    entry, _ = ARCHITECTURES.get(arch), ENCODERS.get(encoder)
    if not 1 <= int(classes) <= 256:
        raise InvalidInput(f"classes={classes}: use 1 for a binary mask or 2..256 for class ids.")
    if entry.hub_id:
        if in_channels != 3:
            raise InvalidInput(f"{entry.display_name} takes RGB images: use in_channels=3.")
        return _hub_segmentation_model(entry.hub_id, int(classes), pretrained, settings)
    import segmentation_models_pytorch as smp

    model = getattr(smp, entry.smp_class)(encoder_name=encoder, encoder_weights=None,
                                          in_channels=in_channels, classes=int(classes))
    if pretrained:
        if in_channels != 3:
            raise InvalidInput("ImageNet encoder weights are for RGB input: use in_channels=3 or random weights.")
        model.encoder.load_state_dict(_imagenet_state_dict(encoder, settings))
    return model


def _hub_segmentation_model(hub_id: str, classes: int, pretrained: bool, settings: Settings | None) -> "nn.Module":
    """A Hugging Face segmentation model with ``classes`` outputs: random, or its pretrained body with a new
    classifier (``ignore_mismatched_sizes``: the Hub's 150 ADE20K classes are not ours)."""
    from cvlab.zoo.hub_modules import HubSegmenter
    from cvlab.zoo.huggingface import HUB_MODELS, build_random, load_pretrained

    spec = HUB_MODELS.get(hub_id)
    if pretrained:
        loaded = load_pretrained(spec, settings, num_labels=classes, ignore_mismatched_sizes=True)
        return HubSegmenter(loaded.module)
    return HubSegmenter(build_random(spec, num_labels=classes))
