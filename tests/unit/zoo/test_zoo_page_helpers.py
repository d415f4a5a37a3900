"""What the Architectures page shows, computed in cvlab.zoo: chooser rows, the scaling curve, token counts,
and measurements merged into facts by one function."""

from __future__ import annotations

import dataclasses

import pytest

from cvlab.zoo import chooser, scaling, tokens
from cvlab.zoo.facts import measured_columns, with_measurement, with_measurements, zoo_table
from tests.unit.zoo.test_zoo_measure import SAMPLE


def test_ranked_rows_number_the_best_candidates_with_their_reasons():
    rec = chooser.choose(chooser.Constraints(max_size_mb=30, prefer="size"))
    rows = chooser.ranked_rows(rec, top=3)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert [r["model"] for r in rows] == [c.title for c in rec.ranked[:3]]
    assert all(r["size MB"] <= 30 and r["why"] for r in rows)


def test_scaling_curve_runs_from_phi_0_to_8():
    curve = scaling.scaling_curve()
    assert len(curve) == 33 and curve[0].phi == 0 and curve[-1].phi == 8
    assert curve[0].flops_multiplier == 1 and curve[4].depth == pytest.approx(1.2)


def test_vit_tokens_described():
    assert tokens.describe_vit_tokens(224) == "ViT-B/16: 14x14 = 196 patches + 1 CLS = 197 tokens"
    assert tokens.describe_vit_tokens(448).endswith("= 785 tokens")


def test_one_merge_of_measurements_into_facts():
    facts = zoo_table(["resnet18", "lecture-vgg"])
    measured = {"resnet18": dataclasses.replace(SAMPLE, name="resnet18", latency_ms=12.5, throughput=80.0,
                                                 throughput_batch=8, memory_mb=99.0)}
    merged = {f.name: f for f in with_measurements(facts, measured)}
    assert (merged["resnet18"].latency_ms, merged["resnet18"].throughput_ips, merged["resnet18"].throughput_batch,
            merged["resnet18"].peak_memory_mb) == (12.5, 80.0, 8, 99.0)
    assert merged["lecture-vgg"] == facts[1]  # not measured: unchanged
    assert with_measurement(facts[0], None) is facts[0]
    assert set(measured_columns(None).values()) == {None}
    assert measured_columns(measured["resnet18"])["memory_source"] == SAMPLE.memory_source
