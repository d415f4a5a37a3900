"""``python -m cvlab sizes`` (and its old name ``shapes``): tables, --json rows, --explain, --verify, --code, and
errors with status 2."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pytest

from cvlab.__main__ import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_resnet_stem_from_layer_arguments(capsys):
    status, out, _ = run_cli(capsys, "sizes", "--input", "3x224x224", "conv(64,k=7,s=2,p=3)", "maxpool(k=3,s=2,p=1)")
    assert status == 0
    assert "1 conv(64,k=7,s=2,p=3)  64x112x112" in out
    assert "2 maxpool(k=3,s=2,p=1)  64x56x56" in out
    assert "9,472 parameters" in out
    assert "spec   conv(64,k=7,s=2,p=3)|maxpool(k=3,s=2,p=1)" in out


def test_one_argument_with_bars_and_a_preset_with_extra_layers(capsys):
    status, out, _ = run_cli(capsys, "sizes", "--preset", "resnet-stem", "gap | flatten | linear(10)")
    assert status == 0
    assert "spec   conv(64,k=7,s=2,p=3,bias=0)|bn|relu|maxpool(k=3,s=2,p=1)|gap|flatten|linear(10)" in out
    assert re.search(r"^7 linear\(10\)\s+10\s+650\s+640\s+all\s+-$", out, re.MULTILINE)  # 64*10 weights + 10 biases
    status, out, _ = run_cli(capsys, "sizes", "--preset", "vgg16")
    assert status == 0 and "138,357,544 parameters" in out and "22 linear(1000)" in out


def test_json_gives_the_rows(capsys):
    status, out, _ = run_cli(capsys, "sizes", "--json", "--preset", "exercise-3")
    report = json.loads(out)
    assert status == 0 and report["input_shape"] == [3, 224, 224]
    assert [row["output_shape"] for row in report["rows"]] == [[64, 112, 112], [64, 55, 55]]
    assert report["rows"][1] == {"index": 2, "layer": "maxpool(k=3,s=2)", "kind": "maxpool",
                                 "input_shape": [64, 112, 112], "output_shape": [64, 55, 55], "params": 0, "macs": 0,
                                 "receptive_field": 11, "jump": 4}
    assert report["total_params"] == 9472 and report["verified"] is None


def test_explain_shows_the_working_and_the_dropped_pixels(capsys):
    status, out, _ = run_cli(capsys, "sizes", "--input", "32", "conv(16,k=3,s=2)", "--explain")
    assert status == 0
    assert "layer 1 (H = W):" in out and "= floor((32 - 3 + 2*0) / 2) + 1" in out and "= 14 + 1 = 15" in out
    assert "drops the last 1 input pixel" in out
    status, out, _ = run_cli(capsys, "sizes", "--input", "3x10x7", "maxpool(k=2)", "--explain", "--json")
    workings = json.loads(out)["workings"]
    assert ([(w["axis"], w["working"]["output"], w["working"]["dropped"]) for w in workings]
            == [("H", 5, 0), ("W", 3, 1)])


def test_verify_runs_real_torch_layers(capsys):
    status, out, _ = run_cli(capsys, "sizes", "--preset", "resnet-stem", "--verify")
    assert status == 0 and "PyTorch check: 4 of 4 layers match" in out and "MISMATCH" not in out
    status, out, _ = run_cli(capsys, "sizes", "--preset", "overview", "--verify", "--json")
    verified = json.loads(out)["verified"]
    assert len(verified) == 15 and all(row["matches"] for row in verified)
    assert verified[-1]["torch_shape"] == [1000] and verified[-1]["torch_params"] == 513_000


def test_code_prints_runnable_pytorch_and_keras(capsys):
    status, out, _ = run_cli(capsys, "sizes", "--input", "1x28x28", "conv(8,k=3,p=1)|maxpool(k=2)|flatten|linear(10)",
                             "--code", "pytorch")
    code = out[out.index("import torch"):]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, {})  # noqa: S102 - the command's own output, run as a student would
    assert status == 0 and printed.getvalue().strip() == "torch.Size([1, 10])"
    status, out, _ = run_cli(capsys, "sizes", "--preset", "resnet-stem", "--code", "keras")
    assert status == 0 and "layers.ZeroPadding2D(padding=3)" in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["conv(64,k=3)", "linear(10)"], ["Layer 2, linear(10)", "add flatten before linear"]),
        (["maxpool(k=4,p=3)"], ["pad should be at most half", "padding <= 2"]),
        (["conv(64,k=3"], ["name(values)"]),
        (["--preset", "vgg19"], ["Unknown layer-chain preset 'vgg19'", "vgg16"]),
        (["--input", "3x224", "gap"], []),  # HxW is fine: 3 channels
        ([], ["Give some layers or a preset"]),
        (["--input", "0x1x1", "gap"], ["3x224x224"]),
    ],
)
def test_bad_layers_exit_with_status_2_and_the_message(capsys, argv, words):
    status, out, err = run_cli(capsys, "sizes", *argv)
    if not words:
        assert status == 0
        return
    assert status == 2 and out == ""
    for word in words:
        assert word in err


def test_json_errors_are_json(capsys):
    status, out, _ = run_cli(capsys, "sizes", "--json", "conv(8,k=3,s=2,p=same)")
    error = json.loads(out)["error"]
    assert status == 2 and error["type"] == "InvalidLayer" and "stride=1" in error["message"]


def test_the_old_name_shapes_still_runs_the_same_command(capsys):
    argv = ("--json", "--input", "3x32x32", "conv(8,k=3,s=2,p=1)")
    new_status, new_out, _ = run_cli(capsys, "sizes", *argv)
    old_status, old_out, _ = run_cli(capsys, "shapes", *argv)
    assert new_status == old_status == 0
    assert json.loads(old_out) == json.loads(new_out)
    assert json.loads(new_out)["rows"][0]["output_shape"] == [8, 16, 16]
