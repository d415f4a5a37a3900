"""The Hugging Face models from the command line: `zoo`, `network` and `train` with --json."""

import json

from cvlab.__main__ import main
from cvlab.zoo.hub_modules import HubSegmenter
from cvlab.zoo.huggingface import SEGFORMER_B0, build_random
from tests.unit.zoo.test_huggingface import VIT_LABELS, save_tiny_segformer, save_tiny_vit, weights_dir  # noqa: F401


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def last_json_line(capsys, *argv) -> dict:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_zoo_lists_the_hf_vit_beside_timms_and_torchvisions_with_the_same_counts(capsys):
    rows = {row["name"]: row for row in run_json(capsys, "zoo", "--family", "ViT")}
    assert {"vit_b_16", "vit_base_patch16_224", "hf_vit_base_patch16_224", "vit_tiny_patch16_224"} == set(rows)
    hf = rows["hf_vit_base_patch16_224"]
    assert hf["params"] == rows["vit_b_16"]["params"] == rows["vit_base_patch16_224"]["params"] == 86_567_656
    assert hf["macs"] == rows["vit_b_16"]["macs"] and hf["weights"] == "google/vit-base-patch16-224"
    assert hf["title"] == "ViT-B/16 (Hugging Face)" and hf["input_size"] == 224


def test_zoo_lists_the_hf_segformer_beside_smps_models(capsys):
    [row] = run_json(capsys, "zoo", "--suite", "segmentation", "--family", "Segformer-HF")
    assert row["name"] == "segformer-b0-hf" and row["encoder"] == "MiT-B0"
    assert row["params"] == sum(p.numel() for p in HubSegmenter(build_random(SEGFORMER_B0, num_labels=1)).parameters())
    assert row["macs"] > 0 and "SegformerForSemanticSegmentation" in row["params_source"]


def test_network_runs_a_photo_through_the_pretrained_hf_vit(capsys, weights_dir):  # noqa: F811
    save_tiny_vit(weights_dir)
    data = run_json(capsys, "network", "--arch", "hf_vit_base_patch16_224", "--image", "astronaut")
    assert data["pretrained"] is True and "(local folder)" in data["weights"]
    assert data["grad_cam"] is None and data["attention"]["grid"] == [14, 14]
    assert data["attention"]["block"] == "hf.vit.layers.11"
    assert {t["name"] for t in data["top5"]} == set(VIT_LABELS.values())  # three classes: all of them
    assert [s["shape"] for s in data["stages"] if s["stage"] == "hf.vit.layers.5"] == [[197, 32]]


def test_train_fine_tunes_the_pretrained_hf_vit_for_an_epoch(capsys, weights_dir):  # noqa: F811
    save_tiny_vit(weights_dir)
    summary = last_json_line(capsys, "train", "--data", "shapes", "--model", "hf_vit_base_patch16_224",
                             "--pretrained", "--epochs", "1", "--limit", "96", "--batch-size", "16",
                             "--image-size", "32")
    assert summary["status"] == "finished" and 0 <= summary["val_accuracy"] <= 1
    record = json.loads((__import__("pathlib").Path(summary["run_dir"]) / "run.json").read_text())
    assert "google/vit-base-patch16-224 (local folder)" in json.dumps(record)


def test_train_runs_the_hf_segformer_on_shapes_masks(capsys, weights_dir):  # noqa: F811
    save_tiny_segformer(weights_dir)
    summary = last_json_line(capsys, "train", "--task", "segment", "--data", "shapes", "--arch", "hf_segformer_b0",
                             "--pretrained", "--epochs", "1", "--limit", "32", "--image-size", "64")
    assert summary["status"] == "finished"
    assert 0 <= summary["val_iou"] <= 1 and 0 <= summary["val_dice"] <= 1
