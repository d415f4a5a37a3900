"""What a lab server can prepare: every weights file and dataset the pages use, where each one comes from,
where its loader looks for it, and how to tell a good copy.

One ``Source`` per file. Its URL is the one the library itself downloads from
(torchvision's weights enum, timm's Hugging Face repository, the Hub id of a
transformers model, ultralytics' release assets, torchvision's CIFAR10 class), its
destination is the path the cvlab loader reads (``cvlab.weights``, ``cvlab.data.cifar``,
``cvlab.zoo.huggingface``), and its checksum is the one the
library publishes: torchvision's file names carry the first hex digits of their
SHA-256 (torch.hub's naming rule), CIFAR-10's tarball has an MD5 in torchvision.
ultralytics, timm and the Hub publish none in their code, so those files are
checked by size and format only. ``max_bytes`` bounds every download before it starts.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import urlparse

from cvlab.errors import InvalidInput, UnknownName
from cvlab.settings import Settings, get_settings

MIB = 2**20
KINDS = ("torchvision", "timm", "huggingface", "dataset", "sam", "yolo")
HUB_MAX_BYTES = 512 * MIB  # the largest of the lecture's Hub models, ViT-B/16, is 346 MB of safetensors
YOLO_MAX_BYTES = 256 * MIB  # the largest detection asset (yolov5xu.pt) is about 186 MB
# Sizes of ultralytics' SAM assets (mobile_sam.pt 39 MiB, sam_b.pt 358 MiB, sam2_t.pt 75 MiB), with room.
SAM_MAX_BYTES = {"mobile_sam": 64 * MIB, "sam_b": 400 * MIB, "sam2_t": 128 * MIB}
CIFAR_MAX_BYTES = 180 * MIB  # cifar-10-python.tar.gz is 170,498,071 bytes
# A name in the cache layout of huggingface_hub for the snapshot this lab writes: it reads refs/main and
# opens snapshots/<that name>/<file>, whatever the name; a later online download makes its own snapshot.
PREPARED_SNAPSHOT = "prepared"
_HASH_PREFIX = re.compile(r"-([a-f0-9]{8,64})\.[A-Za-z]+$")  # torch.hub: resnet18-f37072fd.pth
_COMMIT = re.compile(r"^[0-9a-f]{40}$|^" + PREPARED_SNAPSHOT + "$")


@dataclass(frozen=True)
class Source:
    name: str  # what --models / --sam / --yolo take: "resnet18", "mobile_sam", "yolov8n", "cifar10"
    kind: str  # one of KINDS
    url: str  # where the library itself downloads it from
    file_name: str  # its name in a mirror folder (the URL's last part, made unique for timm)
    destination: Path  # the file a loader reads; for an archive, the folder it unpacks into
    max_bytes: int  # a download larger than this is refused
    checksum: str = ""  # "sha256:<hex prefix>" or "md5:<hex>"; "" where the library publishes none
    members: tuple[str, ...] = ()  # an archive's files, as they must end up in ``destination``
    also_at: tuple[Path, ...] = ()  # other places the loader accepts (a library's own cache)
    after: str = ""  # a source that must be present first (a Hub folder's config.json waits for its weights)

    @property
    def archive(self) -> bool:
        return bool(self.members)

    def present(self) -> bool:
        """Whether the loader would find it now (by name: a damaged file is the loader's to report)."""
        if self.archive:
            return all((self.destination / member).is_file() for member in self.members)
        return any(path.is_file() for path in (self.destination, *self.also_at))


def torchvision_source(name: str, spec: str, settings: Settings) -> Source:
    """The weights enum ``spec`` ("ResNet18_Weights.IMAGENET1K_V1") of registry model ``name``."""
    import torch
    from torchvision.models import get_weight

    weights = get_weight(spec)
    file_name = Path(urlparse(weights.url).path).name
    prefix = _HASH_PREFIX.search(file_name)
    size_mb = float(weights.meta.get("_file_size") or 2048)  # torchvision gives MiB
    return Source(name, "torchvision", weights.url, file_name, settings.weights_dir / file_name,
                  int((size_mb * 1.02 + 1) * MIB), f"sha256:{prefix.group(1)}" if prefix else "",
                  also_at=(Path(torch.hub.get_dir()) / "checkpoints" / file_name,))


def hf_cache_dir() -> Path:
    """huggingface_hub's cache (HF_HUB_CACHE / HF_HOME), read at call time as the library reads it."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hf_snapshot_file(repo_id: str, file_name: str, cache: Path | None = None) -> Path:
    """Where huggingface_hub's offline lookup finds ``file_name`` of ``repo_id``: refs/main names the snapshot."""
    folder = (cache or hf_cache_dir()) / f"models--{repo_id.replace('/', '--')}"
    ref = folder / "refs" / "main"
    snapshot = ref.read_text().strip() if ref.is_file() else PREPARED_SNAPSHOT
    if not _COMMIT.match(snapshot):  # a ref someone edited by hand never becomes a path
        snapshot = PREPARED_SNAPSHOT
    return folder / "snapshots" / snapshot / file_name


def timm_source(name: str, settings: Settings) -> Source:
    """timm's default pretrained weights of model ``name``, as safetensors from its Hugging Face repository."""
    import timm
    import torch
    from huggingface_hub import hf_hub_url
    from timm.models import get_pretrained_cfg

    architecture = name.split(".")[0]
    config = get_pretrained_cfg(name) if architecture in timm.list_models() else None
    if config is None or not config.hf_hub_id:
        raise UnknownName(f"timm has no pretrained weights on the Hugging Face hub for {name!r}; "
                          "timm.list_models(pretrained=True) lists the ones it has.")
    repo_id = config.hf_hub_id.split("@")[0]
    with torch.device("meta"):  # the parameter count bounds the file, without allocating the model
        params = sum(p.numel() for p in timm.create_model(architecture, pretrained=False).parameters())
    return Source(name, "timm", hf_hub_url(repo_id, "model.safetensors"),
                  f"{repo_id.replace('/', '--')}.safetensors", hf_snapshot_file(repo_id, "model.safetensors"),
                  int(params * 4 * 1.1) + MIB)


def hub_sources(name: str, hub_id: str, settings: Settings) -> list[Source]:
    """A Hub model's folder as ``cvlab.zoo.huggingface`` reads it: model.safetensors, then config.json.

    The config comes last because the loader takes a folder with a config.json as complete.
    """
    from huggingface_hub import hf_hub_url

    from cvlab.zoo.huggingface import HUB_MODELS, MAX_CONFIG_BYTES, local_folder

    spec = HUB_MODELS.get(hub_id)
    folder = local_folder(spec, settings)
    weights = Source(name, "huggingface", hf_hub_url(hub_id, "model.safetensors"),
                     f"{spec.folder_name}.safetensors", folder / "model.safetensors", HUB_MAX_BYTES,
                     also_at=(hf_snapshot_file(hub_id, "model.safetensors"),))
    config = Source(f"{name} config", "huggingface", hf_hub_url(hub_id, "config.json"),
                    f"{spec.folder_name}.config.json", folder / "config.json", MAX_CONFIG_BYTES,
                    also_at=(hf_snapshot_file(hub_id, "config.json"),), after=name)
    return [weights, config]


def _hub_entries() -> dict[str, str]:
    """Registry name -> Hub id, for the classification and segmentation registries."""
    from cvlab.segmentation.architectures import ARCHITECTURES as SEGMENTATION
    from cvlab.zoo.architectures import ARCHITECTURES

    entries = [(name, registry.get(name)) for registry in (ARCHITECTURES, SEGMENTATION) for name in registry.names()]
    return {name: entry.hub_id for name, entry in entries if getattr(entry, "hub_id", None)}


def registry_sources(names: Iterable[str], settings: Settings) -> list[Source]:
    """The pretrained weights of registry models (torchvision, timm or the Hugging Face Hub); any timm model
    name works too."""
    from cvlab.zoo.architectures import ARCHITECTURES

    hub = _hub_entries()
    sources = []
    for name in names:
        if name in hub:
            sources += hub_sources(name, hub[name], settings)
        elif name in ARCHITECTURES:
            entry = ARCHITECTURES.get(name)
            if entry.weights:
                sources.append(torchvision_source(name, entry.weights, settings))
            elif entry.timm_name:
                sources.append(timm_source(entry.timm_name, settings))
            else:
                raise InvalidInput(f"{name} has no published pretrained weights (the lecture's own networks "
                                   "are trained here, on the Training page).")
        else:
            try:
                sources.append(timm_source(name, settings))
            except UnknownName:
                ARCHITECTURES.get(name)  # raises UnknownName listing the registry, closest first
    return sources


def pretrained_registry_names() -> list[str]:
    from cvlab.zoo.architectures import ARCHITECTURES

    names = [name for name in ARCHITECTURES.names()
             if ARCHITECTURES.get(name).weights or ARCHITECTURES.get(name).timm_name]
    return names + [name for name in _hub_entries() if name not in names]


def cifar10_source(settings: Settings) -> Source:
    from torchvision.datasets import CIFAR10

    from cvlab.data import cifar

    return Source("cifar10", "dataset", CIFAR10.url, CIFAR10.filename, cifar.cifar_folder(settings),
                  CIFAR_MAX_BYTES, f"md5:{CIFAR10.tgz_md5}",
                  members=(*cifar.TRAIN_FILES, cifar.TEST_FILE, cifar.META_FILE))


def sam_sources(names: Iterable[str], settings: Settings, library_dir: Path | None) -> list[Source]:
    from cvlab.segmentation.sam import ASSETS_URL, SAM_MODELS

    sources = []
    for name in names:
        file_name = SAM_MODELS.get(name).checkpoint
        sources.append(Source(name, "sam", ASSETS_URL + file_name, file_name, settings.weights_dir / file_name,
                              SAM_MAX_BYTES.get(name, 512 * MIB),
                              also_at=(library_dir / file_name,) if library_dir else ()))
    return sources


def yolo_sources(names: Iterable[str], settings: Settings, library_dir: Path | None) -> list[Source]:
    from cvlab.detection.catalogue import ULTRALYTICS_RELEASE, WEIGHTS_URL, pretrained_names, weights_file_name

    published = pretrained_names()
    sources = []
    for name in names:
        if name not in published:
            raise UnknownName(f"ultralytics publishes no COCO weights named {name!r}. Choose from: "
                          f"{', '.join(published)}.")
        file_name = weights_file_name(name)
        sources.append(Source(name, "yolo", WEIGHTS_URL.format(release=ULTRALYTICS_RELEASE, file=file_name),
                              file_name, settings.weights_dir / file_name, YOLO_MAX_BYTES,
                              also_at=(library_dir / file_name,) if library_dir else ()))
    return sources


def ultralytics_dir_if_loaded(settings: Settings) -> Path | None:
    """ultralytics' own weights folder, only where ultralytics is already imported (it takes a second)."""
    if "ultralytics.utils" not in sys.modules:
        return None
    from cvlab.detection.ultralytics_env import library_weights_dir

    return library_weights_dir(settings)


@dataclass(frozen=True)
class Selection:
    """What the instructor asked for; empty everywhere means everything (for listing)."""
    models: tuple[str, ...] = ()
    cifar10: bool = False
    sam: tuple[str, ...] = ()
    yolo: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.models or self.cifar10 or self.sam or self.yolo)


def everything() -> Selection:
    from cvlab.detection.catalogue import pretrained_names
    from cvlab.segmentation.sam import SAM_MODELS

    return Selection(tuple(pretrained_registry_names()), True, tuple(SAM_MODELS.names()),
                     tuple(pretrained_names()))


def manifest(selection: Selection | None = None, settings: Settings | None = None, *,
             ultralytics_dir: Path | None = None) -> list[Source]:
    """The sources of ``selection`` (everything when None or empty), in the order they are listed."""
    settings = settings or get_settings()
    selection = everything() if selection is None or selection.empty else selection
    sources = registry_sources(selection.models, settings)
    sources += [cifar10_source(settings)] if selection.cifar10 else []
    sources += sam_sources(selection.sam, settings, ultralytics_dir)
    sources += yolo_sources(selection.yolo, settings, ultralytics_dir)
    return sources


def present_by_listing(sources: Sequence[Source]) -> dict[str, bool]:
    """Each source's name -> whether it is on disk, from one listing per folder (no file is opened or hashed),
    cheap enough for a page to ask on every rerun through a short-lived cache."""
    listings: dict[Path, frozenset[str]] = {}

    def listed(folder: Path) -> frozenset[str]:
        if folder not in listings:
            listings[folder] = frozenset(os.listdir(folder)) if folder.is_dir() else frozenset()
        return listings[folder]

    def present(source: Source) -> bool:
        if source.archive:
            return set(source.members) <= listed(source.destination)
        return any(path.name in listed(path.parent) for path in (source.destination, *source.also_at))

    return {source.name: present(source) for source in sources}


def local_status(sources: Sequence[Source], offline: bool) -> dict[str, str]:
    """Each source's name -> "local", "downloadable" or "random" (missing, and nothing may be downloaded)."""
    return {name: "local" if here else "random" if offline else "downloadable"
            for name, here in present_by_listing(sources).items()}
