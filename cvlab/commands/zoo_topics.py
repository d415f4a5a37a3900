"""``python -m cvlab zoo choose|scaling|tokens|claims``: the Architectures page's lessons from a terminal.

``choose`` answers the lecture's scenarios A-C or your own limits (cvlab.zoo.chooser); ``scaling``
is EfficientNet's compound scaling at one phi beside torchvision's B0..B7 (cvlab.zoo.scaling);
``tokens`` counts ViT's patches and Swin's windows, and with ``--cost`` the attention MACs of the
real models at several sizes (cvlab.zoo.tokens); ``claims`` checks the lecture's numbers
(cvlab.zoo.claims). Latency in ``choose`` is this machine's measurement where one is cached.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable

from cvlab.commands import text_table

TOPIC_EXAMPLES = """topics:
  python -m cvlab zoo choose --scenario A
  python -m cvlab zoo choose --max-size-mb 20 --min-top1 75 --images 5000 --prefer speed
  python -m cvlab zoo scaling --phi 3
  python -m cvlab zoo tokens --size 448 --cost
  python -m cvlab zoo claims"""


def _json_flag(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: "--json" before the topic is kept; given after it, it is set here
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print machine-readable JSON")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sizes are whole pixels separated by commas, e.g. 224,448; got {text!r}") from None


def configure_topics(parser: argparse.ArgumentParser) -> None:
    """The topics as optional actions under ``zoo``: without one, ``zoo`` prints its table as before."""
    from cvlab.zoo import chooser, scaling, tokens

    topics = parser.add_subparsers(dest="topic", required=False, metavar="TOPIC")
    choose = topics.add_parser("choose", help="an architecture for hard limits, or the lecture's scenario A-C")
    choose.add_argument("--scenario", choices=tuple(chooser.LECTURE_SCENARIOS), help="the lecture's exercise")
    choose.add_argument("--max-size-mb", type=float, help="weights file limit, MB")
    choose.add_argument("--max-latency-ms", type=float, help="one image at batch 1, ms")
    choose.add_argument("--min-top1", type=float, help="ImageNet-1K top-1, percent")
    choose.add_argument("--images", type=int, help="labelled training images the task has")
    choose.add_argument("--prefer", choices=chooser.PREFERENCES, default="accuracy")
    choose.add_argument("--precision", choices=tuple(chooser.BYTES_PER_WEIGHT), default="fp32",
                        help="how the weights ship (int8: quantised)")
    choose.add_argument("--top", type=int, default=10, help="candidates listed (default 10)")
    scale = topics.add_parser("scaling", help="EfficientNet compound scaling at phi, beside torchvision's B0..B7")
    scale.add_argument("--phi", type=float, default=1.0)
    scale.add_argument("--alpha", type=float, default=scaling.PAPER_ALPHA, help="depth base")
    scale.add_argument("--beta", type=float, default=scaling.PAPER_BETA, help="width base")
    scale.add_argument("--gamma", type=float, default=scaling.PAPER_GAMMA, help="resolution base")
    scale.add_argument("--count", action="store_true", help="count B0..B7's MACs here too (seconds)")
    token = topics.add_parser("tokens", help="ViT patches and Swin windows at an image size; --cost: attention MACs")
    token.add_argument("--size", type=int, default=224, help="pixels per side (default 224)")
    token.add_argument("--cost", action="store_true", help="count the real ViT-B/16 and Swin-T at --sizes")
    token.add_argument("--sizes", type=_sizes, default=tokens.DEFAULT_SIZES,
                       help=f"pixels per side for --cost (default {','.join(map(str, tokens.DEFAULT_SIZES))})")
    topics.add_parser("claims", help="the lecture's numbers checked against the real models and weights")
    for sub in topics.choices.values():
        _json_flag(sub)


@dataclass(frozen=True)
class TokenReport:
    image_size: int
    vit_grid: tuple[int, int]  # patch rows, columns
    vit_tokens: int  # patches + CLS
    swin_tokens: int  # stage-1 tokens, (H/4)(W/4)
    swin_windows: int  # 7x7-token windows of the regular partition
    swin_shifted_regions: int  # regions of the shifted partition before the cyclic shift packs them
    cost: list | None = None  # cvlab.zoo.tokens.CostPoint per model and size (--cost)
    fits: list | None = None  # cvlab.zoo.tokens.CostFit per model (--cost)


def _choose(args: argparse.Namespace) -> Any:
    from cvlab.zoo import chooser
    from cvlab.zoo.measure import cached_measurements

    latencies = {name: m.latency_ms for name, m in cached_measurements().items()} or None
    if args.scenario:
        return chooser.answer_scenario(args.scenario, latencies=latencies)
    wanted = chooser.Constraints(max_size_mb=args.max_size_mb, max_latency_ms=args.max_latency_ms,
                                 min_top1=args.min_top1, labelled_images=args.images, prefer=args.prefer,
                                 precision=args.precision)
    return chooser.choose(wanted, latencies=latencies)


def _scaling(args: argparse.Namespace) -> dict:
    from cvlab.zoo import scaling

    return {"point": scaling.compound_scaling(args.phi, args.alpha, args.beta, args.gamma),
            "real": scaling.real_configs(args.alpha, args.beta, args.gamma, count_macs=args.count)}


def _tokens(args: argparse.Namespace) -> TokenReport:
    from cvlab.zoo import tokens

    rows, cols, count = tokens.vit_tokens(args.size)
    report = dict(image_size=args.size, vit_grid=(rows, cols), vit_tokens=count,
                  swin_tokens=(args.size // tokens.SWIN_PATCH) ** 2,
                  swin_windows=len(tokens.swin_windows(args.size, args.size)),
                  swin_shifted_regions=len(tokens.swin_windows(args.size, args.size, shift=True)))
    if args.cost:
        report["cost"] = tokens.attention_cost(args.sizes)
        report["fits"] = tokens.fit_exponents(report["cost"])
    return TokenReport(**report)


def _claims(args: argparse.Namespace) -> tuple:
    from cvlab.zoo.claims import check_claims

    return check_claims()


RUNS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "choose": _choose, "scaling": _scaling, "tokens": _tokens, "claims": _claims}


def _render_choice(rec) -> str:
    rows = [{"rank": i + 1, "model": c.title, "size MB": f"{c.size_mb:.1f}", "latency ms": f"{c.latency_ms:.1f}",
             "top-1 %": c.top1 if c.top1 is not None else "-"} for i, c in enumerate(rec.ranked[:10])]
    return "\n".join([rec.summary, "", text_table(rows) if rows else "(nothing fits)", "", rec.training_advice,
                      *rec.notes])


def _render_scaling(data: dict) -> str:
    p = data["point"]
    lines = [f"phi {p.phi:g}: depth x{p.depth:.2f}, width x{p.width:.2f}, resolution {p.resolution_px} px, "
             f"FLOPs x{p.flops_multiplier:.2f} (alpha*beta^2*gamma^2 = {p.constraint:.3f})"]
    if p.constraint_note:
        lines.append(f"note: {p.constraint_note}")
    rows = [{"model": r.name, "width": r.width_mult, "depth": r.depth_mult, "px": r.resolution_px,
             "phi fit": f"{r.phi_fit:.2f}", "GMACs published": "-" if r.published_macs is None
             else f"{r.published_macs / 1e9:.2f}", "GMACs counted": "-" if r.macs is None else f"{r.macs / 1e9:.2f}"}
            for r in data["real"]]
    return "\n".join([*lines, "", "torchvision's EfficientNets:", text_table(rows)])


def _render_tokens(r: TokenReport) -> str:
    lines = [f"{r.image_size} px: ViT-B/16 {r.vit_grid[0]}x{r.vit_grid[1]} patches + CLS = {r.vit_tokens} tokens, "
             f"all attending to all; Swin-T {r.swin_tokens} tokens in {r.swin_windows} windows of 7x7 "
             f"({r.swin_shifted_regions} regions once shifted)"]
    if r.cost:
        lines += ["", text_table([{"model": p.model, "px": p.image_size, "tokens": p.tokens,
                                   "GMACs": f"{p.macs / 1e9:.2f}", "attention GMACs": f"{p.attention_macs / 1e9:.3f}"}
                                  for p in r.cost])]
        lines += [f"{f.model}: MACs ~ pixels^{f.total_exponent:.2f}, attention ~ pixels^{f.attention_exponent:.2f}"
                  for f in r.fits]
    return "\n".join(lines)


def _render_claims(checks: tuple) -> str:
    return text_table([{"claim": c.claim, "slide": c.slide, "here": c.computed if c.computed is not None
                        else c.published, "verdict": c.verdict} for c in checks])


RENDERS: dict[str, Callable[[Any], str]] = {
    "choose": _render_choice, "scaling": _render_scaling, "tokens": _render_tokens, "claims": _render_claims}
