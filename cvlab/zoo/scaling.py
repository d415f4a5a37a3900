"""EfficientNet's compound scaling: the formula of the lecture, and the real B0..B7 set against it.

Tan & Le (2019) scale a baseline network by one coefficient phi:

    depth d = alpha^phi,  width w = beta^phi,  resolution r = gamma^phi,
    subject to alpha * beta^2 * gamma^2 ~ 2,

so FLOPs grow as (alpha * beta^2 * gamma^2)^phi ~ 2^phi: FLOPs are linear in
depth but quadratic in width (channels in x channels out) and in resolution
(height x width). The paper's grid search on B0 found alpha=1.2, beta=1.1,
gamma=1.15.

The released B1..B7 are not that formula evaluated at phi = 1..7: their width
and depth multipliers are rounded to one decimal and their resolutions hand
picked. ``real_configs`` reads them from torchvision's own code and fits the
phi each multiplier implies, so a page can show both the ideal and the real.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from unittest import mock

from cvlab.errors import InvalidInput

PAPER_ALPHA = 1.2  # depth base, Tan & Le 2019, section 3.3
PAPER_BETA = 1.1  # width base
PAPER_GAMMA = 1.15  # resolution base
TARGET_CONSTRAINT = 2.0  # alpha * beta^2 * gamma^2: FLOPs double per unit of phi
CONSTRAINT_TOLERANCE = 0.25  # beyond this distance from 2 the point carries a note (data, not an error)
BASE_RESOLUTION = 224  # B0's input, pixels per side
VARIANTS = tuple(range(8))  # B0..B7


@dataclass(frozen=True)
class ScalingPoint:
    phi: float
    alpha: float
    beta: float
    gamma: float
    depth: float  # layer-count multiplier, alpha^phi
    width: float  # channel multiplier, beta^phi
    resolution: float  # side-length multiplier, gamma^phi
    resolution_px: int  # base_resolution * gamma^phi, rounded, pixels per side
    flops_multiplier: float  # (alpha * beta^2 * gamma^2)^phi
    constraint: float  # alpha * beta^2 * gamma^2 (the paper asks for ~2)
    constraint_note: str | None  # why this choice is off the paper's constraint, None when it is near 2


@dataclass(frozen=True)
class RealConfig:
    name: str  # torchvision builder, e.g. "efficientnet_b3"
    variant: int  # the N of BN
    width_mult: float  # torchvision's width_mult (channels)
    depth_mult: float  # torchvision's depth_mult (blocks per stage)
    resolution_px: int  # crop size of the IMAGENET1K_V1 weights' transforms
    macs: int | None  # counted by cvlab.zoo.facts at resolution_px; None when not counted
    published_macs: int | None  # torchvision's `_ops` * 1e9 (published as "GFLOPS", MACs in fact)
    macs_multiplier: float | None  # macs / B0's macs: the real FLOPs growth to set beside (a b^2 g^2)^phi
    phi_width: float  # phi that explains width alone: ln(w) / ln(beta)
    phi_depth: float  # ln(d) / ln(alpha)
    phi_resolution: float  # ln(px / 224) / ln(gamma)
    phi_fit: float  # least-squares phi over the three log-multipliers
    ideal: ScalingPoint  # the formula at phi_fit, to set beside the real multipliers


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InvalidInput(f"{name} must be a positive number, got {value!r}. "
                               f"The paper uses alpha={PAPER_ALPHA}, beta={PAPER_BETA}, gamma={PAPER_GAMMA}.")


def compound_scaling(phi: float, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA,
                     gamma: float = PAPER_GAMMA, base_resolution: int = BASE_RESOLUTION) -> ScalingPoint:
    """Depth, width and resolution multipliers and the FLOPs they cost at compound coefficient ``phi``."""
    if not (isinstance(phi, (int, float)) and math.isfinite(phi) and phi >= 0):
        raise InvalidInput(f"phi must be a number >= 0 (0 is the baseline B0), got {phi!r}.")
    _check_positive(alpha=alpha, beta=beta, gamma=gamma, base_resolution=base_resolution)
    constraint = alpha * beta ** 2 * gamma ** 2
    note = None
    if abs(constraint - TARGET_CONSTRAINT) > CONSTRAINT_TOLERANCE:
        note = (f"alpha*beta^2*gamma^2 = {constraint:.2f}, far from 2: FLOPs grow {constraint:.2f}x "
                f"per step of phi instead of about 2x.")
    return ScalingPoint(
        phi=float(phi), alpha=alpha, beta=beta, gamma=gamma,
        depth=alpha ** phi, width=beta ** phi, resolution=gamma ** phi,
        resolution_px=round(base_resolution * gamma ** phi),
        flops_multiplier=constraint ** phi, constraint=constraint, constraint_note=note)


def scaling_curve(alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA,
                  max_phi: float = 8.0, steps: int = 32) -> list[ScalingPoint]:
    """The formula at ``steps + 1`` evenly spaced phi from 0 to ``max_phi`` (B0..B7 lie within 0..8)."""
    return [compound_scaling(max_phi * i / steps, alpha, beta, gamma) for i in range(steps + 1)]


class _Captured(Exception):
    """Raised by the spy once torchvision has named its multipliers, so no model is built."""


def torchvision_multipliers(variant: int) -> tuple[float, float]:
    """(width_mult, depth_mult) that torchvision's ``efficientnet_bN`` passes to ``_efficientnet_conf``."""
    from torchvision.models import efficientnet

    seen: dict = {}

    def spy(arch: str, **kwargs):
        seen.update(kwargs)
        raise _Captured

    with mock.patch.object(efficientnet, "_efficientnet_conf", spy):
        try:
            getattr(efficientnet, f"efficientnet_b{variant}")(weights=None)
        except _Captured:
            pass
    return float(seen["width_mult"]), float(seen["depth_mult"])


def _weights_facts(variant: int) -> tuple[int, int | None]:
    """Crop size and published MACs of the IMAGENET1K_V1 weights: metadata only, no download."""
    from torchvision.models import get_weight

    weights = get_weight(f"EfficientNet_B{variant}_Weights.IMAGENET1K_V1")
    crop = weights.transforms().crop_size[0]
    ops = weights.meta.get("_ops")
    return int(crop), (round(ops * 1e9) if ops is not None else None)


def fit_phi(width: float, depth: float, resolution: float, alpha: float = PAPER_ALPHA,
            beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA) -> float:
    """Least-squares phi for ln(m_i) = phi * ln(base_i) over width, depth and resolution multipliers."""
    pairs = [(math.log(width), math.log(beta)), (math.log(depth), math.log(alpha)),
             (math.log(resolution), math.log(gamma))]
    return sum(m * b for m, b in pairs) / sum(b * b for _, b in pairs)


def real_configs(alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA, gamma: float = PAPER_GAMMA, *,
                 count_macs: bool = True) -> tuple[RealConfig, ...]:
    """torchvision's B0..B7 with the phi that best explains each under (alpha, beta, gamma)."""
    _check_positive(alpha=alpha, beta=beta, gamma=gamma)
    if min(alpha, beta, gamma) == 1:
        raise InvalidInput("alpha, beta and gamma must differ from 1 to fit phi (ln 1 = 0 explains nothing).")
    configs = []
    base_macs = None
    for variant in VARIANTS:
        width, depth = torchvision_multipliers(variant)
        crop, published = _weights_facts(variant)
        macs = None
        if count_macs:
            from cvlab.zoo.facts import facts

            macs = facts(f"efficientnet_b{variant}").macs
            base_macs = base_macs or macs  # B0 comes first
        resolution = crop / BASE_RESOLUTION
        phi = fit_phi(width, depth, resolution, alpha, beta, gamma)
        configs.append(RealConfig(
            name=f"efficientnet_b{variant}", variant=variant, width_mult=width, depth_mult=depth,
            resolution_px=crop, macs=macs, published_macs=published,
            macs_multiplier=macs / base_macs if macs else None,
            phi_width=math.log(width) / math.log(beta), phi_depth=math.log(depth) / math.log(alpha),
            phi_resolution=math.log(resolution) / math.log(gamma), phi_fit=phi,
            ideal=compound_scaling(phi, alpha, beta, gamma)))
    return tuple(configs)
