"""``python -m cvlab activations``: curves, --list, softmax and the two experiments, in text and JSON."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cvlab.__main__ import main
from cvlab.activations.functions import ACTIVATIONS, evaluate
from cvlab.activations.softmax import softmax

REPO_ROOT = Path(__file__).resolve().parents[3]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["activations", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 0, out
    return json.loads(out)


def test_a_table_of_x_f_and_slope_per_function(capsys):
    code, out, _ = run(capsys, "relu", "gelu", "--range", "-5", "5", "--points", "11")
    assert code == 0
    relu, gelu = out.split("\n\n")
    assert relu.splitlines()[0].startswith("ReLU") and gelu.splitlines()[0].startswith("GELU")
    assert relu.splitlines()[1].split() == ["x", "f(x)", "f'(x)"]
    rows = [line.split() for line in relu.splitlines()[3:14]]
    assert len(rows) == 11
    assert rows[3] == ["-2.0000", "0.0000", "0.0000"] and rows[7] == ["2.0000", "2.0000", "1.0000"]
    assert "|f'(x)| < 0.01: on [-5, 0.01]" in relu
    assert "1.0000   0.8413   1.0833" in gelu  # GELU(1) = Φ(1), GELU'(1) = Φ(1) + φ(1)


def test_json_carries_the_same_numbers_as_evaluate(capsys):
    data = run_json(capsys, "sigmoid", "--range", "-2", "2", "--points", "5")
    assert data["mode"] == "curves"
    (curve,) = data["result"]
    expected = evaluate("sigmoid", -2, 2, 5)
    assert curve["x"] == pytest.approx(list(expected.x))
    assert curve["y"] == pytest.approx(list(expected.y))
    assert curve["dy"] == pytest.approx(list(expected.dy))
    assert curve["dy"][2] == pytest.approx(0.25)


def test_parameters_go_to_the_functions_that_have_them(capsys):
    data = run_json(capsys, "leaky_relu", "elu", "relu", "--param", "negative_slope=0.2", "--param", "alpha=0.5",
                    "--range", "-1", "1", "--points", "3")
    leaky, elu, relu = data["result"]
    assert leaky["dy"][0] == pytest.approx(0.2) and leaky["params"] == [["negative_slope", 0.2]]
    assert elu["y"][0] == pytest.approx(0.5 * (2.718281828459045**-1 - 1))
    assert relu["params"] == []


def test_the_list_shows_every_activation_with_formula_range_and_use(capsys):
    code, out, _ = run(capsys, "--list")
    assert code == 0
    assert out.splitlines()[0].split()[:4] == ["name", "formula", "range", "params"]
    for name, entry in ACTIVATIONS.items():
        assert name in out and entry.formula in out and entry.value_range in out
    facts = run_json(capsys, "--list")["result"]
    assert [f["name"] for f in facts] == ACTIVATIONS.names()
    assert all(f["formula"] and f["range"] and f["use"] and f["paper"] for f in facts)


def test_softmax_with_a_temperature(capsys):
    data = run_json(capsys, "softmax", "2.0", "1.0", "0.1", "--temperature", "2")
    assert data["result"]["probabilities"] == pytest.approx(softmax((2.0, 1.0, 0.1), 2.0).probabilities)
    assert data["result"]["total"] == pytest.approx(1.0)
    code, out, _ = run(capsys, "softmax", "-1", "2,", "3")
    assert code == 0 and "sum of probabilities: 1.000000" in out and "Class C" in out


def test_softmax_defaults_to_the_lecture_logits(capsys):
    assert run_json(capsys, "softmax")["result"]["logits"] == [2.0, 1.0, 0.1]


def test_the_dying_relu_experiment_with_a_baseline(capsys):
    data = run_json(capsys, "dying-relu", "relu", "leaky_relu", "--lr", "3", "--steps", "20", "--baseline")
    relu, leaky, baseline = data["result"]
    assert len(relu["dead_fraction"]) == 21
    assert set(leaky["dead_fraction"]) == {0.0}
    assert baseline["config"]["learning_rate"] == 0.01 and baseline["config"]["init"] == "he"
    code, out, _ = run(capsys, "dying-relu", "--steps", "8", "--init", "he", "negative_bias")
    assert code == 0 and "dead @8" in out and "Negative bias (-2)" in out


def test_the_vanishing_gradient_experiment(capsys):
    data = run_json(capsys, "vanishing", "sigmoid", "relu", "--depth", "20", "--width", "64")
    sigmoid, relu = data["result"]
    assert len(sigmoid["grad_norms"]) == 20
    assert sigmoid["first_to_last"] < 1e-5 < relu["first_to_last"]
    code, out, _ = run(capsys, "vanishing", "--depth", "6", "--init", "he", "pytorch")
    assert code == 0 and out.splitlines()[-1].startswith("first/last") and "PyTorch default" in out


def test_an_unknown_name_exits_2_listing_the_choices(capsys):
    code, out, err = run(capsys, "rellu")
    assert code == 2 and out == ""
    assert "Unknown activation 'rellu'" in err and "Choose one of: relu, leaky_relu" in err
    code, out, _ = run(capsys, "softmx", "1", "--json")
    error = json.loads(out)["error"]
    assert code == 2 and error["type"] == "UnknownName" and "the mode 'softmax'" in error["message"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["softmax", "2", "x"], "'x' is not a number"), (["softmax", "1", "--temperature", "0"], "above 0"),
     (["relu", "--range", "3", "1"], "x_min < x_max"), (["relu", "--param", "alpha"], "NAME=VALUE"),
     (["relu", "--param", "alpha=1"], "elu: alpha"), (["vanishing", "--lr", "1"], "--lr is for dying-relu only"),
     (["softmax", "--points", "5"], "--points is for curves only"),
     (["dying-relu", "--init", "kaiming"], "Unknown initialisation"), (["dying-relu", "--steps", "0"], "steps")],
)
def test_bad_input_exits_2_with_a_message_that_says_what_to_do(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err


def test_the_command_imports_no_torch_until_it_runs():
    code = "import sys, cvlab.commands.activations; print('torch' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"
