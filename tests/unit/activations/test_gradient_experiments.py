"""The dying-ReLU and vanishing-gradient experiments show their effects, deterministically."""

import math

import pytest
import torch

from cvlab.errors import InvalidInput, UnknownName
from cvlab.activations.experiments import (
    INITS,
    SAFE_LEARNING_RATE,
    DyingReluConfig,
    VanishingConfig,
    run_dying_relu,
    run_vanishing_gradients,
    safe_baseline,
)

# --- dying ReLU ----------------------------------------------------------------------------


def test_a_high_learning_rate_kills_many_relu_units_and_a_small_one_with_he_init_does_not():
    bad = run_dying_relu(DyingReluConfig(activation="relu", init="he", learning_rate=3.0))
    safe = run_dying_relu(DyingReluConfig(activation="relu", init="he", learning_rate=SAFE_LEARNING_RATE))
    assert bad.final_dead_fraction > 0.2
    assert safe.final_dead_fraction < 0.03
    assert bad.final_dead_fraction > 10 * max(safe.final_dead_fraction, 0.005)


def test_a_bad_initialisation_kills_relu_units_from_the_start_and_they_stay_dead():
    result = run_dying_relu(DyingReluConfig(activation="relu", init="negative_bias", learning_rate=0.01))
    assert result.dead_fraction[0] > 0.25
    assert min(result.dead_fraction) > 0.25


@pytest.mark.parametrize("learning_rate", [3.0, 10.0])
def test_leaky_relu_units_never_die_though_some_go_silent(learning_rate):
    # Dead = zero slope on every input. LeakyReLU's slope is at least its negative slope a = 0.01,
    # so it never is; a unit can still be silent (input below zero on every example).
    result = run_dying_relu(DyingReluConfig(activation="leaky_relu", learning_rate=learning_rate))
    assert set(result.dead_fraction) == {0.0}
    assert max(result.silent_fraction) > 0.0


def test_for_relu_dead_and_silent_are_the_same_units():
    result = run_dying_relu(DyingReluConfig(steps=30))
    assert result.dead_fraction == result.silent_fraction


def test_results_have_one_point_per_step_and_are_plain_numbers():
    result = run_dying_relu(DyingReluConfig(steps=12))
    assert len(result.dead_fraction) == len(result.silent_fraction) == 13
    assert len(result.loss) == 12 and result.diverged_at is None
    assert result.final_dead_fraction == result.dead_fraction[-1]
    numbers = [*result.dead_fraction, *result.silent_fraction, *result.loss, result.accuracy]
    assert all(type(value) is float for value in numbers)
    assert result.label == "ReLU · He (Kaiming) · lr 3"


def test_the_dying_relu_run_is_deterministic_for_a_seed_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    first, again = run_dying_relu(DyingReluConfig(steps=20)), run_dying_relu(DyingReluConfig(steps=20))
    assert torch.equal(state, torch.random.get_rng_state())
    assert first == again
    other = run_dying_relu(DyingReluConfig(steps=20, seed=1))
    assert other.loss != first.loss


def test_every_activation_and_init_can_be_studied():
    for name in ("prelu", "elu", "gelu", "sigmoid"):
        assert len(run_dying_relu(DyingReluConfig(activation=name, steps=3)).dead_fraction) == 4
    for init in INITS.names():
        assert len(run_dying_relu(DyingReluConfig(init=init, steps=2)).loss) == 2


def test_the_safe_baseline_keeps_everything_but_activation_init_and_rate():
    config = DyingReluConfig(activation="leaky_relu", init="large_normal", learning_rate=10.0, steps=50, seed=3)
    assert safe_baseline(config) == DyingReluConfig(activation="relu", init="he", learning_rate=0.01, steps=50, seed=3)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [({"learning_rate": 0.0}, InvalidInput, "learning rate must be between"),
     ({"steps": 0}, InvalidInput, "steps must be a whole number"),
     ({"depth": 2.5}, InvalidInput, "whole number"),
     ({"width": 100_000}, InvalidInput, "between 2 and 256"),
     ({"init": "hee"}, UnknownName, "Did you mean 'he'"),
     ({"activation": "rellu"}, UnknownName, "Choose one of")],
)
def test_bad_dying_relu_settings_say_what_is_allowed(change, error, message):
    with pytest.raises(error, match=message):
        run_dying_relu(DyingReluConfig(**change))


# --- vanishing gradients -------------------------------------------------------------------


def test_sigmoid_gradients_vanish_by_many_orders_of_magnitude_towards_the_input():
    result = run_vanishing_gradients(VanishingConfig(activation="sigmoid", init="he", depth=30))
    norms = result.grad_norms
    assert len(norms) == 30 and all(n > 0 for n in norms)
    assert result.first_to_last < 1e-8
    assert norms[0] < norms[10] < norms[20] < norms[-1]


@pytest.mark.parametrize("seed", range(4))
def test_relu_with_he_init_keeps_gradient_norms_roughly_flat(seed):
    result = run_vanishing_gradients(VanishingConfig(activation="relu", init="he", seed=seed))
    assert 0.1 < result.first_to_last < 10
    assert max(result.grad_norms) / min(result.grad_norms) < 20


def test_relu_with_pytorchs_default_init_vanishes_too():
    assert run_vanishing_gradients(VanishingConfig(activation="relu", init="pytorch")).first_to_last < 1e-5


def test_the_ratio_is_first_over_last_and_runs_are_deterministic():
    result = run_vanishing_gradients(VanishingConfig(activation="tanh", init="xavier", depth=8, width=32))
    assert result.first_to_last == pytest.approx(result.grad_norms[0] / result.grad_norms[-1])
    assert result == run_vanishing_gradients(VanishingConfig(activation="tanh", init="xavier", depth=8, width=32))
    assert all(type(n) is float and math.isfinite(n) for n in result.grad_norms)
    assert result.label == "Tanh · Xavier (Glorot)"


def test_bad_vanishing_settings_say_what_is_allowed():
    with pytest.raises(InvalidInput, match="depth must be a whole number between 2 and 100"):
        run_vanishing_gradients(VanishingConfig(depth=1000))
    with pytest.raises(UnknownName, match="initialisation"):
        run_vanishing_gradients(VanishingConfig(init="kaiming"))
