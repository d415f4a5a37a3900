import time
from pathlib import Path

import pytest
import torch

from cvlab.device import amp_dtype, device_report, pick_device, weights_reachable
from cvlab.errors import InvalidInput
from cvlab.settings import Settings


def test_defaults_live_under_the_data_home(tmp_path):
    settings = Settings.from_env({"CVLAB_HOME": str(tmp_path)})
    assert settings.data_home == tmp_path
    assert settings.weights_dir == tmp_path / "weights"
    assert settings.queue_url == f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    assert settings.device == "auto"
    assert settings.offline is False and settings.allow_unsafe_weights is False


def test_every_variable_is_read(tmp_path):
    settings = Settings.from_env({
        "CVLAB_HOME": str(tmp_path), "CVLAB_WEIGHTS_DIR": "/srv/weights",
        "CVLAB_QUEUE_URL": "redis://gpu-01:6379/0", "CVLAB_DEVICE": "cpu", "HF_HUB_OFFLINE": "1",
        "CVLAB_ALLOW_UNSAFE_WEIGHTS": "true", "CVLAB_MAX_IMAGE_PIXELS": "1000",
    })
    assert settings.weights_dir == Path("/srv/weights")
    assert settings.queue_url == "redis://gpu-01:6379/0"
    assert settings.device == "cpu"
    assert settings.offline and settings.allow_unsafe_weights
    assert settings.max_image_pixels == 1000


@pytest.mark.parametrize("env, fragment", [
    ({"CVLAB_QUEUE_URL": "amqp://x"}, "redis://host:6379/0"),
    ({"CVLAB_MAX_IMAGE_PIXELS": "-5"}, "positive whole number"),
])
def test_bad_variables_say_what_is_expected(env, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        Settings.from_env(env)


def test_disk_and_memory_limits_come_from_the_environment_in_mebibytes(tmp_path):
    default = Settings.from_env({"CVLAB_HOME": str(tmp_path)})
    assert (default.user_disk_quota, default.disk_quota) == (3072 * 2**20, 30720 * 2**20)
    assert (default.upload_keep_days, default.max_upload_bytes, default.page_cache_bytes) == (14, 200 * 2**20,
                                                                                               512 * 2**20)
    chosen = Settings.from_env({"CVLAB_HOME": str(tmp_path), "CVLAB_USER_DISK_QUOTA_MB": "500",
                                "CVLAB_DISK_QUOTA_MB": "8000", "CVLAB_UPLOAD_KEEP_DAYS": "0.5",
                                "CVLAB_MAX_UPLOAD_MB": "50", "CVLAB_PAGE_CACHE_MB": "64"})
    assert (chosen.user_disk_quota, chosen.disk_quota, chosen.upload_keep_days) == (500 * 2**20, 8000 * 2**20, 0.5)
    assert (chosen.max_upload_bytes, chosen.page_cache_bytes) == (50 * 2**20, 64 * 2**20)
    for name, value in (("CVLAB_DISK_QUOTA_MB", "lots"), ("CVLAB_PAGE_CACHE_MB", "0"),
                        ("CVLAB_UPLOAD_KEEP_DAYS", "-1")):
        with pytest.raises(InvalidInput, match=name):
            Settings.from_env({"CVLAB_HOME": str(tmp_path), name: value})


def test_cpu_is_picked_when_asked_and_has_no_amp():
    device = pick_device("cpu")
    assert device == torch.device("cpu")
    assert amp_dtype(device) is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_asking_for_a_missing_gpu_says_so():
    with pytest.raises(InvalidInput, match="no usable GPU"):
        pick_device("cuda")


def test_nonsense_device_is_refused():
    with pytest.raises(InvalidInput, match="auto, cpu, cuda"):
        pick_device("tpu-please")


def test_offline_mode_answers_at_once(tmp_path):
    settings = Settings.from_env({"CVLAB_HOME": str(tmp_path), "CVLAB_OFFLINE": "1"})
    start = time.perf_counter()
    online, note = weights_reachable(settings)
    assert online is False and "offline mode is on" in note
    assert time.perf_counter() - start < 0.1


def test_a_hanging_name_lookup_still_answers_offline_by_the_deadline(tmp_path, monkeypatch):
    import threading

    from cvlab import device

    never = threading.Event()
    tried = []

    def hanging_connect(address, timeout=None):  # as a lookup on a network that drops packets
        tried.append(address[0])
        never.wait(20)
        raise OSError("unreachable")

    monkeypatch.setattr(device.socket, "create_connection", hanging_connect)
    monkeypatch.setattr(device, "_reachability", {})
    settings = Settings.from_env({"CVLAB_HOME": str(tmp_path), "CVLAB_OFFLINE": "0"})
    start = time.perf_counter()
    online, note = weights_reachable(settings, timeout_s=0.5)
    assert online is False and "within 0.5 s" in note
    assert time.perf_counter() - start < 5  # 0.5 s deadline; one host after another would take 20 s each
    assert sorted(tried) == sorted(device.WEIGHT_HOSTS)  # every host tried, at once
    never.set()


def test_the_first_host_that_connects_answers_and_the_answer_is_remembered(tmp_path, monkeypatch):
    import contextlib

    from cvlab import device

    calls = []

    def connect(address, timeout=None):
        calls.append(address[0])
        if address[0] != "huggingface.co":
            raise OSError("refused")
        return contextlib.nullcontext()

    monkeypatch.setattr(device.socket, "create_connection", connect)
    monkeypatch.setattr(device, "_reachability", {})
    settings = Settings.from_env({"CVLAB_HOME": str(tmp_path), "CVLAB_OFFLINE": "0"})
    assert weights_reachable(settings) == (True, "huggingface.co is reachable")
    assert weights_reachable(settings) == (True, "huggingface.co is reachable")
    assert len(calls) == len(device.WEIGHT_HOSTS)  # the second answer came from memory


def test_device_report_describes_this_machine(tmp_path):
    report = device_report(Settings.from_env({"CVLAB_HOME": str(tmp_path), "CVLAB_OFFLINE": "1"}))
    assert report.torch_version == torch.__version__
    assert report.cpu_cores >= 1
    assert report.weights_online is False
    if torch.cuda.is_available():
        assert report.device.startswith("cuda") and report.memory_gb > 0
    else:
        assert report.device == "cpu" and report.memory_gb is None and report.amp_dtype is None


def test_resolve_weights_file_prefers_local_folder_then_library_cache(tmp_path, monkeypatch):
    from cvlab.settings import get_settings
    from cvlab.weights import resolve_weights_file

    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path / "weights"))
    settings = get_settings()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "model.pt").write_bytes(b"cached")
    path, source = resolve_weights_file("model.pt", library_dirs=[cache], settings=settings)
    assert (path, source) == ((cache / "model.pt").resolve(), "library cache")
    settings.weights_dir.mkdir(parents=True)
    (settings.weights_dir / "model.pt").write_bytes(b"local")
    path, source = resolve_weights_file("model.pt", library_dirs=[cache], settings=settings)
    assert source == "local folder" and path.read_bytes() == b"local" and path.is_absolute()


def test_resolve_weights_file_offline_says_where_to_put_it(tmp_path, monkeypatch):
    import pytest
    from cvlab.settings import get_settings
    from cvlab.weights import WeightsUnavailable, resolve_weights_file

    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path / "w"))
    with pytest.raises(WeightsUnavailable) as err:
        resolve_weights_file("sam_b.pt", url="https://example.org/sam_b.pt", what="SAM ViT-B",
                             settings=get_settings())
    assert "sam_b.pt" in str(err.value) and str(tmp_path / "w") in str(err.value)
    assert not (tmp_path / "w" / "sam_b.pt").exists()
