"""``python -m cvlab zoo choose|scaling|tokens|claims``: the Architectures page's lessons as --json results."""

from __future__ import annotations

import json

import pytest

from cvlab.__main__ import main


def run_json(capsys, *argv: str) -> dict | list:
    status = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert status == 0, out
    return json.loads(out)


def test_scenario_a_fits_nothing_in_fp32_and_answers_for_int8(capsys):
    answer = run_json(capsys, "zoo", "choose", "--scenario", "A")
    assert answer["constraints"] == {**answer["constraints"], "max_size_mb": 5, "precision": "int8"}
    assert "In fp32 nothing here fits 5 MB" in answer["summary"]
    assert answer["ranked"], "some network fits 5 MB once quantised"
    assert all(c["size_mb"] <= 5 and c["fits"] for c in answer["ranked"])


def _ranked_by_accuracy_within(ranked: list[dict], suits) -> None:
    """The families that suit the data come first, each group by top-1."""
    groups = [c["family"].startswith(suits) for c in ranked]
    assert groups == sorted(groups, reverse=True) and groups[0]
    for group in (True, False):
        top1 = [c["top1"] for c, g in zip(ranked, groups) if g is group]
        assert top1 == sorted(top1, reverse=True)


def test_scenario_b_fine_tunes_a_cnn(capsys):
    answer = run_json(capsys, "zoo", "choose", "--scenario", "B")
    assert "fine-tune" in answer["summary"].lower() and "500" in answer["training_advice"]
    _ranked_by_accuracy_within(answer["ranked"], ("ResNet", "EfficientNet", "ConvNeXt", "VGG", "MobileNet", "RegNet",
                                                  "DenseNet", "Lecture", "AlexNet"))
    assert not answer["ranked"][0]["family"].startswith(("ViT", "Swin"))


def test_scenario_c_puts_the_data_hungry_families_first(capsys):
    answer = run_json(capsys, "zoo", "choose", "--scenario", "C")
    _ranked_by_accuracy_within(answer["ranked"], ("ViT", "Swin", "ConvNeXt"))
    assert answer["ranked"][0]["name"] == "convnext_base" or answer["ranked"][0]["family"] == "ConvNeXt"


def test_own_limits_filter_and_rank(capsys):
    answer = run_json(capsys, "zoo", "choose", "--max-size-mb", "50", "--min-top1", "75", "--prefer", "size")
    assert answer["ranked"] and answer["excluded"]
    assert all(c["size_mb"] <= 50 and c["top1"] >= 75 for c in answer["ranked"])
    sizes = [c["size_mb"] for c in answer["ranked"]]
    assert sizes == sorted(sizes)
    assert all(c["broken"] for c in answer["excluded"])


def test_choose_rejects_a_negative_limit_as_json_error(capsys):
    assert main(["zoo", "choose", "--max-size-mb", "-1", "--json"]) == 2
    assert "positive" in json.loads(capsys.readouterr().out)["error"]["message"]


def test_scaling_at_phi_and_the_real_efficientnets(capsys):
    data = run_json(capsys, "zoo", "scaling", "--phi", "2")
    point = data["point"]
    assert point["depth"] == pytest.approx(1.2 ** 2) and point["width"] == pytest.approx(1.1 ** 2)
    assert point["resolution_px"] == round(224 * 1.15 ** 2)
    assert point["flops_multiplier"] == pytest.approx((1.2 * 1.1 ** 2 * 1.15 ** 2) ** 2)
    real = {r["name"]: r for r in data["real"]}
    assert list(real) == [f"efficientnet_b{n}" for n in range(8)]
    assert real["efficientnet_b0"]["phi_fit"] == pytest.approx(0) and real["efficientnet_b7"]["resolution_px"] == 600
    assert real["efficientnet_b3"]["macs"] is None  # counted only with --count


def test_tokens_at_448_px(capsys):
    data = run_json(capsys, "zoo", "tokens", "--size", "448")
    assert data["vit_grid"] == [28, 28] and data["vit_tokens"] == 28 * 28 + 1
    assert data["swin_tokens"] == 112 * 112 and data["swin_windows"] == 16 * 16
    assert data["cost"] is None


def test_tokens_cost_grows_quadratically_for_vit_and_linearly_for_swin(capsys):
    data = run_json(capsys, "zoo", "tokens", "--cost", "--sizes", "224,448")
    fits = {f["model"]: f for f in data["fits"]}
    assert fits["vit_b_16"]["attention_exponent"] == pytest.approx(2, abs=0.05)
    assert fits["swin_t"]["attention_exponent"] == pytest.approx(1, abs=0.05)
    assert {(p["model"], p["image_size"]) for p in data["cost"]} == {
        (m, s) for m in ("vit_b_16", "swin_t") for s in (224, 448)}


def test_tokens_refuses_a_size_swin_cannot_take(capsys):
    assert main(["zoo", "tokens", "--cost", "--sizes", "224,336", "--json"]) == 2
    assert "multiple of 32" in json.loads(capsys.readouterr().out)["error"]["message"]


def test_claims_checked(capsys):
    checks = run_json(capsys, "zoo", "claims")
    assert len(checks) > 20
    assert all(c["verdict"].startswith(("matches", "rounded", "differs")) for c in checks)
    resnet50 = next(c for c in checks if "ResNet-50" in c["claim"] and "param" in c["claim"].lower())
    assert resnet50["computed"] == 25_557_032  # torchvision resnet50, counted


def test_zoo_without_a_topic_still_prints_the_table(capsys):
    rows = run_json(capsys, "zoo", "--family", "VGG")
    assert {r["name"] for r in rows} >= {"vgg16"} and all(r["family"] == "VGG" for r in rows)
