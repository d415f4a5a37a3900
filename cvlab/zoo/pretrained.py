"""A registered architecture with its pretrained weights, whichever library publishes them.

torchvision's weights are a state dict for the network ``Architecture.build`` makes
(``cvlab.weights``); a Hugging Face model is the whole network ``from_pretrained`` builds
from the folder's own config (``cvlab.zoo.huggingface``). Callers (training, Inside a CNN)
ask here and never look at which library it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvlab.settings import Settings
from cvlab.zoo.architectures import Architecture


@dataclass(frozen=True)
class PretrainedNetwork:
    module: object  # torch.nn.Module with the pretrained weights loaded
    weights: str  # which weights: a torchvision enum ("ResNet18_Weights.IMAGENET1K_V1") or a Hub id
    source: str  # "local folder", "library cache" or "downloaded"
    categories: tuple[str, ...]  # class names the weights were trained on, empty when they carry none


def has_pretrained(arch: Architecture) -> bool:
    return bool(arch.weights or arch.hub_id)


def load_pretrained(arch: Architecture, settings: Settings | None = None) -> PretrainedNetwork:
    """``arch`` with its pretrained weights; WeightsUnavailable (its message says where to put them) otherwise."""
    from cvlab.weights import WeightsUnavailable, load_torchvision_weights

    if arch.hub_id:
        from cvlab.zoo.hub_modules import HubClassifier
        from cvlab.zoo.huggingface import HUB_MODELS, load_pretrained as load_hub_model

        loaded = load_hub_model(HUB_MODELS.get(arch.hub_id), settings)
        return PretrainedNetwork(HubClassifier(loaded.module), arch.hub_id, loaded.source, loaded.categories)
    if arch.weights:
        resolved = load_torchvision_weights(arch.weights, settings)
        model = arch.build()
        model.load_state_dict(resolved.state_dict)
        return PretrainedNetwork(model, arch.weights, resolved.source, resolved.categories)
    raise WeightsUnavailable(f"{arch.title} has no pretrained weights registered; it starts from random weights.")
