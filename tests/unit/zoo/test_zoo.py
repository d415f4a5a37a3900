import json

import pytest
import torch

from cvlab.zoo import facts as zoo
from cvlab.__main__ import main
from cvlab.errors import UnknownName
from cvlab.zoo.architectures import ARCHITECTURES
from cvlab.settings import get_settings

PUBLISHED = [name for name, arch in ARCHITECTURES.items() if arch.weights]
MAC_TOLERANCE = 0.05  # the bound; measured: all within 0.2% of `_ops`, MobileNetV3-Small -0.86%
# (its 0.057 GMACs is rounded to 3 decimals)
# A real forward of every architecture at 32 px keeps the whole set near a minute on 2 CPU cores (building
# the VGGs' random 100M-weight classifiers is most of it). ViTs fix their size in the position embedding;
# the overview CNN's flatten fixes its own.
FIXED_SIZES = {"overview": 224, "vit_b_16": 224, "vit_tiny_patch16_224": 224, "vit_base_patch16_224": 224}
CLASSES = {"lecture-vgg": 10, "lecture-residual": 10}  # CIFAR-10; every other network ImageNet's 1000


def test_the_lecture_families_are_all_registered():
    families = {arch.family for _, arch in ARCHITECTURES.items()}
    assert families >= {"VGG", "ResNet", "EfficientNet", "EfficientNetV2", "MobileNet", "ViT", "ConvNeXt",
                        "Swin", "RegNet"}
    for depth in (18, 34, 50, 101, 152):
        assert f"resnet{depth}" in ARCHITECTURES
    assert all(f"efficientnet_b{b}" in ARCHITECTURES for b in range(8))


@pytest.mark.parametrize("name", PUBLISHED)
def test_counted_facts_agree_with_torchvisions_metadata(name):
    facts = zoo.facts(name)
    assert facts.params == facts.published_params, "parameters must equal torchvision's num_params exactly"
    assert abs(facts.macs - facts.published_macs) <= MAC_TOLERANCE * facts.published_macs
    assert facts.flops == 2 * facts.macs
    assert 0 < facts.top5 and facts.top1 < facts.top5 <= 100 and facts.file_size_mb > 1
    assert facts.weights == ARCHITECTURES.get(name).weights and facts.published_source.startswith("torchvision ")
    assert facts.params_source.startswith("counted here") and facts.latency_ms is None


def test_vit_b16_is_counted_with_its_attention(record_property):
    """ViT-B/16 on the meta device agrees with `_ops`; the real-tensor case is the tiny ViT test below."""
    facts = zoo.facts("vit_b_16")
    difference = facts.macs / facts.published_macs - 1
    record_property("vit_b_16_mac_difference", f"{difference:+.4%}")  # measured: -0.0010%
    assert abs(difference) < MAC_TOLERANCE
    assert torch.backends.mha.get_fastpath_enabled(), "the fast-path switch must be restored after counting"


def test_timm_vit_names_its_weights_and_has_no_published_accuracy():
    facts = zoo.facts("vit_tiny_patch16_224")
    assert facts.weights == "vit_tiny_patch16_224.augreg_in21k_ft_in1k" and facts.top1 is None
    assert 5.5e6 < facts.params < 6e6 and facts.flops == 2 * facts.macs


@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_every_architecture_runs_a_real_forward_offline_with_random_weights(name):
    size = FIXED_SIZES.get(name, 32)
    model = ARCHITECTURES.get(name).build().eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, size, size))  # (B, classes)
    assert logits.shape == (1, CLASSES.get(name, 1000)) and torch.isfinite(logits).all()


def tiny_vit():
    import torchvision

    # 32 px in 8 px patches: 16 tokens + CLS = 17, width 32 in 2 heads of 16, two encoder layers.
    return torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                                hidden_dim=32, mlp_dim=64, num_classes=10).eval()


def test_attention_is_counted_on_real_cpu_tensors_where_the_fused_paths_would_hide_it():
    """On real CPU tensors in eval mode both fused paths are live: MHA's fast path and the fused sdpa kernel."""
    from torch.utils.flop_counter import FlopCounterMode

    tokens, width, layers, mlp, heads = 17, 32, 2, 64, 2
    patch_embedding = 16 * width * 3 * 8 * 8  # a 8x8 stride-8 conv, per patch
    linears = layers * tokens * width * (3 * width + width + 2 * mlp) + width * 10  # qkv, out, MLP; head on CLS
    attention = layers * 2 * heads * tokens * tokens * (width // heads)  # Q K^T and (softmax) V
    model, x = tiny_vit(), torch.randn(1, 3, 32, 32)
    assert zoo.flop_counter(model, x).get_total_flops() == 2 * (patch_embedding + linears + attention)
    with FlopCounterMode(display=False) as naive, torch.no_grad():
        model(x)  # torch's defaults: the fast path takes the attention out of sight
    assert naive.get_total_flops() <= 2 * (patch_embedding + linears + attention - attention)
    assert torch.backends.mha.get_fastpath_enabled(), "the fast-path switch must be restored after counting"


def test_every_architecture_names_its_building_block():
    blocks = {name: arch.block for name, arch in ARCHITECTURES.items()}
    assert all(blocks.values()), [name for name, block in blocks.items() if not block]
    assert blocks["resnet34"].startswith("basic residual") and blocks["resnet152"].startswith("bottleneck")
    assert "Fused-MBConv" in blocks["efficientnet_v2_s"] and blocks["efficientnet_b7"].startswith("MBConv")
    assert "SE" in blocks["mobilenet_v3_large"] and "window" in blocks["swin_b"]
    assert blocks["vit_b_16"] == blocks["vit_tiny_patch16_224"] == "patch embedding + transformer encoder"
    assert blocks["lecture-vgg"].startswith("VGGBlock") and blocks["lecture-residual"].startswith("ResidualBlock")
    assert zoo.facts("convnext_tiny").block == ARCHITECTURES.get("convnext_tiny").block


def test_the_mac_difference_is_shown_not_hidden():
    small, vit = zoo.facts("mobilenet_v3_small"), zoo.facts("vit_b_16")
    assert small.mac_difference == pytest.approx(0.0565104 / 0.057 - 1, abs=1e-6)  # `_ops` rounded: -0.86%
    assert abs(vit.mac_difference) < 1e-4 and zoo.facts("lecture-vgg").mac_difference is None


def test_counts_are_cached_on_disk_and_reused_without_counting(monkeypatch):
    first = zoo.facts("resnet18")
    path = zoo.cache_file(get_settings().data_home)
    assert path.parent == get_settings().data_home / "zoo" and torch.__version__.split("+")[0] in path.name
    assert json.loads(path.read_text())["resnet18@224"]["macs"] == first.macs
    zoo._cached_counts.cache_clear()  # forget the in-memory copy: the next answer must come from disk

    def must_not_count(arch):
        raise AssertionError(f"{arch.name} was counted again instead of read from the cache")

    monkeypatch.setattr(zoo, "count", must_not_count)
    assert zoo.facts("resnet18") == first


def test_unknown_name_lists_the_choices():
    with pytest.raises(UnknownName, match="Choose one of: .*resnet18.*vit_b_16"):
        zoo.facts("resnet19")


def test_zoo_table_keeps_the_order_asked_for():
    assert [f.name for f in zoo.zoo_table(["swin_t", "resnet18"])] == ["swin_t", "resnet18"]


def test_cli_json_has_one_object_per_architecture_of_the_family(capsys):
    assert main(["zoo", "--json", "--family", "resnet"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in table] == ["resnet18", "resnet50", "resnet34", "resnet101", "resnet152"]
    for row in table:
        assert set(row) >= {"name", "family", "params", "flops", "macs", "top1", "top5", "file_size_mb",
                            "weights", "params_source", "flops_source", "published_source", "latency_ms",
                            "throughput_ips", "throughput_batch", "peak_memory_mb", "block"}
        assert row["latency_ms"] is None and row["flops"] == 2 * row["macs"]
        assert row["throughput_ips"] is None and row["peak_memory_mb"] is None and row["block"]


def test_cli_json_carries_what_was_measured_here(capsys, monkeypatch):
    import dataclasses

    from cvlab.zoo import measure as zoo_measure
    from tests.unit.zoo.test_zoo_measure import SAMPLE

    monkeypatch.setattr(zoo_measure, "measure", lambda name, **_: dataclasses.replace(
        SAMPLE, name=name, latency_ms=12.5, throughput=321.0, throughput_batch=4, memory_mb=48.0))
    zoo_measure.measure_all(["resnet18"])
    assert main(["zoo", "--json", "--family", "resnet"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert (rows["resnet18"]["latency_ms"], rows["resnet18"]["throughput_ips"], rows["resnet18"]["throughput_batch"],
            rows["resnet18"]["peak_memory_mb"]) == (12.5, 321.0, 4, 48.0)
    assert rows["resnet50"]["throughput_ips"] is None and rows["resnet50"]["latency_ms"] is None


def test_cli_text_is_an_aligned_table_and_an_unknown_family_is_refused(capsys):
    assert main(["zoo", "--family", "Swin"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "family", "px"] and len(lines[2:5]) == 3
    assert lines[2].index("Swin") == lines[0].index("family")
    assert main(["zoo", "--family", "Nope"]) == 2
    assert "Choose one of" in capsys.readouterr().err
