"""A real smp U-Net taken apart: the shape of every encoder, bottleneck and decoder stage at an input size.

The shapes are measured by running the model once on a random input, not computed from
a formula, so they are what smp really builds: the encoder halves the image five times,
the bottleneck is the deepest feature map, and each decoder block doubles the size and
concatenates the encoder map of the same size (the skip connection) before its convs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cvlab.segmentation.architectures import build_segmentation_model, check_input_size


@dataclass(frozen=True)
class UnetStage:
    part: str  # "input", "encoder", "bottleneck", "decoder" or "head"
    name: str  # "encoder 2", "decoder 1"
    channels: int
    height: int  # px
    width: int
    skip_from: str | None = None  # decoder: the encoder stage concatenated in
    conv_in_channels: int | None = None  # decoder: upsampled + skip channels entering its first conv
    params: int | None = None  # decoder and head: parameters of the block


@dataclass(frozen=True)
class UnetAnatomy:
    encoder: str
    input_size: int  # px per side
    classes: int
    stages: tuple[UnetStage, ...]
    encoder_params: int
    decoder_params: int
    head_params: int


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _encoder_stages(features: list[torch.Tensor]) -> list[UnetStage]:
    stages = [UnetStage("input", "input", *features[0].shape[1:])]
    for index, feature in enumerate(features[1:], start=1):
        part = "bottleneck" if index == len(features) - 1 else "encoder"
        name = "bottleneck" if part == "bottleneck" else f"encoder {index}"
        stages.append(UnetStage(part, name, *feature.shape[1:]))
    return stages


@torch.no_grad()
def unet_anatomy(encoder: str = "resnet18", input_size: int = 128, classes: int = 1) -> UnetAnatomy:
    """Shapes of a random-weights smp.Unet at ``input_size`` px, stage by stage."""
    check_input_size("unet", input_size, input_size)
    model = build_segmentation_model("unet", encoder, classes).eval()
    x = torch.randn(1, 3, input_size, input_size)
    features = model.encoder(x)  # [input, stride 2, 4, 8, 16, 32]
    stages = _encoder_stages(features)
    skips = stages[-2:0:-1]  # encoder stages from deep to shallow, the bottleneck left out
    outputs: list[torch.Tensor] = []
    hooks = [block.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for block in model.decoder.blocks]
    try:
        logits = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    for index, (block, out) in enumerate(zip(model.decoder.blocks, outputs)):
        skip = skips[index] if index < len(skips) else None
        stages.append(UnetStage("decoder", f"decoder {index + 1}", *out.shape[1:],
                                skip_from=skip.name if skip else None,
                                conv_in_channels=block.conv1[0].in_channels, params=_count(block)))
    stages.append(UnetStage("head", "segmentation head", *logits.shape[1:], params=_count(model.segmentation_head)))
    return UnetAnatomy(encoder, input_size, classes, tuple(stages), _count(model.encoder), _count(model.decoder),
                       _count(model.segmentation_head))


@torch.no_grad()
def random_unet_prediction(encoder: str = "resnet18", size: int = 128, seed: int = 0) -> tuple[np.ndarray, ...]:
    """One shapes scene, its mask, and what an untrained U-Net predicts for it.

    Returns image (H, W, 3) uint8, truth (H, W) uint8 (1 = object) and the random model's
    object probability (H, W) float32: noise around 0.5 until the model is trained.
    """
    from cvlab.data.shapes import shapes_segmentation
    from cvlab.segmentation.train import to_model_input

    check_input_size("unet", size, size)
    images, masks = shapes_segmentation(1, seed, size=size)
    torch.manual_seed(seed)
    model = build_segmentation_model("unet", encoder, 1).eval()
    batch = torch.from_numpy(images).permute(0, 3, 1, 2)
    probability = torch.sigmoid(model(to_model_input(batch)))[0, 0].numpy().astype(np.float32)
    return images[0], (masks[0] > 0).astype(np.uint8), probability
