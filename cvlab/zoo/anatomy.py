"""Inside one architecture: its layers from forward hooks, its stages, and the blocks the lecture teaches.

``layer_table`` runs one random-weight image through a registered model and
records every leaf module's output shape and own parameters. ``BLOCKS`` holds
the lecture's building blocks, each with its real PyTorch source (torchvision's
classes, or the lecture's two small classes from ``cvlab.zoo.lecture_nets``) and a tiny
instance to run. Nothing here downloads weights.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from cvlab.zoo.architectures import ARCHITECTURES
from cvlab.zoo.lecture_nets import ResidualBlock, VGGBlock  # the lecture's two classes
from cvlab.registry import Registry


# ---- Layer by layer ---------------------------------------------------------------------------------------

ROOT = "(model)"  # the row name of parameters held by the model object itself


@dataclass(frozen=True)
class LayerRow:
    name: str  # dotted module name, e.g. "layer1.0.conv1"
    type: str  # class name, e.g. "Conv2d"
    output_shape: tuple[int, ...] | None  # without the batch dimension; None when forward never ran it
    params: int  # parameters the module holds itself, not its children's
    calls: int  # times forward ran it (a shared ReLU runs once per use)


def _own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False))


def _first_tensor(output) -> torch.Tensor | None:
    """The tensor a module produced; attention layers return (output, weights)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        return next((o for o in output if isinstance(o, torch.Tensor)), None)
    return None


def layer_table(name: str, input_size: int | None = None) -> list[LayerRow]:
    """Every leaf module of architecture ``name`` (and every module holding parameters) in run order.

    One image of batch 1 at ``input_size`` pixels (the architecture's own by
    default) goes through the model with random weights. Modules whose forward
    is skipped (attention kernels that read a Linear's weight directly) are
    listed last with no output shape, so the params column still sums to the
    model's parameter count.
    """
    arch = ARCHITECTURES.get(name)
    model = arch.build().eval()
    size = input_size or arch.input_size
    # The model itself holds parameters in timm's ViT (cls_token, pos_embed): a row named "(model)".
    watched = {module_name or ROOT: module for module_name, module in model.named_modules()
               if (module_name and not any(module.children())) or _own_params(module)}
    shapes: dict[str, tuple[int, ...] | None] = {}  # insertion order = first call
    calls: dict[str, int] = {}

    def hook_for(module_name: str):
        def hook(_module, _inputs, output):
            tensor = _first_tensor(output)
            shapes[module_name] = tuple(tensor.shape[1:]) if tensor is not None else None
            calls[module_name] = calls.get(module_name, 0) + 1
        return hook

    handles = [module.register_forward_hook(hook_for(n)) for n, module in watched.items()]
    try:
        with torch.inference_mode():
            model(torch.randn(1, 3, size, size))  # (B, C, H, W)
    finally:
        for handle in handles:
            handle.remove()
    order = list(shapes) + [n for n in watched if n not in shapes]
    return [LayerRow(n, type(watched[n]).__name__, shapes.get(n), _own_params(watched[n]), calls.get(n, 0))
            for n in order]


@dataclass(frozen=True)
class StageSize:
    stage: str  # module-name prefix, e.g. "layer2"
    output_shape: tuple[int, ...]  # of the last module that ran in the stage, without batch
    channels: int | None  # a vector's length; None for token sequences (N, D)
    height: int | None
    width: int | None


def _grid(shape: tuple[int, ...]) -> tuple[int | None, int | None, int | None]:
    """(channels, height, width) of a 3-D map; Swin's stages are channels-last (H, W, C).

    A square map tells the two apart: (C, H, H) or (H, H, C); when both read
    square, (C, H, W) wins, as in every convolutional network here.
    """
    if len(shape) == 1:
        return shape[0], None, None
    if len(shape) != 3:
        return None, None, None
    if shape[1] == shape[2] or shape[0] != shape[1]:
        return shape
    return shape[2], shape[0], shape[1]


def stage_sizes(rows: Sequence[LayerRow], stages: Sequence[str] | None = None) -> list[StageSize]:
    """Output size and channels after each stage: ``stages`` prefixes, or the model's top-level children.

    With no ``stages`` the first dotted name component groups the rows; a model
    with fewer than four top-level children (VGG's features / avgpool /
    classifier) is grouped one level deeper instead. The registry's
    ``Architecture.stages`` give the lecture's coarser view.
    """
    ran = [row for row in rows if row.output_shape is not None]
    if stages is None:
        depth = 1 if len({row.name.split(".")[0] for row in ran}) >= 4 else 2
        stages = list(dict.fromkeys(".".join(row.name.split(".")[:depth]) for row in ran))
    sizes = []
    for stage in stages:
        inside = [row for row in ran if row.name == stage or row.name.startswith(stage + ".")]
        if inside:
            shape = inside[-1].output_shape
            sizes.append(StageSize(stage, shape, *_grid(shape)))
    return sizes


# ---- A block the lecture draws but does not write out -----------------------------------------------------

class PatchesThenEncoder(nn.Module):
    """ViT's front end: cut the image into patches, embed each as a token, run one encoder block."""

    def __init__(self, patch: int, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        from torchvision.models.vision_transformer import EncoderBlock

        self.conv_proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)  # one patch -> one token
        self.encoder = EncoderBlock(heads, dim, mlp_dim, dropout=0.0, attention_dropout=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.conv_proj(x).flatten(2).transpose(1, 2)  # (B, D, H/p, W/p) -> (B, N, D)
        return self.encoder(tokens)


# ---- The block catalogue -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    title: str
    explanation: str
    code: Callable[[], tuple[object, ...]]  # -> the classes / functions whose source is shown
    build: Callable[[], nn.Module]  # a tiny instance
    input_shape: tuple[int, ...]  # sample input, batch first

    @property
    def source(self) -> str:
        return "\n\n".join(inspect.getsource(item) for item in self.code())


@dataclass(frozen=True)
class BlockSample:
    params: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


def try_block(name: str) -> BlockSample:
    """Build ``BLOCKS[name]``'s tiny instance and run its sample input through it."""
    block = BLOCKS.get(name)
    module = block.build().eval()
    with torch.inference_mode():
        out = module(torch.randn(*block.input_shape))
    return BlockSample(sum(p.numel() for p in module.parameters()), block.input_shape, tuple(out.shape))


def _tv(module: str, *names: str) -> Callable[[], tuple[object, ...]]:
    def code():
        import functools
        import importlib

        loaded = importlib.import_module(f"torchvision.models.{module}")
        # dotted names reach methods: "VisionTransformer._process_input"
        return tuple(functools.reduce(getattr, n.split("."), loaded) for n in names)
    return code


def _mbconv() -> nn.Module:
    from torchvision.models.efficientnet import MBConv, MBConvConfig

    # expand 16 -> 96 channels, 3x3 depthwise, squeeze-excite, project to 24
    return MBConv(MBConvConfig(6, 3, 1, 16, 24, 1), 0.0, nn.BatchNorm2d)


def _lazy(module: str, cls: str, *args, **kwargs) -> Callable[[], nn.Module]:
    def build():
        import importlib

        return getattr(importlib.import_module(f"torchvision.models.{module}"), cls)(*args, **kwargs)
    return build


BLOCKS: Registry[Block] = Registry("block")

BLOCKS.register("vgg_block", Block(
    "VGG block (the lecture's VGGBlock)",
    "A stack of 3x3 convolutions, each followed by ReLU, then a 2x2 max-pool. Two stacked 3x3 layers see a 5x5 "
    "patch with fewer weights than one 5x5 layer, and an extra non-linearity between them. The pool halves the "
    "height and width; the next block usually doubles the channels.",
    lambda: (VGGBlock,), lambda: VGGBlock(3, 16, 2), (1, 3, 32, 32)))
BLOCKS.register("residual_block", Block(
    "Residual block (the lecture's ResidualBlock)",
    "The convolutions learn only a correction F(x) that is added to the input, so an identity mapping is "
    "as easy as F = 0 and gradients reach early layers through the addition. When the stride or channel count "
    "changes, a 1x1 convolution reshapes the skip path so the two can be added.",
    lambda: (ResidualBlock,), lambda: ResidualBlock(16, 32, stride=2), (1, 16, 32, 32)))
BLOCKS.register("basic_block", Block(
    "Basic residual block (torchvision BasicBlock, ResNet-18/34)",
    "torchvision's version of the same idea: 3x3 conv, BN, ReLU, 3x3 conv, BN, plus the input, then ReLU. "
    "Its convolutions have no bias, since the BatchNorm that follows would cancel it. `downsample` is the "
    "projection on the skip path.",
    _tv("resnet", "BasicBlock"), _lazy("resnet", "BasicBlock", 64, 64), (1, 64, 14, 14)))
BLOCKS.register("bottleneck", Block(
    "Bottleneck residual block (torchvision Bottleneck, ResNet-50/101/152)",
    "A 1x1 convolution squeezes the channels by 4, a 3x3 convolution works in that narrow space, and a "
    "second 1x1 widens them again before the skip is added. Deep ResNets use it because the costly 3x3 "
    "layer then sees a quarter of the channels.",
    _tv("resnet", "Bottleneck"), _lazy("resnet", "Bottleneck", 256, 64), (1, 256, 14, 14)))
BLOCKS.register("mbconv", Block(
    "MBConv (torchvision MBConv, EfficientNet)",
    "An inverted residual: a 1x1 convolution first expands the channels (6x here), a depthwise 3x3 "
    "convolution filters each channel on its own, squeeze-and-excitation reweighs the channels, and a 1x1 "
    "projection narrows them with no activation. The skip is added only when input and output shapes match.",
    _tv("efficientnet", "MBConv"), _mbconv, (1, 16, 32, 32)))
BLOCKS.register("vit_encoder", Block(
    "Patch embedding + transformer encoder block (torchvision ViT conv_proj, EncoderBlock)",
    "A convolution whose kernel and stride equal the patch size turns each 16x16 patch into one token "
    "vector. The encoder block then lets every token attend to every other (pre-norm multi-head "
    "self-attention), followed by a two-layer MLP, each with a residual addition. Here a 64 px image gives "
    "4 x 4 = 16 tokens.",
    _tv("vision_transformer", "VisionTransformer._process_input", "EncoderBlock"),
    lambda: PatchesThenEncoder(16, 64, 4, 128), (1, 3, 64, 64)))
BLOCKS.register("convnext_block", Block(
    "ConvNeXt block (torchvision CNBlock)",
    "A ResNet block modernised with transformer habits: a 7x7 depthwise convolution, LayerNorm instead of "
    "BatchNorm, a 4x wide MLP with GELU done as 1x1 layers, a learned per-channel scale and the residual "
    "addition. Large kernels give a wide view at little cost because each channel is filtered alone.",
    _tv("convnext", "CNBlock"), _lazy("convnext", "CNBlock", 32, 1e-6, 0.0), (1, 32, 14, 14)))
BLOCKS.register("swin_window_attention", Block(
    "Swin shifted-window attention (torchvision ShiftedWindowAttention)",
    "Self-attention only inside small windows (7x7 tokens in Swin-T, 4x4 here), so its cost grows linearly "
    "with the image instead of quadratically. Every other block shifts the windows by half their size, "
    "with a mask, so information crosses window borders. It works on channels-last maps (B, H, W, C).",
    _tv("swin_transformer", "ShiftedWindowAttention", "shifted_window_attention"),
    _lazy("swin_transformer", "ShiftedWindowAttention", 32, [4, 4], [2, 2], 4), (1, 8, 8, 32)))
