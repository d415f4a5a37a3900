"""The segmentation figures (read from fig.data) and the losses / sam / unet commands with --json."""

import json

import numpy as np
import pytest
from PIL import Image

from cvlab.__main__ import main
from cvlab.segmentation import loss_explorer as lx
from cvlab.segmentation.unet_anatomy import unet_anatomy
from cvlab.viz import segmentation as viz
from cvlab.viz.style import for_projector


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_pixel_loss_figure_has_both_panels_per_loss_and_caps_the_axis():
    curves = lx.pixel_loss_curves(("bce", "dice"), points=11)
    fig = viz.pixel_loss_figure(curves)
    assert len(fig.data) == 4 and [t.showlegend for t in fig.data] == [True, False, True, False]
    assert max(fig.data[0].y) == viz.LOSS_CAP  # BCE at p = 0.005 is 5.3, drawn at the cap
    assert max(fig.data[0].customdata) > viz.LOSS_CAP  # the true value is in the hover
    for_projector(fig)


def test_toy_pair_figure_colours_the_four_overlap_cases():
    pair = lx.toy_pair(target=(16, 16, 24), prediction=(22, 20, 24))
    overlap = np.asarray(viz.toy_pair_figure(pair).data[0].z)
    assert set(np.unique(overlap)) == {0, 1, 2, 3}
    assert (overlap == 3).sum() == 18 * 20  # both squares
    assert (overlap == 2).sum() == 576 - 360 and (overlap == 1).sum() == 576 - 360


def test_focal_figure_shows_shares_that_add_to_100():
    fig = viz.focal_figure(lx.focal_vs_bce(0.25, 2.0))
    assert [t.type for t in fig.data] == ["bar", "bar"]
    for trace in fig.data:
        assert sum(trace.y) == pytest.approx(100)


def test_unet_figure_draws_every_stage_and_a_line_per_skip():
    anatomy = unet_anatomy("resnet18", 64)
    fig = viz.unet_figure(anatomy)
    markers = [t for t in fig.data if t.mode == "markers+text"]
    assert sum(len(t.x) for t in markers) == len(anatomy.stages)
    skips = [t for t in fig.data if t.line and t.line.dash == "dash"]
    assert len(skips) == sum(1 for s in anatomy.stages if s.skip_from)
    assert "512×2×2" in [text for t in markers for text in t.text]
    [bottleneck] = [t for t in markers if t.name == "bottleneck"]
    # its label sits under its marker: the plot leaves room for it below, and never clips a label
    assert bottleneck.textposition == "bottom center" and fig.layout.yaxis.range[0] <= bottleneck.y[0] - 1.4
    assert all(t.cliponaxis is False for t in markers)


def test_mask_overlay_tints_the_mask_and_marks_prompts():
    pixels = np.zeros((40, 60, 3), np.uint8)
    mask = np.zeros((40, 60), bool)
    mask[5:10, 5:10] = True
    out = viz.mask_overlay(pixels, mask, points=((30, 20, True), (50, 30, False)), box=(2, 2, 58, 38))
    assert out.shape == pixels.shape and out.dtype == np.uint8
    assert tuple(out[7, 7]) == tuple((0.5 * viz.MASK_COLOUR).astype(np.uint8))
    assert tuple(out[20, 30]) == viz.POSITIVE and tuple(out[30, 50]) == viz.NEGATIVE
    assert tuple(out[2, 30]) == viz.BOX
    assert tuple(out[15, 15]) == (0, 0, 0)  # outside everything: untouched


def test_sam_timing_figure_labels_milliseconds():
    fig = viz.sam_timing_figure(1.2, 0.04, "MobileSAM")
    assert list(fig.data[0].x) == pytest.approx([1200, 40]) and fig.data[0].text[1] == "40 ms"


def test_losses_command_lists_computes_pixels_toy_and_focal(capsys):
    listed = run_json(capsys, "losses", "--list")
    assert [f["name"] for f in listed["result"]] == ["bce", "ce", "dice", "iou", "focal"]
    rows = run_json(capsys, "losses", "bce", "0.5*bce+0.5*dice", "--prob", "0.25")["result"]
    assert rows[0]["object pixel (y=1)"] == pytest.approx(-np.log(0.25))
    assert rows[1]["loss"] == "0.5*bce+0.5*dice"
    toy = run_json(capsys, "losses", "--toy", "0,0,24", "--confidence", "0.95")["result"]
    assert toy["hard_iou"] == 1.0 and toy["losses"]["bce"] == pytest.approx(-np.log(0.95), rel=1e-4)
    focal = run_json(capsys, "losses", "--focal", "0.25,2")["result"]
    assert len(focal["groups"]) == 3 and focal["gamma"] == 2
    assert main(["losses", "--toy", "1,2"]) == 2
    assert "DX,DY,SIDE" in capsys.readouterr().err


def test_unet_command_gives_the_stage_shapes(capsys):
    data = run_json(capsys, "unet", "--size", "64", "--encoder", "resnet18")
    assert data["stages"][-1]["height"] == 64 and data["encoder"] == "resnet18"
    assert main(["unet", "--size", "100"]) == 2
    assert "divisible by 32" in capsys.readouterr().err
    names = [a["name"] for a in run_json(capsys, "unet", "--architectures")["architectures"]]
    assert "unet" in names and "segformer" in names


def test_sam_command_writes_the_mask_and_cutout(capsys, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(photo)
    data = run_json(capsys, "sam", str(photo), "--point", "40,30", "--point", "5,5,-", "--box", "10,10,80,60",
                    "--out", str(tmp_path / "mask.png"), "--cutout", str(tmp_path / "cut.png"))
    assert data["random_weights"] is True and "mobile_sam.pt" in data["weights"]
    assert len(data["scores"]) == 3 and data["points"] == [[40, 30, True], [5, 5, False]]
    assert data["encoder_seconds"] > 0 and data["decoder_seconds"] > 0
    assert Image.open(tmp_path / "mask.png").size == (96, 64)
    assert Image.open(tmp_path / "cut.png").mode == "RGBA"
    assert main(["sam", str(photo), "--point", "400,30", "--json"]) == 2
    assert "outside the 96x64 image" in json.loads(capsys.readouterr().out)["error"]["message"]
