"""The ACTIVATIONS registry: each function's teaching facts, and its values and slopes via autograd.

Every entry builds PyTorch's own module (``torch.nn.ReLU``, ``torch.nn.GELU(approximate="tanh")``
...), so the curves drawn here are exactly what a network computes. Derivatives come from
``torch.autograd.grad``, never from hand-written formulas: the lab shows what backpropagation
really sees, kinks and all (autograd takes ReLU'(0) = 0).

Softmax is not here: it maps a vector to a vector, so it has no curve; see cvlab.activations.softmax.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from cvlab.errors import InvalidInput
from cvlab.registry import Registry

VANISHING_THRESHOLD = 0.01  # |f'(x)| below this counts as a vanishing gradient
X_LIMIT = 100.0  # |x| beyond this teaches nothing new and only risks overflow
MAX_POINTS = 10_001


@dataclass(frozen=True)
class Paper:
    authors: str
    year: int
    title: str
    url: str | None = None


@dataclass(frozen=True)
class Param:
    """One tunable number of an activation, with the range a slider may offer."""

    name: str  # keyword of evaluate() and of the torch module: "negative_slope"
    label: str  # for people: "negative slope a"
    default: float
    low: float
    high: float
    step: float


@dataclass(frozen=True)
class Activation:
    name: str  # registry key: "leaky_relu"
    display_name: str  # "LeakyReLU"
    latex: str  # for st.latex
    formula: str  # plain text, for terminals
    value_range: str  # the set of outputs, e.g. "[0, ∞)"
    use: str  # where it is typically found
    paper: Paper
    torch_code: str  # how to write it in PyTorch; {param} fields are filled in
    build: Callable[..., nn.Module] = field(repr=False, compare=False)  # params -> torch module
    params: tuple[Param, ...] = ()
    note: str = ""  # one more fact worth saying in class

    def facts(self) -> dict:
        """The teaching facts as plain data (everything but the builder)."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "formula": self.formula,
            "latex": self.latex,
            "range": self.value_range,
            "use": self.use,
            "paper": f"{self.paper.authors} ({self.paper.year}). {self.paper.title}",
            "paper_url": self.paper.url,
            "params": {p.name: {"default": p.default, "low": p.low, "high": p.high} for p in self.params},
            "note": self.note,
        }


@dataclass(frozen=True, eq=False)  # eq on numpy arrays is ambiguous; curves compare by identity
class ActivationCurve:
    name: str
    display_name: str
    params: tuple[tuple[str, float], ...]  # the values used, in the entry's order
    torch_code: str  # e.g. "nn.LeakyReLU(negative_slope=0.2)"
    x: np.ndarray  # (N,) float64, evenly spaced
    y: np.ndarray  # (N,) f(x)
    dy: np.ndarray  # (N,) f'(x) from autograd
    vanishing_zones: tuple[tuple[float, float], ...]  # x-intervals where |f'(x)| < threshold
    threshold: float


ACTIVATIONS: Registry[Activation] = Registry("activation")

_ALIASES = {"swish": "silu", "leakyrelu": "leaky_relu", "gelu_exact": "gelu", "hard_swish": "hardswish",
            "logistic": "sigmoid", "gelu_approx": "gelu_tanh"}


def get_activation(name: str) -> Activation:
    """The entry for ``name``; case, dashes and a few aliases ("swish") are forgiven."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    # An unknown name is reported as typed, with the registry's list of choices.
    return ACTIVATIONS.get(key if key in ACTIVATIONS else str(name))


def resolve_params(entry: Activation, given: dict[str, float]) -> dict[str, float]:
    """Defaults overlaid with ``given``, each checked against its allowed range."""
    known = {p.name: p for p in entry.params}
    for name in given:
        if name not in known:
            accepted = ", ".join(known) or "no parameters"
            raise InvalidInput(f"{entry.display_name} has no parameter {name!r}; it accepts {accepted}.")
    values = {}
    for p in entry.params:
        value = float(given.get(p.name, p.default))
        if not (math.isfinite(value) and p.low <= value <= p.high):
            raise InvalidInput(
                f"{entry.display_name}'s {p.label} must be between {p.low:g} and {p.high:g}; got {value:g}."
            )
        values[p.name] = value
    return values


def _check_grid(x_min: float, x_max: float, points: int, threshold: float) -> None:
    if not (math.isfinite(x_min) and math.isfinite(x_max)) or x_min >= x_max:
        raise InvalidInput(f"The x range needs x_min < x_max (got {x_min:g} to {x_max:g}); swap or widen them.")
    if x_min < -X_LIMIT or x_max > X_LIMIT:
        raise InvalidInput(f"Keep x within ±{X_LIMIT:g} (got {x_min:g} to {x_max:g}).")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not 2 <= points <= MAX_POINTS:
        raise InvalidInput(f"Use a whole number between 2 and {MAX_POINTS} of sample points (got {points!r}).")
    if not (math.isfinite(threshold) and threshold > 0):
        raise InvalidInput(f"The vanishing-gradient threshold must be above 0, such as 0.01 (got {threshold!r}).")


def evaluate(
    name: str,
    x_min: float = -5.0,
    x_max: float = 5.0,
    points: int = 401,
    *,
    threshold: float = VANISHING_THRESHOLD,
    **params: float,
) -> ActivationCurve:
    """f(x) and f'(x) on an even grid, both from PyTorch (the slope by autograd)."""
    entry = get_activation(name)
    values = resolve_params(entry, params)
    _check_grid(x_min, x_max, points, threshold)
    module = entry.build(**values)
    # float64 so slopes far out on the flat tails (1e-5, 1e-9) are not rounded to zero.
    x = torch.linspace(x_min, x_max, int(points), dtype=torch.float64, requires_grad=True)
    y = module.double()(x)
    # Every function here is elementwise, so the gradient of sum(f(x)) is f'(x) at each point.
    (dy,) = torch.autograd.grad(y.sum(), x)
    x_np, dy_np = x.detach().numpy(), dy.numpy()
    return ActivationCurve(
        name=entry.name,
        display_name=entry.display_name,
        params=tuple(values.items()),
        torch_code=entry.torch_code.format(**values),
        x=x_np,
        y=y.detach().numpy(),
        dy=dy_np,
        vanishing_zones=low_gradient_zones(x_np, dy_np, threshold),
        threshold=threshold,
    )


def low_gradient_zones(x: np.ndarray, dy: np.ndarray, threshold: float) -> tuple[tuple[float, float], ...]:
    """The x-intervals where |dy| < threshold, each edge placed where |dy| crosses it.

    The crossing between two samples on either side of the threshold is found by linear
    interpolation, so the edges do not jump around with the grid spacing.
    """
    x = np.asarray(x, dtype=float)
    slope = np.abs(np.asarray(dy, dtype=float))
    low = slope < threshold
    zones, start = [], (x[0] if low[0] else None)
    for i in np.flatnonzero(low[:-1] != low[1:]):  # low changes between sample i and i + 1
        edge = x[i] + (threshold - slope[i]) * (x[i + 1] - x[i]) / (slope[i + 1] - slope[i])
        if low[i + 1]:
            start = edge
        else:
            zones.append((start, edge))
            start = None
    if start is not None:
        zones.append((start, x[-1]))
    return tuple((float(a), float(b)) for a, b in zones)


# --- the catalogue -------------------------------------------------------------------------
# Papers are the ones usually cited for each function; years are those of first publication.

_NEGATIVE_SLOPE = Param("negative_slope", "negative slope a", 0.01, 0.0, 1.0, 0.01)

ACTIVATIONS.register("relu", Activation(
    "relu", "ReLU", r"\mathrm{ReLU}(x) = \max(0,\ x)", "max(0, x)", "[0, ∞)",
    "Hidden layers of CNNs: the default (VGG, ResNet)",
    Paper("Nair & Hinton", 2010, "Rectified Linear Units Improve Restricted Boltzmann Machines"),
    "nn.ReLU()", lambda: nn.ReLU(),
    note="Slope 1 for x > 0 and 0 for x < 0: no shrinking gradient on the positive side, "
    "but a unit that only ever sees negative inputs stops learning (dying ReLU).",
))
ACTIVATIONS.register("leaky_relu", Activation(
    "leaky_relu", "LeakyReLU", r"f(x) = \max(0,\ x) + a\,\min(0,\ x)", "max(0, x) + a·min(0, x)",
    "(-∞, ∞)", "Hidden layers where units die; GAN discriminators, YOLOv3",
    Paper("Maas, Hannun & Ng", 2013, "Rectifier Nonlinearities Improve Neural Network Acoustic Models"),
    "nn.LeakyReLU(negative_slope={negative_slope:g})", lambda negative_slope: nn.LeakyReLU(negative_slope),
    params=(_NEGATIVE_SLOPE,),
    note="The small slope a on the negative side keeps a gradient flowing, so units cannot die.",
))
ACTIVATIONS.register("prelu", Activation(
    "prelu", "PReLU", r"f(x) = \max(0,\ x) + a\,\min(0,\ x),\quad a \text{ learned}",
    "max(0, x) + a·min(0, x), a learned", "(-∞, ∞)", "Hidden layers of deep CNNs (He et al.'s ImageNet models)",
    Paper("He, Zhang, Ren & Sun", 2015,
          "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet Classification",
          "https://arxiv.org/abs/1502.01852"),
    # float64 so the slope is exactly the one set (float32 would store 0.3 as 0.30000001).
    "nn.PReLU(init={slope:g})", lambda slope: nn.PReLU(init=slope, dtype=torch.float64),
    params=(Param("slope", "slope a (its starting value)", 0.25, 0.0, 1.0, 0.01),),
    note="The negative slope a is a weight that training adjusts; it starts at 0.25. "
    "The same paper introduced He initialisation.",
))
ACTIVATIONS.register("elu", Activation(
    "elu", "ELU", r"f(x) = \begin{cases} x & x > 0 \\ \alpha\,(e^{x} - 1) & x \le 0 \end{cases}",
    "x if x > 0 else α·(e^x − 1)", "(-α, ∞)", "Hidden layers; negative outputs pull the mean activation towards 0",
    Paper("Clevert, Unterthiner & Hochreiter", 2015,
          "Fast and Accurate Deep Network Learning by Exponential Linear Units (ELUs)",
          "https://arxiv.org/abs/1511.07289"),
    "nn.ELU(alpha={alpha:g})", lambda alpha: nn.ELU(alpha=alpha),
    params=(Param("alpha", "α (negative saturation)", 1.0, 0.1, 3.0, 0.1),),
    note="Smooth for α = 1; saturates at −α for very negative inputs.",
))
ACTIVATIONS.register("selu", Activation(
    "selu", "SELU", r"f(x) = \lambda \begin{cases} x & x > 0 \\ \alpha\,(e^{x} - 1) & x \le 0 \end{cases}",
    "λ·(x if x > 0 else α·(e^x − 1)), λ ≈ 1.0507, α ≈ 1.6733", "(-λα ≈ -1.758, ∞)",
    "Self-normalising fully connected networks (with LeCun-normal init)",
    Paper("Klambauer, Unterthiner, Mayr & Hochreiter", 2017, "Self-Normalizing Neural Networks",
          "https://arxiv.org/abs/1706.02515"),
    "nn.SELU()", lambda: nn.SELU(),
    note="The constants λ and α are chosen so activations keep mean 0 and variance 1 layer after layer.",
))
ACTIVATIONS.register("gelu", Activation(
    "gelu", "GELU",
    r"\begin{aligned}\mathrm{GELU}(x) &= x\,\Phi(x)\\ "
    r"&= \tfrac{x}{2}\left(1 + \operatorname{erf}\tfrac{x}{\sqrt{2}}\right)\end{aligned}",
    "x·Φ(x), Φ = standard normal CDF", "[≈ -0.17, ∞)", "Transformers (BERT, GPT, ViT) and ConvNeXt",
    Paper("Hendrycks & Gimpel", 2016, "Gaussian Error Linear Units (GELUs)", "https://arxiv.org/abs/1606.08415"),
    "nn.GELU()", lambda: nn.GELU(),
    note="Weights each input by the probability that a standard normal variable is below it: "
    "a smooth ReLU that lets small negative values through.",
))
ACTIVATIONS.register("gelu_tanh", Activation(
    "gelu_tanh", "GELU (tanh)",
    r"\begin{aligned}f(x) = \tfrac{x}{2}\big(1 &+ \tanh\big(\sqrt{2/\pi}\\ "
    r"&\cdot(x + 0.044715\,x^{3})\big)\big)\end{aligned}",
    "x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))", "[≈ -0.17, ∞)", "Original BERT and GPT-2 code; fast kernels",
    Paper("Hendrycks & Gimpel", 2016, "Gaussian Error Linear Units (GELUs)", "https://arxiv.org/abs/1606.08415"),
    "nn.GELU(approximate='tanh')", lambda: nn.GELU(approximate="tanh"),
    note="Within about 0.0005 of exact GELU everywhere; it avoids computing erf.",
))
ACTIVATIONS.register("silu", Activation(
    "silu", "SiLU / Swish", r"\mathrm{SiLU}(x) = x\,\sigma(x) = \frac{x}{1 + e^{-x}}", "x·sigmoid(x)",
    "[≈ -0.278, ∞)", "EfficientNet, YOLOv5 and later (ultralytics)",
    Paper("Ramachandran, Zoph & Le", 2017, "Searching for Activation Functions", "https://arxiv.org/abs/1710.05941"),
    "nn.SiLU()", lambda: nn.SiLU(),
    note="Swish is x·σ(βx); PyTorch's SiLU is Swish with β = 1, first proposed by Elfwing, Uchibe & Doya (2017).",
))
ACTIVATIONS.register("mish", Activation(
    "mish", "Mish", r"\mathrm{Mish}(x) = x\,\tanh\left(\ln(1 + e^{x})\right)", "x·tanh(softplus(x))",
    "[≈ -0.309, ∞)", "YOLOv4's backbone (CSPDarknet53)",
    Paper("Misra", 2019, "Mish: A Self Regularized Non-Monotonic Activation Function",
          "https://arxiv.org/abs/1908.08681"),
    "nn.Mish()", lambda: nn.Mish(),
    note="Close to SiLU in shape; smooth everywhere and slightly non-monotonic below zero.",
))
ACTIVATIONS.register("tanh", Activation(
    "tanh", "Tanh", r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}", "(e^x − e^−x) / (e^x + e^−x)", "(-1, 1)",
    "RNN and LSTM cells; outputs in (-1, 1) such as GAN generator images",
    Paper("LeCun, Bottou, Orr & Müller", 1998, "Efficient BackProp"),
    "nn.Tanh()", lambda: nn.Tanh(),
    note="Zero-centred, unlike sigmoid, but its slope also vanishes for |x| above about 3.",
))
ACTIVATIONS.register("sigmoid", Activation(
    "sigmoid", "Sigmoid", r"\sigma(x) = \frac{1}{1 + e^{-x}}", "1 / (1 + e^−x)", "(0, 1)",
    "Binary classification outputs; gates (LSTM, squeeze-and-excitation)",
    Paper("Rumelhart, Hinton & Williams", 1986, "Learning Representations by Back-Propagating Errors"),
    "nn.Sigmoid()", lambda: nn.Sigmoid(),
    note="Its slope is at most 0.25 (at x = 0), so every sigmoid layer shrinks the gradient at least fourfold.",
))
ACTIVATIONS.register("softplus", Activation(
    "softplus", "Softplus", r"\mathrm{Softplus}(x) = \frac{1}{\beta}\ln\left(1 + e^{\beta x}\right)",
    "ln(1 + e^(βx)) / β", "(0, ∞)", "Outputs that must be positive (scales, variances); a smooth ReLU",
    Paper("Dugas, Bengio, Bélisle, Nadeau & Garcia", 2001,
          "Incorporating Second-Order Functional Knowledge for Better Option Pricing"),
    "nn.Softplus(beta={beta:g})", lambda beta: nn.Softplus(beta=beta),
    params=(Param("beta", "β (sharpness)", 1.0, 0.1, 10.0, 0.1),),
    note="Its derivative is the sigmoid σ(βx); larger β makes it closer to ReLU.",
))
ACTIVATIONS.register("hardswish", Activation(
    "hardswish", "Hardswish", r"\mathrm{Hardswish}(x) = x\,\frac{\mathrm{ReLU6}(x + 3)}{6}",
    "x·min(max(x + 3, 0), 6) / 6", "[-0.375, ∞)", "Mobile networks (MobileNetV3)",
    Paper("Howard et al.", 2019, "Searching for MobileNetV3", "https://arxiv.org/abs/1905.02244"),
    "nn.Hardswish()", lambda: nn.Hardswish(),
    note="Swish built from cheap piecewise-linear pieces, for phones without fast exp().",
))
