"""The lecture's architecture numbers as data, each checked against what cvlab counts and torchvision publishes.

The slides (session 4) quote parameter counts and ImageNet top-1 accuracies. Slides round, and
accuracies depend on *which* weights: torchvision's ResNet-50 default (IMAGENET1K_V2, a 2021 training
recipe) publishes 80.9 % while the slide's 76.1 % is the original IMAGENET1K_V1. So every check names
the weights its published number comes from, and every computed number is computed here (parameters
counted on the meta device, ratios divided), never copied.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cvlab.zoo.architectures import ARCHITECTURES

MATCH_TOLERANCE = 0.005  # relative; within the slide's last digit and this close: "matches"
ROUNDED_TOLERANCE = 0.02  # relative; a coarser rounding ("12M" for 12.23M) but within this: "rounded"


@dataclass(frozen=True)
class LectureClaim:
    claim: str  # what the slide says, in words
    slide: float | str  # the slide's number (params in millions, accuracy in percent) or text
    model: str  # torchvision builder name
    kind: str  # "params" | "top1" | "layers" | "block" | "ratio" | "input_size" | "patch_size"
    weights: str | None = None  # torchvision weights enum the published number is read from
    approximate: bool = False  # the slide says "~"


def _resnet(depth: int, params: float, top1: float, block: str) -> tuple[LectureClaim, ...]:
    model, weights = f"resnet{depth}", f"ResNet{depth}_Weights.IMAGENET1K_V1"
    return (LectureClaim(f"ResNet-{depth} has {depth} layers", depth, model, "layers"),
            LectureClaim(f"ResNet-{depth} has {params}M parameters", params, model, "params", weights),
            LectureClaim(f"ResNet-{depth} reaches {top1}% ImageNet top-1", top1, model, "top1", weights),
            LectureClaim(f"ResNet-{depth} uses {block} blocks", block, model, "block"))


def _efficientnet(b: int, params: float, top1: float) -> tuple[LectureClaim, ...]:
    model, weights = f"efficientnet_b{b}", f"EfficientNet_B{b}_Weights.IMAGENET1K_V1"
    return (LectureClaim(f"EfficientNet-B{b} has {params:g}M parameters", params, model, "params", weights),
            LectureClaim(f"EfficientNet-B{b} reaches {top1}% ImageNet top-1", top1, model, "top1", weights))


# Session 4 slides: "ResNet Variants", "EfficientNet Family", "VGG-16 Statistics", the code comments.
CLAIMS: tuple[LectureClaim, ...] = (
    LectureClaim("VGG-16 has ~138 million parameters", 138, "vgg16", "params", "VGG16_Weights.IMAGENET1K_V1",
                 approximate=True),
    LectureClaim("VGG-16 has 16 weight layers", 16, "vgg16", "layers"),
    *_resnet(18, 11.7, 69.8, "Basic"), *_resnet(34, 21.8, 73.3, "Basic"), *_resnet(50, 25.6, 76.1, "Bottleneck"),
    *_resnet(101, 44.5, 77.4, "Bottleneck"), *_resnet(152, 60.2, 78.3, "Bottleneck"),
    *_efficientnet(0, 5.3, 77.1), *_efficientnet(3, 12, 81.6), *_efficientnet(5, 30, 83.6),
    *_efficientnet(7, 66, 84.3),
    LectureClaim("EfficientNet-B0 has similar accuracy to ResNet-50 with 8x fewer parameters", 8,
                 "efficientnet_b0", "ratio", "EfficientNet_B0_Weights.IMAGENET1K_V1"),
    LectureClaim("ConvNeXt-T has 28.6M parameters", 28.6, "convnext_tiny", "params",
                 "ConvNeXt_Tiny_Weights.IMAGENET1K_V1"),
    LectureClaim("ViT-B/16 takes 224x224 input", 224, "vit_b_16", "input_size", "ViT_B_16_Weights.IMAGENET1K_V1"),
    LectureClaim("ViT-B/16 cuts 16x16 patches", 16, "vit_b_16", "patch_size"),
)


@dataclass(frozen=True)
class ClaimCheck:
    claim: str
    slide: float | str
    computed: float | str | None  # counted here; None where nothing can be computed (accuracy needs data)
    computed_source: str | None
    published: float | str | None  # from the weights' metadata
    published_source: str | None  # names the weights version
    relative_difference: float | None  # (computed or published - slide) / slide
    verdict: str  # "matches", "rounded", or "differs: <one-line reason>"


@functools.cache
def _meta_model(model: str):
    """The torchvision model with shapes only (meta device): instant, no memory, no download."""
    import torch
    import torchvision.models

    with torch.device("meta"):
        return getattr(torchvision.models, model)(weights=None)


def _params(model: str) -> tuple[int, str]:
    """Counted parameters: through cvlab.zoo.facts where the model is registered, else counted here the same way."""
    if model in ARCHITECTURES:
        from cvlab.zoo.facts import facts

        return facts(model).params, "cvlab.zoo.facts.facts (counted on the meta device)"
    return sum(p.numel() for p in _meta_model(model).parameters()), "counted here on the meta device"


def _meta(weights: str) -> dict:
    from torchvision.models import get_weight

    return get_weight(weights).meta  # ships with torchvision, nothing is downloaded


def _top1(weights: str) -> float:
    return _meta(weights)["_metrics"]["ImageNet-1K"]["acc@1"]


def _weight_layers(model: str) -> int:
    """Convolutions and linear layers on the main path; ResNet's 1x1 projection shortcuts are not counted."""
    import torch.nn as nn

    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) and "downsample" not in name
               for name, m in _meta_model(model).named_modules())


def _decimals(value: float) -> int:
    text = f"{value:g}"
    return len(text.split(".")[1]) if "." in text else 0


def _numeric_verdict(slide: float, value: float, approximate: bool, unit_scale: float = 1.0) -> str | None:
    """'matches' within the slide's own rounding, 'rounded' within ROUNDED_TOLERANCE, else None."""
    gap = abs(value / unit_scale - slide)
    if gap <= 0.5 * 10 ** -_decimals(slide) + 1e-9 and gap / slide <= MATCH_TOLERANCE:
        return f"matches ~{slide:g}" if approximate else "matches"
    if gap / slide <= ROUNDED_TOLERANCE:
        return f"rounded: slide {slide:g}, computed {value / unit_scale:.2f}"
    return None


def _check_params(c: LectureClaim) -> ClaimCheck:
    counted, source = _params(c.model)
    published = _meta(c.weights)["num_params"]
    verdict = _numeric_verdict(c.slide, counted, c.approximate, 1e6) or (
        f"differs: counted {counted / 1e6:.2f}M, torchvision publishes {published / 1e6:.2f}M")
    return ClaimCheck(c.claim, c.slide, counted, source, published, f"torchvision {c.weights} num_params",
                      (counted / 1e6 - c.slide) / c.slide, verdict)


def _check_top1(c: LectureClaim) -> ClaimCheck:
    published = _top1(c.weights)
    source = f"torchvision {c.weights} acc@1"
    gap = abs(published - c.slide)
    verdict = "matches" if gap <= 0.5 * 10 ** -_decimals(c.slide) + 1e-9 else None  # accuracy: no "rounded"
    default = ARCHITECTURES.get(c.model).weights if c.model in ARCHITECTURES else None
    if default and default != c.weights:  # the zoo uses other weights: say both (ResNet-50: V1 vs V2)
        note = f"{c.weights} gives {published:g}%; the zoo's default {default} publishes {_top1(default):g}%"
        verdict = f"{verdict or 'differs'} ({note})"
    elif verdict is None:
        verdict = (f"differs: {c.weights} publishes {published:g}%; the slide quotes another training run "
                   "(likely the paper's), not these weights")
    return ClaimCheck(c.claim, c.slide, None, None, published, source, (published - c.slide) / c.slide, verdict)


def _check_ratio(c: LectureClaim) -> ClaimCheck:
    resnet, _ = _params("resnet50")
    b0, source = _params(c.model)
    ratio = resnet / b0
    b0_top1, r50_top1 = _top1(c.weights), _top1("ResNet50_Weights.IMAGENET1K_V1")
    verdict = _numeric_verdict(c.slide, ratio, False) or (
        f"differs: ResNet-50 / B0 parameters = {resnet / 1e6:.1f}M / {b0 / 1e6:.1f}M = {ratio:.1f}x, not "
        f"{c.slide:g}x; the accuracy half holds (B0 {b0_top1:g}% vs ResNet-50 V1 {r50_top1:g}%)")
    return ClaimCheck(c.claim, c.slide, ratio, f"resnet50 / efficientnet_b0 parameters, {source}",
                      f"{b0_top1:g}% vs {r50_top1:g}%",
                      f"torchvision {c.weights} and ResNet50_Weights.IMAGENET1K_V1 acc@1",
                      (ratio - c.slide) / c.slide, verdict)


def _check_exact(c: LectureClaim) -> ClaimCheck:
    model = _meta_model(c.model)
    published, published_source = None, None
    if c.kind == "layers":
        computed, source = _weight_layers(c.model), "Conv2d + Linear layers on the main path, counted here"
    elif c.kind == "block":
        computed, source = type(model.layer1[0]).__name__, "class of the first residual block"
    elif c.kind == "input_size":
        computed, source = model.image_size, "torchvision VisionTransformer.image_size"
        published, published_source = _meta(c.weights)["min_size"][0], f"torchvision {c.weights} min_size"
    else:  # patch_size
        computed, source = model.patch_size, "torchvision VisionTransformer.patch_size"
    same = computed == c.slide or (isinstance(computed, str) and computed.startswith(str(c.slide)))
    verdict = "matches" if same else f"differs: computed {computed}"
    diff = (computed - c.slide) / c.slide if isinstance(computed, (int, float)) else None
    return ClaimCheck(c.claim, c.slide, computed, source, published, published_source, diff, verdict)


_CHECKERS = {"params": _check_params, "top1": _check_top1, "ratio": _check_ratio}


def check_claim(claim: LectureClaim) -> ClaimCheck:
    return _CHECKERS.get(claim.kind, _check_exact)(claim)


def check_claims() -> tuple[ClaimCheck, ...]:
    """Every lecture claim, checked; the verdicts are what a student should hear."""
    return tuple(check_claim(c) for c in CLAIMS)

