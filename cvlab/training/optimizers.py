"""The OPTIMIZERS registry: SGD with momentum, Adam, AdamW, each with its update rule and paper."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from cvlab.registry import Registry


@dataclass(frozen=True)
class OptimizerEntry:
    name: str
    title: str
    latex: str  # the update rule
    paper: str
    year: int
    note: str
    build: Callable[..., object]  # (param_groups, lr, momentum, weight_decay) -> torch.optim.Optimizer


OPTIMIZERS: Registry[OptimizerEntry] = Registry("optimizer")


def _sgd(groups, lr, momentum, weight_decay):
    import torch

    return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=momentum > 0)


def _adam(groups, lr, momentum, weight_decay):
    import torch

    return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)


def _adamw(groups, lr, momentum, weight_decay):
    import torch

    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)


OPTIMIZERS.register("sgd", OptimizerEntry(
    "sgd", "SGD + momentum (Nesterov)", r"v \leftarrow \mu v + g,\quad \theta \leftarrow \theta - \eta\,(g + \mu v)",
    "Sutskever et al., On the importance of initialization and momentum in deep learning", 2013,
    "Often the best final accuracy on CNNs with a good schedule; needs a larger learning rate (0.01-0.1).",
    _sgd))
OPTIMIZERS.register("adam", OptimizerEntry(
    "adam", "Adam", r"\theta \leftarrow \theta - \eta\,\hat m / (\sqrt{\hat v} + \epsilon)",
    "Kingma & Ba, Adam: A Method for Stochastic Optimization", 2014,
    "Adapts a step size per weight; forgiving defaults (1e-3). Its weight decay is L2 added to the gradient.",
    _adam))
OPTIMIZERS.register("adamw", OptimizerEntry(
    "adamw", "AdamW", r"\theta \leftarrow \theta - \eta\,(\hat m / (\sqrt{\hat v} + \epsilon) + \lambda \theta)",
    "Loshchilov & Hutter, Decoupled Weight Decay Regularization", 2017,
    "Adam with weight decay applied to the weights directly; the default for transformers and fine-tuning.",
    _adamw))


def build_optimizer(name: str, param_groups: Sequence[dict], *, lr: float, momentum: float, weight_decay: float):
    """An optimizer over ``param_groups``; each group may carry its own ``lr`` (per-layer learning rates)."""
    return OPTIMIZERS.get(name).build(list(param_groups), lr, momentum, weight_decay)
