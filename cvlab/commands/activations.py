"""``python -m cvlab activations``: curves and slopes, softmax, and the dying-ReLU and vanishing-gradient experiments.

One subcommand, four modes chosen by the first word (curves when it is left out): curves,
softmax, dying-relu and vanishing; ``--list`` shows the catalogue. EXAMPLES below shows each.

torch is imported inside run(), never when the command line starts.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
from dataclasses import dataclass
from typing import Any

from cvlab.commands import COMMANDS, Command, text_table
from cvlab.errors import InvalidInput, UnknownName

MODES = ("curves", "softmax", "dying-relu", "vanishing")
DEFAULT_NAMES = {"curves": ("relu", "sigmoid", "gelu"), "dying-relu": ("relu", "leaky_relu"),
                 "vanishing": ("sigmoid", "relu")}
# Which options each mode reads; any other option given is an error rather than silently ignored.
MODE_OPTIONS = {
    "curves": {"range", "points", "param"},
    "softmax": {"temperature"},
    "dying-relu": {"init", "lr", "steps", "depth", "width", "seed", "baseline"},
    "vanishing": {"init", "depth", "width", "seed"},
}
MAX_CONFIGS = 24


@dataclass(frozen=True)
class ActivationsReport:
    mode: str  # "list", or one of MODES
    result: Any  # facts, curves, a SoftmaxResult, or experiment results


EXAMPLES = """examples:
  python -m cvlab activations relu gelu --range -5 5 --points 11
  python -m cvlab activations leaky_relu elu --param negative_slope=0.1 --param alpha=0.5
  python -m cvlab activations --list
  python -m cvlab activations softmax 2.0 1.0 0.1 --temperature 2
  python -m cvlab activations dying-relu relu leaky_relu --lr 3 --init he --baseline
  python -m cvlab activations vanishing sigmoid relu --depth 30 --init he pytorch"""


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples' line breaks
    parser.add_argument("words", nargs="*", metavar="[MODE] NAME",
                        help=f"a mode ({', '.join(MODES)}; default curves), then activation names, "
                             "or the logits for softmax")
    parser.add_argument("--list", action="store_true", help="list every activation with formula, range and use")
    curves = parser.add_argument_group("curves")
    curves.add_argument("--range", nargs=2, type=float, metavar=("MIN", "MAX"), help="x range (default -5 5)")
    curves.add_argument("--points", type=int, help="sample points (default 11)")
    curves.add_argument("--param", action="append", metavar="NAME=VALUE",
                        help="a parameter for the functions that have it, e.g. negative_slope=0.1, alpha=0.5, "
                             "slope=0.25 (PReLU), beta=2 (Softplus); repeatable")
    softmax = parser.add_argument_group("softmax")
    softmax.add_argument("--temperature", type=float, help="T in softmax(z / T) (default 1)")
    experiments = parser.add_argument_group("dying-relu and vanishing")
    experiments.add_argument("--init", nargs="+", help="initialisation(s): he, pytorch, xavier, negative_bias, "
                                                       "large_normal, small_normal")
    experiments.add_argument("--lr", nargs="+", type=float, help="dying-relu: SGD learning rate(s) (default 3)")
    experiments.add_argument("--steps", type=int, help="dying-relu: training steps (default 100)")
    experiments.add_argument("--depth", type=int, help="hidden layers (dying-relu default 2, vanishing 30)")
    experiments.add_argument("--width", type=int, help="units per layer (dying-relu default 64, vanishing 128)")
    experiments.add_argument("--seed", type=int, help="random seed (default 0)")
    experiments.add_argument("--baseline", action="store_true",
                             help="dying-relu: also run the safe setting (ReLU, He init, lr 0.01)")


def _split_mode(words: list[str]) -> tuple[str, list[str]]:
    if words and words[0] in MODES:
        return words[0], words[1:]
    return "curves", words


def _check_options(mode: str, args: argparse.Namespace) -> None:
    for option in set().union(*MODE_OPTIONS.values()) - MODE_OPTIONS[mode]:
        if getattr(args, option) not in (None, False):
            modes = " and ".join(m for m, options in MODE_OPTIONS.items() if option in options)
            raise InvalidInput(f"--{option} is for {modes} only, not {mode}; leave it out.")


def _parse_params(pairs: list[str]) -> dict[str, float]:
    params = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is None or not name.strip():
            raise InvalidInput(f"Write --param as NAME=VALUE, for example negative_slope=0.1 (got {pair!r}).")
        params[name.strip()] = number
    return params


def _curves(names: list[str], args: argparse.Namespace) -> list:
    from cvlab.activations.functions import ACTIVATIONS, evaluate, get_activation

    entries = []
    for name in names:
        try:
            entries.append(get_activation(name))
        except UnknownName as err:
            close = difflib.get_close_matches(name, MODES, n=1)
            raise UnknownName(f"{err} Did you mean the mode {close[0]!r}?" if close else str(err)) from None
    params = _parse_params(args.param or [])
    for param in params:
        if not any(param == p.name for entry in entries for p in entry.params):
            known = "; ".join(f"{e.name}: {', '.join(p.name for p in e.params)}"
                              for _, e in ACTIVATIONS.items() if e.params)
            raise InvalidInput(f"No function you chose has a parameter {param!r}. Parameters are {known}.")
    x_min, x_max = args.range or (-5.0, 5.0)
    points = 11 if args.points is None else args.points
    return [evaluate(entry.name, x_min, x_max, points,
                     **{k: v for k, v in params.items() if k in {p.name for p in entry.params}})
            for entry in entries]


def _experiment_configs(mode: str, names: list[str], args: argparse.Namespace) -> list:
    from cvlab.activations import experiments as gx

    config_type = gx.DyingReluConfig if mode == "dying-relu" else gx.VanishingConfig
    fixed = {k: getattr(args, k) for k in ("steps", "depth", "width", "seed") if getattr(args, k) is not None}
    inits = args.init or [config_type.init]
    rates = (args.lr or [gx.DyingReluConfig.learning_rate]) if mode == "dying-relu" else [None]
    configs = []
    for name, init, rate in itertools.product(names, inits, rates):
        extra = {"learning_rate": rate} if rate is not None else {}
        configs.append(config_type(activation=name, init=init, **fixed, **extra))
    if args.baseline:
        configs.append(gx.safe_baseline(configs[0]))
    if len(configs) > MAX_CONFIGS:
        raise InvalidInput(f"That is {len(configs)} runs; ask for at most {MAX_CONFIGS} at once.")
    return configs


def _run(args: argparse.Namespace) -> ActivationsReport:
    if args.list:
        from cvlab.activations.functions import ACTIVATIONS

        return ActivationsReport("list", [entry.facts() for _, entry in ACTIVATIONS.items()])
    mode, words = _split_mode(list(args.words))
    _check_options(mode, args)
    if mode == "softmax":
        from cvlab.activations.softmax import DEFAULT_LOGITS, parse_logits, softmax

        logits = parse_logits(" ".join(words)) if words else DEFAULT_LOGITS
        return ActivationsReport(mode, softmax(logits, 1.0 if args.temperature is None else args.temperature))
    names = words or list(DEFAULT_NAMES[mode])
    if mode == "curves":
        return ActivationsReport(mode, _curves(names, args))
    from cvlab.activations import experiments as gx

    configs = _experiment_configs(mode, names, args)
    run = gx.run_dying_relu if mode == "dying-relu" else gx.run_vanishing_gradients
    return ActivationsReport(mode, [run(config) for config in configs])


# --- text output ---------------------------------------------------------------------------


def _render_list(facts: list[dict]) -> str:
    rows = [{"name": f["name"], "formula": f["formula"], "range": f["range"],
             "params": ", ".join(f"{k}={v['default']:g}" for k, v in f["params"].items()) or "-",
             "use": f["use"]} for f in facts]
    return text_table(rows)


def _render_curves(curves: list) -> str:
    blocks = []
    for curve in curves:
        rows = [{"x": f"{x:.4f}", "f(x)": f"{y:.4f}", "f'(x)": f"{dy:.4f}"}
                for x, y, dy in zip(curve.x, curve.y, curve.dy)]
        zones = ", ".join(f"[{a:.3g}, {b:.3g}]" for a, b in curve.vanishing_zones)
        where = f"on {zones}" if zones else "nowhere in this range"
        blocks.append(f"{curve.display_name}    {curve.torch_code}\n{text_table(rows)}\n"
                      f"vanishing gradient, |f'(x)| < {curve.threshold:g}: {where}")
    return "\n\n".join(blocks)


def _render_softmax(result) -> str:
    rows = [{"class": label, "logit": f"{z:g}", "z / T": f"{z / result.temperature:.4g}", "probability": f"{p:.4f}"}
            for label, z, p in zip(result.labels, result.logits, result.probabilities)]
    return (f"softmax(z / T) with T = {result.temperature:g}\n{text_table(rows)}\n"
            f"sum of probabilities: {result.total:.6f}")


def _render_dying(results: list) -> str:
    config = results[0].config
    layers = f"{config.depth} hidden layer{'s' if config.depth != 1 else ''}"
    header = (f"Dying ReLU: {layers} x {config.width} units, plain SGD; "
              "dead = zero gradient on every one of the 512 training inputs")
    rows = []
    for r in results:
        steps = len(r.dead_fraction) - 1
        row = {"configuration": r.label}
        for q in (0, 1, 2, 3, 4):
            step = q * steps // 4
            row[f"dead @{step}"] = f"{100 * r.dead_fraction[step]:.1f}%"
        row["silent @end"] = f"{100 * r.silent_fraction[-1]:.1f}%"
        row["accuracy"] = f"{100 * r.accuracy:.0f}%"
        row["diverged"] = "-" if r.diverged_at is None else f"step {r.diverged_at}"
        rows.append(row)
    note = "silent = input below zero for every example (for ReLU the same as dead; LeakyReLU still gets a gradient)"
    return f"{header}\n{text_table(rows)}\n{note}"


def _render_vanishing(results: list) -> str:
    config = results[0].config
    header = (f"Vanishing gradients: {config.depth} Linear layers of width {config.width}, one backward pass; "
              "weight-gradient norm per layer (1 = next to the input)")
    rows = [{"layer": str(i + 1), **{r.label: f"{r.grad_norms[i]:.2e}" for r in results}}
            for i in range(len(results[0].grad_norms))]
    rows.append({"layer": "first/last", **{r.label: f"{r.first_to_last:.2e}" for r in results}})
    return f"{header}\n{text_table(rows)}"


_RENDERERS = {"list": _render_list, "curves": _render_curves, "softmax": _render_softmax,
              "dying-relu": _render_dying, "vanishing": _render_vanishing}


def _render(report: ActivationsReport) -> str:
    return _RENDERERS[report.mode](report.result)


COMMANDS.register(
    "activations",
    Command(
        name="activations",
        help="activation functions and their slopes, softmax, the dying-ReLU and vanishing-gradient experiments",
        configure=_configure,
        run=_run,
        render=_render,
    ),
)
