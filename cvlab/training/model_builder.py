"""Models a run can train: the lecture's CIFAR nets, torchvision and timm networks with a new head.

Transfer learning as the lecture does it: load the pretrained network, replace its
classifier with a fresh ``nn.Linear`` for our classes (EfficientNet-B0's
``classifier[1]``, ResNet's ``fc``), optionally freeze everything else, and give the
pretrained backbone its own (usually smaller) learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvlab.errors import InvalidInput
from cvlab.training.config import TrainConfig
from cvlab.training.tasks import task_spec

LECTURE_NETS = ("lecture-vgg", "lecture-residual")
SUGGESTED = (*LECTURE_NETS, "resnet18", "efficientnet_b0")  # what the page offers first


@dataclass
class BuiltModel:
    module: object  # torch.nn.Module
    head: tuple[str, ...]  # parameter names of the freshly initialised classifier
    note: str  # what was loaded: "ImageNet weights (library cache)", "random weights: ..."


def _replace_last_linear(model, num_classes: int) -> str:
    """Swap the last nn.Linear for a new one with ``num_classes`` outputs; returns its dotted name."""
    import torch.nn as nn

    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        raise InvalidInput("This model has no linear classifier to replace.")
    parent_name, _, child = last.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child) if not child.isdigit() else parent[int(child)]
    new = nn.Linear(old.in_features, num_classes)
    if child.isdigit():
        parent[int(child)] = new
    else:
        setattr(parent, child, new)
    return last


def _registry_model(name: str, config: TrainConfig, num_classes: int) -> BuiltModel:
    from cvlab.zoo.architectures import ARCHITECTURES
    from cvlab.zoo.pretrained import has_pretrained, load_pretrained
    from cvlab.weights import WeightsUnavailable

    entry = ARCHITECTURES.get(name)
    model, note = None, "random weights"
    if config.pretrained:
        if not has_pretrained(entry):
            note = f"random weights: {entry.title} has no pretrained weights registered"
        else:
            try:
                loaded = load_pretrained(entry)
                model, note = loaded.module, f"ImageNet weights {loaded.weights} ({loaded.source})"
            except WeightsUnavailable as err:
                note = f"random weights: {err}"
    model = model or entry.build()
    head = _replace_last_linear(model, num_classes)
    return BuiltModel(model, tuple(f"{head}.{p}" for p in ("weight", "bias")), note)


def _timm_model(name: str, config: TrainConfig, num_classes: int) -> BuiltModel:
    import timm

    if name not in timm.list_models():
        raise InvalidInput(f"timm has no model {name!r}; see timm.list_models() for the names.")
    note = "random weights"
    try:
        model = timm.create_model(name, pretrained=config.pretrained, num_classes=num_classes)
        if config.pretrained:
            note = "ImageNet weights (timm)"
    except Exception as err:  # offline, or no pretrained tag: timm raises many kinds
        if not config.pretrained:
            raise
        model = timm.create_model(name, pretrained=False, num_classes=num_classes)
        note = f"random weights: timm could not fetch pretrained weights ({type(err).__name__})"
    classifier = model.get_classifier()
    head = tuple(n for n, p in model.named_parameters() if any(p is q for q in classifier.parameters()))
    return BuiltModel(model, head, note)


def model_outputs(config: TrainConfig, num_classes: int) -> int:
    """Outputs per image (or per pixel): one logit for a binary segmentation, else one per class."""
    return 1 if task_spec(config.task).per_pixel and config.binary_masks else num_classes


def _segmentation_model(config: TrainConfig, outputs: int) -> BuiltModel:
    from cvlab.segmentation.architectures import ARCHITECTURES, build_segmentation_model
    from cvlab.weights import WeightsUnavailable

    entry = ARCHITECTURES.get(config.model)
    title = entry.display_name if entry.hub_id else f"{entry.display_name} with a {config.encoder} encoder"
    note = f"{title}, random weights"
    if config.pretrained:
        try:
            model = build_segmentation_model(config.model, config.encoder, outputs, pretrained=True)
            weights = f"pretrained {entry.hub_id}" if entry.hub_id else "ImageNet encoder weights"
            return BuiltModel(model, _segmentation_head(model), f"{title}, {weights}")
        except WeightsUnavailable as err:
            note = f"{title}, random weights: {err}"
    model = build_segmentation_model(config.model, config.encoder, outputs)
    return BuiltModel(model, _segmentation_head(model), note)


def _segmentation_head(model) -> tuple[str, ...]:
    """Everything but the encoder counts as the new head (the decoder and the segmentation head)."""
    encoder = getattr(model, "encoder_prefix", "encoder.")  # smp's ``encoder``; a Hub model names its own
    return tuple(name for name, _ in model.named_parameters() if not name.startswith(encoder))


def build_model(config: TrainConfig, num_classes: int) -> BuiltModel:
    """The network for a run, its head's parameter names, and a note on where its weights came from.

    ``num_classes`` is the number of outputs (see ``model_outputs``).
    """
    name = config.model
    if task_spec(config.task).per_pixel:
        return _segmentation_model(config, num_classes)
    if name in LECTURE_NETS:
        from cvlab.zoo.lecture_nets import build_lecture_net

        model = build_lecture_net(name, num_classes)
        head = _replace_last_linear(model, num_classes)
        built = BuiltModel(model, (f"{head}.weight", f"{head}.bias"), "random weights (the lecture's network)")
    elif name.startswith("timm:"):
        built = _timm_model(name.removeprefix("timm:"), config, num_classes)
    else:
        built = _registry_model(name, config, num_classes)
    if config.freeze_backbone:
        for pname, param in built.module.named_parameters():
            param.requires_grad_(pname in built.head)
    return built


def param_groups(built: BuiltModel, config: TrainConfig) -> list[dict]:
    """Backbone and head as two groups, so the backbone can learn at ``backbone_lr_scale`` times the head's rate."""
    backbone, head = [], []
    for name, param in built.module.named_parameters():
        if param.requires_grad:
            (head if name in built.head else backbone).append(param)
    groups = [{"params": head, "lr": config.lr, "name": "head"}]
    if backbone:
        groups.insert(0, {"params": backbone, "lr": config.lr * config.backbone_lr_scale, "name": "backbone"})
    return groups


def model_choices() -> list[str]:
    """Suggested models first, then every registered classification network."""
    from cvlab.zoo.architectures import ARCHITECTURES

    rest = [n for n in ARCHITECTURES.names() if n not in SUGGESTED and n != "overview"]
    return [*SUGGESTED, *rest]


def start_models(task: str = "classify") -> list[str]:
    """What a run of ``task`` can start from, suggested first.

    segment: smp's decoders (the encoder is its own setting); detect: the small YOLO
    generations (random weights unless pretrained), the shipped shapes model and the
    detectors trained here, which a new run fine-tunes.
    """
    return task_spec(task).hook("start_models")()


def segmentation_start_models() -> list[str]:
    from cvlab.segmentation.architectures import ARCHITECTURES

    return ARCHITECTURES.names()


def detection_start_models() -> list[str]:
    from cvlab.detection.catalogue import SHAPES_MODEL, trained_models

    return ["yolov8n", "yolo11n", "yolo26n", "yolov8s", "yolo11s", SHAPES_MODEL,
            *[spec.name for spec in trained_models()]]
