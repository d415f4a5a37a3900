"""prepare: files fetched from a local stand-in for each publisher, checked, and found by the real loaders."""

import dataclasses
import hashlib
import http.server
import io
import json
import socket
import tarfile
import threading
import time
from pathlib import Path

import pytest
import torch

from cvlab.__main__ import main
from cvlab.prepare import FetchFailed, copy_in_instructions, download, prepare
from cvlab.settings import get_settings
from cvlab.weights_manifest import Selection, local_status, manifest
from tests.unit.data.test_data_datasets import write_cifar


class _Publisher(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` by name; under /unsized/ without a Content-Length (the body ends when the connection does)."""
    files: dict[str, bytes] = {}
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.requests.append(self.path)
        unsized = self.path.startswith("/unsized/")
        body = self.files.get(self.path.removeprefix("/unsized").lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        if not unsized:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that refuses an oversized body hangs up mid-write, on purpose


@pytest.fixture
def publisher():
    """A loopback HTTP server standing in for download.pytorch.org, huggingface.co, GitHub and cs.toronto.edu."""
    handler = type("Publisher", (_Publisher,), {"files": {}, "requests": []})
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def online(monkeypatch):
    for name in ("CVLAB_OFFLINE", "HF_HUB_OFFLINE", "YOLO_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return get_settings()


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """huggingface_hub's cache in the test's folder; its offline mode stays on, as in a classroom."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hf-hub"


def as_published(source, content: bytes):
    """The source with the checksum of ``content``, kind for kind as the library publishes it."""
    if source.checksum.startswith("md5:"):
        return dataclasses.replace(source, checksum="md5:" + hashlib.md5(content).hexdigest())
    if source.checksum.startswith("sha256:"):
        return dataclasses.replace(source, checksum="sha256:" + hashlib.sha256(content).hexdigest()[:8])
    return source


def saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def cifar_tarball(tmp_path: Path, extra: dict[str, bytes] | None = None) -> tuple[bytes, dict]:
    """cifar-10-python.tar.gz as published: one cifar-10-batches-py folder of pickled batches (tiny ones)."""
    batches = write_cifar(tmp_path / "made" / "cifar-10-batches-py", per_batch=10)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(tmp_path / "made" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        for name, content in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue(), batches


def test_the_manifest_uses_the_libraries_own_urls_checksums_and_loader_paths(online):
    from torchvision.datasets import CIFAR10

    sources = {s.name: s for s in manifest(Selection(("resnet18", "vit_tiny_patch16_224"), True, ("mobile_sam",),
                                                     ("yolov8n",)), online)}
    resnet = sources["resnet18"]
    assert resnet.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert resnet.checksum == "sha256:f37072fd" and resnet.destination == online.weights_dir / "resnet18-f37072fd.pth"
    assert 44 * 2**20 < resnet.max_bytes < 48 * 2**20  # torchvision's published 44.661 MiB, with room
    assert sources["cifar10"].url == CIFAR10.url and sources["cifar10"].checksum == f"md5:{CIFAR10.tgz_md5}"
    assert sources["yolov8n"].url == "https://github.com/ultralytics/assets/releases/download/v8.4.0/yolov8n.pt"
    assert sources["mobile_sam"].destination == online.weights_dir / "mobile_sam.pt"
    vit = sources["vit_tiny_patch16_224"]
    assert vit.url == ("https://huggingface.co/timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k/resolve/main/"
                       "model.safetensors")
    assert 5.7e6 * 4 < vit.max_bytes < 5.7e6 * 4 * 1.2  # its parameter count, as float32, with room


def test_everything_is_listed_and_nothing_is_present_on_a_bare_server(online):
    sources = manifest(None, online)
    kinds = {s.kind for s in sources}
    assert kinds == {"torchvision", "timm", "huggingface", "dataset", "sam", "yolo"}
    names = {s.name for s in sources}
    assert {"resnet18", "efficientnet_b0", "hf_segformer_b0", "cifar10", "sam_b", "yolo11n"} <= names
    assert set(local_status(sources, offline=True).values()) == {"random"}
    assert set(local_status(sources, offline=False).values()) == {"downloadable"}


def test_prepare_fetches_each_kind_from_the_publisher_and_the_real_loaders_find_it(
        tmp_path, online, hf_cache, publisher):
    import safetensors.torch
    import timm
    from ultralytics import YOLO
    from ultralytics.models.sam.build import build_mobile_sam

    from cvlab.data.cifar import load_cifar10
    from cvlab.detection import facade
    from cvlab.detection.ultralytics_env import ultralytics_ready
    from cvlab.segmentation.sam import build_sam_model
    from cvlab.weights import load_torchvision_weights

    handler, base = publisher
    resnet_state = {"fc.weight": torch.randn(3, 4), "fc.bias": torch.zeros(3)}
    vit_state = {k: torch.randn_like(v) for k, v in timm.create_model("test_vit").state_dict().items()}
    tarball, batches = cifar_tarball(tmp_path)
    ultralytics_ready(online)
    YOLO("yolov8n.yaml").save(str(tmp_path / "yolov8n.pt"))  # ultralytics' own checkpoint format
    files = {"resnet18-f37072fd.pth": saved(resnet_state),
             "timm--test_vit.r160_in1k.safetensors": safetensors.torch.save(vit_state),
             "cifar-10-python.tar.gz": tarball,
             "mobile_sam.pt": saved({k: v.half() for k, v in build_mobile_sam().state_dict().items()}),
             "yolov8n.pt": (tmp_path / "yolov8n.pt").read_bytes()}
    handler.files.update(files)
    sources = manifest(Selection(("resnet18", "test_vit.r160_in1k"), True, ("mobile_sam",), ("yolov8n",)), online)
    sources = [as_published(s, files[s.file_name]) for s in sources]

    report = prepare(sources, online, mirror=base)

    assert [o.status for o in report.outcomes] == ["downloaded"] * 5, report.outcomes
    assert not list(online.weights_dir.glob(".partial-*")) and not list(online.data_home.rglob(".partial-*"))
    resolved = load_torchvision_weights("ResNet18_Weights.IMAGENET1K_V1", online)
    assert resolved.source == "local folder"
    assert torch.equal(resolved.state_dict["fc.weight"], resnet_state["fc.weight"])
    vit = timm.create_model("test_vit.r160_in1k", pretrained=True)  # through huggingface_hub's cache, offline
    assert torch.equal(vit.state_dict()["head.weight"], vit_state["head.weight"])
    cifar = load_cifar10(limit=20, settings=online)
    assert cifar.class_names[0] == "airplane" and len(cifar.val_y) == 4
    assert not (online.data_home / "datasets" / "cifar-10-python.tar.gz").exists()  # unpacked, then removed
    sam = build_sam_model("mobile_sam", settings=online, device="cpu")
    assert not sam.weights.random and sam.weights.source == "local folder"
    detector = facade.load_detector("yolov8n", settings=online)
    assert detector.spec.kind == "pretrained" and len(detector.names) == 80
    assert set(local_status(sources, online.offline).values()) == {"local"}

    again = prepare(sources, online, mirror=base)  # a second run finds everything and fetches nothing
    fetched = len(handler.requests)
    assert [o.status for o in again.outcomes] == ["present"] * 5 and len(handler.requests) == fetched
    assert batches  # the batches were those written into the tarball


def test_a_hugging_face_model_folder_is_fetched_weights_first_and_loads(tmp_path, online, publisher):
    from cvlab.zoo.huggingface import SEGFORMER_B0, build_random, load_pretrained

    handler, base = publisher
    published = build_random(SEGFORMER_B0)
    published.save_pretrained(tmp_path / "segformer")  # config.json + model.safetensors, the Hub's layout
    (weights, config) = manifest(Selection(models=("hf_segformer_b0",)), online)
    assert weights.url == "https://huggingface.co/nvidia/segformer-b0-finetuned-ade-512-512/resolve/main/model.safetensors"
    assert config.destination == online.weights_dir / "huggingface" / SEGFORMER_B0.folder_name / "config.json"
    handler.files[config.file_name] = (tmp_path / "segformer" / "config.json").read_bytes()
    (first, second) = prepare([weights, config], online, mirror=base).outcomes
    assert first.status == "failed" and second.status == "missing" and "waits for hf_segformer_b0" in second.message
    assert not config.destination.exists()  # a config alone would pass for a complete folder
    handler.files[weights.file_name] = (tmp_path / "segformer" / "model.safetensors").read_bytes()
    assert [o.status for o in prepare([weights, config], online, mirror=base).outcomes] == ["downloaded"] * 2
    loaded = load_pretrained(SEGFORMER_B0, online)
    assert loaded.source == "local folder" and loaded.where == str(config.destination.parent)
    key = "decode_head.classifier.weight"
    assert torch.equal(loaded.module.state_dict()[key], published.state_dict()[key])


def test_a_bad_checksum_deletes_the_file_and_says_so(online, publisher):
    handler, base = publisher
    handler.files["resnet18-f37072fd.pth"] = saved({"fc.weight": torch.ones(2)})  # not the published file
    source = manifest(Selection(models=("resnet18",)), online)[0]
    (outcome,) = prepare([source], online, mirror=base).outcomes
    assert outcome.status == "failed" and "wrong checksum" in outcome.message and "deleted" in outcome.message
    assert "f37072fd" in outcome.message
    assert not source.destination.exists() and not list(online.weights_dir.iterdir())


def test_an_archive_with_a_wrong_md5_is_not_unpacked(tmp_path, online, publisher):
    handler, base = publisher
    handler.files["cifar-10-python.tar.gz"], _ = cifar_tarball(tmp_path)
    (source,) = manifest(Selection(cifar10=True), online)
    (outcome,) = prepare([source], online, mirror=base).outcomes
    assert outcome.status == "failed" and "md5" in outcome.message
    assert not source.destination.exists() and not list(source.destination.parent.iterdir())


@pytest.mark.parametrize("path", ["", "unsized/"])
def test_a_response_larger_than_the_manifest_allows_is_refused(online, publisher, path):
    handler, base = publisher
    handler.files["yolov8n.pt"] = b"PK\x03\x04" + bytes(5 * 2**20)
    (source,) = manifest(Selection(yolo=("yolov8n",)), online)
    small = dataclasses.replace(source, max_bytes=2**20)
    (outcome,) = prepare([small], online, mirror=base + path).outcomes
    assert outcome.status == "failed" and "1,048,576" in outcome.message, outcome.message
    assert not list(online.weights_dir.iterdir())  # neither the file nor a partial one


def test_an_error_page_saved_under_a_weights_name_is_refused(online, publisher):
    handler, base = publisher
    handler.files["mobile_sam.pt"] = b"<html><body>Rate limit exceeded</body></html>"
    (source,) = manifest(Selection(sam=("mobile_sam",)), online)
    (outcome,) = prepare([source], online, mirror=base).outcomes
    assert outcome.status == "failed" and "error page" in outcome.message and not source.destination.exists()


def test_an_archive_member_outside_its_folder_is_never_written(tmp_path, online, publisher):
    handler, base = publisher
    tarball, _ = cifar_tarball(tmp_path, extra={"../escaped": b"x", "cifar-10-batches-py/../../escaped2": b"x",
                                                "/tmp/escaped3": b"x"})
    handler.files["cifar-10-python.tar.gz"] = tarball
    (source,) = manifest(Selection(cifar10=True), online)
    (outcome,) = prepare([as_published(source, tarball)], online, mirror=base).outcomes
    assert outcome.status == "downloaded"
    assert sorted(p.name for p in source.destination.iterdir()) == sorted(source.members)
    assert not list(online.data_home.rglob("escaped*")) and not list(tmp_path.rglob("escaped*"))


def test_files_copied_into_a_folder_are_installed_offline(tmp_path):
    settings = get_settings()
    assert settings.offline
    state = {"fc.weight": torch.ones(1)}
    folder = tmp_path / "usb-stick"
    folder.mkdir()
    (folder / "resnet18-f37072fd.pth").write_bytes(saved(state))
    (source,) = manifest(Selection(models=("resnet18",)), settings)
    source = as_published(source, (folder / "resnet18-f37072fd.pth").read_bytes())
    (outcome,) = prepare([source], settings, mirror=str(folder)).outcomes
    assert outcome.status == "copied" and source.destination.is_file()


def test_an_unreachable_publisher_fails_within_seconds_for_every_file(online):
    with socket.socket() as closed:  # a port nobody listens on: no route to the files
        closed.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    sources = manifest(Selection(("resnet18", "resnet50"), False, ("mobile_sam",), ("yolov8n",)), online)
    start = time.monotonic()
    report = prepare(sources, online, mirror=base, timeout_s=2)
    assert time.monotonic() - start < 5
    assert [o.status for o in report.outcomes] == ["missing"] * 4
    assert all("cannot be reached" in o.message for o in report.outcomes)


def test_offline_the_command_names_each_missing_file_its_path_and_its_url(capsys):
    settings = get_settings()
    code = main(["prepare", "--models", "resnet18,vit_tiny_patch16_224", "--cifar10", "--sam", "--yolo", "yolov8n"])
    message = capsys.readouterr().err
    assert code == 2 and "5 file(s) missing" in message and "offline mode is on" in message
    for path, url in [
        (settings.weights_dir / "resnet18-f37072fd.pth", "https://download.pytorch.org/models/resnet18-f37072fd.pth"),
        (settings.weights_dir / "mobile_sam.pt",
         "https://github.com/ultralytics/assets/releases/download/v8.4.0/mobile_sam.pt"),
        (settings.weights_dir / "yolov8n.pt", "https://github.com/ultralytics/assets/releases/download/v8.4.0/yolov8n.pt"),
        (settings.data_home / "datasets" / "cifar-10-batches-py", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
        ("models--timm--vit_tiny_patch16_224.augreg_in21k_ft_in1k", "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k"),
    ]:
        assert str(path) in message and url in message, (path, url)
    assert "--mirror FOLDER" in message and "--models resnet18,vit_tiny_patch16_224 --cifar10" in message


def test_listing_is_the_default_and_has_json(capsys):
    settings = get_settings()
    settings.weights_dir.mkdir(parents=True)
    (settings.weights_dir / "yolov8n.pt").write_bytes(b"PK\x03\x04")
    assert main(["prepare", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    statuses = {o["name"]: o["status"] for o in result["outcomes"]}
    assert statuses["yolov8n"] == "present" and statuses["resnet18"] == "missing"
    assert result["present"] == 1 and result["total"] == len(statuses) > 40
    assert main(["prepare", "--list", "--yolo", "yolov8n,yolo11n"]) == 0
    text = capsys.readouterr().out
    assert "1 of 2 files present" in text and "yolo11n" in text and "resnet18" not in text


def test_unknown_names_are_refused_with_the_choices(capsys):
    assert main(["prepare", "--models", "resnet19"]) == 2
    assert "resnet18" in capsys.readouterr().err
    assert main(["prepare", "--yolo", "yolov6n"]) == 2
    assert "publishes no COCO weights" in capsys.readouterr().err
    assert main(["prepare", "--models", "lecture-residual"]) == 2
    assert "no published pretrained weights" in capsys.readouterr().err
    assert main(["prepare", "--cifar10", "--timeout", "0"]) == 2
    assert "between 0 and 120 seconds" in capsys.readouterr().err


def test_download_refuses_a_mirror_folder_that_does_not_exist(online):
    from cvlab.errors import InvalidInput

    with pytest.raises(InvalidInput, match="give a folder"):
        prepare(manifest(Selection(models=("resnet18",)), online), online, mirror="/no/such/folder")


def test_copy_in_instructions_are_empty_when_nothing_is_missing(online, tmp_path):
    (source,) = manifest(Selection(models=("resnet18",)), online)
    source.destination.parent.mkdir(parents=True)
    source.destination.write_bytes(b"PK")
    assert copy_in_instructions(prepare([source], online)) == ""
    with pytest.raises(FetchFailed, match="nothing was kept"):
        download(source, str(tmp_path / "absent.pth"), tmp_path)
