"""The torch side of SAM: image in -> embedding, embedding + prompt -> masks (as SamPredictor does).

SAM sees a 1024x1024 input: the image is resized so its longest side is 1024, normalised
with ImageNet's mean and std (in 0..255 units), and padded with zeros at the right and bottom.
Prompts are scaled by the same factor. The decoder answers at 256x256 (a quarter of the
input); that is upsampled to 1024, the padding cropped off, and upsampled to the image.
SAM and SAM 2 differ in how the decoder is fed: SAM 2 also takes two high-resolution feature
maps from its encoder, and takes a box as two corner points labelled 2 and 3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

INPUT_SIZE = 1024  # px: the side SAM's image encoder was trained at
PIXEL_MEAN = (123.675, 116.28, 103.53)  # ImageNet's, in 0..255 units, RGB
PIXEL_STD = (58.395, 57.12, 57.375)


def resize_scale(height: int, width: int) -> float:
    return INPUT_SIZE / max(height, width)


def preprocess(pixels: np.ndarray, device: Any) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, 1024, 1024) float, longest side 1024, zero-padded."""
    height, width = pixels.shape[:2]
    scale = resize_scale(height, width)
    new_h, new_w = round(height * scale), round(width * scale)
    image = torch.from_numpy(np.array(pixels, dtype=np.uint8)).to(device).permute(2, 0, 1)[None].float()
    image = F.interpolate(image, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(PIXEL_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(PIXEL_STD, device=device).view(1, 3, 1, 1)
    image = (image - mean) / std
    return F.pad(image, (0, INPUT_SIZE - new_w, 0, INPUT_SIZE - new_h))


@torch.inference_mode()
def encode(module: Any, family: str, pixels: np.ndarray, device: Any) -> Any:
    """The image embedding: (1, 256, 64, 64) for SAM; a dict with the high-res maps for SAM 2."""
    image = preprocess(pixels, device)
    if family == "sam":
        return module.image_encoder(image)
    backbone = module.forward_image(image)
    _, vision_feats, _, _ = module._prepare_backbone_features(backbone)
    if module.directly_add_no_mem_embed:
        vision_feats[-1] = vision_feats[-1] + module.no_mem_embed
    sizes = [INPUT_SIZE // 4, INPUT_SIZE // 8, INPUT_SIZE // 16]  # strides of the three levels
    # (HW, 1, C) sequences -> (1, C, H, W) maps
    maps = [feat.permute(1, 2, 0).reshape(1, -1, size, size) for feat, size in zip(vision_feats, sizes)]
    return {"image_embed": maps[-1], "high_res_feats": maps[:-1]}


def _prompt_tensors(points, box, scale: float, device: Any):
    coords = labels = boxes = None
    if points:
        coords = torch.tensor([[(x * scale, y * scale) for x, y, _ in points]], dtype=torch.float32, device=device)
        labels = torch.tensor([[1 if positive else 0 for *_, positive in points]], dtype=torch.int32, device=device)
    if box is not None:
        boxes = torch.tensor([box], dtype=torch.float32, device=device) * scale  # (1, 4)
    return coords, labels, boxes


@torch.inference_mode()
def decode(module: Any, family: str, embedding: Any, image_hw: tuple[int, int], points, box, multimask: bool,
           device: Any) -> tuple[np.ndarray, np.ndarray]:
    """Masks (K, H, W) bool and their predicted IoU scores (K,) for one prompt."""
    scale = resize_scale(*image_hw)
    coords, labels, boxes = _prompt_tensors(points, box, scale, device)
    if family == "sam":
        sparse, dense = module.prompt_encoder(points=(coords, labels) if coords is not None else None,
                                              boxes=boxes, masks=None)
        low_res, scores = module.mask_decoder(
            image_embeddings=embedding, image_pe=module.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask)
    else:
        if boxes is not None:  # SAM 2 takes a box as its two corners, labelled 2 and 3, before the points
            corners = boxes.view(1, 2, 2)
            corner_labels = torch.tensor([[2, 3]], dtype=torch.int32, device=device)
            coords = corners if coords is None else torch.cat([corners, coords], dim=1)
            labels = corner_labels if labels is None else torch.cat([corner_labels, labels], dim=1)
        sparse, dense = module.sam_prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        low_res, scores, _, _ = module.sam_mask_decoder(
            image_embeddings=embedding["image_embed"], image_pe=module.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask,
            repeat_image=False, high_res_features=embedding["high_res_feats"])
    return _to_image(low_res, image_hw, scale), scores[0].float().cpu().numpy()


def _to_image(low_res: torch.Tensor, image_hw: tuple[int, int], scale: float) -> np.ndarray:
    """(1, K, 256, 256) logits -> (K, H, W) bool masks at the image's own size."""
    height, width = image_hw
    upsampled = F.interpolate(low_res.float(), size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    cropped = upsampled[..., :round(height * scale), :round(width * scale)]  # the padding off
    logits = F.interpolate(cropped, size=(height, width), mode="bilinear", align_corners=False)
    return (logits[0] > 0).cpu().numpy()  # SAM's mask threshold is logit 0
