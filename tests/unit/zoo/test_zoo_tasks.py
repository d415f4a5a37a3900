import os
from pathlib import Path

import pytest

from cvlab.zoo import task_families as zoo_tasks
from cvlab.zoo.task_families import (SEGMENTATION_MODELS, YOLO_CONFIGS, build_yolo, cache_file, config_path, seg_facts,
                             yolo_evolution_table, yolo_facts, yolo_names)

REPO_ROOT = Path(__file__).resolve().parents[3]
GENERATIONS = ["YOLOv3", "YOLOv5", "YOLOv6", "YOLOv8", "YOLOv9", "YOLOv10", "YOLO11", "YOLO12", "YOLO26"]


@pytest.fixture(scope="module", autouse=True)
def _repo_untouched():
    """Nothing here may write into the working directory or the repository (ultralytics likes runs/)."""
    before = {Path.cwd(): set(os.listdir(Path.cwd())), REPO_ROOT: set(os.listdir(REPO_ROOT))}
    yield
    for folder, names in before.items():
        assert not (folder / "runs").exists() or "runs" in names
        assert set(os.listdir(folder)) - names == set(), f"new files in {folder}"


@pytest.fixture(scope="module")
def v8n(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CVLAB_HOME", str(tmp_path_factory.mktemp("cvlab-home")))
        return yolo_facts("yolov8n")


def test_registry_covers_every_generation_with_its_config_and_scale():
    from ultralytics.utils import YAML

    assert list(dict.fromkeys(e.generation for _, e in YOLO_CONFIGS.items())) == GENERATIONS
    for name, entry in YOLO_CONFIGS.items():
        cfg = YAML.load(config_path(name))
        assert entry.feature and entry.config.endswith(".yaml")
        if entry.scale:
            assert entry.scale in cfg["scales"], name
    for generation in ("YOLOv5", "YOLOv8", "YOLO11", "YOLO12", "YOLO26"):
        assert [e.size for _, e in YOLO_CONFIGS.items() if e.generation == generation] == list("nsmlx")
    years = {e.generation: e.year for _, e in YOLO_CONFIGS.items()}
    assert (years["YOLOv3"], years["YOLOv5"], years["YOLOv8"], years["YOLO11"]) == (2018, 2020, 2023, 2024)


@pytest.mark.parametrize("name", YOLO_CONFIGS.names())
def test_every_config_builds_offline_and_ultralytics_agrees(name):
    from ultralytics.utils.torch_utils import get_num_params

    model = build_yolo(name)
    params = sum(p.numel() for p in model.parameters())
    assert params > 0 and params == get_num_params(model)
    published = zoo_tasks.published_summary(name)
    if published is not None:  # the config's own summary comment
        assert params == published[0]


def test_scale_selection_matches_ultralytics_own_name_resolution():
    from ultralytics.nn.tasks import DetectionModel

    by_name = DetectionModel("yolov8s.yaml", verbose=False)
    assert sum(p.numel() for p in by_name.parameters()) == sum(p.numel() for p in build_yolo("yolov8s").parameters())


def test_yolov8n_counts_against_published(v8n):
    assert v8n.params == 3_157_200  # counted; ultralytics publishes "3.2M"
    assert abs(v8n.params - 3.2e6) / 3.2e6 < 0.05
    assert v8n.published_params == v8n.params
    assert v8n.flops == 2 * v8n.macs
    assert v8n.flops / 1e9 == pytest.approx(8.74, abs=0.05)  # flop_counter FLOPs at 640
    # ultralytics' "GFLOPs" are thop MACs x 2, i.e. FLOPs as well: within 2 % of flop_counter
    assert v8n.ultralytics_gflops == pytest.approx(v8n.flops / 1e9, rel=0.02)
    assert v8n.published_gflops == pytest.approx(8.9)
    assert v8n.coco_map is None and "not carried" in v8n.coco_map_source
    assert v8n.year == 2023 and "lecture" in v8n.year_source
    assert "640" in v8n.flops_source and "MACs = FLOPs / 2" in v8n.flops_source


def test_counts_are_cached_in_memory_and_on_disk(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setitem(zoo_tasks.COUNTERS, "yolo",
                        lambda name, size: calls.append(name) or {"params": 7, "flops": 10,
                                                                   "ultralytics_gflops": 0.0, "seconds": 0.1})
    first = yolo_facts("yolo11n")
    assert yolo_facts("yolo11n") == first and calls == ["yolo11n"]
    path = cache_file(Path(os.environ["CVLAB_HOME"]))
    assert path.exists() and "ultralytics" in path.name
    zoo_tasks._cached.cache_clear()  # a new process: only the disk cache is left
    monkeypatch.setitem(zoo_tasks.COUNTERS, "yolo", lambda *a: pytest.fail("counted again"))
    assert yolo_facts("yolo11n").params == 7


def test_table_defaults_to_two_smallest_sizes_and_supports_all(monkeypatch):
    monkeypatch.setitem(zoo_tasks.COUNTERS, "yolo", lambda name, size: {
        "params": 1, "flops": 2, "ultralytics_gflops": 0.0, "seconds": 0.0})
    rows = yolo_evolution_table()
    assert len(rows) == 2 * len(GENERATIONS)
    assert {"yolov8n", "yolov8s", "yolo11n", "yolov9t"} <= {r.name for r in rows}
    assert len(yolo_names(None)) == len(YOLO_CONFIGS) and "yolov8x" in yolo_names(None)
    assert [r.name for r in yolo_evolution_table(names=["yolo26x"])] == ["yolo26x"]


def test_yolo11n_counted():
    facts = yolo_facts("yolo11n")
    assert facts.params == 2_624_080 == facts.published_params
    assert facts.flops == 2 * facts.macs and 6.0e9 < facts.flops < 7.0e9


def test_unet_resnet34_matches_smp_and_torchvision():
    import segmentation_models_pytorch as smp
    from torchvision.models import ResNet34_Weights

    assert len(SEGMENTATION_MODELS) == 9  # four smp decoders x the lecture's two encoders, and HF's SegFormer
    facts = seg_facts("unet-resnet34")
    model = smp.Unet(encoder_name="resnet34", encoder_weights=None)
    assert facts.params == sum(p.numel() for p in model.parameters())
    # the encoder is torchvision's ResNet-34 without its 1000-class head
    encoder = sum(p.numel() for p in model.encoder.parameters())
    assert encoder == ResNet34_Weights.IMAGENET1K_V1.meta["num_params"] - (512 * 1000 + 1000)
    assert facts.flops == 2 * facts.macs and facts.input_size == 256
    assert "encoder_weights=None" in facts.params_source


def _fake_counts(monkeypatch):
    monkeypatch.setitem(zoo_tasks.COUNTERS, "yolo", lambda name, size: {
        "params": 1_000_000, "flops": 4_000_000_000, "ultralytics_gflops": 4.0, "seconds": 0.0})
    monkeypatch.setitem(zoo_tasks.COUNTERS, "seg", lambda name, size: {
        "params": 2_000_000, "flops": 6_000_000_000, "seconds": 0.0})


def _fake_measure(monkeypatch, calls):
    import dataclasses

    from cvlab.zoo import measure as zoo_measure
    from tests.unit.zoo.test_zoo_measure import SAMPLE

    def fake(name, *, input_size=None, suite="classification", **options):
        calls.append((suite, name, input_size))
        size = input_size or zoo_measure.SUITES.get(suite).default_size(name)
        return dataclasses.replace(SAMPLE, name=name, input_size=size, latency_ms=size / 8)

    monkeypatch.setattr(zoo_measure, "measure", fake)


def test_cli_prints_a_yolo_generation_and_measures_it_at_the_size_asked(monkeypatch, capsys):
    import json

    from cvlab.__main__ import main

    _fake_counts(monkeypatch)
    calls = []
    _fake_measure(monkeypatch, calls)
    assert main(["zoo", "--suite", "yolo", "--family", "yolov8", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [f"yolov8{s}" for s in "nsmlx"]
    assert all(r["latency_ms"] is None and r["generation"] == "YOLOv8" and r["flops"] == 2 * r["macs"] for r in rows)
    assert main(["zoo", "--suite", "yolo", "--family", "YOLO11", "--measure", "--size", "320", "--json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert calls == [("yolo", f"yolo11{s}", 320) for s in "nsmlx"] and "measuring yolo11n (1/5)" in captured.err
    assert [(r["latency_ms"], r["latency_input_size"]) for r in rows] == [(40.0, 320)] * 5


def test_cli_segmentation_table_and_its_text_form(monkeypatch, capsys):
    from cvlab.__main__ import main

    _fake_counts(monkeypatch)
    _fake_measure(monkeypatch, [])
    assert main(["zoo", "--suite", "segmentation", "--family", "unet", "--measure"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "group", "px"]
    assert [line.split()[0] for line in lines[2:4]] == ["unet-resnet34", "unet-efficientnet-b3"]
    assert lines[2].split()[2:5] == ["256", "2.00", "3.00"] and lines[2].split()[-3:] == ["32.0", "1000.0", "256"]


def test_cli_refuses_an_unknown_generation_and_a_silly_size(capsys):
    from cvlab.__main__ import main

    assert main(["zoo", "--suite", "yolo", "--family", "YOLOv99"]) == 2
    assert "Choose one of: YOLO11, YOLO12" in capsys.readouterr().err
    assert main(["zoo", "--suite", "yolo", "--size", "7"]) == 2
    assert "between 32 and 2048" in capsys.readouterr().err
