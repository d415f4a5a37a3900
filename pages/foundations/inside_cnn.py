"""Inside a CNN: convolution and pooling on a real photo, feature maps of real networks, Grad-CAM."""

import streamlit as st

from cvlab.cnn import convolution as conv
from cvlab.cnn import pooling
from cvlab.sizes import arithmetic as shapes
from cvlab.zoo.architectures import ARCHITECTURES
from cvlab.cnn.inside_network import classes_note
from cvlab.cnn.stage_check import check_stages
from cvlab.ui import convolution as conv_ui
from cvlab.ui import open_section, report_errors, sections, show_figure, show_table
from cvlab.ui.image_picker import image_picker
from cvlab.ui import networks as nets
from cvlab.ui.networks import cached_network, cached_trace
from cvlab.viz import convolution as conv_viz
from cvlab.viz import network as net_viz

BIND = "query-params"
CUSTOM = "custom"
PADDINGS = ["0", "1", "2", "3", "same"]


st.title("Inside a CNN")
st.caption("What the layers of a CNN do to a real image: slide a kernel, pool the result, then follow "
           "the image through a whole network to its class probabilities.")
image = image_picker(max_side=512)
if image is None:
    st.info("Choose a sample photo, or upload a working image, to continue.")
    st.stop()
gray_key = f"{image.content_hash}/gray"  # the sections' caches key on it
gray = conv_ui.grayscale(gray_key, image.pixels)  # (H, W) in [0, 1]
tab_conv, tab_pool, tab_net, tab_dense = sections("Convolution", "Pooling", "Through a network", "Conv vs dense")

for _ in open_section(tab_conv):
    st.latex(r"y[i,j] = \sum_m \sum_n x[i \cdot s + m \cdot d,\; j \cdot s + n \cdot d]\; k[m,n] + b")
    left, middle, right = st.columns([2, 1, 1])
    kernel_names = [*conv.KERNELS.names(), CUSTOM]
    kernel_name = left.selectbox("Kernel", kernel_names, index=kernel_names.index("sobel_x"), key="kernel", bind=BIND)
    stride = middle.number_input("Stride", 1, 4, 1, key="cs", bind=BIND)
    padding_text = middle.selectbox("Padding", PADDINGS, index=1, key="cp", bind=BIND)
    dilation = right.number_input("Dilation", 1, 3, 1, key="cd", bind=BIND)
    bias = right.number_input("Bias b", -1.0, 1.0, 0.0, step=0.1, key="cb", bind=BIND)
    grid_text = left.text_area("Your kernel (3x3 or 5x5, rows separated by ; or new lines)",
                               conv.KERNELS.get("sobel_x").text, key="grid", bind=BIND,
                               disabled=kernel_name != CUSTOM, height=90)
    padding = padding_text if padding_text == "same" else int(padding_text)
    with report_errors():
        kernel = conv.parse_kernel(grid_text) if kernel_name == CUSTOM else conv.KERNELS.get(kernel_name).array
        if kernel_name != CUSTOM:
            st.caption(f"**{conv.KERNELS.get(kernel_name).title}**: {conv.KERNELS.get(kernel_name).detects}")
        settings = (conv_ui.kernel_key(kernel), stride, padding, dilation, bias)
        result = conv_ui.convolved(gray_key, gray, *settings)
        out_h, out_w = result.output.shape
        calc = [shapes.conv_output_size(n, kernel.shape[0], stride, padding, dilation) for n in gray.shape]
        st.markdown(f"Input **{gray.shape[0]} x {gray.shape[1]}** → output **{out_h} x {out_w}** "
                    f"(the output-size calculator says {calc[0]} x {calc[1]}).")
        row_col = st.columns(2)
        row = row_col[0].number_input("Output row i", 0, out_h - 1, out_h // 2, key="row", bind=BIND)
        col = row_col[1].number_input("Output column j", 0, out_w - 1, out_w // 2, key="col", bind=BIND)
        step, conv_fig, step_fig = conv_ui.step_view(gray_key, gray, result, *settings, row, col)
        show_figure(conv_fig)
        show_figure(step_fig)
        st.code(step.equation(), language=None, wrap_lines=True)
        st.caption("PyTorch's Conv2d computes cross-correlation: the kernel is not flipped. That is why the "
                   "textbook Sobel-x grid 1 0 -1 / 2 0 -2 / 1 0 -1 appears here mirrored as sobel_x.")

for _ in open_section(tab_pool):
    left, right = st.columns(2)
    pool_size = left.number_input("Pooling window (and stride)", 2, 4, 2, key="pk", bind=BIND)
    shift = right.number_input("Shift the image by (pixels)", 1, 8, 1, key="shift", bind=BIND)
    if tab_pool.open:
        with report_errors():
            edges = conv.convolve(gray, "edge", padding=1).output.clip(min=0)  # (H, W): ReLU(edge map)
            show_figure(conv_viz.pooling_figure(pooling.compare_pooling(edges, pool_size)))
            moved = pooling.translation_invariance(edges, kernel_size=pool_size, shift_px=shift)
            show_figure(conv_viz.invariance_figure(moved))
            st.caption("The feature map is the ReLU of the edge kernel's output, like a first conv layer's. "
                       "Change = mean |before - after| / mean |before| after shifting the image. Pooling "
                       "forgets exactly where inside its window a feature was, so small shifts (less than "
                       "the window) change it less than the raw map; global average pooling forgets position "
                       "altogether.")

for _ in open_section(tab_net):
    left, right = st.columns([2, 1])
    arch_name = left.selectbox("Network", ARCHITECTURES.names(), key="arch", bind=BIND)
    pretrained = right.toggle("Pretrained weights when available", value=True, key="pre", bind=BIND)
    arch = ARCHITECTURES.get(arch_name)
    stage_name = left.selectbox("Stage to look at", arch.stages, index=arch.stages.index(arch.default_stage),
                                key="stage", bind=BIND)
    if tab_net.open:
        with report_errors():
            net = cached_network(arch_name, pretrained)
            (st.success if net.pretrained else st.warning)(f"{arch.title}: {net.weights_note}")
            trace = cached_trace(arch_name, pretrained, image.content_hash, image.pixels)
            classes = trace.num_classes  # the model's real outputs: 1000 for ImageNet, 10 for the CIFAR nets
            cam_class = None
            if arch.attention_block is None:  # a transformer shows attention instead of Grad-CAM
                # Its range comes from the model, so a class kept from a bigger model falls back to the top class.
                cam_class = right.number_input(f"Grad-CAM class, 0 to {classes - 1} (empty: the top class)", 0,
                                               classes - 1, None, key="cam", bind=BIND,
                                               help=classes_note(net, classes))
            show_table([stage.row() for stage in check_stages(arch, trace)])
            nets.feature_maps(next(s for s in trace.stages if s.name == stage_name))
            if trace.gap_vector is not None:
                gap_plot, logit_plot = st.columns(2)
                with gap_plot:
                    show_figure(net_viz.vector_figure(trace.gap_vector, f"GAP: {trace.gap_vector.size} numbers",
                                                      x_title="channel", y_title="mean activation"))
                with logit_plot:
                    show_figure(net_viz.vector_figure(trace.logits, f"FC: {classes} logits", x_title="class",
                                                      y_title="logit", labels=net.categories))
                st.caption(f"Global average pooling turns the last maps into {trace.gap_vector.size} numbers, one "
                           f"per channel; the fully connected layer maps them to {classes} logits, one per class, "
                           "and softmax turns those into probabilities.")
            nets.prediction(net, trace)
            nets.where_it_looks(net, trace, image, cam_class, pretrained)

for _ in open_section(tab_dense):
    cols = st.columns(5)
    in_h = cols[0].number_input("Input H", 1, 512, 32, key="dh", bind=BIND)
    in_w = cols[1].number_input("Input W", 1, 512, 32, key="dw", bind=BIND)
    in_c = cols[2].number_input("Input channels", 1, 2048, 3, key="dci", bind=BIND)
    out_c = cols[3].number_input("Output channels", 1, 2048, 64, key="dco", bind=BIND)
    k = cols[4].number_input("Kernel K", 1, 11, 3, step=2, key="dk", bind=BIND)
    with report_errors():
        compared = conv.conv_vs_dense_params(in_h, in_w, in_c, out_c, k)
        head = pooling.head_params()
        a, b, c = st.columns(3)
        a.metric("Conv layer", f"{compared.conv_params:,}")
        b.metric("Dense layer, same input and output", f"{compared.dense_params:,}")
        c.metric("Dense / conv", f"{compared.ratio:,.0f}x")
        show_figure(conv_viz.params_figure(compared, head))
        st.caption(f"A conv layer shares one small kernel over every position; a dense layer needs a weight for "
                   f"every input-output pair. The same reasoning retired big FC heads: on the lecture's 7x7x512 "
                   f"map, flatten + FC to 1000 classes takes {head.flatten_fc_params:,} parameters, GAP + FC "
                   f"only {head.gap_fc_params:,} ({head.ratio:.0f}x fewer).")
