"""Architectures: the lecture's families compared on computed facts, scaling, tokens, claims and a chooser."""

import streamlit as st

from cvlab.data.images import load_sample
from cvlab.ui import cached_figure, open_section, report_errors, sections, show_figure, show_table
from cvlab.ui.chooser import own_constraints
from cvlab.ui.zoo import (COMPARE_CAPTION, YOLO_CAPTION, attention_costs, claim_rows, compare_rows, latencies,
                          layers_of, measurement_panel, measurements, real_efficientnets, segmentation_rows,
                          show_compare_table, yolo_rows, zoo_facts)
from cvlab.viz import scaling as scaling_viz
from cvlab.viz import zoo as zoo_viz
from cvlab.zoo import anatomy, chooser, scaling, tokens
from cvlab.zoo.architectures import ARCHITECTURES
from cvlab.zoo.facts import with_measurements

BIND = "query-params"
LATENCY = st.column_config.NumberColumn(format="%.1f", help="batch 1, median, this machine. A dash: not measured "
                                         "here yet (Measure, under the table).")


def compare() -> None:
    families = sorted({arch.family for _, arch in ARCHITECTURES.items()})
    chosen = st.multiselect("Families", families, default=families, key="fam", bind=BIND)
    axis = st.segmented_control("Top-1 against", ["params", "macs", "latency"], default="params", key="x", bind=BIND)
    with report_errors():
        shown = with_measurements([f for f in zoo_facts() if f.family in chosen], measurements())
        show_compare_table(compare_rows(shown))
        st.caption(COMPARE_CAPTION)
        chart = cached_figure(zoo_viz.accuracy_chart, tuple(shown), axis or "params")  # facts are frozen
        show_figure(chart)
        if chart.layout.meta["note"]:
            st.caption(chart.layout.meta["note"] + ".")
        measurement_panel()  # last: above the chart, its 2 s reruns left the chart hidden in the browser


def inside_a_model() -> None:
    left, right = st.columns(2)
    model_name = left.selectbox("Network", ARCHITECTURES.names(), index=ARCHITECTURES.names().index("resnet18"),
                                key="net", bind=BIND)
    block_name = right.selectbox("Block", anatomy.BLOCKS.names(), key="block", bind=BIND)
    with report_errors():
        rows = layers_of(model_name)
        arch = ARCHITECTURES.get(model_name)
        show_figure(zoo_viz.stage_figure(anatomy.stage_sizes(rows, arch.stages), f"{arch.title}, stage by stage"))
        show_table([{"layer": r.name, "type": r.type, "output": " x ".join(map(str, r.output_shape or ())),
                     "params": r.params} for r in rows], height=320)
        block, sample = anatomy.BLOCKS.get(block_name), anatomy.try_block(block_name)
        st.markdown(f"**{block.title}.** {block.explanation}")
        st.caption(f"A small one: {sample.params:,} parameters, {sample.input_shape} -> {sample.output_shape}.")
        st.code(block.source, language="python", wrap_lines=True)


def choose() -> None:
    scenario = st.segmented_control("The lecture's exercise", list(chooser.LECTURE_SCENARIOS), default="A",
                                    key="scn", bind=BIND)
    if scenario:
        st.markdown(f"**Scenario {scenario}.** {chooser.LECTURE_SCENARIOS[scenario].question}")
        with report_errors():
            answer = chooser.answer_scenario(scenario, latencies=latencies() or None)
            st.success(answer.summary)
            st.info(answer.training_advice)
    st.subheader("Your own constraints")
    with report_errors():
        result = chooser.choose(own_constraints(), latencies=latencies() or None)
        st.markdown(result.summary)
        show_table(chooser.ranked_rows(result))
        st.caption(result.training_advice + " " + " ".join(result.notes))


def compound_scaling() -> None:
    st.latex(r"d = \alpha^\phi,\quad w = \beta^\phi,\quad r = \gamma^\phi,\qquad "
             r"\text{FLOPs} \propto (\alpha \beta^2 \gamma^2)^\phi \approx 2^\phi")
    cols = st.columns(4)
    phi = cols[0].slider("phi", 0.0, 8.0, 1.0, 0.1, key="phi", bind=BIND)
    alpha = cols[1].slider("alpha (depth)", 1.01, 2.0, scaling.PAPER_ALPHA, 0.01, key="alpha", bind=BIND)
    beta = cols[2].slider("beta (width)", 1.01, 2.0, scaling.PAPER_BETA, 0.01, key="beta", bind=BIND)
    gamma = cols[3].slider("gamma (resolution)", 1.01, 2.0, scaling.PAPER_GAMMA, 0.01, key="gamma", bind=BIND)
    with report_errors():
        point = scaling.compound_scaling(phi, alpha, beta, gamma)
        a, b, c, d = st.columns(4)
        a.metric("Depth x", f"{point.depth:.2f}")
        b.metric("Width x", f"{point.width:.2f}")
        c.metric("Resolution", f"{point.resolution_px} px")
        d.metric("FLOPs x", f"{point.flops_multiplier:.1f}")
        if point.constraint_note:
            st.warning(point.constraint_note)
        show_figure(scaling_viz.compound_scaling_figure(scaling.scaling_curve(alpha, beta, gamma),
                                                        real_efficientnets(alpha, beta, gamma)))


def vit_vs_swin() -> None:
    with report_errors():
        photo = load_sample("astronaut", 224).pixels
        show_figure(scaling_viz.patch_grid_figure(photo, tokens.patch_grid(224, 224), tokens.vit_tokens(224)[2],
                                                  tokens.describe_vit_tokens(224)))
        show_figure(scaling_viz.swin_windows_figure(photo, tokens.swin_windows(224, 224),
                                                    tokens.swin_windows(224, 224, shift=True)))
        points, fits = attention_costs()
        show_figure(scaling_viz.attention_cost_figure(points, fits))
        st.caption("Counted from the real torchvision models at each size. Self-attention over all tokens "
                   "grows with the square of the token count; Swin attends within fixed 7x7 windows, so its "
                   "cost grows linearly with the image area.")


def yolo() -> None:
    left, right = st.columns(2)
    every_size = left.toggle("Every size, n to x", key="yolo_all", bind=BIND,
                             help="All 44 models; counting them takes a minute the first time")
    yolo_px = right.segmented_control("Measure latency at (px)", ["640", "320"], default="640", key="yolo_px",
                                      bind=BIND, help="320 px is about 4x quicker to measure on a CPU")
    with report_errors():
        rows = yolo_rows(every_size)
        show_table(rows, column_config={"latency ms at 640": LATENCY, "latency ms at 320": LATENCY})
        st.caption(YOLO_CAPTION)
        measurement_panel("yolo", [r["model"] for r in rows], int(yolo_px or "640"), key="measure_yolo")


def segmentation() -> None:
    with report_errors():
        rows = segmentation_rows()
        show_table(rows, column_config={"latency ms at 256": LATENCY})
        st.caption("segmentation_models_pytorch networks with the lecture's two encoders, and the lecture's "
                   "Hugging Face SegFormer-B0 (its own MiT-B0 encoder), random weights (encoder_weights=None), "
                   "one output channel, counted and measured here at 256 x 256 px, batch 1. "
                   "MACs = FLOPs / 2.")
        measurement_panel("segmentation", key="measure_seg")


def lecture_claims() -> None:
    with report_errors():
        show_table(claim_rows())
        st.caption("Where the slide and the measurement differ, the verdict says why: rounding, a different "
                   "weights version, or a claim that does not hold as stated.")


SECTIONS = {"Compare": compare, "Inside a model": inside_a_model, "Choose": choose,
            "Compound scaling": compound_scaling, "ViT vs Swin": vit_vs_swin, "YOLO": yolo,
            "Segmentation": segmentation, "Lecture claims": lecture_claims}

st.title("Architectures")
st.caption("VGG to Swin side by side. Parameters and multiply-accumulates are counted from the real model "
           "definitions here; accuracy and file size come from the published weights, which are named; "
           "latency is measured on this machine.")
for tab, draw in zip(sections(*SECTIONS), SECTIONS.values()):
    for _ in open_section(tab):  # only the open section is built, its widgets included
        draw()
