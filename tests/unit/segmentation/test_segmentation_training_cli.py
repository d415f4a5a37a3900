"""Segmentation runs from settings to exit status: uploads of black-and-white masks, settings refused before a
run folder exists, and a failed run's exit status."""

import json
import zipfile

import numpy as np
import pytest

from cvlab.__main__ import main
from cvlab.errors import CvlabError, InvalidInput
from cvlab.segmentation.architectures import ARCHITECTURES, SIZE_DIVISOR, build_segmentation_model
from cvlab.training import runs
from cvlab.training.config import TrainConfig
from cvlab.training.engine import train_run
from cvlab.training.evaluation import read_evaluation, read_preview
from tests.unit.segmentation.test_segmentation_mask_data import black_and_white_zip


def test_a_black_and_white_upload_trains_two_classes_not_256(tmp_path):
    archive = black_and_white_zip(tmp_path, n=8)
    config = TrainConfig.for_task("segment", data=archive, binary_masks=False, image_size=32, epochs=1,
                                  batch_size=4)
    run_dir = runs.RunStore(tmp_path / "runs").create(config, "ada")
    summary = train_run(run_dir)
    assert summary["status"] == "finished", summary
    assert read_evaluation(run_dir).classes == ("background", "class 1")
    assert runs.read_info(run_dir).record["classes"] == ["background", "class 1"]
    assert set(np.unique(read_preview(run_dir).truth)) <= {0, 1}


# ---- settings refused before a run exists ----
@pytest.mark.parametrize("changes, words", [
    ({"model": "unett"}, "Unknown segmentation architecture 'unett'. Did you mean 'unet'"),
    ({"encoder": "resnet50x"}, "Unknown segmentation encoder 'resnet50x'.*Choose one of: resnet18"),
    ({"loss": "0.5*bce+0.5*dicee"}, "Unknown loss 'dicee'. Did you mean 'dice'"),
    ({"loss": "focal(gamma=9)"}, "gamma=9 is outside 0..5"),
    ({"data": "digits"}, "'digits' is not a segmentation dataset; use shapes"),
    ({"model": "pan"}, "too small for PAN: it needs at least 128 px per side. Set the image size to 128"),
])
def test_bad_segmentation_settings_are_refused_with_what_to_do(changes, words):
    with pytest.raises(CvlabError, match=words):
        TrainConfig.for_task("segment", **changes)


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
def test_each_architecture_states_the_smallest_size_it_runs_at(arch):
    """The registered minimum is the real one: the model runs there, and one step of 32 px below it fails."""
    import torch

    minimum = ARCHITECTURES.get(arch).min_size
    assert TrainConfig.for_task("segment", model=arch, image_size=minimum).image_size == minimum
    model = build_segmentation_model(arch, "resnet18", 1).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, minimum, minimum)).shape == (1, 1, minimum, minimum)
        if minimum > SIZE_DIVISOR:
            with pytest.raises(RuntimeError):
                model(torch.zeros(1, 3, minimum - SIZE_DIVISOR, minimum - SIZE_DIVISOR))
    default = TrainConfig.for_task("segment").image_size
    if minimum > default:  # the task's default size is refused by name, with the size that works
        with pytest.raises(InvalidInput, match=f"at least {minimum} px per side"):
            TrainConfig.for_task("segment", model=arch)
    else:
        assert TrainConfig.for_task("segment", model=arch).model == arch


def test_a_missing_or_foreign_dataset_is_refused_by_check_data(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    for data, words in ((str(tmp_path / "gone.zip"), "does not exist"), (str(tmp_path / "notes.txt"), "not a .zip")):
        with pytest.raises(InvalidInput, match=words):
            TrainConfig.for_task("segment", data=data).check_data()
    assert TrainConfig.for_task("segment", data=str(tmp_path)).check_data().data == str(tmp_path)
    assert TrainConfig.for_task("segment").check_data().data == "shapes"


# ---- the command line ----
def train(capsys, *argv):
    code = main(["train", "--task", "segment", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("flags, words", [
    (["--loss", "dicee"], "Unknown loss 'dicee'"),
    (["--arch", "unett"], "Unknown segmentation architecture"),
    (["--encoder", "resnet50x"], "Unknown segmentation encoder"),
    (["--data", "no-such-masks.zip"], "Dataset 'no-such-masks.zip' does not exist"),
    (["--arch", "pan"], "needs at least 128 px per side"),
])
def test_bad_flags_exit_2_before_a_run_folder_exists(capsys, tmp_path, monkeypatch, flags, words):
    monkeypatch.setenv("CVLAB_RUNS_DIR", str(tmp_path / "runs"))
    code, out, err = train(capsys, *flags)
    assert code == 2 and words in err and out == ""
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_failed_run_exits_2_with_its_reason_on_stderr(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_RUNS_DIR", str(tmp_path / "runs"))
    archive = tmp_path / "masks.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("images/a.png", b"not a png")
    code, out, err = train(capsys, "--data", str(archive), "--epochs", "1")
    assert code == 2 and "The run failed: masks.zip" in err and "run folder" in err
    [run_dir] = (tmp_path / "runs").iterdir()
    assert runs.read_info(run_dir).status == "failed"
    code, out, err = train(capsys, "--data", str(archive), "--epochs", "1", "--json")
    error = json.loads(out.splitlines()[-1])["error"]
    assert code == 2 and error["type"] == "RunFailed" and "masks.zip" in error["message"]
    assert "The run failed: masks.zip" in err
