"""The Results section offers a finished run as a script and a notebook, and says why when it cannot."""

import json

from cvlab.training import runs
from cvlab.training.config import TrainConfig
from cvlab.training.engine import train_run
from tests.pages.apptest import run_script

PAGE = "pages/training/live_training.py"
TINY = dict(data="shapes", model="lecture-residual", limit=100, batch_size=32, epochs=1, image_size=16,
            augmentation="none")


def downloads(app) -> dict[str, object]:
    return {button.proto.label: button.proto for button in app.get("download_button")}


def test_a_finished_run_downloads_as_a_script_and_a_notebook():
    run_dir = runs.RunStore().create(TrainConfig(**TINY), "ada", owner_id="browser:someone-else")
    assert train_run(run_dir)["status"] == "finished"
    app = run_script(PAGE, timeout=120, section="Results", user="bob")  # anyone may watch, and take it home
    shown = downloads(app)
    assert {"Download as a PyTorch script", "Download as a Jupyter notebook"} <= set(shown)
    assert any("without CV Lab" in c.value for c in app.caption)
    assert not app.error


def test_a_run_the_export_cannot_recreate_says_which_setting_stops_it():
    run_dir = runs.RunStore().create(TrainConfig(**TINY), "ada")
    assert train_run(run_dir)["status"] == "finished"
    with open(run_dir / "metrics.jsonl", "a") as out:  # the learning rate was changed by hand during the run
        out.write(json.dumps({"kind": "event", "what": "lr", "value": 0.02, "step": 2, "by": "ada"}) + "\n")
    app = run_script(PAGE, timeout=120, section="Results", user="ada")
    assert "Download as a PyTorch script" not in downloads(app)
    assert any("learning rate was changed by hand" in c.value for c in app.caption)
    assert not app.error
