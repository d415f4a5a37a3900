"""The ACTIVATIONS registry, evaluate() against PyTorch and closed forms, vanishing zones, and softmax."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cvlab.activations.functions import ACTIVATIONS, evaluate, get_activation, low_gradient_zones
from cvlab.errors import InvalidInput, UnknownName
from cvlab.activations.softmax import MAX_LOGITS, parse_logits, softmax

SELU_LAMBDA, SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
GELU_C = math.sqrt(2 / math.pi)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _phi(x):  # standard normal density
    return np.exp(-x * x / 2) / math.sqrt(2 * math.pi)


_erf = np.vectorize(math.erf)

# name -> (params, PyTorch's own function, closed-form f, closed-form f'). Non-default
# parameters on purpose, so a parameter that is ignored fails the test.
CASES = {
    "relu": ({}, F.relu, lambda x: np.maximum(0, x), lambda x: (x > 0) * 1.0),
    "leaky_relu": ({"negative_slope": 0.2}, lambda t: F.leaky_relu(t, 0.2),
                   lambda x: np.where(x > 0, x, 0.2 * x), lambda x: np.where(x > 0, 1.0, 0.2)),
    "prelu": ({"slope": 0.3}, lambda t: F.prelu(t, torch.tensor([0.3], dtype=t.dtype)),
              lambda x: np.where(x > 0, x, 0.3 * x), lambda x: np.where(x > 0, 1.0, 0.3)),
    "elu": ({"alpha": 0.7}, lambda t: F.elu(t, alpha=0.7),
            lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), lambda x: np.where(x > 0, 1.0, 0.7 * np.exp(x))),
    "selu": ({}, F.selu, lambda x: SELU_LAMBDA * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
             lambda x: SELU_LAMBDA * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(x))),
    "gelu": ({}, F.gelu, lambda x: x / 2 * (1 + _erf(x / math.sqrt(2))),
             lambda x: (1 + _erf(x / math.sqrt(2))) / 2 + x * _phi(x)),
    "gelu_tanh": ({}, lambda t: F.gelu(t, approximate="tanh"),
                  lambda x: x / 2 * (1 + np.tanh(GELU_C * (x + 0.044715 * x**3))),
                  lambda x: (1 + np.tanh(u := GELU_C * (x + 0.044715 * x**3))) / 2
                  + x / 2 * (1 - np.tanh(u) ** 2) * GELU_C * (1 + 3 * 0.044715 * x**2)),
    "silu": ({}, F.silu, lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * (1 - _sig(x)))),
    "mish": ({}, F.mish, lambda x: x * np.tanh(np.log1p(np.exp(x))),
             lambda x: np.tanh(sp := np.log1p(np.exp(x))) + x * (1 - np.tanh(sp) ** 2) * _sig(x)),
    "tanh": ({}, torch.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "sigmoid": ({}, torch.sigmoid, _sig, lambda x: _sig(x) * (1 - _sig(x))),
    "softplus": ({"beta": 2.0}, lambda t: F.softplus(t, beta=2.0),
                 lambda x: np.log1p(np.exp(2 * x)) / 2, lambda x: _sig(2 * x)),
    "hardswish": ({}, F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6,
                  lambda x: np.where(x < -3, 0.0, np.where(x > 3, 1.0, (2 * x + 3) / 6))),
}
KINKS = (-3.0, 0.0, 3.0)  # where a one-sided derivative is a convention, not a value to compare


def test_every_registered_activation_is_covered_here_and_the_issue_list_is_registered():
    assert set(CASES) == set(ACTIVATIONS.names())


@pytest.mark.parametrize("name", CASES)
def test_values_and_slopes_equal_pytorchs_own_function_and_its_autograd(name):
    params, torch_fn, _, _ = CASES[name]
    curve = evaluate(name, -6, 6, 241, **params)
    x = torch.tensor(curve.x, requires_grad=True)
    y = torch_fn(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(curve.y, y.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve.dy, dy.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_values_and_slopes_match_the_closed_forms(name):
    params, _, f, df = CASES[name]
    curve = evaluate(name, -6, 6, 241, **params)
    smooth = np.min(np.abs(curve.x[:, None] - np.array(KINKS)), axis=1) > 1e-9
    np.testing.assert_allclose(curve.y, f(curve.x), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(curve.dy[smooth], df(curve.x)[smooth], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("name", "x", "value", "slope"),
    [("sigmoid", 0.0, 0.5, 0.25), ("relu", 2.0, 2.0, 1.0), ("relu", -2.0, 0.0, 0.0), ("tanh", 0.0, 0.0, 1.0),
     ("gelu", 0.0, 0.0, 0.5), ("silu", 0.0, 0.0, 0.5), ("softplus", 0.0, math.log(2), 0.5),
     ("leaky_relu", -1.0, -0.01, 0.01), ("prelu", -1.0, -0.25, 0.25), ("hardswish", 1.0, 2 / 3, 5 / 6)],
)
def test_known_points(name, x, value, slope):
    # A one-point grid is not allowed, so take the middle of a symmetric three-point grid.
    curve = evaluate(name, x - 1, x + 1, 3)
    assert curve.x[1] == pytest.approx(x)
    assert curve.y[1] == pytest.approx(value, abs=1e-12)
    assert curve.dy[1] == pytest.approx(slope, abs=1e-12)


def test_the_minimum_values_in_the_range_column_are_what_the_functions_reach():
    lowest = {name: evaluate(name, -4, 0, 10_001).y.min() for name in ("gelu", "silu", "mish", "hardswish")}
    assert lowest == pytest.approx({"gelu": -0.170, "silu": -0.2785, "mish": -0.3088, "hardswish": -0.375}, abs=1e-3)


def test_every_entry_carries_its_teaching_facts():
    for name, entry in ACTIVATIONS.items():
        assert entry.name == name
        for text in (entry.display_name, entry.latex, entry.formula, entry.value_range, entry.use, entry.note):
            assert text.strip(), (name, text)
        assert entry.paper.authors and entry.paper.title and 1980 <= entry.paper.year <= 2025
        for p in entry.params:
            assert p.low <= p.default <= p.high and p.step > 0
        facts = entry.facts()
        assert {"formula", "range", "use", "paper", "params"} <= set(facts)
    display_names = [entry.display_name for _, entry in ACTIVATIONS.items()]
    assert len(set(display_names)) == len(display_names)


def test_prelu_is_plotted_at_its_initial_slope_and_the_code_shows_the_parameters():
    assert evaluate("prelu", -1, 1, 3).dy[0] == pytest.approx(0.25)
    assert evaluate("leaky_relu", -1, 1, 3, negative_slope=0.2).torch_code == "nn.LeakyReLU(negative_slope=0.2)"
    assert evaluate("gelu_tanh").torch_code == "nn.GELU(approximate='tanh')"


def test_names_forgive_case_dashes_and_the_swish_alias():
    assert get_activation("Swish").name == "silu"
    assert get_activation("LeakyReLU").name == "leaky_relu"
    assert get_activation("leaky-relu").name == "leaky_relu"


def test_an_unknown_name_lists_every_choice():
    with pytest.raises(UnknownName, match="Choose one of: relu, leaky_relu") as err:
        evaluate("rellu")
    assert "'relu'" in str(err.value) and "hardswish" in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"x_min": 2, "x_max": 1}, "x_min < x_max"), ({"x_min": 1, "x_max": 1}, "x_min < x_max"),
     ({"x_min": -1000}, "within ±100"), ({"points": 1}, "between 2 and"), ({"points": 10**6}, "between 2 and"),
     ({"x_min": float("nan")}, "x_min < x_max"), ({"points": 2.5}, "whole number"),
     ({"threshold": 0.0}, "threshold must be above 0")],
)
def test_bad_ranges_say_what_to_do(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        evaluate("relu", **kwargs)


def test_parameters_are_checked_against_their_range_and_name():
    with pytest.raises(InvalidInput, match="between 0 and 1; got 3"):
        evaluate("leaky_relu", negative_slope=3)
    with pytest.raises(InvalidInput, match="accepts alpha"):
        evaluate("elu", beta=2)
    with pytest.raises(InvalidInput, match="no parameters"):
        evaluate("relu", alpha=1)


def test_sigmoid_vanishing_zones_end_where_its_slope_crosses_one_hundredth():
    edge = math.log((1 - math.sqrt(0.96)) / (1 + math.sqrt(0.96)))  # σ(x)(1 - σ(x)) = 0.01, about -4.585
    zones = evaluate("sigmoid", -10, 10, 2001).vanishing_zones
    assert [len(zones), *zones[0], *zones[1]] == pytest.approx([2, -10, edge, -edge, 10], abs=1e-4)


def test_relu_vanishes_on_the_negative_side_and_leaky_relu_nowhere():
    (zone,) = evaluate("relu", -5, 5, 1001).vanishing_zones
    assert zone == pytest.approx((-5, 0), abs=0.01)
    assert evaluate("leaky_relu", -5, 5, 1001, negative_slope=0.05).vanishing_zones == ()


def test_zone_edges_are_interpolated_between_samples():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    assert low_gradient_zones(x, np.array([1.0, 0.0, 0.0, 1.0, 1.0]), 0.5) == ((0.5, 2.5),)
    # |dy| falls from 1 to 0.2 between x = 3 and 4: it crosses 0.5 five eighths of the way.
    assert low_gradient_zones(x, np.array([0.0, 1.0, 1.0, 1.0, -0.2]), 0.5) == ((0.0, 0.5), (3.625, 4.0))
    assert low_gradient_zones(x, np.ones(5), 0.5) == ()


# --- softmax -------------------------------------------------------------------------------


def test_softmax_of_the_lecture_logits_sums_to_one_and_equals_torch():
    result = softmax((2.0, 1.0, 0.1))
    expected = torch.softmax(torch.tensor([2.0, 1.0, 0.1], dtype=torch.float64), dim=0).numpy()
    np.testing.assert_allclose(result.probabilities, expected, rtol=1e-12)
    assert result.total == pytest.approx(1.0, abs=1e-12)
    assert result.probabilities == pytest.approx((0.659, 0.242, 0.099), abs=1e-3)
    assert result.labels == ("Class A", "Class B", "Class C")


@pytest.mark.parametrize("temperature", [0.05, 0.5, 2.0, 10.0])
def test_softmax_with_a_temperature_equals_torch_softmax_of_scaled_logits(temperature):
    logits = [3.0, -1.0, 0.5, 0.5]
    expected = torch.softmax(torch.tensor(logits, dtype=torch.float64) / temperature, dim=0).numpy()
    result = softmax(logits, temperature)
    np.testing.assert_allclose(result.probabilities, expected, rtol=1e-10, atol=1e-300)
    assert sum(result.probabilities) == pytest.approx(1.0)


def test_temperature_goes_from_one_hot_to_uniform():
    logits = (2.0, 1.0, 0.1)
    assert softmax(logits, 0.01).probabilities == pytest.approx((1.0, 0.0, 0.0), abs=1e-12)
    assert softmax(logits, 1e4).probabilities == pytest.approx((1 / 3,) * 3, abs=1e-4)
    spreads = [max(p) - min(p) for p in (softmax(logits, t).probabilities for t in (0.5, 1, 2, 5))]
    assert spreads == sorted(spreads, reverse=True)


def test_softmax_is_stable_for_large_logits():
    assert softmax((1000.0, 999.0)).probabilities == pytest.approx((1 / (1 + math.e**-1), 1 / (1 + math.e)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2.0, 1.0, 0.1", (2.0, 1.0, 0.1)), ("2 1 0.1", (2.0, 1.0, 0.1)), ("[-1; 2.5e0]", (-1.0, 2.5)), ("7", (7.0,))],
)
def test_logits_are_parsed_from_what_people_type(text, expected):
    assert parse_logits(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "at least one"), (" , ", "at least one"), ("2, x, 1", "'x' is not a number"), ("1, inf", "not a finite"),
     ("nan", "not a finite"), (", ".join(["1"] * (MAX_LOGITS + 1)), f"at most {MAX_LOGITS}")],
)
def test_bad_logits_say_what_to_type(text, message):
    with pytest.raises(InvalidInput, match=message):
        parse_logits(text)


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf")])
def test_a_temperature_must_be_positive(temperature):
    with pytest.raises(InvalidInput, match="above 0"):
        softmax((1.0, 2.0), temperature)


def test_softmax_refuses_empty_logits_and_overflowing_scales():
    with pytest.raises(InvalidInput, match="between 1 and"):
        softmax(())
    with pytest.raises(InvalidInput, match="overflow"):
        softmax((1e300, 0.0), 1e-10)
