"""The LOSSES registry against hand-worked definitions, torch.nn and smp.losses; weighted-sum specs; the explorer."""

import math

import pytest
import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F

from cvlab.errors import InvalidInput, UnknownName
from cvlab.segmentation import loss_explorer as lx
from cvlab.segmentation.losses import LOSSES, bce_loss, cross_entropy_loss, dice_loss, focal_loss, iou_loss, \
    parse_loss_spec


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def pixels(*probs: float) -> torch.Tensor:
    """Binary logits (1, 1, 1, n) for the given probabilities."""
    return torch.tensor([logit(p) for p in probs], dtype=torch.float64).view(1, 1, 1, -1)


def labels(*values: int) -> torch.Tensor:
    return torch.tensor(values).view(1, 1, -1)


# Two object pixels predicted 0.8 and 0.6, two background pixels predicted 0.3 and 0.1.
P, Y = (0.8, 0.6, 0.3, 0.1), (1, 1, 0, 0)
INTERSECTION, SUM_P, SUM_Y = 0.8 + 0.6, sum(P), 2.0


def test_bce_is_the_mean_log_loss_worked_by_hand():
    expected = -(math.log(0.8) + math.log(0.6) + math.log(0.7) + math.log(0.9)) / 4
    assert bce_loss(pixels(*P), labels(*Y)).item() == pytest.approx(expected, rel=1e-9)


def test_dice_and_iou_worked_by_hand_with_and_without_smoothing():
    dice = 1 - 2 * INTERSECTION / (SUM_P + SUM_Y)
    iou = 1 - INTERSECTION / (SUM_P + SUM_Y - INTERSECTION)
    assert dice_loss(pixels(*P), labels(*Y), smooth=0).item() == pytest.approx(dice, rel=1e-9)
    assert iou_loss(pixels(*P), labels(*Y), smooth=0).item() == pytest.approx(iou, rel=1e-9)
    smoothed = 1 - (2 * INTERSECTION + 1) / (SUM_P + SUM_Y + 1)
    assert dice_loss(pixels(*P), labels(*Y)).item() == pytest.approx(smoothed, rel=1e-9)


def test_focal_loss_worked_by_hand_and_its_two_limits():
    alpha, gamma = 0.25, 2.0
    p_t = (0.8, 0.6, 0.7, 0.9)
    alpha_t = (alpha, alpha, 1 - alpha, 1 - alpha)
    expected = sum(-a * (1 - p) ** gamma * math.log(p) for a, p in zip(alpha_t, p_t)) / 4
    assert focal_loss(pixels(*P), labels(*Y)).item() == pytest.approx(expected, rel=1e-9)
    half_bce = 0.5 * bce_loss(pixels(*P), labels(*Y)).item()
    assert focal_loss(pixels(*P), labels(*Y), alpha=0.5, gamma=0).item() == pytest.approx(half_bce, rel=1e-9)


def test_binary_and_multiclass_against_torch():
    torch.manual_seed(0)
    z, y = torch.randn(2, 1, 8, 8), (torch.rand(2, 8, 8) > 0.6).long()
    assert bce_loss(z, y).item() == pytest.approx(torch.nn.BCEWithLogitsLoss()(z, y[:, None].float()).item(), rel=1e-6)
    # with one channel, cross-entropy over logits (0, z) is BCE
    assert cross_entropy_loss(z, y).item() == pytest.approx(bce_loss(z, y).item(), rel=1e-5)
    z4, y4 = torch.randn(2, 4, 8, 8), torch.randint(0, 4, (2, 8, 8))
    assert cross_entropy_loss(z4, y4).item() == pytest.approx(torch.nn.CrossEntropyLoss()(z4, y4).item(), rel=1e-6)
    one_hot = F.one_hot(y4, 4).permute(0, 3, 1, 2).float()
    assert bce_loss(z4, y4).item() == pytest.approx(F.binary_cross_entropy_with_logits(z4, one_hot).item(), rel=1e-6)


@pytest.mark.parametrize("mode, channels", [("binary", 1), ("multiclass", 4)])
def test_against_smp_losses(mode, channels):
    torch.manual_seed(1)
    z = torch.randn(2, channels, 16, 16)
    y = torch.randint(0, max(channels, 2), (2, 16, 16))
    y[:, 0, :4] = torch.arange(4) % max(channels, 2)  # every class present: smp zeroes classes with no pixel
    # smp's smoothing enters Dice's numerator and denominator as 2s where ours is s
    assert dice_loss(z, y, smooth=1.0).item() == pytest.approx(
        smp.losses.DiceLoss(mode, smooth=0.5)(z, y).item(), rel=1e-5)
    assert iou_loss(z, y, smooth=1.0).item() == pytest.approx(
        smp.losses.JaccardLoss(mode, smooth=1.0)(z, y).item(), rel=1e-5)
    expected = smp.losses.FocalLoss(mode, alpha=0.25, gamma=2.0)(z, y).item()
    assert focal_loss(z, y, alpha=0.25, gamma=2.0).item() == pytest.approx(expected, rel=1e-5)


def test_a_perfect_mask_costs_almost_nothing_and_gradients_flow():
    y = labels(1, 1, 0, 0)
    sure = pixels(0.9999, 0.9999, 0.0001, 0.0001).requires_grad_()
    for name in LOSSES:
        value = LOSSES.get(name).function(sure, y)
        assert value.item() < 1e-3, name
    parse_loss_spec("0.5*bce+0.5*dice")(sure, y).backward()
    assert sure.grad is not None and torch.isfinite(sure.grad).all()


def test_losses_refuse_mismatched_shapes_and_bad_class_ids():
    with pytest.raises(InvalidInput, match="same N, H, W"):
        bce_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 3, dtype=torch.long))
    with pytest.raises(InvalidInput, match="class ids 0..3"):
        dice_loss(torch.zeros(1, 4, 2, 2), torch.full((1, 2, 2), 7))


def test_a_spec_is_a_weighted_sum_of_its_terms():
    torch.manual_seed(2)
    z, y = torch.randn(1, 1, 8, 8), (torch.rand(1, 8, 8) > 0.5).long()
    loss = parse_loss_spec("0.5*bce + 0.5*dice")
    assert loss.spec == "0.5*bce+0.5*dice"
    assert loss(z, y).item() == pytest.approx(0.5 * bce_loss(z, y).item() + 0.5 * dice_loss(z, y).item(), rel=1e-6)
    focal = parse_loss_spec("focal(gamma=3, alpha=0.25) + 2*iou")
    assert focal.spec == "focal(gamma=3)+2*iou"  # defaults are left out of the canonical text
    assert set(focal.parts(z, y)) == {"focal(gamma=3)", "iou"}
    assert focal(z, y).item() == pytest.approx(focal_loss(z, y, gamma=3).item() + 2 * iou_loss(z, y).item(), rel=1e-6)
    assert r"0.5\,\mathcal{L}_{BCE}" in loss.latex


@pytest.mark.parametrize("spec, error, words", [
    ("", InvalidInput, "empty"),
    ("0.5*bxe", UnknownName, "Did you mean 'bce'"),
    ("focal(beta=1)", InvalidInput, "parameters: alpha, gamma"),
    ("focal(gamma=9)", InvalidInput, "outside 0..5"),
    ("2**dice", InvalidInput, "weight"),
    ("0*dice", InvalidInput, "above 0"),
])
def test_bad_specs_say_what_to_write(spec, error, words):
    with pytest.raises(error, match=words):
        parse_loss_spec(spec)


def test_every_loss_carries_its_formula_and_facts():
    for name, entry in LOSSES.items():
        facts = entry.facts()
        assert facts["latex"] and facts["formula"] and facts["paper"] and facts["note"], name


def test_pixel_curves_bce_is_minus_log_p_and_the_region_losses_saturate():
    curves = {c.name: c for c in lx.pixel_loss_curves(points=11)}
    bce = curves["bce"]
    for p, positive, negative in zip(bce.probability, bce.positive, bce.negative):
        assert positive == pytest.approx(-math.log(p), rel=1e-6)
        assert negative == pytest.approx(-math.log(1 - p), rel=1e-6)
    dice = curves["dice"]
    assert max(dice.positive) < 0.5 < max(bce.positive)  # (1 - p) / (p + 2) never reaches 1/2
    assert list(dice.positive) == sorted(dice.positive, reverse=True)
    assert list(curves["focal"].negative) == sorted(curves["focal"].negative)


def test_toy_pair_scores_overlap_and_a_perfect_match():
    shifted = lx.toy_pair(target=(16, 16, 24), prediction=(22, 20, 24), confidence=0.9)
    assert shifted.hard_iou == pytest.approx(18 * 20 / (2 * 576 - 18 * 20))
    assert shifted.hard_dice == pytest.approx(2 * 18 * 20 / (2 * 576))
    same = lx.toy_pair(target=(16, 16, 24), prediction=(16, 16, 24), confidence=0.99)
    assert same.hard_iou == 1.0 and same.losses["dice"] < shifted.losses["dice"]
    assert same.losses["bce"] == pytest.approx(-math.log(0.99), rel=1e-4)
    with pytest.raises(InvalidInput, match="above 0.5"):
        lx.toy_pair(confidence=0.3)


def test_focal_loss_moves_the_weight_from_easy_background_to_hard_pixels():
    comparison = lx.focal_vs_bce(alpha=0.25, gamma=2.0)
    bce_share, focal_share = comparison.shares(comparison.bce), comparison.shares(comparison.focal)
    easy = [g.name for g in comparison.groups].index("easy background")
    assert focal_share[easy] < 0.1 and bce_share[easy] > 0.5  # half of BCE's loss, a twentieth of focal's
    assert sum(focal_share) == pytest.approx(1.0)
    plain = lx.focal_vs_bce(alpha=0.5, gamma=0.0)
    assert plain.focal == pytest.approx(tuple(0.5 * b for b in plain.bce), rel=1e-6)
