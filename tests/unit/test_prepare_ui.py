"""Which weights are here, as the device panel and the Architectures table show it."""

import time

from cvlab.settings import get_settings
from cvlab.ui import local_weights
from cvlab.ui.zoo import compare_rows
from cvlab.zoo import facts as zoo
from tests.pages.apptest import run_script


def weights_column() -> dict:
    local_weights.architecture_weights.clear()
    rows = compare_rows(zoo.zoo_table(["mobilenet_v3_small", "vit_tiny_patch16_224", "lecture-vgg"]))
    return {row["name"]: row["weights here"] for row in rows}


def test_the_architectures_table_says_which_weights_are_here(monkeypatch):
    settings = get_settings()
    assert weights_column() == {"mobilenet_v3_small": "random", "vit_tiny_patch16_224": "random",
                                "lecture-vgg": None}  # offline, nothing here; the lecture's nets have none
    settings.weights_dir.mkdir(parents=True)
    (settings.weights_dir / "mobilenet_v3_small-047dcff4.pth").write_bytes(b"PK")
    assert weights_column()["mobilenet_v3_small"] == "local"
    monkeypatch.delenv("CVLAB_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("YOLO_OFFLINE")
    assert weights_column()["vit_tiny_patch16_224"] == "downloadable"


def test_the_listing_is_kept_between_reruns_and_never_opens_a_file(monkeypatch):
    settings = get_settings()
    local_weights.architecture_weights.clear()
    first = local_weights.weights_here()
    settings.weights_dir.mkdir(parents=True)
    (settings.weights_dir / "mobilenet_v3_small-047dcff4.pth").write_bytes(b"PK")
    assert local_weights.weights_here() == first  # within the half minute, the kept listing answers


def test_the_count_is_kept_and_refreshed_in_the_background(monkeypatch):
    answers = iter([{"present": 1, "total": 9}, {"present": 2, "total": 9}])
    monkeypatch.setattr(local_weights, "_count_probe", lambda: next(answers))
    count = local_weights.WeightsCount()
    deadline = time.monotonic() + 10
    while count.latest() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count.latest() == {"present": 1, "total": 9}
    monkeypatch.setattr(local_weights, "COUNT_REFRESH_S", 0)
    count.latest()  # starts the refresh; the old answer stays until the new one arrives
    while count.latest() == {"present": 1, "total": 9} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count.latest()["present"] == 2


def test_the_device_panel_counts_the_weight_files_present():
    settings = get_settings()
    settings.weights_dir.mkdir(parents=True)
    (settings.weights_dir / "yolov8n.pt").write_bytes(b"PK")
    local_weights.weights_count.clear()
    app = run_script("streamlit_app.py")
    deadline = time.monotonic() + 120
    while "weight files present" not in "\n".join(c.value for c in app.caption) and time.monotonic() < deadline:
        time.sleep(0.5)  # two background probes, one after the other; the next rerun shows them
        app.run()
    line = next(c for c in app.caption if "weight files present" in c.value)
    present, total = line.value.split(" weight files")[0].split()[-3::2]
    assert present == "1" and int(total) > 40
    assert not app.exception
