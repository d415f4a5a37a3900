"""Activations: curves and slopes, softmax with a temperature, dying ReLU and vanishing gradients live."""

from itertools import product

import streamlit as st

from cvlab.activations import functions as activations
from cvlab.activations import softmax
from cvlab.activations import experiments as gx
from cvlab.ui import cached_figure, open_section, report_errors, sections, show_figure
from cvlab.ui.activations import curve, display_name, dying_relu, fact_card, init_name, vanishing
from cvlab.viz import activations as viz

NAMES = activations.ACTIVATIONS.names()
BIND = "query-params"
INIT_HELP = "  \n".join(f"**{init.display_name}**: {init.description}" for _, init in gx.INITS.items())


st.title("Activation functions")
st.caption("Without a non-linearity, a stack of layers is just one linear map. "
           "Here you can see each function, its slope, and what the slope does to learning.")
tab_functions, tab_softmax, tab_dying, tab_vanishing = sections(
    "Functions", "Softmax", "Dying ReLU", "Vanishing gradients")

for _ in open_section(tab_functions):
    chosen = st.multiselect("Functions", NAMES, default=["relu", "sigmoid", "gelu"], format_func=display_name,
                            key="fn", bind=BIND)
    left, right = st.columns([2, 1])
    x_min, x_max = left.slider("x range", -10.0, 10.0, (-5.0, 5.0), step=0.5, key="x", bind=BIND)
    show_slopes = right.toggle("Slopes f′(x), dashed", value=True, key="dy", bind=BIND)
    shade = right.toggle("Vanishing zones", value=True, key="zone", bind=BIND)
    tunable = [(name, p) for name in chosen for p in activations.get_activation(name).params]
    params: dict[str, dict[str, float]] = {}
    for column, (name, p) in zip(st.columns(max(len(tunable), 1)), tunable):
        params.setdefault(name, {})[p.name] = column.slider(
            f"{display_name(name)}: {p.label}", p.low, p.high, p.default, p.step, key=f"{name}_{p.name}", bind=BIND)
    if not chosen:
        st.info("Pick at least one function above.")
    elif tab_functions.open:
        with report_errors():
            curves = [curve(name, x_min, x_max, tuple(params.get(name, {}).items())) for name in chosen]
            settings = (tuple(chosen), x_min, x_max, tuple(sorted((k, tuple(v.items())) for k, v in params.items())))
            show_figure(cached_figure(viz.activation_figure, curves, show_derivative=show_slopes,
                                      shade_vanishing=shade, cache_key=settings))  # what the curves come from
            st.caption("The bars under the plot mark where |f′(x)| < 0.01. Backpropagation multiplies by this "
                       "slope, so almost no gradient gets through there. A thin bar marks the bottom of a dip, "
                       "where the slope passes through zero. Slopes come from PyTorch's autograd.")
            columns = st.columns(min(len(curves), 3))
            for index, item in enumerate(curves):
                with columns[index % len(columns)]:
                    fact_card(activations.get_activation(item.name), item.torch_code)

for _ in open_section(tab_softmax):
    st.latex(r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}")
    left, right = st.columns([2, 1])
    logits_text = left.text_input("Logits z (comma-separated)", "2.0, 1.0, 0.1", key="logits", bind=BIND)
    temperature = right.slider("Temperature T", 0.1, 10.0, 1.0, step=0.1, key="temp", bind=BIND)
    if tab_softmax.open:
        with report_errors():
            result = softmax.softmax(softmax.parse_logits(logits_text), temperature)
            plain = softmax.softmax(result.logits) if temperature != 1.0 else None
            show_figure(viz.softmax_figure(result, reference=plain))
            top = max(range(len(result.labels)), key=result.probabilities.__getitem__)
            st.markdown(f"**{result.labels[top]}** gets {result.probabilities[top]:.1%}; the probabilities add up to "
                        f"{result.total:.3f}.")
            st.caption("Each exponential is divided by their sum, so the outputs are positive and add up to 1. "
                       "Dividing the logits by T > 1 flattens the distribution (towards uniform); T < 1 sharpens "
                       "it (towards all mass on the largest logit). The diamonds show plain softmax (T = 1).")

for _ in open_section(tab_dying):
    left, right = st.columns(2)
    dying_names = left.multiselect("Activations", NAMES, default=["relu", "leaky_relu"], format_func=display_name,
                                   key="dact", bind=BIND)
    learning_rate = right.select_slider("Learning rate (plain SGD)", options=gx.LEARNING_RATES,
                                        value=gx.DyingReluConfig.learning_rate, format_func="{:g}".format,
                                        key="lr", bind=BIND)
    init = left.selectbox("Initialisation", gx.INITS.names(), format_func=init_name, key="init", bind=BIND,
                          help=INIT_HELP)
    steps = right.slider("Training steps", 20, 500, gx.DyingReluConfig.steps, step=20, key="steps", bind=BIND)
    baseline = st.toggle(f"Compare with the safe setting (ReLU, He init, lr {gx.SAFE_LEARNING_RATE:g})", value=True,
                         key="safe", bind=BIND)
    if not dying_names:
        st.info("Pick at least one activation above.")
    elif tab_dying.open:
        with report_errors():
            configs = [gx.DyingReluConfig(activation=name, init=init, learning_rate=learning_rate, steps=steps)
                       for name in dying_names]
            safe = gx.safe_baseline(configs[0])
            configs += [safe] if baseline and safe not in configs else []
            results = [dying_relu(config) for config in configs]
            show_figure(viz.dead_units_figure(results))
            for column, r in zip(st.columns(len(results)), results):
                column.metric(r.label, f"{r.final_dead_fraction:.0%} dead")
                column.caption(f"silent {r.silent_fraction[-1]:.0%} · accuracy {r.accuracy:.0%}"
                               + (f" · diverged at step {r.diverged_at}" if r.diverged_at else ""))
            st.markdown(
                "A unit is **dead** when its slope is 0 on every one of the 512 training inputs: no gradient "
                "reaches its weights, so it can never recover. A large step can push a ReLU unit's input below "
                "zero for every example, and it stays there. LeakyReLU's slope is never 0 (at least a = 0.01), "
                "so its units cannot die, though they can go **silent** (below zero everywhere) and recover slowly. "
                f"The network is {gx.DyingReluConfig.depth} hidden layers of {gx.DyingReluConfig.width} units "
                f"learning {gx.CLASSES} classes, so chance accuracy is {1 / gx.CLASSES:.0%}.")

for _ in open_section(tab_vanishing):
    left, right = st.columns(2)
    vanishing_names = left.multiselect("Activations", NAMES, default=["sigmoid", "relu"], format_func=display_name,
                                       key="vact", bind=BIND)
    inits = right.multiselect("Initialisations", gx.INITS.names(), default=["he"], format_func=init_name,
                              key="vinit", bind=BIND, help=INIT_HELP)
    depth = left.slider("Depth (Linear layers)", 5, 60, gx.VanishingConfig.depth, step=5, key="depth", bind=BIND)
    width = right.select_slider("Width (units per layer)", [32, 64, 128, 256], gx.VanishingConfig.width,
                                key="width", bind=BIND)
    if not (vanishing_names and inits):
        st.info("Pick at least one activation and one initialisation above.")
    elif tab_vanishing.open:
        with report_errors():
            results = [vanishing(gx.VanishingConfig(activation=name, init=init, depth=depth, width=width))
                       for name, init in product(vanishing_names, inits)]
            show_figure(viz.gradient_norms_figure(results))
            st.markdown(f"**Gradient norm at layer 1 ÷ at layer {depth}** (1 means the first layer learns as "
                        "fast as the last)")
            columns = st.columns(min(len(results), 4))
            for index, r in enumerate(results):
                columns[index % len(columns)].metric(r.label, f"{r.first_to_last:.2g}")
            st.markdown(
                "Each point is the size of one layer's weight gradient after a single backward pass. "
                "Backpropagation multiplies by every layer's slope on the way down: sigmoid's slope is at most "
                "0.25, so the signal shrinks layer after layer and the first layers barely learn. ReLU passes "
                "slope 1 where active, and He initialisation keeps the signal's size steady, so the line stays flat. "
                "Try PyTorch's default init with ReLU: it vanishes too.")
