"""EfficientNet compound scaling: the formula, torchvision's real B0..B7, and the curves figure."""

import math

import numpy as np
import pytest

from cvlab.errors import InvalidInput
from cvlab.zoo.scaling import compound_scaling, fit_phi, real_configs, torchvision_multipliers
from cvlab.viz.scaling import compound_scaling_figure

# torchvision efficientnet_bN(width_mult, depth_mult) and its weights' crop size
TORCHVISION_B = ((1.0, 1.0, 224), (1.0, 1.1, 240), (1.1, 1.2, 288), (1.2, 1.4, 300),
                 (1.4, 1.8, 380), (1.6, 2.2, 456), (1.8, 2.6, 528), (2.0, 3.1, 600))


def test_phi_zero_is_the_baseline():
    point = compound_scaling(0)
    assert (point.depth, point.width, point.resolution, point.flops_multiplier) == (1, 1, 1, 1)
    assert point.resolution_px == 224


def test_phi_one_with_the_papers_values():
    point = compound_scaling(1)
    assert (point.depth, point.width, point.resolution) == pytest.approx((1.2, 1.1, 1.15))
    assert point.resolution_px == round(224 * 1.15) == 258
    assert point.constraint == pytest.approx(1.2 * 1.1 ** 2 * 1.15 ** 2)
    assert point.constraint == pytest.approx(1.92, abs=0.01)
    assert point.constraint_note is None


@pytest.mark.parametrize("phi,alpha,beta,gamma", [(2, 1.2, 1.1, 1.15), (3.5, 1.3, 1.05, 1.2), (7, 1.1, 1.2, 1.1)])
def test_flops_multiplier_is_the_constraint_to_the_phi(phi, alpha, beta, gamma):
    point = compound_scaling(phi, alpha, beta, gamma)
    assert point.flops_multiplier == pytest.approx((alpha * beta ** 2 * gamma ** 2) ** phi)


def test_a_constraint_far_from_two_is_noted_not_refused():
    point = compound_scaling(1, 1.5, 1.3, 1.3)
    assert "far from 2" in point.constraint_note


@pytest.mark.parametrize("kwargs", [dict(phi=-1), dict(phi=1, alpha=0), dict(phi=1, beta=-1.1),
                                    dict(phi=1, gamma=float("nan")), dict(phi=1, base_resolution=0)])
def test_bad_values_are_refused(kwargs):
    with pytest.raises(InvalidInput):
        compound_scaling(**kwargs)


@pytest.mark.parametrize("variant", range(8))
def test_multipliers_are_read_from_torchvisions_code(variant):
    assert torchvision_multipliers(variant) == TORCHVISION_B[variant][:2]


def test_fit_phi_recovers_an_ideal_point():
    point = compound_scaling(3.0)
    assert fit_phi(point.width, point.depth, point.resolution) == pytest.approx(3.0)


def test_real_configs_against_the_ideal_formula():
    configs = real_configs()  # counts B0..B7 on the meta device once
    assert [(c.width_mult, c.depth_mult, c.resolution_px) for c in configs] == list(TORCHVISION_B)
    assert [c.name for c in configs] == [f"efficientnet_b{b}" for b in range(8)]
    for config in configs:  # counted MACs agree with torchvision's published `_ops` (GMACs)
        assert config.macs == pytest.approx(config.published_macs, rel=0.01)
    b0, b7 = configs[0], configs[-1]
    assert b0.phi_fit == 0 and b0.macs_multiplier == 1
    assert b7.phi_width == pytest.approx(math.log(2.0) / math.log(1.1))
    assert 6 < b7.phi_fit < 7.5 and b7.ideal.phi == b7.phi_fit
    # phi grows with the variant, but the released multipliers are not the formula:
    assert all(a.phi_fit < b.phi_fit for a, b in zip(configs, configs[1:]))
    assert configs[1].phi_width == 0 < configs[1].phi_depth  # B1 deepens without widening
    assert 60 < b7.macs_multiplier < 130  # about 2^phi

    fig = compound_scaling_figure([compound_scaling(p) for p in np.linspace(0, 7, 29)], configs)
    lines = [t for t in fig.data if t.mode == "lines"]
    markers = [t for t in fig.data if t.mode in ("markers", "markers+text")]
    assert len(lines) == 4 and len(lines[0].x) == 29
    assert lines[3].y[-1] == pytest.approx((1.2 * 1.1 ** 2 * 1.15 ** 2) ** 7)
    assert len(markers) == 4 and all(len(t.x) == 8 for t in markers)
    # Named once, on the FLOPs diamonds: on all four series the names piled up at each phi.
    assert [t.mode for t in markers] == ["markers"] * 3 + ["markers+text"]
    assert list(markers[3].text) == [f"B{b}" for b in range(8)] and markers[3].name == "torchvision B0..B7 FLOPs"
    assert markers[2].y[-1] == pytest.approx(600 / 224)  # resolution multiplier of B7
    assert fig.layout.yaxis.type == "log"


def test_real_configs_without_counting_and_bad_bases():
    configs = real_configs(count_macs=False)
    assert len(configs) == 8 and configs[0].macs is None and configs[0].macs_multiplier is None
    with pytest.raises(InvalidInput):
        real_configs(alpha=1.0, count_macs=False)
