"""The Output size page through AppTest: shared addresses load, widgets drive it, mistakes show as messages."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from cvlab.syllabus import REPO_ROOT
from tests.pages.apptest import run_script

PAGE = "pages/foundations/output_size.py"


def open_page(**query: str) -> AppTest:
    return run_script(PAGE, **query)


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def texts(elements) -> str:
    return "\n".join(str(element.value) for element in elements)


# ---- single layer --------------------------------------------------------------------------------------


def test_default_conv_shows_size_formula_params_and_macs():
    app = open_page()
    assert metrics(app) == {"Output H x W": "30 x 30", "Parameters": "1,792", "Multiply-accumulates": "1,555,200"}
    assert r"\frac{32 - 3 + 2\cdot 0}{1}" in texts(app.latex)
    assert not app.error and not app.warning


def test_widgets_drive_the_calculation():
    app = open_page()
    app.number_input(key="s").set_value(2).run()
    app.number_input(key="p").set_value(1).run()
    assert metrics(app)["Output H x W"] == "16 x 16"
    assert "floor((32 - 3 + 2*1) / 2) + 1" in texts(app.code) and "= 15 + 1 = 16" in texts(app.code)
    app.number_input(key="w").set_value(64).run()  # non-square: a formula per axis
    assert metrics(app)["Output H x W"] == "16 x 32" and len(app.latex) == 2
    app.number_input(key="g").set_value(3).run()
    app.number_input(key="cout").set_value(6).run()
    assert metrics(app)["Parameters"] == "60"  # 6 x 3/3 x 3 x 3 weights + 6 biases


def test_a_shared_address_loads_the_resnet_first_layer():
    app = open_page(layer="conv", h="224", w="224", k="7", s="2", p="3", cin="3", cout="64")
    assert metrics(app) == {"Output H x W": "112 x 112", "Parameters": "9,472", "Multiply-accumulates": "118,013,952"}
    assert app.number_input(key="k").value == 7


def test_the_floor_warning_counts_dropped_pixels():
    app = open_page(k="3", s="2", p="0")
    assert metrics(app)["Output H x W"] == "15 x 15"
    assert "The floor drops 1 row(s) at the bottom and 1 column(s) at the right" in texts(app.warning)


def test_rows_skipped_between_windows_are_counted():
    app = open_page(h="10", w="10", k="1", s="3")  # taps at 0, 3, 6, 9
    assert metrics(app)["Output H x W"] == "4 x 4" and not app.warning
    assert "6 more input row(s) fall between the kernel's taps" in texts(app.info)


def test_pooling_from_the_syllabus_link_and_ceil_mode():
    app = open_page(layer="maxpool")
    assert metrics(app) == {"Output H x W": "16 x 16"}  # kernel 2, stride = kernel
    app.number_input(key="h").set_value(31).run()
    assert metrics(app)["Output H x W"] == "15 x 16" and "1 row(s) at the bottom" in texts(app.warning)
    app.toggle(key="ceil").set_value(True).run()
    assert metrics(app)["Output H x W"] == "16 x 16" and not app.warning


def test_a_dropped_ceil_mode_window_is_explained_in_a_working_that_wraps():
    app = open_page(layer="maxpool", h="5", w="5", k="2", sk="false", s="2", p="1", ceil="true")
    assert metrics(app)["Output H x W"] == "3 x 3"
    working = app.code[0]
    assert working.value.splitlines()[-1].startswith("The last window would start at 3*2 = 6")
    assert working.proto.wrap_lines  # its last line, past 100 characters, was cut off at the right
    assert texts(app.latex).rstrip("$\n").endswith(r"= 4 \to 3")  # the words are in the working, not here


def test_impossible_layers_show_the_rule_not_a_traceback():
    app = open_page(layer="maxpool", k="4", p="3")
    assert "pad should be at most half of kernel size" in texts(app.error) and "padding <= 2" in texts(app.error)
    assert not app.metric
    app = open_page(layer="conv", s="2", pm="same")
    assert "padding='same' is not supported for strided convolutions" in texts(app.error)
    app = open_page(layer="convtranspose", s="2", op="2")
    assert "output padding must be smaller than either stride or dilation" in texts(app.error)
    app = open_page(cin="4", cout="6", g="4")
    assert "groups=4 must divide both channel counts" in texts(app.error)


def test_same_padding_and_transposed_conv():
    app = open_page(pm="same", k="4")
    assert metrics(app)["Output H x W"] == "32 x 32" and "1 before and 2 after" in texts(app.code)
    app = open_page(layer="convtranspose", h="7", w="7", s="2", p="1", op="1", cin="64", cout="32")
    assert metrics(app)["Output H x W"] == "14 x 14"
    assert metrics(app)["Multiply-accumulates"] == f"{7 * 7 * 64 * 32 * 9:,}"


# ---- layer chain ---------------------------------------------------------------------------------------


def test_vgg16_link_loads_and_verifies_with_pytorch():
    app = open_page(section="Layer chain", preset="vgg16")
    assert metrics(app) == {"Output": "1000", "Parameters": "138,357,544", "MACs": "15.5 G"}
    table = app.dataframe[0].value
    assert list(table["output"])[:2] == ["3x224x224", "64x224x224"] and list(table["output"])[-1] == "1000"
    assert "conv(64,k=3,p=1)*2|maxpool(k=2)" in app.text_input(key="chain").value
    app.button(key="verify").click().run()
    assert not app.exception
    assert "22 of 22 layers match in shape and parameter count" in texts(app.success)
    assert "nn.Linear(25088, 4096)" in texts(app.code)


def test_overview_preset_and_its_code():
    app = open_page(section="Layer chain", preset="overview")
    assert metrics(app)["Output"] == "1000" and metrics(app)["Parameters"] == "2,063,976"
    code = texts(app.code)
    assert "nn.Conv2d(3, 64, kernel_size=3, stride=2, padding=1),  # -> 64x112x112" in code
    assert "layers.ZeroPadding2D(padding=1)" in code and "layers.GlobalAveragePooling2D(keepdims=True)" in code
    assert "leaves '...' open" in texts(app.caption)


def test_choosing_a_preset_fills_the_chain():
    app = open_page(section="Layer chain")
    assert metrics(app)["Output"] == "64x56x56"  # the ResNet stem by default
    app.selectbox(key="preset").set_value("exercise-3").run()
    assert app.text_input(key="chain").value == "conv(64,k=7,s=2,p=3)|maxpool(k=3,s=2)"
    assert metrics(app)["Output"] == "64x55x55"


def test_editing_the_chain_with_buttons():
    app = open_page(section="Layer chain", preset="exercise-3")
    app.text_input(key="new").set_value("gap | flatten | linear(10)")
    app.button[0].click().run()  # the form's Add button
    assert app.text_input(key="chain").value == "conv(64,k=7,s=2,p=3)|maxpool(k=3,s=2)|gap|flatten|linear(10)"
    assert app.selectbox(key="preset").value == "custom" and metrics(app)["Output"] == "10"
    app.button(key="dn0").click().run()
    assert app.text_input(key="chain").value.startswith("maxpool(k=3,s=2)|conv(64,k=7,s=2,p=3)|")
    app.button(key="up1").click().run()
    app.button(key="rm1").click().run()
    assert app.text_input(key="chain").value == "conv(64,k=7,s=2,p=3)|gap|flatten|linear(10)"
    assert app.query_params["chain"] == "conv(64,k=7,s=2,p=3)|gap|flatten|linear(10)"  # the address holds it


def test_a_bad_added_layer_is_reported_and_the_chain_kept():
    app = open_page(section="Layer chain", preset="exercise-3")
    app.text_input(key="new").set_value("maxpol(2)")
    app.button[0].click().run()
    assert not app.exception and "Unknown layer 'maxpol'" in texts(app.error)
    assert app.text_input(key="chain").value == "conv(64,k=7,s=2,p=3)|maxpool(k=3,s=2)"


def test_an_impossible_chain_names_the_layer_and_the_fix():
    app = open_page(section="Layer chain", preset="custom", chain="conv(8,k=3)|linear(10)", inp="1x28x28")
    assert "Layer 2, linear(10), on a 8x26x26 input" in texts(app.error)
    assert "add flatten before linear" in texts(app.error)
    app = open_page(section="Layer chain", preset="custom", chain="")
    assert "The chain is empty" in texts(app.info)


# ---- worked examples and exercises ---------------------------------------------------------------------


def test_worked_examples_reproduce_the_lecture_table():
    app = open_page(section="Worked examples")
    table = app.dataframe[0].value
    assert list(table["Output"]) == [32, 30, 16, 112]
    assert list(table["Working"])[2] == "floor((32 - 3 + 2*1) / 2) + 1 = 16"


def test_exercises_check_answers_and_reveal_the_working():
    app = open_page(section="Exercises")
    app.number_input(key="a1").set_value(62).run()
    assert "Right: 62 x 62." in texts(app.success)
    app.number_input(key="a2").set_value(31).run()
    assert "Not 31." in texts(app.warning)
    app.number_input(key="a3").set_value(56).run()
    assert "Not 56." in texts(app.warning) and "this pool has no padding" in texts(app.warning)
    app.number_input(key="a3").set_value(55).run()
    assert "Right: 55 x 55." in texts(app.success)
    working = texts(app.code)
    assert "= floor(109 / 2) + 1 = 54 + 1 = 55" in working
    assert "padding=1, which gives 56" in texts(app.caption)


def test_the_page_runs_without_importing_torch_until_asked():
    import subprocess
    import sys

    code = ("import sys; from streamlit.testing.v1 import AppTest; "
            f"app = AppTest.from_file({str(REPO_ROOT / PAGE)!r}, default_timeout=30); "
            "app.query_params['section'] = 'Layer chain'; app.run(); "
            "assert not app.exception; print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=REPO_ROOT)
    assert done.stdout.strip().splitlines()[-1] == "False"
