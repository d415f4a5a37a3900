"""Two live autograd experiments from the lecture: dying ReLU units and vanishing gradients.

Both are small enough to rerun on every page interaction (tens of milliseconds on two CPU
cores), deterministic for a seed (every random draw uses one ``torch.Generator``; the global
RNG is never touched), and return frozen dataclasses of plain numbers.

Dying ReLU: an MLP learns a 4-class problem with plain SGD. After every step a probe pass over
the whole training set asks autograd for each hidden unit's slope f'(z) on every input; a unit
is *dead* when that slope is zero for all of them, so no gradient can ever reach its weights
again. A ReLU unit whose input is negative everywhere is dead; a LeakyReLU unit never is (its
slope is at least the negative slope a > 0), although it may be *silent* (negative everywhere).

Vanishing gradients: one backward pass through a deep stack of Linear layers; the norm of each
layer's weight gradient shows how much of the error signal reaches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import torch
from torch import nn

from cvlab.activations.functions import get_activation, resolve_params
from cvlab.errors import InvalidInput
from cvlab.registry import Registry

GRAD_CLIP = 10.0  # max gradient norm per SGD step; see _sgd_step
CLASSES = 4
INPUT_DIM = 16
TRAIN_SIZE = 512  # also the probe set on which dead units are counted
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # plain SGD
SAFE_LEARNING_RATE = 0.01


@dataclass(frozen=True)
class Init:
    name: str
    display_name: str
    description: str
    apply: Callable[[nn.Linear, torch.Generator], None]  # sets weight and bias in place


INITS: Registry[Init] = Registry("initialisation")


def _he(layer: nn.Linear, g: torch.Generator, bias: float = 0.0) -> None:
    nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu", generator=g)
    nn.init.constant_(layer.bias, bias)


def _pytorch_default(layer: nn.Linear, g: torch.Generator) -> None:
    # What nn.Linear.reset_parameters does: weights and bias ~ U(-1/sqrt(fan_in), +1/sqrt(fan_in)).
    bound = 1 / math.sqrt(layer.in_features)
    nn.init.uniform_(layer.weight, -bound, bound, generator=g)
    nn.init.uniform_(layer.bias, -bound, bound, generator=g)


def _normal(std: float) -> Callable[[nn.Linear, torch.Generator], None]:
    def apply(layer: nn.Linear, g: torch.Generator) -> None:
        nn.init.normal_(layer.weight, 0.0, std, generator=g)
        nn.init.zeros_(layer.bias)

    return apply


def _xavier(layer: nn.Linear, g: torch.Generator) -> None:
    nn.init.xavier_normal_(layer.weight, generator=g)
    nn.init.zeros_(layer.bias)


for _init in (
    Init("he", "He (Kaiming)", "std √(2/fan_in), zero bias: keeps ReLU signals the same size layer after layer", _he),
    Init("pytorch", "PyTorch default", "nn.Linear's own: uniform ±1/√fan_in, too small for deep ReLU stacks",
         _pytorch_default),
    Init("xavier", "Xavier (Glorot)", "std √(2/(fan_in + fan_out)), zero bias: made for tanh and sigmoid", _xavier),
    Init("negative_bias", "Negative bias (-2)",
         "He weights but bias -2: most units start below zero for most inputs (a bad init)",
         lambda layer, g: _he(layer, g, bias=-2.0)),
    Init("large_normal", "Normal, std 1", "weights far too large for wide layers: a bad init", _normal(1.0)),
    Init("small_normal", "Normal, std 0.01", "weights far too small: signals shrink at every layer", _normal(0.01)),
):
    INITS.register(_init.name, _init)


def _linear(fan_in: int, fan_out: int, init: Init, g: torch.Generator) -> nn.Linear:
    layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out)  # no draw from the global RNG
    with torch.no_grad():
        init.apply(layer, g)
    return layer


def _activation_module(name: str) -> nn.Module:
    entry = get_activation(name)
    # A fresh module per layer (PReLU's slope is learned per layer), in the network's float32.
    return entry.build(**resolve_params(entry, {})).float()


def _check(name: str, value: float, low: float, high: float, *, integer: bool = True) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not (math.isfinite(value) and low <= value <= high):
        whole = "a whole number " if integer else ""
        raise InvalidInput(f"{name} must be {whole}between {low:g} and {high:g}; got {value!r}.")


# --- dying ReLU ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DyingReluConfig:
    activation: str = "relu"
    init: str = "he"
    learning_rate: float = 3.0  # plain SGD; 0.01 is safe here, 1 and above starts killing ReLU units
    steps: int = 100
    depth: int = 2  # hidden layers
    width: int = 64  # units per hidden layer
    batch_size: int = 64
    seed: int = 0

    def validate(self) -> "DyingReluConfig":
        get_activation(self.activation)  # an unknown name raises, listing the choices
        INITS.get(self.init)
        _check("The learning rate", self.learning_rate, 1e-6, 100.0, integer=False)
        # The caps keep one run within a few seconds on two CPU cores.
        _check("The number of steps", self.steps, 1, 1000)
        _check("The depth (hidden layers)", self.depth, 1, 4)
        _check("The width (units per layer)", self.width, 2, 256)
        _check("The batch size", self.batch_size, 1, TRAIN_SIZE)
        _check("The seed", self.seed, 0, 2**31 - 1)
        return self

    @property
    def label(self) -> str:
        activation, init = get_activation(self.activation).display_name, INITS.get(self.init).display_name
        return f"{activation} · {init} · lr {self.learning_rate:g}"


@dataclass(frozen=True)
class DyingReluResult:
    config: DyingReluConfig
    label: str
    # Both (steps + 1,), [0] before training: the share of hidden units whose slope is zero on
    # every input (dead), and whose input is below zero on every input (silent; dead only for ReLU).
    dead_fraction: tuple[float, ...]
    silent_fraction: tuple[float, ...]
    loss: tuple[float, ...]  # (steps,) cross-entropy of each training batch
    final_dead_fraction: float
    accuracy: float  # on the training set after training; chance is 1 / CLASSES
    diverged_at: int | None  # step at which the loss stopped being finite, if it did


def _teacher_data(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(TRAIN_SIZE, INPUT_DIM) Gaussian inputs labelled by a random tanh network: learnable, not trivial."""
    x = torch.randn(TRAIN_SIZE, INPUT_DIM, generator=g)
    hidden = torch.tanh(x @ torch.randn(INPUT_DIM, 32, generator=g))
    return x, (hidden @ torch.randn(32, CLASSES, generator=g)).argmax(dim=1)


def _probe(x: torch.Tensor, layers: list[nn.Linear], acts: list[nn.Module]) -> tuple[float, float]:
    """(dead, silent) fractions over all hidden units, from autograd's slopes on every input."""
    dead, silent, h = [], [], x
    for layer, act in zip(layers, acts):
        z = layer(h).detach().requires_grad_()  # (N, width) pre-activations
        out = act(z)
        (slope,) = torch.autograd.grad(out.sum(), z)  # (N, width): f'(z), as the activation is elementwise
        dead.append((slope == 0).all(dim=0))
        silent.append((z <= 0).all(dim=0))
        h = out.detach()
    return torch.cat(dead).float().mean().item(), torch.cat(silent).float().mean().item()


def _forward(x: torch.Tensor, layers: list[nn.Linear], acts: list[nn.Module], head: nn.Linear) -> torch.Tensor:
    for layer, act in zip(layers, acts):
        x = act(layer(x))
    return head(x)  # (N, CLASSES) logits


def _sgd_step(params: list[torch.Tensor], grads: tuple[torch.Tensor, ...], learning_rate: float) -> None:
    """Plain SGD, w <- w - lr * g, with the whole gradient scaled down to norm GRAD_CLIP when longer.

    Clipping only keeps the LeakyReLU net from overflowing to NaN at absurd learning rates; a ReLU
    unit pushed below zero is dead whatever step got it there. (Written out rather than
    torch.optim.SGD, whose first use imports torch._dynamo: most of a second on a small server.)
    """
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item()
    step = learning_rate * min(1.0, GRAD_CLIP / (norm + 1e-12))
    with torch.no_grad():
        for param, grad in zip(params, grads):
            param -= step * grad


def run_dying_relu(config: DyingReluConfig = DyingReluConfig()) -> DyingReluResult:
    """Train the MLP and count dead units after every SGD step."""
    config.validate()
    g = torch.Generator().manual_seed(config.seed)
    x, y = _teacher_data(g)
    init = INITS.get(config.init)
    widths = [INPUT_DIM] + [config.width] * config.depth
    layers = [_linear(a, b, init, g) for a, b in zip(widths[:-1], widths[1:])]
    acts = [_activation_module(config.activation) for _ in layers]
    head = _linear(config.width, CLASSES, INITS.get("xavier"), g)  # the output layer is not under study
    params = [p for m in (*layers, *acts, head) for p in m.parameters()]
    first = _probe(x, layers, acts)
    dead, silent, losses, diverged_at = [first[0]], [first[1]], [], None
    for step in range(1, config.steps + 1):
        batch = torch.randint(0, TRAIN_SIZE, (config.batch_size,), generator=g)
        loss = nn.functional.cross_entropy(_forward(x[batch], layers, acts, head), y[batch])
        if not torch.isfinite(loss):
            diverged_at = step
            break
        _sgd_step(params, torch.autograd.grad(loss, params), config.learning_rate)
        losses.append(loss.item())
        dead_now, silent_now = _probe(x, layers, acts)
        dead.append(dead_now)
        silent.append(silent_now)
    with torch.no_grad():
        accuracy = (_forward(x, layers, acts, head).argmax(dim=1) == y).float().mean().item()
    return DyingReluResult(
        config, config.label, tuple(dead), tuple(silent), tuple(losses), dead[-1], accuracy, diverged_at
    )


def safe_baseline(config: DyingReluConfig) -> DyingReluConfig:
    """The lecture's cure on the same data: ReLU, He init and a small learning rate."""
    return replace(config, activation="relu", init="he", learning_rate=SAFE_LEARNING_RATE)


# --- vanishing gradients -------------------------------------------------------------------


@dataclass(frozen=True)
class VanishingConfig:
    activation: str = "sigmoid"
    init: str = "he"
    depth: int = 30  # Linear layers, each followed by the activation
    width: int = 128
    batch_size: int = 64
    seed: int = 0

    def validate(self) -> "VanishingConfig":
        get_activation(self.activation)
        INITS.get(self.init)
        _check("The depth", self.depth, 2, 100)
        _check("The width", self.width, 2, 512)
        _check("The batch size", self.batch_size, 1, 1024)
        _check("The seed", self.seed, 0, 2**31 - 1)
        return self

    @property
    def label(self) -> str:
        return f"{get_activation(self.activation).display_name} · {INITS.get(self.init).display_name}"


@dataclass(frozen=True)
class VanishingResult:
    config: VanishingConfig
    label: str
    grad_norms: tuple[float, ...]  # (depth,): ‖∂loss/∂W‖ (Frobenius) of layer 1 (input side) ... layer depth
    first_to_last: float  # grad_norms[0] / grad_norms[-1]; 1 means the first layer learns as fast as the last


def run_vanishing_gradients(config: VanishingConfig = VanishingConfig()) -> VanishingResult:
    """One forward and backward pass of a random batch; each layer's weight-gradient norm."""
    config.validate()
    g = torch.Generator().manual_seed(config.seed)
    init = INITS.get(config.init)
    layers = [_linear(config.width, config.width, init, g) for _ in range(config.depth)]
    head = _linear(config.width, CLASSES, INITS.get("xavier"), g)
    x = torch.randn(config.batch_size, config.width, generator=g)  # (B, width)
    y = torch.randint(0, CLASSES, (config.batch_size,), generator=g)
    # float64: first-layer gradients reach 1e-25 (sigmoid, PyTorch init) to 1e-45 (small init);
    # float32 would round the smallest to exactly 0, which a log axis cannot show.
    x, layers, head = x.double(), [layer.double() for layer in layers], head.double()
    acts = [_activation_module(config.activation).double() for _ in layers]
    loss = nn.functional.cross_entropy(_forward(x, layers, acts, head), y)
    grads = torch.autograd.grad(loss, [layer.weight for layer in layers])
    norms = tuple(grad.norm().item() for grad in grads)
    ratio = norms[0] / norms[-1] if norms[-1] > 0 else math.nan
    return VanishingResult(config, config.label, norms, ratio)
