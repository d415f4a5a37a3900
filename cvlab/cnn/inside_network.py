"""Look inside a network: feature maps per stage, the GAP vector, logits, top-5, and Grad-CAM.

A ``LoadedNetwork`` is built once per process (the UI caches it) and shared by
every session read-only; its lock serialises the forward passes, because the
hooks that record a stage's output live on the shared modules.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from cvlab.errors import InvalidInput
from cvlab.zoo.architectures import ARCHITECTURES, Architecture
from cvlab.weights import WeightsUnavailable
from cvlab.zoo.pretrained import has_pretrained, load_pretrained

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the statistics torchvision's ImageNet weights expect
IMAGENET_STD = (0.229, 0.224, 0.225)
MAPS_PER_STAGE = 8  # channels shown per stage: the most active ones
DISPLAY_PERCENTILES = (1.0, 99.0)  # each map's black and white points for display: a few extreme pixels
# (a ReLU map is mostly zeros with a handful of peaks) no longer leave everything else black


@dataclass(frozen=True)
class LoadedNetwork:
    architecture: Architecture
    model: object  # torch.nn.Module in eval mode, never changed after loading
    pretrained: bool
    weights_note: str  # where the weights came from, or why they are random
    categories: tuple[str, ...]  # class names, empty when the weights carry none
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)


@dataclass(frozen=True)
class StageOutput:
    name: str
    shape: tuple[int, ...]  # without the batch: (C, H, W), (tokens, features) or (features,)
    maps: np.ndarray | None  # (MAPS_PER_STAGE, H, W) float32 in [0, 1] for display, the most active channels
    channels: tuple[int, ...]  # which channels ``maps`` shows
    from_tokens: bool = False  # the maps are a transformer's patch tokens laid back on their grid


@dataclass(frozen=True)
class NetworkTrace:
    stages: tuple[StageOutput, ...]
    gap_vector: np.ndarray | None  # (C,) the pooled features the classifier reads
    logits: np.ndarray  # (classes,) the classifier's raw scores
    probabilities: np.ndarray  # (classes,) softmax of the logits
    top5: tuple[tuple[int, str, float], ...]  # (class index, class name, probability)
    attention: np.ndarray | None = None  # (g, g) the class token's attention to each patch, last block

    @property
    def uniform(self) -> bool:
        """Every class equally likely: the head gave the same logit to all (a zero-initialised head does)."""
        return float(self.probabilities.max() - self.probabilities.min()) < 1e-7

    @property
    def num_classes(self) -> int:
        """How many outputs the network really has: 1000 for ImageNet heads, 10 for the lecture's CIFAR nets."""
        return int(self.logits.size)


def load_network(name: str, *, pretrained: bool = True) -> LoadedNetwork:
    """Build ``name`` and load pretrained weights when they can be had; random weights otherwise."""
    arch = ARCHITECTURES.get(name)
    model = None
    weights_note, categories, loaded = "random weights (this network has no pretrained weights)", (), False
    if pretrained and has_pretrained(arch):
        try:
            resolved = load_pretrained(arch)
            model, weights_note = resolved.module, f"pretrained {resolved.weights} ({resolved.source})"
            categories, loaded = resolved.categories, True
        except WeightsUnavailable as err:
            weights_note = f"random weights: {err}"
    elif has_pretrained(arch):
        weights_note = "random weights (pretrained switched off)"
    model = model or arch.build()
    for module in model.modules():  # in-place ops would overwrite the stage outputs the hooks keep
        if hasattr(module, "inplace"):
            module.inplace = False
    return LoadedNetwork(arch, model.eval(), loaded, weights_note, categories)


def to_input(pixels: np.ndarray, size: int):
    """(H, W, 3) uint8 -> (1, 3, size, size) float tensor, resized and normalised like ImageNet."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.array(pixels, dtype=np.uint8)).permute(2, 0, 1).float().div(255).unsqueeze(0)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def patch_grid(output):
    """A transformer's tokens (1, N, D) as a map (1, D, g, g) of its g x g patches, the class (and any
    other prefix) tokens left out; None when the tokens do not end in a square grid."""
    import math

    if output.dim() != 3:
        return None
    tokens = output.shape[1]
    for prefix in (1, 0, *range(2, 9)):  # a class token first (ViT); some models add register tokens
        side = math.isqrt(max(tokens - prefix, 0))
        if side > 1 and side * side == tokens - prefix:
            return output[:, prefix:].transpose(1, 2).reshape(output.shape[0], output.shape[2], side, side)
    return None


def display_maps(fmap):
    """(C, H, W) -> the same in [0, 1] for display, each map on its own between its 1st and 99th
    percentile (clipped beyond); a map with no spread there falls back to its full range."""
    import torch

    flat = fmap.float().flatten(1)
    low, high = torch.quantile(flat, torch.tensor(DISPLAY_PERCENTILES) / 100, dim=1)  # (C,) each
    flat_spread = (high - low) <= 1e-8
    low = torch.where(flat_spread, flat.amin(dim=1), low)
    high = torch.where(flat_spread, flat.amax(dim=1), high)
    scaled = (flat - low[:, None]) / (high - low).clamp_min(1e-8)[:, None]
    return scaled.clamp(0, 1).view_as(fmap)


def stage_maps(output) -> tuple[np.ndarray | None, tuple[int, ...], bool]:
    """The most active maps of a stage's output (1, C, H, W), or of its patch tokens (1, N, D), for display;
    (None, (), False) for a vector. Returns (maps, channels, from_tokens)."""
    grid = patch_grid(output)
    spatial = grid if grid is not None else output
    if spatial.dim() != 4 or spatial.shape[-1] * spatial.shape[-2] <= 1:
        return None, (), False
    fmap = spatial[0]  # (C, H, W)
    channels = fmap.mean(dim=(1, 2)).argsort(descending=True)[:MAPS_PER_STAGE]
    return display_maps(fmap[channels]).numpy(), tuple(int(c) for c in channels), grid is not None


def class_label(net: LoadedNetwork, index: int) -> str:
    """The class's name where the weights carry names, else ``class <index>``."""
    return net.categories[index] if 0 <= index < len(net.categories) else f"class {index}"


def classes_note(net: LoadedNetwork, count: int) -> str:
    """What the class numbers of a network with ``count`` outputs mean: its first names, or that it has none."""
    if len(net.categories) == count:
        first = ", ".join(f"{i} {name}" for i, name in enumerate(net.categories[:4]))
        return f"{count} classes: {first}{', …' if count > 4 else ''}"
    return f"{count} outputs; these weights carry no class names, so a class is its number."


def trace(net: LoadedNetwork, pixels: np.ndarray) -> NetworkTrace:
    """Run one image through ``net``, keeping every stage's output."""
    import torch

    arch, outputs = net.architecture, {}
    modules = dict(net.model.named_modules())
    with net.lock, torch.no_grad():
        handles = [modules[s].register_forward_hook(lambda _m, _i, out, s=s: outputs.__setitem__(s, out.detach()))
                   for s in arch.stages]
        if arch.attention_block:  # what the last block's attention reads: its normalised input tokens
            block = modules[arch.attention_block]
            norm = next(getattr(block, n) for n in ("ln_1", "norm1", "layernorm_before") if hasattr(block, n))
            handles.append(norm.register_forward_hook(lambda _m, _i, out: outputs.__setitem__("_attn_in", out)))
        try:
            logits = net.model(to_input(pixels, arch.input_size))[0]
            attention = _class_attention(modules[arch.attention_block], outputs["_attn_in"]) \
                if arch.attention_block else None
        finally:
            for handle in handles:
                handle.remove()
    stages = []
    for name in arch.stages:
        out = outputs[name]
        maps, channels, from_tokens = stage_maps(out)
        stages.append(StageOutput(name, tuple(out.shape[1:]), maps, channels, from_tokens))
    pooled = [s for s in arch.stages if outputs[s].dim() == 4 and outputs[s].shape[-1] == 1]
    gap = outputs[pooled[-1]].flatten().numpy() if pooled else None
    probabilities = torch.softmax(logits.float(), dim=0).numpy()
    order = np.argsort(probabilities)[::-1][:5]
    top5 = tuple((int(i), class_label(net, int(i)), float(probabilities[i])) for i in order)
    return NetworkTrace(tuple(stages), gap, logits.float().numpy(), probabilities, top5, attention)


def _class_attention(block, tokens) -> np.ndarray | None:
    """The class token's attention to every patch in ``block`` (torchvision EncoderBlock or timm Block),
    averaged over the heads, on the patch grid (g, g); it sums to at most 1 (the rest goes to the class token)."""
    import torch

    if hasattr(block, "self_attention"):  # nn.MultiheadAttention
        _, weights = block.self_attention(tokens, tokens, tokens, need_weights=True, average_attn_weights=True)
    elif hasattr(block, "layernorm_before"):  # Hugging Face ViTLayer: q_proj, k_proj, v_proj
        attn = block.attention
        b, n, _ = tokens.shape
        q, k = (proj(tokens).view(b, n, attn.num_attention_heads, attn.head_dim).transpose(1, 2)
                for proj in (attn.q_proj, attn.k_proj))  # (B, heads, N, head_dim)
        weights = torch.softmax(q @ k.transpose(-2, -1) * attn.scaling, dim=-1).mean(dim=1)  # (B, N, N)
    else:  # timm: qkv in one linear layer, (B, N, 3 * heads * head_dim)
        attn = block.attn
        b, n, d = tokens.shape
        q, k, _ = attn.qkv(tokens).reshape(b, n, 3, attn.num_heads, d // attn.num_heads).permute(2, 0, 3, 1, 4)
        q, k = attn.q_norm(q), attn.k_norm(k)
        weights = torch.softmax(q @ k.transpose(-2, -1) * attn.scale, dim=-1).mean(dim=1)  # (B, N, N)
    grid = patch_grid(weights[:, :1, :].transpose(1, 2))  # the class token's row, as tokens of one feature
    return None if grid is None else grid[0, 0].float().numpy()


def prediction_note(net: LoadedNetwork, result: NetworkTrace) -> str | None:
    """Why this network's top-5 would mean nothing, or None when it is a real prediction."""
    count = result.num_classes
    if result.uniform:
        return (f"All {count} classes get the same probability, 1/{count} = {1 / count:.1%}: this head gives every "
                "class the same score (torchvision starts ViT's head at zero), so there is no top-5 to show. "
                + ("" if net.pretrained else "Pretrained weights would make it a real prediction."))
    if not net.pretrained:
        return (f"Random weights: {net.architecture.title} has learned nothing yet, so its five highest of "
                f"{count} probabilities (all near 1/{count} = {1 / count:.1%}) would be noise, not a result; "
                "they are not shown. With pretrained weights this shows the network's real guesses.")
    return None


def grad_cam(net: LoadedNetwork, pixels: np.ndarray, class_index: int | None = None) -> tuple[np.ndarray, int]:
    """Grad-CAM (Selvaraju et al., 2017) at ``cam_layer``: (H, W) in [0, 1] over the image, and the class.

    Each channel of the layer's output is weighted by the mean gradient of the class
    score over its pixels; the weighted sum, through a ReLU, is where the evidence is.
    """
    import torch
    import torch.nn.functional as F

    saved = {}
    layer = dict(net.model.named_modules())[net.architecture.cam_layer]

    def keep(_module, _inputs, output):
        output.retain_grad()
        saved["activation"] = output

    with net.lock, torch.enable_grad():
        handle = layer.register_forward_hook(keep)
        try:
            logits = net.model(to_input(pixels, net.architecture.input_size))[0]
        finally:
            handle.remove()
        target = int(logits.argmax()) if class_index is None else int(class_index)
        if not 0 <= target < logits.numel():
            raise InvalidInput(f"{net.architecture.title} has {logits.numel()} outputs: choose a Grad-CAM class "
                               f"from 0 to {logits.numel() - 1}, or none for the top class (got {class_index}).")
        logits[target].backward()
        activation, gradient = saved["activation"].detach(), saved["activation"].grad.detach()
    net.model.zero_grad(set_to_none=True)
    weights = gradient.mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1)
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True))  # (1, 1, h, w)
    cam = F.interpolate(cam, size=pixels.shape[:2], mode="bilinear", align_corners=False)[0, 0]
    peak = float(cam.max())
    return (cam / peak if peak > 0 else cam).numpy(), target
