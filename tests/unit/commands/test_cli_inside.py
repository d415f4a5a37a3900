import json

import numpy as np

from cvlab.cnn import convolution
from cvlab.__main__ import main
from cvlab.data.images import load_sample, to_grayscale


def run_json(capsys, *argv) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_convolve_works_out_the_asked_pixel(capsys):
    data = run_json(capsys, "convolve", "--image", "camera", "--kernel", "sobel_y", "--stride", "2",
                    "--padding", "0", "--pixel", "4,9", "--max-side", "128")
    gray = to_grayscale(load_sample("camera", 128).pixels)
    expected = convolution.convolve(gray, "sobel_y", stride=2).output
    assert data["output_shape"] == list(expected.shape)
    assert np.isclose(data["step"]["output"], expected[4, 9])
    changes = {t["representation"]: t["change"] for t in data["translation"]}
    assert changes["global average (GAP)"] < changes["max pool 2x2"] < changes["feature map (no pooling)"]


def test_convolve_refuses_a_bad_grid_and_a_missing_image(capsys):
    assert main(["convolve", "--kernel", "1 2; 3"]) == 2
    assert "3x3 or 5x5" in capsys.readouterr().err
    assert main(["convolve", "--image", "no-such-photo"]) == 2
    assert "neither a file nor a sample" in capsys.readouterr().err


def test_network_reports_stages_top5_and_grad_cam(capsys, tmp_path):
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.fromarray(np.full((64, 64, 3), 200, dtype=np.uint8)).save(path)
    data = run_json(capsys, "network", "--arch", "overview", "--image", str(path), "--cam-class", "3")
    assert [s["shape"] for s in data["stages"]][0] == [64, 112, 112]
    assert len(data["top5"]) == 5 and data["pretrained"] is False
    assert data["grad_cam"]["class"] == 3 and 0 <= data["grad_cam"]["peak_row"] < 64


def test_network_on_a_vision_transformer_gives_attention_and_says_why_there_is_no_top5(capsys):
    data = run_json(capsys, "network", "--arch", "vit_tiny_patch16_224", "--image", "astronaut")
    assert data["grad_cam"] is None and data["attention"]["grid"] == [14, 14]
    assert "Random weights" in data["top5_note"]
    assert [s["shape"] for s in data["stages"] if s["stage"] == "blocks.5"] == [[197, 192]]
