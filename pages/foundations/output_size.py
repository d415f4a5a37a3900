"""Output size: one conv or pool layer with its arithmetic, layer chains, the lecture's examples and exercises."""

import streamlit as st

from cvlab.sizes import frameworks as frameworks  # imports torch only inside verify_chain
from cvlab.sizes import chain_text as spec
from cvlab.sizes import arithmetic as shapes
from cvlab.sizes import working as size_working
from cvlab.sizes.chain import chain_rows, chain_table, format_shape
from cvlab.ui import cached_figure, open_section, report_errors, sections, show_figure, show_table
from cvlab.ui.sizes import edit_chain, load_preset, reorder_layers
from cvlab.viz import shapes as viz

BIND = "query-params"
KINDS = {"conv": "Conv2d", "maxpool": "MaxPool2d", "avgpool": "AvgPool2d", "convtranspose": "ConvTranspose2d"}


def whole(where, label: str, key: str, value: int, low: int = 0) -> int:
    """A bound whole-number box; 0 is allowed where PyTorch rejects it, so the page can say why."""
    return where.number_input(label, min_value=low, value=value, step=1, key=key, bind=BIND)


st.title("Output size")
st.caption("How big is the output of a conv or pooling layer? Every number here follows PyTorch's own rules, "
           "including the layers PyTorch refuses. Shapes are C x H x W, as in PyTorch; the lecture writes H x W x C.")
single, chain, examples, exercises = sections("Single layer", "Layer chain", "Worked examples", "Exercises")

for _ in open_section(single):
    # No format_func on bound selectboxes: the URL would hold the formatted label instead of the name.
    kind = st.selectbox("Layer", list(KINDS), key="layer", bind=BIND,
                        help=", ".join(f"{name}: nn.{torch_name}" for name, torch_name in KINDS.items()))
    pool = kind.endswith("pool")
    size, window, extra = st.columns(3)
    h, w = whole(size, "Input height H", "h", 32, 1), whole(size, "Input width W", "w", 32, 1)
    k = whole(window, "Kernel size K", "k", 2 if pool else 3)
    pool_stride = pool and window.toggle("Stride = kernel (default)", True, key="sk", bind=BIND,
                                         help="PyTorch's pooling layers step by their kernel size "
                                              "unless told otherwise.")
    s = None if pool_stride else whole(window, "Stride S", "s", 1)
    mode = extra.selectbox("Padding", ["number", "same", "valid"], key="pm", bind=BIND) if kind == "conv" else "number"
    p = whole(extra, "Padding P (per side)", "p", 0) if mode == "number" else mode
    d = 1 if kind == "avgpool" else whole(extra, "Dilation d", "d", 1)
    ceil = pool and extra.toggle("ceil_mode (round up)", key="ceil", bind=BIND)
    op = whole(extra, "output_padding", "op", 0) if kind == "convtranspose" else 0
    if kind in ("conv", "convtranspose"):
        cin, cout, groups = st.columns(3)
        channels = whole(cin, "In channels", "cin", 3, 1), whole(cout, "Out channels", "cout", 64, 1)
        g = whole(groups, "Groups", "g", 1, 1)
    if single.open:
        with report_errors():
            work_h = size_working.explain_output_size(kind, h, k, s, p, d, ceil, op)
            work_w = size_working.explain_output_size(kind, w, k, s, p, d, ceil, op)
            out, params, macs = st.columns(3)
            out.metric("Output H x W", f"{work_h.output} x {work_w.output}")
            for axis, work in (("H", work_h), ("W", work_w))[: 1 if h == w else 2]:
                st.latex(work.latex.replace(r"\text{out}", rf"\text{{out}}_{axis}"))
                st.code("\n".join(work.steps), language=None, wrap_lines=True)  # the last line can be long
            dropped = [f"{work.dropped} {name}" for work, name in ((work_h, "row(s) at the bottom"),
                                                                  (work_w, "column(s) at the right")) if work.dropped]
            if dropped:
                st.warning(f"The floor drops {' and '.join(dropped)}: no window reaches them. Add padding, or pick a "
                           "stride that divides W + 2P - K, to use every pixel.", icon=":material/crop:")
            if work_h.unread > work_h.dropped:
                st.info(f"{work_h.unread - work_h.dropped} more input row(s) fall between the kernel's taps (a stride "
                        "larger than the window, or dilation gaps): no output reads them.")
            if kind in ("conv", "convtranspose"):
                count, cost = shapes.conv_layer_cost(kind, *channels, k, (h, w), (work_h.output, work_w.output), g)
                params.metric("Parameters", f"{count:,}", help="out x in/groups x K x K weights + out biases")
                macs.metric("Multiply-accumulates", f"{cost:,}", help="for one image; bias adds not counted")
            if kind != "convtranspose" and h <= 64:
                st.caption("Which input pixels each output reads, along H:")
                show_figure(cached_figure(viz.windows_figure, h, k, s or k, work_h.pad_before, work_h.pad_after,
                                          work_h.output, d))

for _ in open_section(chain):
    names = ["custom", *spec.PRESETS.names()]
    preset_name = st.selectbox("Preset", names, index=names.index("resnet-stem"), key="preset", bind=BIND,
                               on_change=load_preset, help="custom: your own chain")
    preset = None if preset_name == "custom" else spec.PRESETS.get(preset_name)
    left, right = st.columns([1, 4])
    input_text = left.text_input("Input C x H x W", format_shape(preset.input_shape) if preset else "3x224x224",
                                 key="inp", bind=BIND)
    chain_text = right.text_input("Layers", preset.spec if preset else "", key="chain", bind=BIND,
                                  on_change=lambda: st.session_state.update(preset="custom"),
                                  help="Layers separated by |, e.g. conv(64,k=3,p=1)*2 | maxpool(k=2) | gap | "
                                       "flatten | linear(10). Keys: k kernel, s stride, p padding, d dilation, "
                                       "g groups, op output_padding, ceil 0/1, bias 0/1.")
    if preset and chain_text == preset.spec:
        st.caption(f"**{preset.title}.** {preset.note}")
    with st.form("add_layer", border=False):
        typed, add = st.columns([4, 1], vertical_alignment="bottom")
        typed.text_input("Add layers at the end", placeholder="conv(128,k=3,p=1) | relu | maxpool(k=2)", key="new")
        add.form_submit_button("Add", on_click=lambda: edit_chain(spec.append_layers, st.session_state["new"]))
    if st.session_state.get("edit_error"):
        st.error(st.session_state["edit_error"])
    if chain.open:
        with report_errors():
            input_shape, layers = spec.parse_input_shape(input_text), spec.parse_chain(chain_text)
            rows = chain_rows(input_shape, layers) if layers else []
            reorder_layers(layers)
            if not rows:
                st.info("The chain is empty: choose a preset or add a layer above.")
            else:
                counts = {name: st.column_config.NumberColumn(format="localized") for name in ("params", "MACs")}
                show_table(chain_table(input_shape, rows), column_config=counts)
                total_params, total_macs = sum(r.params for r in rows), sum(r.macs for r in rows)
                out, params, macs = st.columns(3)
                out.metric("Output", format_shape(rows[-1].output_shape))
                params.metric("Parameters", f"{total_params:,}")
                macs.metric("MACs", f"{total_macs / 1e9:.3g} G" if total_macs >= 1e8 else f"{total_macs:,}")
                st.caption("Receptive field: input pixels per side that one output value sees (all: the whole "
                           "input); jump: input pixels between neighbouring outputs. MACs: conv and linear only.")
                show_figure(viz.chain_figure(rows))
                if st.button("Verify with PyTorch", key="verify", icon=":material/check_circle:"):
                    checked = frameworks.verify_chain(input_shape, layers)  # imports torch on first use
                    bad = [v for v in checked if not v.matches]
                    (st.error if bad else st.success)(
                        f"Real PyTorch layers on a real 1x{format_shape(input_shape)} tensor: "
                        f"{len(checked) - len(bad)} of {len(checked)} layers match in shape and parameter count.")
                    show_table([{"layer": v.layer, "predicted": format_shape(v.predicted_shape),
                                 "PyTorch": format_shape(v.torch_shape), "params (PyTorch)": v.torch_params,
                                 "match": v.matches} for v in checked])
                as_torch, as_keras = st.tabs(["Copy as PyTorch", "Copy as Keras"])
                as_torch.code(frameworks.pytorch_code(input_shape, layers), language="python")
                as_keras.caption("Keras pads only 'same' or 'valid'; where neither matches PyTorch, the code says so "
                                 "and adds ZeroPadding2D.")
                as_keras.code(frameworks.keras_code(input_shape, layers), language="python", wrap_lines=True)

for _ in open_section(examples):
    st.markdown("The lecture's table, computed with $\\text{out} = \\lfloor (W - K + 2P) / S \\rfloor + 1$:")
    show_table(size_working.lecture_example_rows())
    st.markdown("- **P = 1 with K = 3** keeps the size: the padding makes up the K - 1 pixels a window loses.\n"
                "- **No padding** shrinks by K - 1: 32 becomes 30.\n"
                "- **Stride 2** about halves the size; the floor rounds 31 / 2 down.\n"
                "- **K = 7, P = 3, S = 2** is ResNet's first layer: 224 becomes 112.")

for _ in open_section(exercises):
    st.markdown("Work each one out on paper first, then type your answer (pixels per side).")
    for number, exercise in enumerate(size_working.lecture_exercises(), start=1):
        st.markdown(f"**Question {number}.** {exercise.question}")
        answer = st.number_input("Your answer", min_value=0, value=None, step=1, key=f"a{number}")
        if answer == exercise.answer:
            st.success(f"Right: {exercise.answer} x {exercise.answer}.", icon=":material/check:")
        elif answer is not None:
            st.warning(f"Not {answer}. Hint: {exercise.hint}", icon=":material/lightbulb:")
        with st.expander("Show the working"):
            st.code("\n".join(exercise.working), language=None)
            st.caption(exercise.note)
