"""The Architectures page's comparison table rows: counted beside published MACs, measured columns, blocks."""

import dataclasses

import pytest

from cvlab.zoo import facts as zoo
from cvlab.ui.zoo import COMPARE_COLUMNS, compare_rows
from tests.unit.zoo.test_zoo_measure import SAMPLE


@pytest.fixture(scope="module")
def rows():
    facts = zoo.zoo_table(["mobilenet_v3_small", "vit_b_16", "lecture-vgg"])
    measured = {"vit_b_16": dataclasses.replace(SAMPLE, name="vit_b_16", latency_ms=90.0, throughput=14.5,
                                                 throughput_batch=4, memory_mb=420.0)}
    return {row["name"]: row for row in compare_rows(zoo.with_measurements(facts, measured))}


def test_published_macs_and_the_difference_sit_beside_the_counted(rows):
    small, vit = rows["mobilenet_v3_small"], rows["vit_b_16"]
    assert small["GMACs published"] == 0.057 and small["MACs diff %"] == -0.86  # `_ops` rounded to 3 decimals
    assert vit["GMACs published"] == 17.564 and vit["MACs diff %"] == 0.0
    assert vit["GMACs"] == pytest.approx(17.564, rel=1e-4)
    assert rows["lecture-vgg"]["GMACs published"] is None and rows["lecture-vgg"]["MACs diff %"] is None
    columns = list(small)
    assert columns.index("GMACs") + 1 == columns.index("GMACs published") == columns.index("MACs diff %") - 1


def test_throughput_and_peak_memory_with_the_batch_where_measured(rows):
    vit = rows["vit_b_16"]
    assert (vit["latency ms"], vit["images/s"], vit["at batch"], vit["peak MB"]) == (90.0, 14.5, 4, 420.0)
    assert all(rows["mobilenet_v3_small"][k] is None for k in ("latency ms", "images/s", "at batch", "peak MB"))


def test_every_row_names_its_block_and_numbers_are_formatted(rows):
    assert rows["vit_b_16"]["block"] == "patch embedding + transformer encoder"
    assert rows["lecture-vgg"]["block"].startswith("VGGBlock")
    assert set(COMPARE_COLUMNS) <= set(rows["vit_b_16"])  # every configured column exists
