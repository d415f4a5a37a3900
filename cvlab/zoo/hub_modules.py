"""The Hugging Face models as the rest of cvlab calls a network: images in, a logits tensor out.

A transformers model takes ``pixel_values=`` and returns an output object; the training
engine, the counters and Inside a CNN call ``model(x)`` and read a tensor. These two thin
wrappers keep the transformers model whole under ``.hf`` (its own parameter names, so
``hf.vit.layers.5`` is the sixth encoder block) and make it answer like the others.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class HubClassifier(nn.Module):
    """``ViTForImageClassification`` at any image size: (N, 3, H, W) -> (N, classes) logits.

    ViT's position embeddings are learned for one grid (14 x 14 patches at 224 px);
    ``interpolate_pos_encoding`` resizes them bicubically to the grid of the image given,
    so the same network trains on 32 px shapes or runs on a 224 px photo. At the
    config's own size it uses the embeddings as they are.
    """

    def __init__(self, hf_model: nn.Module):
        super().__init__()
        self.hf = hf_model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.hf(pixel_values=images, interpolate_pos_encoding=True).logits


class HubSegmenter(nn.Module):
    """``SegformerForSemanticSegmentation`` as a mask model: (N, 3, H, W) -> (N, classes, H, W) logits.

    SegFormer's all-MLP decoder predicts at 1/4 of the input's resolution (its first
    stage embeds 4 x 4 overlapping patches); the logits are upsampled bilinearly to the
    image's size, as Hugging Face does for its own loss, so the mask losses and metrics
    compare them pixel for pixel with the masks.
    """

    encoder_prefix = "hf.segformer."  # the pretrained body; the decode head is what a new run trains afresh

    def __init__(self, hf_model: nn.Module):
        super().__init__()
        self.hf = hf_model
        self.num_classes = int(hf_model.config.num_labels)

    @property
    def segmentation_head(self) -> tuple[nn.Module]:
        """The last layer, where smp models keep theirs: the decode head's 1x1 classifier conv."""
        return (self.hf.decode_head.classifier,)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.hf(pixel_values=images).logits  # (N, classes, H/4, W/4)
        return F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
