import inspect

import pytest
import torch
import torchvision

from cvlab.zoo import claims as lecture_claims
from cvlab.zoo.claims import CLAIMS, check_claims


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # zoo counts cache under a throwaway data home
        mp.setenv("CVLAB_HOME", str(tmp_path_factory.mktemp("cvlab-home")))
        return {c.claim: c for c in check_claims()}


def _meta_params(builder: str) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in getattr(torchvision.models, builder)().parameters())


def test_every_claim_is_checked_with_a_verdict(checks):
    assert len(checks) == len(CLAIMS)
    for check in checks.values():
        assert check.verdict.startswith(("matches", "rounded", "differs: ")), check
        assert check.computed is not None or check.published is not None


def test_no_computed_number_is_written_into_the_module():
    source = inspect.getsource(lecture_claims)
    for builder in ("vgg16", "resnet50", "efficientnet_b0", "efficientnet_b7", "convnext_tiny"):
        assert str(_meta_params(builder)) not in source
    assert "4.8" not in source and "80.858" not in source and "76.13" not in source


@pytest.mark.parametrize("claim, builder", [
    ("VGG-16 has ~138 million parameters", "vgg16"), ("ResNet-50 has 25.6M parameters", "resnet50"),
    ("EfficientNet-B7 has 66M parameters", "efficientnet_b7"), ("ConvNeXt-T has 28.6M parameters", "convnext_tiny")])
def test_parameter_claims_are_counted(checks, claim, builder):
    assert checks[claim].computed == _meta_params(builder) == checks[claim].published


def test_vgg16_matches_about_138_million(checks):
    check = checks["VGG-16 has ~138 million parameters"]
    assert check.computed == 138_357_544
    assert check.verdict == "matches ~138"


def test_b0_is_not_eight_times_smaller_than_resnet50(checks):
    check = checks["EfficientNet-B0 has similar accuracy to ResNet-50 with 8x fewer parameters"]
    assert 4.7 < check.computed < 4.9
    assert check.verdict.startswith("differs:") and "not 8x" in check.verdict


def test_resnet50_top1_names_both_weights_versions(checks):
    check = checks["ResNet-50 reaches 76.1% ImageNet top-1"]
    assert "IMAGENET1K_V1" in check.published_source
    assert "ResNet50_Weights.IMAGENET1K_V1" in check.verdict and "ResNet50_Weights.IMAGENET1K_V2" in check.verdict
    assert check.verdict.startswith("matches")


def test_efficientnet_b3_params_are_rounded_and_accuracies_differ(checks):
    assert checks["EfficientNet-B3 has 12M parameters"].verdict.startswith("rounded")
    assert checks["EfficientNet-B0 reaches 77.1% ImageNet top-1"].verdict.startswith("differs:")


def test_structure_claims(checks):
    assert checks["ResNet-34 uses Basic blocks"].computed == "BasicBlock"
    assert checks["ResNet-152 has 152 layers"].computed == 152
    assert checks["ViT-B/16 takes 224x224 input"].published == 224
    assert checks["ViT-B/16 cuts 16x16 patches"].verdict == "matches"
