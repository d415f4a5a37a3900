import pytest

from cvlab.zoo.chooser import Constraints, answer_scenario, choose
from cvlab.errors import InvalidInput, UnknownName
from cvlab.zoo.facts import zoo_table

POOL = ["resnet50", "efficientnet_b0", "mobilenet_v3_small", "vit_b_16", "convnext_tiny", "swin_t",
        "efficientnet_b3", "resnet18"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CVLAB_HOME", str(tmp_path_factory.mktemp("cvlab-home")))
        return zoo_table(POOL)


def _by_name(candidates):
    return {c.name: c for c in candidates}


def test_a_5mb_limit_excludes_resnet50_and_vit_with_size_reasons(pool):
    rec = choose(Constraints(max_size_mb=5), pool)
    excluded = _by_name(rec.excluded)
    for name in ("resnet50", "vit_b_16", "efficientnet_b0"):
        assert any("size" in b and "5 MB" in b for b in excluded[name].broken)
    assert "published weights file" in excluded["resnet50"].size_source


def test_nothing_fits_lists_the_nearest_candidates(pool):
    rec = choose(Constraints(max_size_mb=1, min_top1=90), pool)
    assert rec.ranked == () and rec.best is None
    assert rec.summary.startswith("Nothing fits") and "Nearest candidates" in rec.summary
    assert rec.excluded[0].title in rec.summary


def test_min_top1_filters(pool):
    rec = choose(Constraints(min_top1=80), pool)
    assert rec.ranked and all(c.top1 >= 80 for c in rec.ranked)
    assert "resnet18" in _by_name(rec.excluded)
    assert rec.ranked[0].top1 == max(c.top1 for c in rec.ranked)


def test_latency_falls_back_to_macs_and_says_so(pool):
    rec = choose(Constraints(max_latency_ms=50, prefer="speed"), pool)
    assert any("MACs are the proxy" in note for note in rec.notes)
    assert all("not measured" in c.latency_source for c in rec.ranked + rec.excluded)
    measured = choose(Constraints(max_latency_ms=50), pool, latencies={f.name: 1.0 for f in pool})
    assert not any("proxy" in note for note in measured.notes) and len(measured.ranked) == len(pool)


def test_int8_sizes_follow_the_parameter_count(pool):
    rec = choose(Constraints(max_size_mb=5, precision="int8"), pool)
    assert "mobilenet_v3_small" in _by_name(rec.ranked)
    b0 = _by_name(rec.excluded)["efficientnet_b0"]
    assert b0.size_mb == pytest.approx(next(f.params for f in pool if f.name == "efficientnet_b0") / 1e6)


def test_scenario_a_says_none_of_the_three_fits_in_fp32(pool):
    rec = answer_scenario("A", pool)
    assert "nothing here fits 5 MB" in rec.summary and "MobileNetV3-Small" in rec.summary
    assert rec.best.name == "mobilenet_v3_small"
    assert "EfficientNet-B0 20." in rec.summary  # its published fp32 file, about 20 MB


def test_scenario_b_fine_tunes_a_pretrained_cnn(pool):
    rec = answer_scenario("B", pool)
    assert "Fine-tune a pretrained CNN" in rec.summary and "freeze most of the backbone" in rec.training_advice
    assert rec.best.family not in ("ViT", "Swin")


def test_scenario_c_prefers_transformers_or_convnext(pool):
    rec = answer_scenario("C", pool)
    assert rec.best.family.startswith(("ViT", "Swin", "ConvNeXt"))
    assert "transformers" in rec.training_advice


@pytest.mark.parametrize("bad", [dict(max_size_mb=-1), dict(max_latency_ms=0), dict(min_top1=120),
                                 dict(labelled_images=-5), dict(prefer="cheap"), dict(precision="int4")])
def test_bad_inputs_raise_invalid_input(bad):
    with pytest.raises(InvalidInput):
        Constraints(**bad)


def test_unknown_scenario():
    with pytest.raises(UnknownName, match="A, B, C"):
        answer_scenario("D")


def test_scenario_a_names_the_best_of_the_slides_options_from_their_numbers(pool):
    import dataclasses

    assert "Of the slide's 3 options, EfficientNet-B0 is the best" in answer_scenario("A", pool).summary
    # A ResNet-50 shrunk to 2M parameters: now it, not EfficientNet-B0, is the one that fits in int8.
    shrunk = [dataclasses.replace(f, params=2_000_000, macs=100_000_000) if f.name == "resnet50" else f
              for f in pool]
    summary = answer_scenario("A", shrunk).summary
    assert "Of the slide's 3 options, ResNet-50 is the best: it fits in int8 (2.0 MB, 10 ms)" in summary
    assert "ViT-B/16 is furthest off: size 86.6 MB is over the 5 MB limit" in summary
