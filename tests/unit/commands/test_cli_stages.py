"""``python -m cvlab stages``: a traced network's stage shapes against the output-size calculator."""

from __future__ import annotations

import json

from cvlab.__main__ import main


def test_overview_stages_match_the_calculator(capsys):
    assert main(["stages", "--arch", "overview", "--max-side", "64", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["preset"] == "overview" and report["all_same"] is True
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["1"]["shape"] == stages["1"]["calculator"] == [64, 112, 112]
    assert stages["11"]["shape"] == [512, 7, 7] and stages["11"]["layer"] == "maxpool(k=2)"
    assert stages["14"]["shape"] == [1000]


def test_a_network_without_a_preset_gives_real_shapes_only(capsys):
    assert main(["stages", "--arch", "resnet18", "--max-side", "64"]) == 0
    out = capsys.readouterr().out
    assert "512x7x7" in out and "no output-size calculator preset" in out


def test_check_stages_flags_a_stage_that_differs():
    from dataclasses import replace

    from cvlab.cnn.inside_network import load_network, trace
    from cvlab.cnn.stage_check import check_stages
    import numpy as np

    net = load_network("overview", pretrained=False)
    traced = trace(net, np.zeros((32, 32, 3), np.float32))
    wrong = replace(traced, stages=(replace(traced.stages[0], shape=(64, 111, 111)), *traced.stages[1:]))
    checks = check_stages(net.architecture, wrong)
    assert [c.same for c in checks] == [False] + [True] * (len(checks) - 1)
    assert checks[0].row()["calculator"] == "64x112x112"
