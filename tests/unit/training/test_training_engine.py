"""The engine in-process: a real short run, live control from another thread, the outputs of a run, the CLI."""

import json
import subprocess
import sys
import threading
import time

import numpy as np
import torch
import pytest

from cvlab.training import runs
from cvlab.training.config import TrainConfig
from cvlab.training.engine import train_run
from cvlab.training.evaluation import export_onnx, load_trained, predict, read_evaluation, read_misclassified

SMALL = dict(data="shapes", limit=400, batch_size=32, epochs=3, augmentation="none")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = runs.RunStore(tmp_path_factory.mktemp("runs")).create(TrainConfig(**SMALL), "ada")
    return run_dir, train_run(run_dir)


def test_a_short_run_learns_and_writes_its_folder(finished_run):
    run_dir, summary = finished_run
    assert summary["status"] == "finished" and summary["epochs"] == 3
    records = runs.read_metrics(run_dir)
    epochs = [r for r in records if r["kind"] == "epoch"]
    steps = [r for r in records if r["kind"] == "step"]
    assert 0 <= epochs[-1]["val_accuracy"] <= 1
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]  # it learns; accuracy targets are benchmarked
    assert steps[-1]["progress"] == pytest.approx(1.0) and all(s["images_per_second"] > 0 for s in steps)
    losses = {r["epoch"]: r["val_loss"] for r in epochs}
    best = min(losses, key=lambda e: (losses[e], -e))  # the newest and the best are kept, not every epoch
    assert [p.name for p in sorted((run_dir / "checkpoints").iterdir())] == [
        f"epoch_{e:03d}.safetensors" for e in sorted({best, 3})]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "finished" and record["classes"] == ["circle", "square", "triangle", "star", "cross"]
    assert record["versions"]["torch"]


def test_evaluation_matches_the_run_and_the_model_reloads_without_pickle(finished_run):
    run_dir, summary = finished_run
    evaluation = read_evaluation(run_dir)
    confusion = np.array(evaluation.confusion)
    assert confusion.sum() == json.loads((run_dir / "run.json").read_text())["val_size"]
    assert np.trace(confusion) / confusion.sum() == pytest.approx(summary["val_accuracy"])
    wrong = read_misclassified(run_dir)
    assert len(wrong.images) == min(36, confusion.sum() - np.trace(confusion))
    assert all(t != p for t, p in zip(wrong.true, wrong.predicted))
    trained = load_trained(run_dir / "model.safetensors")
    from cvlab.data.datasets import load_dataset

    data = load_dataset("shapes", limit=SMALL["limit"], seed=0, val_fraction=0.2)
    images = data.val_x.permute(0, 2, 3, 1).numpy()
    hits = sum(predict(trained, image).top(1)[0][0] == trained.classes[label]
               for image, label in zip(images, data.val_y))
    assert hits / len(images) == pytest.approx(summary["val_accuracy"])  # the reloaded model is the trained one
    assert sum(predict(trained, images[0]).probabilities) == pytest.approx(1.0, abs=1e-5)


def test_onnx_export_writes_a_valid_model_once(finished_run):
    import onnx

    run_dir, _ = finished_run
    path = export_onnx(run_dir)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["image"]
    assert export_onnx(run_dir) == path  # reused, not exported again


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_the_onnx_export_takes_any_batch_and_any_size_and_gives_torchs_answer(finished_run):
    import onnx
    from onnx.reference import ReferenceEvaluator

    run_dir, _ = finished_run
    model = onnx.load(str(export_onnx(run_dir)))
    assert _dims(model.graph.input[0]) == ["batch", 3, "height", "width"]  # symbolic, not 1x3x32x32
    trained = load_trained(run_dir / "model.safetensors")
    assert _dims(model.graph.output[0]) == ["batch", len(trained.classes)]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["any_image_size"] == "yes" and meta["trained_image_size"] == "32"
    images = torch.rand(3, 3, 48, 40)  # another batch and another size than the export's own
    with torch.no_grad():
        expected = trained.model(images).numpy()
    [logits] = ReferenceEvaluator(model).run(None, {"image": images.numpy()})
    assert logits.shape == (3, len(trained.classes)) and np.allclose(logits, expected, atol=1e-4)


def test_an_old_fixed_size_export_is_made_again(finished_run):
    import onnx

    run_dir, _ = finished_run
    path = export_onnx(run_dir)
    model = onnx.load(str(path))
    del model.metadata_props[:]  # as the exports before dynamic axes were written
    onnx.save(model, str(path))
    assert any(p.key == "cvlab_export" for p in onnx.load(str(export_onnx(run_dir))).metadata_props)


def test_pause_change_rate_and_stop_from_another_thread(tmp_path):
    store = runs.RunStore(tmp_path)
    run_dir = store.create(TrainConfig(**{**SMALL, "epochs": 20, "scheduler": "constant"}), "ada", owner_id="ada")
    result = {}
    worker = threading.Thread(target=lambda: result.update(train_run(run_dir)))
    worker.start()
    steps = lambda: [r for r in runs.read_metrics(run_dir) if r["kind"] == "step"]
    _wait(lambda: len(steps()) >= 3)
    store.request(run_dir.name, "ada", pause=True)
    _wait(lambda: runs.read_info(run_dir).status == "paused")
    paused_at = len(steps())
    time.sleep(1.5)
    assert len(steps()) == paused_at  # nothing trains while paused
    store.request(run_dir.name, "ada", lr=0.001)
    store.request(run_dir.name, "ada", pause=False)
    _wait(lambda: any(s["lr"][-1] == pytest.approx(0.001) for s in steps()))
    store.request(run_dir.name, "ada", stop=True)
    worker.join(120)
    assert result["status"] == "stopped" and "stopped by ada" in result["reason"]
    events = [r["what"] for r in runs.read_metrics(run_dir) if r["kind"] == "event"]
    assert events == ["pause", "resume", "lr", "stop"]
    assert (run_dir / "model.safetensors").is_file()  # a stopped run keeps what it learned


def _wait(condition, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_cli_train_json_last_line_has_the_promised_fields(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cvlab", "train", "--data", "shapes", "--limit", "300",
                          "--epochs", "2", "--batch-size", "32", "--model", "lecture-residual", "--json"],
                         capture_output=True, text=True, timeout=600, check=True)
    lines = out.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert {"run_dir", "val_accuracy", "images_per_second"} <= set(summary)
    assert [json.loads(line)["epoch"] for line in lines[:-1]] == [1, 2]  # one line per epoch as it ends
    assert json.loads(open(f"{summary['run_dir']}/run.json").read())["config"]["model"] == "lecture-residual"


def test_cli_train_refuses_bad_settings_with_exit_status_2():
    out = subprocess.run([sys.executable, "-m", "cvlab", "train", "--epochs", "0", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "epochs" in json.loads(out.stdout)["error"]["message"]
