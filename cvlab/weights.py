"""Where pretrained weights come from: local folder, library cache, download, or a clear refusal.

The order is fixed so a classroom without internet can still use pretrained
models: ``CVLAB_WEIGHTS_DIR`` first (an administrator copies files there), then
the library's own cache, then a download into ``CVLAB_WEIGHTS_DIR`` when the
weight servers answer, else ``WeightsUnavailable`` within a couple of seconds
instead of a long retry loop. Files load with ``torch.load(weights_only=True)``:
a state dict never runs code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse

from cvlab.device import weights_reachable
from cvlab.errors import CvlabError
from cvlab.settings import Settings, get_settings


class WeightsUnavailable(CvlabError):
    """Pretrained weights cannot be had here; the message says where to put the file."""


@dataclass(frozen=True)
class ResolvedWeights:
    state_dict: dict  # parameter name -> tensor
    source: str  # "local folder", "library cache" or "downloaded"
    path: Path
    categories: tuple[str, ...]  # class names the weights were trained on


def _candidates(filename: str, settings: Settings) -> list[tuple[str, Path]]:
    import torch

    return [("local folder", settings.weights_dir / filename),
            ("library cache", Path(torch.hub.get_dir()) / "checkpoints" / filename)]


def load_torchvision_weights(spec: str, settings: Settings | None = None) -> ResolvedWeights:
    """The state dict of a torchvision weights enum such as ``"ResNet18_Weights.IMAGENET1K_V1"``."""
    import torch
    from torchvision.models import get_weight

    settings = settings or get_settings()
    weights = get_weight(spec)
    filename = Path(urlparse(weights.url).path).name
    categories = tuple(weights.meta.get("categories") or ())
    for source, path in _candidates(filename, settings):
        if path.is_file():
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as err:  # a truncated download, or a pickle that is not a plain state dict
                raise WeightsUnavailable(
                    f"{path} could not be read as a weights file ({type(err).__name__}: {err}). "
                    f"Delete it and put a fresh copy of {filename} there."
                ) from None
            return ResolvedWeights(state, source, path, categories)
    online, why = weights_reachable(settings)
    if not online:
        raise WeightsUnavailable(
            f"Pretrained weights for {spec} cannot be downloaded here ({why}). Copy {filename} "
            f"(from {weights.url}) into {settings.weights_dir} to use them; until then the model "
            "starts from random weights."
        )
    settings.weights_dir.mkdir(parents=True, exist_ok=True)
    state = weights.get_state_dict(progress=False, model_dir=str(settings.weights_dir))
    return ResolvedWeights(state, "downloaded", settings.weights_dir / filename, categories)


def resolve_weights_file(
    filename: str,
    *,
    url: str | None = None,
    library_dirs: Sequence[Path] = (),
    what: str = "",
    settings: Settings | None = None,
) -> tuple[Path, str]:
    """Where a weights file is, by the fixed order: local folder, library caches, download.

    Returns the file's absolute path and its source ("local folder", "library cache"
    or "downloaded"). A download always lands in ``CVLAB_WEIGHTS_DIR`` (never the
    working directory). Raises WeightsUnavailable within a couple of seconds when
    the file is nowhere and cannot be downloaded. Reading the file safely is the
    caller's job: this only finds it.
    """
    settings = settings or get_settings()
    what = what or filename
    candidates = [("local folder", settings.weights_dir / filename)]
    candidates += [("library cache", Path(folder) / filename) for folder in library_dirs]
    for source, path in candidates:
        if path.is_file():
            return path.resolve(), source
    online, why = weights_reachable(settings)
    if not online or url is None:
        reason = why if not online else "no download address is known for it"
        where = f" (from {url})" if url else ""
        raise WeightsUnavailable(
            f"Weights for {what} cannot be downloaded here ({reason}). Copy {filename}{where} "
            f"into {settings.weights_dir} to use them."
        )
    import torch

    settings.weights_dir.mkdir(parents=True, exist_ok=True)
    target = (settings.weights_dir / filename).resolve()
    try:
        torch.hub.download_url_to_file(url, str(target), progress=False)
    except Exception as err:  # the network went away between the check and the download
        raise WeightsUnavailable(
            f"Downloading {filename} from {url} failed ({type(err).__name__}: {err}). "
            f"Copy the file into {settings.weights_dir} by hand, or try again later."
        ) from None
    return target, "downloaded"
