"""The Inside a CNN page through AppTest: every section draws, shared addresses load, bad input is a message."""

import pytest

from cvlab.cnn import convolution

from cvlab.sizes import arithmetic as shapes
from cvlab.data.images import load_sample, to_grayscale
from tests.pages.apptest import run_script

PAGE = "pages/foundations/inside_cnn.py"


def texts(app) -> str:
    return "\n".join(str(el.value) for el in [*app.markdown, *app.caption, *app.code])


@pytest.mark.parametrize("section", ["Convolution", "Pooling", "Through a network", "Conv vs dense"])
def test_every_section_draws(section):
    app = run_script(PAGE, timeout=120, section=section)
    assert len(app.get("plotly_chart")) >= 1
    assert not app.error


def test_convolution_reports_the_calculators_size_and_the_step_equals_the_output_pixel():
    app = run_script(PAGE, img="camera", kernel="box_blur_3x3", cs="2", cp="0", row="10", col="20")
    gray = to_grayscale(load_sample("camera", 512).pixels)
    out = [shapes.conv_output_size(n, 3, 2, 0) for n in gray.shape]
    assert f"output **{out[0]} x {out[1]}**" in texts(app)
    expected = convolution.convolve(gray, "box_blur_3x3", stride=2).output[10, 20]
    assert f"{expected:.4f}" in texts(app)


def test_a_custom_kernel_that_is_not_square_is_a_message():
    app = run_script(PAGE, kernel="custom", grid="1 2 3; 4 5")
    assert app.error and "3x3" in app.error[0].value


def test_the_overview_network_matches_the_calculator_at_every_stage():
    app = run_script(PAGE, timeout=120, section="Through a network", arch="overview")
    table = app.dataframe[0].value
    assert list(table["same"]) == [True] * len(table)
    assert "random weights" in app.warning[0].value


def test_a_grad_cam_class_from_the_address_is_used():
    app = run_script(PAGE, timeout=120, section="Through a network", arch="mobilenet_v3_small", cam="7")
    assert any("Grad-CAM" in str(chart.proto.spec) and "class 7" in str(chart.proto.spec)
               for chart in app.get("plotly_chart"))


def chart_titles(app) -> str:
    return "\n".join(str(chart.proto.spec) for chart in app.get("plotly_chart"))


@pytest.mark.parametrize("arch, classes", [("lecture-vgg", 10), ("lecture-residual", 10), ("resnet18", 1000)])
def test_the_head_and_the_grad_cam_range_are_the_networks_own(arch, classes):
    app = run_script(PAGE, timeout=120, section="Through a network", arch=arch, pre="false")
    assert app.number_input(key="cam").max == classes - 1
    assert f"FC: {classes} logits" in chart_titles(app)
    assert f"maps them to {classes} logits" in texts(app)
    assert not app.error


def test_a_grad_cam_class_beyond_the_network_falls_back_to_the_top_class():
    app = run_script(PAGE, timeout=120, section="Through a network", arch="lecture-vgg", cam="500")
    assert app.number_input(key="cam").value is None and not app.error
    assert "Grad-CAM for class" in chart_titles(app)


def test_a_class_kept_from_an_imagenet_net_is_reset_for_a_cifar_net():
    app = run_script(PAGE, timeout=120, section="Through a network", arch="resnet18", pre="false", cam="500")
    assert app.number_input(key="cam").value == 500 and "class 500" in chart_titles(app)
    app.selectbox(key="arch").set_value("lecture-residual").run()
    assert not app.exception and not app.error
    assert app.number_input(key="cam").value is None and app.number_input(key="cam").max == 9


def test_conv_vs_dense_for_the_users_sizes():
    app = run_script(PAGE, section="Conv vs dense", dh="8", dw="8", dci="3", dco="16", dk="3")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Conv layer"] == f"{3 * 3 * 3 * 16 + 16:,}"
    assert metrics["Dense layer, same input and output"] == f"{(8 * 8 * 3) * (8 * 8 * 16) + 8 * 8 * 16:,}"


def test_vit_opens_on_its_patch_grid_and_says_why_it_shows_attention_and_no_top5():
    app = run_script(PAGE, timeout=300, section="Through a network", arch="vit_b_16")
    assert app.selectbox(key="stage").value == "encoder.layers.encoder_layer_5"  # not the head's vector
    assert not any("pick an earlier one" in i.value for i in app.info)
    titles = chart_titles(app)
    assert "Stage encoder.layers.encoder_layer_5" in titles and "Class-token attention" in titles
    assert "197 tokens, one per 16x16 patch plus the class token" in texts(app)
    assert "8 of its 768 features (the most active), each on the 14x14 grid" in texts(app)
    assert "Top-5" not in titles and "Grad-CAM for" not in titles  # no blank Grad-CAM, no 0.1% top-5
    infos = "\n".join(i.value for i in app.info)
    assert "Grad-CAM is not shown for ViT-B/16" in infos and "same probability" in infos
    assert not app.get("number_input") or all(n.key != "cam" for n in app.number_input)
    assert not app.error


def test_feature_maps_say_they_are_scaled_each_on_its_own():
    app = run_script(PAGE, timeout=120, section="Through a network", arch="resnet18", pre="false")
    assert "scaled on its own for display" in texts(app)
    assert any("Random weights" in i.value and "not shown" in i.value for i in app.info)  # no noise as a result
    assert "Grad-CAM for" in chart_titles(app)
