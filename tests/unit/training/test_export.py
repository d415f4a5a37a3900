"""Take the lab home: a finished run exported as a script and a notebook that recreate it without cvlab."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cvlab.__main__ import main
from cvlab.errors import CvlabError
from cvlab.training import export_code, runs
from cvlab.training.config import TrainConfig
from cvlab.training.engine import train_run
from cvlab.training.export import NotExportable, export_run, notebook_source, plan_export, script_source

# "strong" draws every augmentation (crop, flip, jitter, cutout) and onecycle steps per batch: all replayed.
TINY = dict(data="shapes", model="lecture-vgg", limit=200, batch_size=32, epochs=2, image_size=16,
            augmentation="strong", seed=3)
LAST_LINE = re.compile(r"val_accuracy (\d\.\d{3})")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    store = runs.RunStore(tmp_path_factory.mktemp("runs"))
    run_dir = store.create(TrainConfig(**TINY), "ada")
    assert train_run(run_dir)["status"] == "finished"
    return store, run_dir


def clean_environment() -> dict:
    """The environment of a student's own machine: no path to this repository, nothing of cvlab's."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "CVLAB"))}


def epoch_val_losses(output: str) -> list[float]:
    return [float(v) for v in re.findall(r"^epoch \d+/\d+ .*val_loss (\d+\.\d+)", output, re.M)]


def test_the_exported_script_recreates_the_run_in_a_folder_without_cvlab(finished, tmp_path):
    store, run_dir = finished
    exported = export_run(run_dir.name, script=tmp_path / "run.py", store=store)
    assert exported.script_bytes == (tmp_path / "run.py").stat().st_size > 0 and exported.notebook is None
    source = (tmp_path / "run.py").read_text()
    assert "cvlab" not in re.sub(r'""".*?"""', "", source, flags=re.S).replace("CV Lab", "")
    home = tmp_path / "elsewhere"
    home.mkdir()
    python = [sys.executable, "-I"]  # -I: no PYTHONPATH, no user site, no script folder on the path
    no_cvlab = subprocess.run([*python, "-c", "import cvlab"], cwd=home, env=clean_environment(),
                              capture_output=True, text=True)
    assert no_cvlab.returncode != 0 and "No module named 'cvlab'" in no_cvlab.stderr
    done = subprocess.run([*python, str(tmp_path / "run.py")], cwd=home, env=clean_environment(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    recorded = json.loads((run_dir / "run.json").read_text())["final_val_accuracy"]
    assert LAST_LINE.fullmatch(last) and abs(float(last.split()[1]) - recorded) <= 0.02, (last, recorded)
    # Same pixels, split, initial weights, batches and augmentation draws: each epoch's validation loss too.
    logged = [r["val_loss"] for r in runs.read_metrics(run_dir) if r["kind"] == "epoch"]
    assert epoch_val_losses(done.stdout) == pytest.approx(logged, abs=2e-3)


def test_the_notebook_is_valid_and_runs_with_nbclient(finished, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    store, run_dir = finished
    exported = export_run(run_dir.name, notebook=tmp_path / "run.ipynb", store=store)
    notebook = nbformat.read(exported.notebook, as_version=4)
    nbformat.validate(notebook)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown" and kinds.count("code") == 9 and "Exercise 1" in notebook.cells[9].source
    assert not any("cvlab" in cell.source for cell in notebook.cells if cell.cell_type == "code")
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(out.get("text", "") for out in notebook.cells[-1].outputs if out.output_type == "stream")
    recorded = json.loads((run_dir / "run.json").read_text())["final_val_accuracy"]
    last = printed.strip().splitlines()[-1]
    assert LAST_LINE.fullmatch(last) and abs(float(last.split()[1]) - recorded) <= 0.02, printed


def plan_for(monkeypatch, **changes):
    """The export plan of a finished run with these settings (its folder and metrics need not exist)."""
    monkeypatch.setattr(runs, "read_metrics", lambda run_dir: [])
    config = TrainConfig(**{**TINY, **changes})
    return plan_export(runs.RunInfo("20260101-000000-ada-abcd", Path("/x/20260101-000000-ada-abcd"), config,
                                    "ada", "finished", 0.0, "", config.epochs, {}))


def run_parts(plan, titles: tuple[str, ...], **settings) -> dict:
    """The named parts of an export run in a fresh namespace (what the script does up to that point)."""
    namespace: dict = {}
    for part in plan.parts:
        if part.title in ("Imports", "The run's settings", *titles):
            exec(compile(part.code, part.title, "exec"), namespace)
    namespace.update(settings)
    return namespace


def test_the_exported_generator_draws_cvlabs_very_pixels_and_split(finished):
    from cvlab.data.datasets import load_dataset
    from cvlab.data.shapes import shapes_classification

    store, run_dir = finished
    plan = plan_export(store.info(run_dir.name))
    for seed, size in ((TINY["seed"], TINY["image_size"]), (0, 32), (7, 24)):
        namespace = run_parts(plan, ("The data",), SEED=seed, IMAGE_SIZE=size, LIMIT=60)
        images, labels = namespace["shapes_classification"](60, seed, size)
        expected, expected_labels, _ = shapes_classification(60, seed, size=size)
        assert np.array_equal(images, expected) and np.array_equal(labels, expected_labels)
        train_x, train_y, val_x, val_y, classes = namespace["load_data"]()
        data = load_dataset("shapes", image_size=size, seed=seed, val_fraction=0.2, limit=60)
        assert classes == data.class_names
        for ours, theirs in ((train_x, data.train_x), (train_y, data.train_y), (val_x, data.val_x),
                             (val_y, data.val_y)):
            assert ours.dtype == theirs.dtype and bool((ours == theirs).all())


def same_split(ours, data) -> None:
    train_x, train_y, val_x, val_y, classes = ours
    assert tuple(classes) == tuple(data.class_names)
    for mine, theirs in ((train_x, data.train_x), (train_y, data.train_y), (val_x, data.val_x), (val_y, data.val_y)):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype and bool((mine == theirs).all())


def test_the_exported_digits_are_cvlabs(monkeypatch):
    from cvlab.data.datasets import load_dataset

    plan = plan_for(monkeypatch, data="digits", image_size=24, seed=2, limit=150)
    same_split(run_parts(plan, ("The data",))["load_data"](),
               load_dataset("digits", image_size=24, seed=2, val_fraction=0.2, limit=150))


@pytest.mark.parametrize("fixed_split", [False, True])
def test_the_exported_image_folder_loader_reads_a_folder_as_cvlab_does(monkeypatch, tmp_path, fixed_split):
    from PIL import Image

    from cvlab.data.datasets import load_dataset

    rng = np.random.default_rng(0)
    for part in ("train", "val") if fixed_split else ("",):
        for name in ("cats", "dogs", "owls"):
            folder = tmp_path / "pets" / part / name
            folder.mkdir(parents=True)
            for i in range(5 if part != "val" else 2):
                size = (int(rng.integers(20, 60)), int(rng.integers(20, 60)))
                Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    plan = plan_for(monkeypatch, data=str(tmp_path / "pets"), image_size=16, seed=1)
    assert "DATA_DIR = 'my-dataset'" in script_source(plan) and str(tmp_path) not in script_source(plan)
    namespace = run_parts(plan, ("The data",), DATA_DIR=str(tmp_path / "pets"))
    same_split(namespace["load_data"](), load_dataset(str(tmp_path / "pets"), image_size=16, seed=1))


@pytest.mark.parametrize("scheduler", ["constant", "step", "cosine", "onecycle", "plateau", "warmup_cosine"])
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_the_exported_schedule_is_the_runs_step_for_step(scheduler, optimizer, monkeypatch):
    """The learning rate at every step as cvlab's own curve draws it, per-batch and per-epoch stepping alike."""
    import torch

    from cvlab.training.schedulers import lr_curve

    changes = dict(epochs=5, scheduler=scheduler, optimizer=optimizer, warmup_epochs=1.5, step_size=2, gamma=0.5,
                   backbone_lr_scale=0.1)
    config = TrainConfig(**{**TINY, **changes})
    namespace = run_parts(plan_for(monkeypatch, **changes), ("Optimizer and learning-rate schedule",))
    steps = 7
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    groups = [{"params": [params[0]], "lr": config.lr * 0.1}, {"params": [params[1]], "lr": config.lr}]
    optimizer_ = namespace["make_optimizer"](groups)
    scheduler_ = namespace["make_scheduler"](optimizer_, steps)
    seen: list[list[float]] = [[], []]
    for epoch in range(config.epochs):
        for _ in range(steps):
            for curve, group in zip(seen, optimizer_.param_groups):
                curve.append(group["lr"])
            optimizer_.step()
            if namespace["SCHEDULER_STEPS_PER_BATCH"]:
                namespace["step_scheduler"](scheduler_)
        if not namespace["SCHEDULER_STEPS_PER_BATCH"]:
            namespace["step_scheduler"](scheduler_, 1.0 / (epoch + 1))
    expected = lr_curve(config, steps, (0.1, 1.0))
    assert len(seen[1]) == config.epochs * steps
    for ours, theirs in zip(seen, expected):
        assert ours == pytest.approx(theirs, rel=1e-12)


def test_the_command_line_writes_both_and_says_what_it_wrote(finished, tmp_path, monkeypatch, capsys):
    store, run_dir = finished
    monkeypatch.setenv("CVLAB_RUNS_DIR", str(store.root))
    script, notebook = tmp_path / "take-home.py", tmp_path / "take-home.ipynb"
    assert main(["runs", "export", run_dir.name, "--script", str(script), "--notebook", str(notebook), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {"run_id": run_dir.name, "script": str(script), "script_bytes": script.stat().st_size,
                      "notebook": str(notebook), "notebook_bytes": notebook.stat().st_size}
    compile(script.read_text(), str(script), "exec")  # valid Python
    assert json.loads(notebook.read_text())["nbformat"] == 4
    assert main(["runs", "export", run_dir.name, "--script", str(tmp_path / "missing" / "x.py")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def tampered_copy(store, run_dir, root: Path, **config_changes) -> runs.RunStore:
    """A copy of the finished run whose run.json someone with write access to the runs folder edited."""
    import shutil

    copy_store = runs.RunStore(root)
    copy = root / run_dir.name
    shutil.copytree(run_dir, copy)
    record = json.loads((copy / "run.json").read_text())
    record["config"].update(config_changes)
    (copy / "run.json").write_text(json.dumps(record))
    return copy_store


@pytest.mark.parametrize("changes, said", [
    ({"model": 'resnet18(weights=None); __import__("os").system("id") #'}, "has no exported builder"),
    ({"model": "timm:resnet18\nimport os"}, "timm has no model"),
    ({"model": "overview"}, "has no exported builder"),
    ({"lr": "nan"}, "learning rate must be above 0"),
    ({"warmup_epochs": "inf"}, "not a finite number"),
    ({"augmentation": "__import__('os')"}, "Unknown augmentation"),
    ({"data": "/srv/data\"; import os; \""}, None),  # a folder: its path never reaches the code
])
def test_a_tampered_run_json_is_refused_or_never_pasted_into_code(finished, tmp_path, changes, said):
    store, run_dir = finished
    copy_store = tampered_copy(store, run_dir, tmp_path / "runs", **changes)
    if said is None:
        plan = plan_export(copy_store.info(run_dir.name))
        source, notebook = script_source(plan), notebook_source(plan)
        assert "import os" not in source and "/srv/data" not in source + notebook
        assert 'DATA_DIR = "my-dataset"' in source or "DATA_DIR = 'my-dataset'" in source
        return
    with pytest.raises(CvlabError, match=said):
        export_run(run_dir.name, script=tmp_path / "out.py", store=copy_store)
    assert not (tmp_path / "out.py").exists()


def test_runs_it_cannot_recreate_are_refused_naming_the_reason(finished, tmp_path):
    store, run_dir = finished
    with open(run_dir / "metrics.jsonl") as source:
        lines = source.read()
    changed = tampered_copy(store, run_dir, tmp_path / "changed")
    with open(changed.root / run_dir.name / "metrics.jsonl", "a") as out:
        out.write(json.dumps({"kind": "event", "what": "lr", "value": 0.02, "step": 3, "by": "ada"}) + "\n")
    with pytest.raises(NotExportable, match="learning rate was changed by hand"):
        plan_export(changed.info(run_dir.name))
    assert lines  # the original run is untouched
    stopped = tampered_copy(store, run_dir, tmp_path / "stopped")
    runs.set_status(stopped.root / run_dir.name, "stopped")
    with pytest.raises(NotExportable, match="only a finished run can be exported"):
        plan_export(stopped.info(run_dir.name))
    segment = runs.RunStore(tmp_path / "segment")
    segment_dir = segment.create(TrainConfig.for_task("segment", limit=8, epochs=1, batch_size=4), "ada")
    runs.set_status(segment_dir, "finished")
    with pytest.raises(NotExportable, match="export covers classification runs"):
        plan_export(segment.info(segment_dir.name))


def test_registry_and_timm_models_are_written_with_their_builders(monkeypatch):
    resnet = script_source(plan_for(monkeypatch, model="resnet18", pretrained=True, backbone_lr_scale=0.1))
    assert "torchvision.models.resnet18(weights=None)" in resnet and "WEIGHTS = 'ResNet18_Weights.IMAGENET1K_V1'" \
        in resnet and "BACKBONE_LR_SCALE = 0.1" in resnet
    timm_source = script_source(plan_for(monkeypatch, model="timm:resnet10t", freeze_backbone=True))
    assert "timm.create_model('resnet10t', pretrained=PRETRAINED" in timm_source
    assert "FREEZE_BACKBONE = True" in timm_source
    for source in (resnet, timm_source):
        compile(source, "export", "exec")
    assert export_code.SCRIPT_ENTRY in resnet
