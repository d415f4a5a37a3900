"""How much memory a run will take, estimated before it is queued, and a refusal in words when it will not fit.

Training holds, besides the dataset when it sits on the device:
- the weights, their gradients and the optimizer's state (SGD's momentum: one tensor per
  parameter; Adam's two moments: two), all float32;
- per image of the batch, the activations autograd keeps for the backward pass. They are
  counted by running the network once on PyTorch's ``meta`` device (shapes only, nothing
  allocated: ResNet-18 at 512 px in a fraction of a second) with a hook on every tensor
  autograd saves, then multiplied by ``ACTIVATION_OVERHEAD`` for what the backward pass,
  the allocator and the kernels take on top.

Measured on the lab's CPU server (channels_last, SGD, peak resident memory at batch 4 and
12): ResNet-18 at 256 px took 0.043 GiB more per image, its saved activations 0.027 GiB
(1.6x); EfficientNet-B0 at 224 px 0.092 GiB, saved 0.082 GiB (1.1x). ResNet-18 at 512 px
is thus about 0.17 GiB per image per step, 86 GiB at the form's largest batch of 512.
ultralytics' YOLO cannot be built on ``meta`` (it runs a real forward pass to find its
strides), so a detector is built once per architecture on the CPU and then moved there.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, replace

from cvlab.errors import CvlabError, InvalidInput
from cvlab.settings import Settings, get_settings
from cvlab.training.config import TrainConfig
from cvlab.training.tasks import task_spec

ACTIVATION_OVERHEAD = 1.6  # measured peak per image / saved activations per image (ResNet-18, the larger of two)
OPTIMIZER_STATES = {"sgd": 1, "adam": 2, "adamw": 2}  # float tensors the optimizer keeps per parameter
DEVICE_SHARE = 0.9  # of the device's memory a run may plan for when no cap is set (the rest: system, other jobs)
DETECTION_REFERENCE_PX = 320  # a detector's activations are counted at this size and scaled by the pixel count
_LOG = logging.getLogger(__name__)
BUILTIN_IMAGES = {"shapes": 5000, "digits": 1797, "cifar10": 60000}  # classification datasets' sizes


@dataclass(frozen=True)
class MemoryEstimate:
    per_image: int  # bytes per image of a batch: saved activations with overhead, and the input
    fixed: int  # bytes: weights, gradients, optimizer state and the dataset on the device
    batch_size: int
    image_size: int  # px per side the estimate is for

    @property
    def total(self) -> int:
        return self.fixed + self.batch_size * self.per_image

    def largest_batch(self, limit: int) -> int:
        return max(0, (limit - self.fixed) // max(1, self.per_image))


def _gib(n: float) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 / 10 else f"{n / 2**20:.0f} MiB"


def _image_size(config: TrainConfig) -> int:
    if config.image_size:
        return config.image_size
    from cvlab.data.datasets import DATASETS, FOLDER_IMAGE_SIZE

    return DATASETS.get(config.data).default_image_size if config.data in DATASETS.names() else FOLDER_IMAGE_SIZE


def _saved_bytes(module, size: int) -> int:
    """Bytes of the tensors autograd saves for backward in one training forward pass of one image (on meta)."""
    import torch

    saved: dict[int, int] = {}

    def pack(tensor):
        if not isinstance(tensor, torch.nn.Parameter):
            saved[id(tensor)] = tensor.numel() * tensor.element_size()
        return tensor

    module.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        # two images: BatchNorm refuses to train on one value per channel (PAN's pooled branch at 1x1)
        module(torch.zeros(2, 3, size, size, device="meta"))
    return sum(saved.values()) // 2


def _network(task: str, model: str, encoder: str):
    """The run's network on the meta device (no weights loaded, nothing allocated)."""
    import torch

    from cvlab.training.model_builder import build_model

    spec = task_spec(task)
    if spec.own_trainer:
        return _detector_on_meta(model)
    config = replace(TrainConfig(), task=task, model=model, encoder=encoder, pretrained=False)
    with torch.device("meta"):
        return build_model(config, 1 if spec.per_pixel else 10).module


@functools.lru_cache(maxsize=16)
def _detector_on_meta(model: str):
    from cvlab.detection.catalogue import get_detector
    from cvlab.detection.stored import build_detector, read_header

    spec = get_detector(model)
    architecture = spec.config or read_header(spec.path).architecture  # shipped and trained: their file says
    return build_detector(architecture).model.to("meta")


@functools.lru_cache(maxsize=64)
def _network_figures(task: str, model: str, encoder: str, size: int) -> tuple[int, int]:
    """(parameters, saved activation bytes per image at ``size`` px) of a run's network."""
    network = _network(task, model, encoder)
    parameters = sum(p.numel() for p in network.parameters())
    if task_spec(task).own_trainer:
        saved = _saved_bytes(network, DETECTION_REFERENCE_PX) * size * size // DETECTION_REFERENCE_PX**2
    else:
        saved = _saved_bytes(network, size)
    return parameters, saved


def estimate(config: TrainConfig) -> MemoryEstimate:
    """What training ``config`` will take, in bytes (see the module's docstring for how)."""
    size = _image_size(config)
    parameters, saved = _network_figures(config.task, config.model, config.encoder, size)
    per_image = int(saved * ACTIVATION_OVERHEAD) + 2 * 3 * size * size * 4  # + the float input and its augmented copy
    fixed = parameters * 4 * (2 + OPTIMIZER_STATES.get(config.optimizer, 2))
    spec = task_spec(config.task)
    images = config.limit or (BUILTIN_IMAGES.get(config.data, 0) if spec.data_on_device else 0)
    if spec.data_on_device:  # the whole dataset sits on the device as uint8; detection reads from disk
        from cvlab.data.datasets import MAX_DATASET_BYTES

        fixed += min(images * 3 * size * size, MAX_DATASET_BYTES)
    elif spec.per_pixel:
        fixed += (config.limit or spec.shapes_count) * 4 * size * size  # images and masks
    return MemoryEstimate(per_image, fixed, config.batch_size, size)


def device_memory(config: TrainConfig) -> tuple[int, str]:
    """(bytes, in words) of the memory the run's device has: the GPU's, else this server's."""
    import torch

    from cvlab.device import pick_device

    try:
        device = pick_device(config.device)
    except InvalidInput:
        device = torch.device("cpu")
    if device.type == "cuda":
        index = device.index or 0
        return torch.cuda.get_device_properties(index).total_memory, f"the GPU ({torch.cuda.get_device_name(index)})"
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this server's memory"


def memory_limit(config: TrainConfig, settings: Settings | None = None) -> tuple[int, str]:
    """(bytes, in words) one run may plan to use: the configured cap, else most of the device."""
    settings = settings or get_settings()
    total, where = device_memory(config)
    share = int(total * DEVICE_SHARE)
    if settings.run_memory_bytes and settings.run_memory_bytes < share:
        cap = settings.run_memory_bytes
        return cap, f"the {_gib(cap)} a run may use here (CVLAB_RUN_MEMORY_MB)"
    return share, f"the {_gib(share)} a run may use here ({DEVICE_SHARE:.0%} of {where}, {_gib(total)}; " \
                  "CVLAB_RUN_MEMORY_MB sets a cap)"


def check_fits(config: TrainConfig, settings: Settings | None = None) -> MemoryEstimate | None:
    """The estimate, or InvalidInput saying what the run would need, what it may have, and what would fit.
    None when a network cannot be counted on the meta device (some third-party layer): the run is then not held
    back by a guess, and an out-of-memory error still fails it with a readable reason."""
    try:
        needed = estimate(config)
    except CvlabError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure of the counting pass itself
        _LOG.warning("no memory estimate for %s at %s px: %s: %s", config.model, config.image_size,
                     type(err).__name__, err)
        return None
    limit, words = memory_limit(config, settings)
    if needed.total <= limit:
        return needed
    fits = needed.largest_batch(limit)
    advice = (f"A batch of {fits} or fewer would fit" if fits >= 1
              else "Even one image does not fit: lower the image size or pick a smaller model")
    raise InvalidInput(
        f"This run would need about {_gib(needed.total)}: {_gib(needed.per_image)} per image at "
        f"{needed.image_size} px × a batch of {needed.batch_size}, plus {_gib(needed.fixed)} for the weights, "
        f"their gradients, the optimizer's state and the data. That is more than {words}. {advice}; a smaller "
        "image size or model needs less too.")
