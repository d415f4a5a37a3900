"""The detector catalogue, weights resolution and the safetensors format, with bad weight files of every kind."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from cvlab.detection import facade

from cvlab.detection import catalogue as models
from cvlab.detection.stored import BadWeights, UnsafeWeights, load_stored, read_header, save_detector
from cvlab.settings import get_settings
from cvlab.weights import WeightsUnavailable


@pytest.fixture
def settings():
    return get_settings()


def small_model(nc: int = 2):
    """yolov8n from ultralytics' packaged YAML, random weights, ``nc`` classes."""
    from cvlab.detection.ultralytics_env import ultralytics_ready

    ultralytics_ready()
    from ultralytics.nn.tasks import DetectionModel, yaml_model_load

    return DetectionModel(yaml_model_load("yolov8n.yaml"), nc=nc, verbose=False).eval()


def metadata(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata()


def test_random_models_are_offered_for_every_config_and_pretrained_only_when_the_file_is_here(settings):
    names = [spec.name for spec in models.available_detectors(settings)]
    assert "yolov8n-random" in names and "yolo11x-random" in names and "yolo26n-random" in names
    assert "yolov8n" not in names  # offline, no file
    settings.weights_dir.mkdir(parents=True)
    (settings.weights_dir / "yolov8n.pt").write_bytes(b"placeholder")
    assert "yolov8n" in [spec.name for spec in models.available_detectors(settings)]


def test_pretrained_names_are_files_ultralytics_publishes_at_its_release():
    import inspect

    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES, attempt_download_asset

    assert {"yolov8n", "yolo11s", "yolo26x", "yolov10n", "yolov5nu"} <= set(models.pretrained_names())
    for name in models.pretrained_names():
        assert models.weights_file_name(name) in GITHUB_ASSETS_NAMES, name
    assert inspect.signature(attempt_download_asset).parameters["release"].default == models.ULTRALYTICS_RELEASE


def test_unknown_model_lists_the_choices():
    from cvlab.errors import UnknownName

    with pytest.raises(UnknownName, match="yolov8n-random"):
        models.get_detector("yolov99")


def test_pretrained_weights_offline_give_a_clear_message(settings):
    with pytest.raises(WeightsUnavailable, match=f"Copy yolov8n.pt .* into {settings.weights_dir}"):
        facade.load_detector("yolov8n")


def test_a_text_file_named_pt_is_a_clear_error(settings):
    settings.weights_dir.mkdir(parents=True)
    (settings.weights_dir / "yolo11n.pt").write_text("this is not a checkpoint\n")
    with pytest.raises(BadWeights, match="could not be read as an ultralytics checkpoint"):
        facade.load_detector("yolo11n")


def test_random_model_has_coco_names_and_loads_once():
    first = facade.load_detector("yolov8n-random")
    assert first.names[0] == "person" and len(first.names) == 80
    assert facade.load_detector("yolov8n-random") is first


def test_cache_is_bounded_and_evicts_the_least_recently_used():
    names = ["yolov8n-random", "yolo11n-random", "yolov5nu-random", "yolov10n-random"]
    for name in names:
        facade.load_detector(name)
    loaded = [key[0] for key in facade._cache]  # the model names, least recently used first
    assert len(loaded) <= facade.MAX_LOADED_MODELS
    assert loaded[-1] == names[-1] and names[0] not in loaded


def test_safetensors_round_trip_gives_the_same_outputs(tmp_path, settings):
    model = small_model(nc=2)
    path = save_detector(model, tmp_path / "m" / "weights.safetensors", names=["circle", "star"], imgsz=128)
    assert (tmp_path / "m" / "yolov8n.yaml").is_file()
    header = read_header(path)
    assert header.names == ("circle", "star") and header.imgsz == 128 and header.config_name == "yolov8n.yaml"
    loaded = load_stored(path, settings)
    assert loaded.model.names == {0: "circle", 1: "star"}
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model.eval()(x)[0], model(x)[0])


def test_half_precision_storage_halves_the_file(tmp_path):
    model = small_model(nc=2)
    full = save_detector(model, tmp_path / "a" / "w.safetensors", names=["a", "b"])
    half = save_detector(model, tmp_path / "b" / "w.safetensors", names=["a", "b"], half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    assert load_file(str(half))["model.0.conv.weight"].dtype == torch.float16


def test_a_stored_model_without_its_yaml_beside_it_still_loads(tmp_path, settings):
    path = save_detector(small_model(), tmp_path / "w.safetensors", names=["a", "b"])
    (tmp_path / "yolov8n.yaml").unlink()
    assert load_stored(path, settings).model.names[1] == "b"


def test_safetensors_with_wrong_keys_is_refused(tmp_path, settings):
    path = save_detector(small_model(), tmp_path / "w.safetensors", names=["a", "b"])
    tensors = load_file(str(path))
    tensors["model.0.conv.renamed"] = tensors.pop("model.0.conv.weight")
    save_file(tensors, str(path), metadata=metadata(path))
    with pytest.raises(BadWeights, match=r"does not fit its model config \(yolov8n, 2 classes\): "
                                         r"tensors 1 missing .* 1 unexpected"):
        load_stored(path, settings)


def test_safetensors_from_elsewhere_and_garbage_are_refused(tmp_path, settings):
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(2)}, str(foreign))
    with pytest.raises(BadWeights, match="not a YOLO model saved by CV Lab"):
        load_stored(foreign, settings)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_text("hello")
    with pytest.raises(BadWeights, match="not a readable safetensors file"):
        load_stored(garbage, settings)


def _rewrite_header(path: Path, tensors: dict | None = None, **changes) -> None:
    """Write ``path`` again with header fields changed (``None`` removes one) and, optionally, other tensors."""
    meta = {**metadata(path), **changes}
    save_file(load_file(str(path)) if tensors is None else tensors, str(path),
              metadata={k: v for k, v in meta.items() if v is not None})


# A nested model class with its own activation string: ultralytics evals it while building (seen running a shell
# command). The file's config text must never be built, whatever it says.
NESTED_MODEL_EXPLOIT = """
nc: 2
backbone:
  - [-1, 1, DetectionModel, [{nc: 2, activation: "__import__('pathlib').Path('PWNED').touch()",
                              backbone: [[-1, 1, Conv, [16, 3, 2]]], head: [[-1, 1, Conv, [16, 3, 1]]]}]]
head: []
"""
HUGE_CONV = "nc: 2\nbackbone:\n  - [-1, 1, nn.Conv2d, [3, 7000, 7000]]\nhead: []\n"


@pytest.mark.parametrize("config_yaml", [NESTED_MODEL_EXPLOIT, HUGE_CONV])
def test_the_config_text_in_a_file_is_never_built(tmp_path, settings, config_yaml):
    pwned = tmp_path / "PWNED"
    path = save_detector(small_model(), tmp_path / "w.safetensors", names=["a", "b"])
    _rewrite_header(path, config_yaml=config_yaml.replace("PWNED", str(pwned)))
    loaded = load_stored(path, settings)  # the known yolov8n with the file's tensors: the text is ignored
    assert sum(p.numel() for p in loaded.model.parameters()) == sum(p.numel() for p in small_model().parameters())
    assert not pwned.exists()


@pytest.mark.parametrize("config", ["evil.yaml", "DetectionModel.yaml", "../yolov8n.yaml", "yolov8n.yaml.py", ""])
def test_a_file_naming_an_architecture_the_lab_does_not_know_is_refused(tmp_path, settings, config):
    path = save_detector(small_model(), tmp_path / "w.safetensors", names=["a", "b"])
    _rewrite_header(path, config=config)
    with pytest.raises(BadWeights, match="not an architecture this lab knows"):
        load_stored(path, settings)


def test_shapes_are_compared_from_the_header_before_anything_is_allocated(tmp_path, settings, monkeypatch):
    """A header claiming a 7000-channel first conv is refused before any model is built or tensor read."""
    import safetensors.torch
    from ultralytics.nn.tasks import DetectionModel

    path = save_detector(small_model(), tmp_path / "w.safetensors", names=["a", "b"])
    tensors = load_file(str(path))
    tensors["model.0.conv.weight"] = torch.zeros(7000, 3, 3, 3, dtype=torch.float16)
    _rewrite_header(path, tensors=tensors)

    def never(*args, **kwargs):
        raise AssertionError("allocated before the shapes were checked")

    monkeypatch.setattr(DetectionModel, "__init__", never)
    monkeypatch.setattr(safetensors.torch, "load_file", never)
    with pytest.raises(BadWeights, match=r"does not fit its model config \(yolov8n, 2 classes\).*1 of the wrong shape"):
        load_stored(path, settings)


def test_too_many_or_too_long_class_names_are_refused(tmp_path, settings):
    path = save_detector(small_model(), tmp_path / "w.safetensors", names=["a", "b"])
    _rewrite_header(path, names=json.dumps([str(i) for i in range(100_000)]))
    with pytest.raises(BadWeights, match="1 to 1000 strings"):
        load_stored(path, settings)
    _rewrite_header(path, names=json.dumps(["a", "b" * 10_000]))
    with pytest.raises(BadWeights, match="up to 100 characters"):
        read_header(path)


@pytest.mark.parametrize("changes", [{"imgsz": "²"}, {"imgsz": "9" * 5000}, {"extra": "[" * 100_000},
                                     {"names": "[" * 100_000}])
def test_a_garbled_header_is_a_clear_refusal_not_a_crash(tmp_path, settings, changes):
    path = save_detector(small_model(), tmp_path / "w.safetensors", names=["a", "b"])
    _rewrite_header(path, **changes)
    try:
        header = read_header(path)
    except BadWeights as err:
        assert "garbles" in str(err)
    else:
        assert header.imgsz is None  # an unreadable size is no size: the facade's default applies


def test_a_class_count_other_than_the_configs_loads_with_that_many_classes(tmp_path, settings):
    path = save_detector(small_model(nc=5), tmp_path / "w.safetensors", names=list("abcde"))
    assert load_stored(path, settings).model.names == dict(enumerate("abcde"))
    _rewrite_header(path, names=json.dumps(["a", "b"]))  # the head's tensors say 5 classes
    with pytest.raises(BadWeights, match="2 classes.*of the wrong shape"):
        load_stored(path, settings)


def test_a_model_of_an_unknown_architecture_cannot_be_saved(tmp_path):
    model = small_model()
    model.yaml = {**model.yaml, "yaml_file": "my-own.yaml"}
    with pytest.raises(BadWeights, match="cannot be stored"):
        save_detector(model, tmp_path / "w.safetensors", names=["a", "b"])


def test_uploaded_pickle_is_refused_by_default(settings):
    with pytest.raises(UnsafeWeights, match="CVLAB_ALLOW_UNSAFE_WEIGHTS=1"):
        models.accept_weights_upload(b"\x80\x04anything", "best.pt", settings)
    assert not models.uploads_dir(settings).exists() and not (settings.data_home / "uploads").exists()


def test_uploaded_pickle_loads_where_the_administrator_allows_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_ALLOW_UNSAFE_WEIGHTS", "1")
    from ultralytics import YOLO

    from cvlab.detection.ultralytics_env import ultralytics_ready

    ultralytics_ready()
    checkpoint = tmp_path / "mine.pt"
    YOLO("yolov8n.yaml").save(str(checkpoint))
    spec = models.accept_weights_upload(checkpoint.read_bytes(), "mine.pt", get_settings())
    assert spec.path.suffix == ".safetensors" and spec.name.startswith("trained-upload-")
    assert spec.name in [s.name for s in models.available_detectors()]  # kept as safetensors, listed


def test_an_uploaded_text_file_as_safetensors_is_refused_and_not_kept(settings):
    with pytest.raises(BadWeights, match="not a readable safetensors"):
        models.accept_weights_upload(b"not tensors", "weights.safetensors", settings)
    assert not any(models.uploads_dir(settings).glob("*/*")) and not any(settings.data_home.glob("uploads/*/*"))
    assert not any(settings.data_home.glob("weights-check-*"))  # the scratch copy is gone too


def test_an_uploaded_model_is_kept_in_the_upload_store_under_its_owner_and_quota(tmp_path, settings):
    """Weights count against the uploader's disk quota like datasets; the same bytes twice are one entry."""
    from concurrent.futures import ThreadPoolExecutor

    from cvlab.data.uploads import UploadStore

    data = save_detector(small_model(), tmp_path / "w.safetensors", names=["a", "b"]).read_bytes()
    with ThreadPoolExecutor(4) as pool:  # a class uploading the instructor's model at once
        specs = list(pool.map(lambda i: models.accept_weights_upload(data, "class-model.safetensors", settings,
                                                                       owner=f"browser:{i}"), range(4)))
    assert len({spec.name for spec in specs}) == 1 and specs[0].path.is_file()
    store = UploadStore(settings)
    assert store.display_name(specs[0].path).startswith("class-model")
    assert all(store.usage(f"browser:{i}") >= len(data) for i in range(4))
    assert specs[0].name in [spec.name for spec in models.available_detectors(settings)]
    assert load_stored(specs[0].path, settings).model.names == {0: "a", 1: "b"}


def test_models_in_run_folders_are_discovered_and_detect(settings):
    run = settings.runs_dir / "my-run"
    save_detector(small_model(), run / models.EXPORTED_WEIGHTS, names=["a", "b"])
    assert "trained-my-run" in [spec.name for spec in models.available_detectors(settings)]
    result = facade.detect("trained-my-run", np.zeros((64, 80, 3), np.uint8), imgsz=64)
    assert result.names == ("a", "b") and result.model == "trained-my-run"


def test_register_trained_model_refuses_a_bad_name_or_file(tmp_path):
    with pytest.raises(BadWeights, match="letters, digits"):
        models.register_trained_model("../evil", tmp_path / "x.safetensors")
    (tmp_path / "x.safetensors").write_text("nope")
    with pytest.raises(BadWeights):
        models.register_trained_model("fine", tmp_path / "x.safetensors")


def test_a_config_file_in_the_working_directory_is_never_built(tmp_path, settings, monkeypatch):
    """ultralytics looks a ``yolov8.yaml`` up in the working directory before its own package; the lab builds
    random, stored and starting models from the packaged file by its path, so a planted one runs nothing."""
    pwned = tmp_path / "PWNED"
    planted = tmp_path / "cwd"
    planted.mkdir()
    for name in ("yolov8.yaml", "yolov8n.yaml"):
        (planted / name).write_text(f"nc: 2\nactivation: \"__import__('pathlib').Path('{pwned}').touch() or "
                                    "nn.SiLU()\"\nbackbone: [[-1, 1, Conv, [16, 3, 2]]]\n"
                                    "head: [[-1, 1, Conv, [16, 3, 1]]]\n")
    stored = save_detector(small_model(), tmp_path / "w.safetensors", names=["a", "b"])
    monkeypatch.chdir(planted)
    random_model = models.load_yolo(models.get_detector("yolov8n-random", settings), settings)
    loaded = load_stored(stored, settings)
    assert len(random_model.model.names) == 80 and loaded.model.names == {0: "a", 1: "b"}
    assert not pwned.exists()


def test_an_unreadable_image_after_ultralytics_is_loaded_is_refused_without_reaching_for_pip(tmp_path, monkeypatch):
    """ultralytics swaps Pillow's Image.open for one that installs a HEIF plugin on the first unknown file."""
    from PIL import Image, UnidentifiedImageError

    from cvlab.detection.ultralytics_env import ultralytics_ready
    from ultralytics.utils import checks

    ultralytics_ready()
    monkeypatch.setattr(checks, "check_requirements", lambda *a, **k: pytest.fail("tried to install a package"))
    garbage = tmp_path / "holiday.jpg"
    garbage.write_bytes(b"\x00not an image at all" * 50)
    with pytest.raises(UnidentifiedImageError):
        Image.open(garbage)
    assert Image.open.__module__ == "PIL.Image"


def test_the_loaded_models_weights_stay_within_the_budget(monkeypatch):
    import dataclasses

    facade._cache.clear()
    small = facade.load_detector("yolov8n-random")
    budget = small.nbytes * 3 // 2  # room for one small model, not two
    within = dataclasses.replace(get_settings(), detector_cache_bytes=budget)
    monkeypatch.setattr(facade, "get_settings", lambda: within)
    facade.load_detector("yolov8n-random")
    facade.load_detector("yolo11n-random")
    assert [key[0] for key in facade._cache] == ["yolo11n-random"]  # the older one made room
    monkeypatch.setattr(facade, "get_settings", lambda: dataclasses.replace(get_settings(), detector_cache_bytes=1))
    assert facade.load_detector("yolov8n-random").nbytes > 1  # heavier than the budget: still served, kept alone
    assert [key[0] for key in facade._cache] == ["yolov8n-random"]
