"""The lecture's Hugging Face Transformers models, ViT and SegFormer, as one more source of networks.

The lecture loads them with ``ViTForImageClassification.from_pretrained("google/vit-base-patch16-224")``
and ``SegformerForSemanticSegmentation.from_pretrained("nvidia/segformer-b0-finetuned-ade-512-512")``;
so does this module, from the first place that has them, in the order ``cvlab.weights`` uses for the
other sources:

1. a folder in the Hub's own layout (``config.json`` + ``model.safetensors``, what ``save_pretrained``
   writes) at ``CVLAB_WEIGHTS_DIR/huggingface/<owner>--<name>/`` (``google--vit-base-patch16-224``);
2. the Hub's own cache (``~/.cache/huggingface``), without a request;
3. the Hub itself when it answers;
4. else ``WeightsUnavailable`` saying which folder to fill. Without pretrained weights a model is
   built from its config below (the Hub config's architecture fields) with random weights.

Loading is safe by construction: only the two classes named here are ever built (never
``trust_remote_code``, never an Auto class that a config could steer), weights load from
safetensors only (``use_safetensors=True``: a pickle is refused), and a config whose
``model_type`` is not the expected one is refused before anything is built.

``transformers`` is imported only when one of these models is built, so cvlab imports without it;
where it is missing, ``TransformersMissing`` says how to install it.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from cvlab.errors import CvlabError, InvalidInput
from cvlab.registry import Registry
from cvlab.settings import Settings, get_settings

TRANSFORMERS_PIN = "transformers==5.23.0"  # as in requirements.txt
MAX_CONFIG_BYTES = 1_000_000  # a real config.json is a few kB (ViT's with its 1000 labels: 70 kB)


class TransformersMissing(CvlabError, ImportError):
    """The Hugging Face models need the transformers package, which is not installed."""


@dataclass(frozen=True)
class HubModel:
    hub_id: str  # "google/vit-base-patch16-224"
    model_type: str  # what config.json must say: "vit"
    model_class: str  # the transformers class the lecture calls: "ViTForImageClassification"
    config_class: str  # its config: "ViTConfig"
    # The Hub config's architecture fields, so the same network can be built offline with random weights
    config: dict = field(default_factory=dict)

    @property
    def folder_name(self) -> str:
        """The local folder's name: the Hub id with its slash made safe, as the Hub's own cache does."""
        return self.hub_id.replace("/", "--")


HUB_MODELS: Registry[HubModel] = Registry("Hugging Face model")
# The config fields below are those of the Hub's config.json for each id (the rest are the class defaults).
VIT_B16 = HUB_MODELS.register("google/vit-base-patch16-224", HubModel(
    "google/vit-base-patch16-224", "vit", "ViTForImageClassification", "ViTConfig",
    dict(image_size=224, patch_size=16, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
         intermediate_size=3072, qkv_bias=True, num_labels=1000)))
SEGFORMER_B0 = HUB_MODELS.register("nvidia/segformer-b0-finetuned-ade-512-512", HubModel(
    "nvidia/segformer-b0-finetuned-ade-512-512", "segformer", "SegformerForSemanticSegmentation",
    "SegformerConfig",
    dict(hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2], num_attention_heads=[1, 2, 5, 8],
         sr_ratios=[8, 4, 2, 1], decoder_hidden_size=256, num_labels=150)))  # 150 ADE20K classes


@dataclass(frozen=True)
class LoadedHubModel:
    module: object  # the transformers model, as from_pretrained returns it
    source: str  # "local folder", "library cache" or "downloaded"
    where: str  # the folder or Hub id it came from
    categories: tuple[str, ...]  # its config's class names; empty when they are placeholders (LABEL_0...)


def transformers_module():
    """``transformers``, imported now; TransformersMissing (with the install command) when it is not installed."""
    try:
        return importlib.import_module("transformers")
    except ImportError:
        raise TransformersMissing(
            "The Hugging Face models (ViT, SegFormer) need the transformers package, which is not installed "
            f"here. Install it with `pip install {TRANSFORMERS_PIN}` (requirements.txt pins it), then restart "
            "the app; every other model works without it.") from None


def _classes(spec: HubModel):
    transformers = transformers_module()
    return getattr(transformers, spec.model_class), getattr(transformers, spec.config_class)


def local_folder(spec: HubModel, settings: Settings | None = None) -> Path:
    """Where an administrator puts the model's Hub folder (config.json + model.safetensors)."""
    return (settings or get_settings()).weights_dir / "huggingface" / spec.folder_name


def check_config(spec: HubModel, config: dict, where: str) -> None:
    """Refuse a config that describes another kind of model: only ``spec.model_type`` is ever built."""
    found = config.get("model_type") if isinstance(config, dict) else None
    if found != spec.model_type:
        raise InvalidInput(
            f"{where} holds a config for model_type {found!r}, but {spec.hub_id} is a {spec.model_type!r} model "
            f"({spec.model_class}). Replace it with the Hub folder of {spec.hub_id} (config.json + "
            "model.safetensors, as save_pretrained writes it).")


def read_local_config(folder: Path, spec: HubModel) -> dict:
    """The folder's config.json, size-bounded and checked before transformers reads it."""
    path = folder / "config.json"
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise InvalidInput(f"{path} is {path.stat().st_size:,} bytes; a model config is a few kB "
                           f"(at most {MAX_CONFIG_BYTES:,} accepted). Replace it with the Hub's config.json.")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InvalidInput(f"{path} is not a readable JSON config ({type(err).__name__}). "
                           f"Replace it with the config.json of {spec.hub_id}.") from None
    check_config(spec, config, str(folder))
    return config


def _categories(config) -> tuple[str, ...]:
    labels = getattr(config, "id2label", None) or {}
    names = tuple(str(labels[i]) for i in sorted(labels))
    return () if all(name.startswith("LABEL_") for name in names) else names


def _from_pretrained(spec: HubModel, source: str, overrides: dict, **hub_options):
    """``model_class.from_pretrained(source)``, safetensors only, after its config's model_type is checked."""
    model_class, config_class = _classes(spec)
    config_dict, _ = config_class.get_config_dict(source, **hub_options)
    check_config(spec, config_dict, source)
    return model_class.from_pretrained(source, use_safetensors=True, **hub_options, **overrides)


def load_pretrained(spec: HubModel, settings: Settings | None = None, **overrides) -> LoadedHubModel:
    """The pretrained model from the first place that has it (see the module's docstring).

    ``overrides`` go to ``from_pretrained``: ``num_labels=5, ignore_mismatched_sizes=True`` gives a
    new head for 5 classes on the pretrained body. Raises WeightsUnavailable when no source has it.
    """
    from cvlab.device import weights_reachable
    from cvlab.weights import WeightsUnavailable

    settings = settings or get_settings()
    folder = local_folder(spec, settings)
    if (folder / "config.json").is_file():
        read_local_config(folder, spec)
        if not (folder / "model.safetensors").is_file():
            raise WeightsUnavailable(
                f"{folder} has a config.json but no model.safetensors: only safetensors weights are loaded "
                f"(a pickle could run code). Put the Hub's model.safetensors of {spec.hub_id} beside it.")
        model = _safely(spec, str(folder), overrides, local_files_only=True)
        return LoadedHubModel(model, "local folder", str(folder), _categories(model.config))
    try:  # the Hub's own cache answers without a request
        model = _from_pretrained(spec, spec.hub_id, overrides, local_files_only=True)
        return LoadedHubModel(model, "library cache", spec.hub_id, _categories(model.config))
    except OSError:
        pass
    online, why = weights_reachable(settings)
    if not online:
        raise WeightsUnavailable(
            f"Pretrained weights for {spec.hub_id} cannot be downloaded here ({why}). Put its Hub folder "
            f"(config.json + model.safetensors, from https://huggingface.co/{spec.hub_id}) in {folder} to use "
            "them; until then the model starts from random weights.")
    model = _safely(spec, spec.hub_id, overrides)
    return LoadedHubModel(model, "downloaded", spec.hub_id, _categories(model.config))


def _safely(spec: HubModel, source: str, overrides: dict, **hub_options):
    """``_from_pretrained``, with any failure to read the files turned into WeightsUnavailable."""
    from cvlab.weights import WeightsUnavailable

    try:
        return _from_pretrained(spec, source, overrides, **hub_options)
    except CvlabError:
        raise
    except Exception as err:  # a truncated file, a missing tensor, a network that went away
        raise WeightsUnavailable(
            f"{spec.model_class}.from_pretrained({source!r}) failed ({type(err).__name__}: {err}). "
            f"Replace the files with the Hub's config.json and model.safetensors of {spec.hub_id}.") from None


def build_random(spec: HubModel, **config_overrides):
    """The network of ``spec`` built from its config with random weights; nothing is read or downloaded."""
    model_class, config_class = _classes(spec)
    return model_class(config_class(**{**spec.config, **config_overrides}))
