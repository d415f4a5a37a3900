"""Choose an architecture from hard limits (size, latency, accuracy) and the amount of labelled data.

Candidates are the zoo's ImageNet classifiers with published weights. Hard limits filter; what is left is
ranked by the user's preference; every candidate gets its reasons in plain words. Sizes come from the
published weights file where torchvision gives one (fp32), else params x bytes per weight. Latency is
measured where the zoo (or the caller) has a measurement; otherwise MACs stand in for it, at an assumed
device speed, and the recommendation says so.

The data advice follows the lecture: "Start with pretrained EfficientNet or ResNet ... Fine-tune, don't
train from scratch!", and "ViT requires large datasets to outperform CNNs. With less data, CNNs still win".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cvlab.errors import InvalidInput, UnknownName
from cvlab.zoo.architectures import ARCHITECTURES
from cvlab.zoo.facts import ArchitectureFacts, zoo_table

PREFERENCES = ("accuracy", "speed", "size")
BYTES_PER_WEIGHT = {"fp32": 4, "fp16": 2, "int8": 1}
PROXY_GMACS_PER_S = 10.0  # assumed effective speed at batch 1 (a phone CPU order of magnitude), for the proxy
FEW_IMAGES = 10_000  # below this: freeze most of a pretrained backbone (the lecture's 500-image case)
MANY_IMAGES = 1_000_000  # from here on transformers repay their appetite for data (ViT needed JFT-300M)
DATA_HUNGRY = ("ViT", "Swin", "ConvNeXt")  # families that keep gaining with data; ConvNeXt: CNN of that design


@dataclass(frozen=True)
class Constraints:
    max_size_mb: float | None = None  # weights file, megabytes
    max_latency_ms: float | None = None  # one image, batch 1
    min_top1: float | None = None  # ImageNet-1K top-1, percent
    labelled_images: int | None = None  # how many labelled training images the task has
    prefer: str = "accuracy"  # "accuracy" | "speed" | "size"
    precision: str = "fp32"  # how the weights ship: "fp32" | "fp16" | "int8" (quantised)

    def __post_init__(self) -> None:
        for field, value in (("max_size_mb", self.max_size_mb), ("max_latency_ms", self.max_latency_ms)):
            if value is not None and not value > 0:
                raise InvalidInput(f"{field} must be a positive number, got {value!r}; leave it empty for no limit.")
        if self.min_top1 is not None and not 0 <= self.min_top1 <= 100:
            raise InvalidInput(f"min_top1 is a percentage between 0 and 100, got {self.min_top1!r}.")
        if self.labelled_images is not None and (not isinstance(self.labelled_images, int)
                                                 or self.labelled_images < 0):
            raise InvalidInput(f"labelled_images must be a count of 0 or more, got {self.labelled_images!r}.")
        if self.prefer not in PREFERENCES:
            raise InvalidInput(f"prefer must be one of {', '.join(PREFERENCES)}, got {self.prefer!r}.")
        if self.precision not in BYTES_PER_WEIGHT:
            raise InvalidInput(f"precision must be one of {', '.join(BYTES_PER_WEIGHT)}, got {self.precision!r}.")


@dataclass(frozen=True)
class Candidate:
    name: str
    title: str
    family: str
    size_mb: float
    size_source: str
    latency_ms: float
    latency_source: str  # "measured" or the MACs proxy, said in words
    top1: float | None
    fits: bool
    broken: tuple[str, ...]  # the limits it breaks, one sentence each
    reasons: tuple[str, ...]  # why it fits, or why it is ranked where it is
    miss: float  # how far outside the limits, relative (0 when it fits): orders the nearest candidates


@dataclass(frozen=True)
class Recommendation:
    constraints: Constraints
    ranked: tuple[Candidate, ...]  # the candidates that fit, best first
    excluded: tuple[Candidate, ...]  # those that break a limit, nearest first
    summary: str
    training_advice: str
    notes: tuple[str, ...]  # how sizes and latencies were obtained

    @property
    def best(self) -> Candidate | None:
        return self.ranked[0] if self.ranked else None


def _size(f: ArchitectureFacts, precision: str) -> tuple[float, str]:
    if precision == "fp32" and f.file_size_mb is not None:
        return f.file_size_mb, f"published weights file ({f.weights})"
    bytes_per = BYTES_PER_WEIGHT[precision]
    return f.params * bytes_per / 1e6, f"{f.params / 1e6:.1f}M params x {bytes_per} bytes ({precision})"


def _latency(f: ArchitectureFacts, latencies: dict[str, float]) -> tuple[float, str]:
    measured = latencies.get(f.name, f.latency_ms)
    if measured is not None:
        return measured, "measured"
    return f.macs / (PROXY_GMACS_PER_S * 1e9) * 1e3, (
        f"estimated from {f.macs / 1e9:.2f} GMACs at an assumed {PROXY_GMACS_PER_S:g} GMAC/s (not measured)")


def _assess(f: ArchitectureFacts, c: Constraints, latencies: dict[str, float]) -> Candidate:
    size, size_source = _size(f, c.precision)
    latency, latency_source = _latency(f, latencies)
    broken, reasons, miss = [], [], 0.0
    if c.max_size_mb is not None:
        if size > c.max_size_mb:
            broken.append(f"size {size:.1f} MB is over the {c.max_size_mb:g} MB limit ({size_source})")
            miss += size / c.max_size_mb - 1
            if c.precision == "fp32" and f.params / 1e6 <= c.max_size_mb:
                broken[-1] += f"; quantised to int8 it would be about {f.params / 1e6:.1f} MB"
        else:
            reasons.append(f"size {size:.1f} MB is within {c.max_size_mb:g} MB ({size_source})")
    if c.max_latency_ms is not None:
        if latency > c.max_latency_ms:
            broken.append(f"latency {latency:.0f} ms is over the {c.max_latency_ms:g} ms limit ({latency_source})")
            miss += latency / c.max_latency_ms - 1
        else:
            reasons.append(f"latency {latency:.0f} ms is within {c.max_latency_ms:g} ms ({latency_source})")
    if c.min_top1 is not None:
        if f.top1 is None or f.top1 < c.min_top1:
            got = "no published top-1" if f.top1 is None else f"top-1 {f.top1:g}%"
            broken.append(f"{got} is below the required {c.min_top1:g}%")
            miss += 1.0 if f.top1 is None else (c.min_top1 - f.top1) / c.min_top1
        else:
            reasons.append(f"top-1 {f.top1:g}% meets {c.min_top1:g}% ({f.weights})")
    if c.labelled_images is not None and f.family.startswith(DATA_HUNGRY):
        if c.labelled_images >= MANY_IMAGES:
            reasons.append(f"{f.family} keeps improving with data; {c.labelled_images:,} images are enough for it")
        elif f.family.startswith(("ViT", "Swin")):
            reasons.append(f"a transformer needs far more than {c.labelled_images:,} images; a CNN fine-tunes better")
    return Candidate(f.name, f.title, f.family, size, size_source, latency, latency_source, f.top1,
                     not broken, tuple(broken), tuple(reasons), miss)


def _data_rank(candidate: Candidate, c: Constraints) -> int:
    """0 = the family suits the data amount, 1 = it does not (lecture: with less data, CNNs still win)."""
    if c.labelled_images is None:
        return 0
    transformer = candidate.family.startswith(("ViT", "Swin"))
    if c.labelled_images >= MANY_IMAGES:
        return 0 if candidate.family.startswith(DATA_HUNGRY) else 1
    return 1 if transformer else 0


def _rank_key(candidate: Candidate, c: Constraints):
    by = {"accuracy": -(candidate.top1 or 0.0), "speed": candidate.latency_ms, "size": candidate.size_mb}
    return (_data_rank(candidate, c), by[c.prefer], -(candidate.top1 or 0.0))


def training_advice(labelled_images: int | None) -> str:
    """The lecture's practical advice, sized to the data."""
    if labelled_images is None:
        return ("Start with a pretrained EfficientNet or ResNet, fine-tune with AdamW and a cosine schedule; "
                "don't train from scratch.")
    if labelled_images < FEW_IMAGES:
        return (f"With {labelled_images:,} labelled images, fine-tune a pretrained model: freeze most of the "
                "backbone, train a new head (then perhaps the last stage) with strong augmentation. "
                "Training from scratch would overfit.")
    if labelled_images < MANY_IMAGES:
        return (f"With {labelled_images:,} labelled images, fine-tune a pretrained CNN (EfficientNet, ResNet, "
                "ConvNeXt) end to end with AdamW and a cosine schedule, a lower learning rate for the backbone.")
    return (f"With {labelled_images:,} labelled images, transformers (ViT, Swin) become worth it, and so does "
            "ConvNeXt; start from pretrained weights anyway, it saves compute.")


def default_candidates() -> list[ArchitectureFacts]:
    """The zoo's ImageNet classifiers with torchvision weights (they publish size and top-1)."""
    names = [name for name, arch in ARCHITECTURES.items() if arch.weights]
    return [f for f in zoo_table(names) if f.top1 is not None]


def choose(constraints: Constraints, facts: list[ArchitectureFacts] | None = None,
           latencies: dict[str, float] | None = None) -> Recommendation:
    """Filter the candidates by the hard limits, rank the rest, and explain every verdict."""
    pool = default_candidates() if facts is None else facts
    assessed = [_assess(f, constraints, latencies or {}) for f in pool]
    ranked = tuple(sorted((a for a in assessed if a.fits), key=lambda a: _rank_key(a, constraints)))
    excluded = tuple(sorted((a for a in assessed if not a.fits), key=lambda a: a.miss))
    notes = []
    if constraints.max_latency_ms is not None and any(not a.latency_source.startswith("measured") for a in assessed):
        notes.append(f"Latency was not measured for every model: MACs are the proxy, at an assumed "
                     f"{PROXY_GMACS_PER_S:g} GMAC/s; measure on the target device before deciding.")
    notes.append("Sizes: the published fp32 weights file where torchvision gives one, else params x bytes.")
    if ranked:
        best = ranked[0]
        summary = f"{best.title} fits best by {constraints.prefer}: " + "; ".join(best.reasons or ("no limits set",))
    else:
        nearest = "; ".join(f"{a.title}: {', '.join(a.broken)}" for a in excluded[:3])
        summary = f"Nothing fits these limits. Nearest candidates: {nearest}."
    return Recommendation(constraints, ranked, excluded, summary, training_advice(constraints.labelled_images),
                          tuple(notes))


def ranked_rows(rec: Recommendation, top: int = 10) -> list[dict]:
    """The ``top`` best candidates as table rows, with their reasons in words."""
    return [{"rank": i + 1, "model": c.title, "size MB": round(c.size_mb, 1), "latency ms": round(c.latency_ms, 1),
             "top-1 %": c.top1, "why": " ".join(c.reasons)} for i, c in enumerate(rec.ranked[:top])]


@dataclass(frozen=True)
class Scenario:
    question: str
    constraints: Constraints
    options: tuple[str, ...]  # the zoo names the slide offers, where it names models


LECTURE_SCENARIOS: dict[str, Scenario] = {
    "A": Scenario("Mobile app with 5MB size limit, real-time inference needed. ResNet-50, EfficientNet-B0, "
                  "or ViT-B?", Constraints(max_size_mb=5, max_latency_ms=50, prefer="speed"),  # 50 ms: 20 fps
                  ("resnet50", "efficientnet_b0", "vit_b_16")),
    "B": Scenario("Medical imaging with only 500 labeled images, high accuracy required. Train from scratch "
                  "or fine-tune?", Constraints(labelled_images=500, prefer="accuracy"), ()),
    "C": Scenario("Production system with 10M+ training images, cost is not a concern. CNN or "
                  "Transformer-based?", Constraints(labelled_images=10_000_000, prefer="accuracy"), ()),
}


def _scenario_a(s: Scenario, pool: list[ArchitectureFacts], latencies) -> Recommendation:
    """None of the slide's three fits 5 MB in fp32: say so, then say what fits once quantised to int8."""
    fp32 = choose(s.constraints, pool, latencies)
    offered = [a for a in fp32.excluded + fp32.ranked if a.name in s.options]
    int8 = choose(replace(s.constraints, precision="int8"), pool, latencies)
    verdicts = "; ".join(f"{a.title} {a.size_mb:.1f} MB" + ("" if a.fits else " (too big)") for a in offered)
    if fp32.ranked:
        answer = f"In fp32, {fp32.ranked[0].title} fits ({fp32.ranked[0].size_mb:.1f} MB)."
    else:
        answer = "In fp32 nothing here fits 5 MB."
    fits_int8 = ", ".join(f"{a.title} ({a.size_mb:.1f} MB)" for a in int8.ranked) or "nothing"
    near = [a for a in int8.excluded if a.name in s.options and a.size_mb <= 1.1 * s.constraints.max_size_mb]
    near_text = "".join(f" {a.title} in int8 is {a.size_mb:.1f} MB, just over: a smaller head or pruning "
                        "brings it under." for a in near)
    offered_int8 = [a for a in int8.ranked + int8.excluded if a.name in s.options]
    summary = (f"Of the slide's options in fp32: {verdicts}. {answer} Quantised to int8, what fits: "
               f"{fits_int8}.{near_text} {_best_of_offered(offered_int8)}")
    return replace(int8, summary=summary, notes=int8.notes + (f"fp32 check: {fp32.summary}",))


def _best_of_offered(offered: list[Candidate]) -> str:
    """Which of the slide's options comes out best in int8, and which is furthest off, from their numbers."""
    if not offered:
        return ""
    fitting = sorted((a for a in offered if a.fits), key=lambda a: a.latency_ms)
    best = fitting[0] if fitting else min(offered, key=lambda a: a.miss)
    how = "fits" if best.fits else "comes nearest"
    sentence = (f"Of the slide's {len(offered)} options, {best.title} is the best: it {how} in int8 "
                f"({best.size_mb:.1f} MB, {best.latency_ms:.0f} ms).")
    worst = max(offered, key=lambda a: a.miss)
    if worst is not best and not worst.fits:
        sentence += f" {worst.title} is furthest off: {'; '.join(worst.broken)}."
    return sentence


def answer_scenario(name: str, facts: list[ArchitectureFacts] | None = None,
                    latencies: dict[str, float] | None = None) -> Recommendation:
    """The lecture's "Choose the Architecture" exercise, answered from computed facts."""
    if name not in LECTURE_SCENARIOS:
        raise UnknownName(f"Unknown scenario {name!r}. Choose one of: {', '.join(LECTURE_SCENARIOS)}.")
    scenario = LECTURE_SCENARIOS[name]
    pool = default_candidates() if facts is None else facts
    if name == "A":
        return _scenario_a(scenario, pool, latencies)
    rec = choose(scenario.constraints, pool, latencies)
    if name == "B":
        lead = "Fine-tune a pretrained CNN; do not train from scratch on 500 images."
    else:
        lead = ("Transformer-based (ViT / Swin) or ConvNeXt: with 10M+ images and cost no concern, models that "
                "keep gaining with data win; ImageNet-1K top-1 (1.3M images) understates their lead.")
    return replace(rec, summary=f"{lead} {rec.summary}")
