"""The lecture's table and one layer's cost, as the Output size page shows them, computed in cvlab.sizes."""

from __future__ import annotations

import pytest

from cvlab.sizes.arithmetic import conv_layer_cost
from cvlab.sizes.working import explain_output_size, lecture_example_rows


def test_lecture_table_rows_carry_the_numbers_and_the_output():
    rows = lecture_example_rows()
    assert [r["Output"] for r in rows] == [32, 30, 16, 112]
    assert rows[3]["Working"] == "floor((224 - 7 + 2*3) / 2) + 1 = 112"
    assert rows[1]["Working"] == "floor((32 - 3 + 2*0) / 1) + 1 = 30"


@pytest.mark.parametrize("kind, args, numbers", [
    ("conv", (10, 3, 1, "same", 2), "floor((10 - 5 + 2*2) / 1) + 1"),
    ("maxpool", (7, 2, None, 0, 1, True), "ceil((7 - 2 + 2*0) / 2) + 1"),
    ("convtranspose", (8, 3, 2, 1, 1, False, 1), "(8 - 1)*2 - 2*1 + 1*(3 - 1) + 1 + 1"),
])
def test_with_numbers_is_the_formula_filled_in_without_parsing_the_steps(kind, args, numbers):
    work = explain_output_size(kind, *args)
    assert work.with_numbers == numbers
    assert any(numbers in step for step in work.steps)


def test_conv_layer_cost_counts_a_conv_on_its_output_and_a_transposed_conv_on_its_input():
    params, macs = conv_layer_cost("conv", 3, 64, 7, (224, 224), (112, 112))
    assert params == 64 * 3 * 49 + 64 and macs == 64 * 3 * 49 * 112 * 112
    params, macs = conv_layer_cost("convtranspose", 64, 32, 2, (16, 16), (32, 32), groups=2)
    assert params == 64 * 16 * 4 + 32 and macs == 64 * 16 * 4 * 16 * 16
