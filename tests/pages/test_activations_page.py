"""The activations page, driven through its widgets' keys and its address-bar parameters."""

import pytest
from streamlit.testing.v1 import AppTest

from cvlab.syllabus import REPO_ROOT
from tests.pages.apptest import run_script

PAGE = "pages/foundations/activations.py"


def open_page(section: str | None = None, **query) -> AppTest:
    return run_script(PAGE, **({"section": section} if section else {}), **query)


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def text(app: AppTest) -> str:
    return "\n".join(str(el.value) for el in [*app.markdown, *app.caption, *app.code])


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def percent(value: str) -> float:
    return float(value.split("%")[0])


def test_functions_show_the_default_three_with_fact_cards_and_nothing_else_is_computed():
    app = open_page()
    assert app.multiselect(key="fn").value == ["relu", "sigmoid", "gelu"]
    assert len(app.get("plotly_chart")) == 1
    assert len(app.latex) == 3  # three fact cards; the closed Softmax section draws nothing, its formula neither
    shown = text(app)
    for name in ("**ReLU**", "**Sigmoid**", "**GELU**", "torch.nn.GELU()", "Hendrycks & Gimpel (2016)", "(0, 1)"):
        assert name in shown
    assert not app.metric and not app.error  # the experiments run only in their own open tab


def test_a_parameter_slider_appears_for_a_chosen_function_and_changes_its_curve():
    app = open_page()
    assert "leaky_relu_negative_slope" not in [s.key for s in app.slider]
    app.multiselect(key="fn").select("leaky_relu")
    rerun(app)
    assert app.slider(key="leaky_relu_negative_slope").value == pytest.approx(0.01)
    app.slider(key="leaky_relu_negative_slope").set_value(0.2)
    rerun(app)
    assert "torch.nn.LeakyReLU(negative_slope=0.2)" in text(app)


def test_a_shared_address_restores_functions_parameters_and_range():
    app = open_page(fn=["ELU", "PReLU"], elu_alpha="0.5", prelu_slope="0.1", x=["-2", "2"])
    assert app.multiselect(key="fn").value == ["elu", "prelu"]
    assert app.slider(key="x").value == (-2.0, 2.0)
    assert "torch.nn.ELU(alpha=0.5)" in text(app) and "torch.nn.PReLU(init=0.1)" in text(app)


def test_an_empty_x_range_shows_what_to_do_not_a_traceback():
    app = open_page(x=["2", "2"])
    assert "x_min < x_max" in app.error[0].value


def test_no_function_chosen_asks_for_one():
    app = open_page()
    app.multiselect(key="fn").set_value([])
    rerun(app)
    assert "Pick at least one function" in app.info[0].value
    assert not app.get("plotly_chart")


def test_softmax_of_the_lecture_logits_and_of_typed_ones():
    app = open_page("Softmax")
    assert "**Class A** gets 65.9%" in text(app) and "add up to 1.000" in text(app)
    app.text_input(key="logits").input("1, 1, 1, 1")
    rerun(app)
    assert "gets 25.0%" in text(app)
    app.slider(key="temp").set_value(0.1)
    app.text_input(key="logits").input("2, 1")
    rerun(app)
    assert "gets 100.0%" in text(app)


@pytest.mark.parametrize(("typed", "message"), [("2, one, 0.1", "'one' is not a number"), ("", "at least one"),
                                                (", ".join(["1"] * 30), "at most 20")])
def test_bad_logits_show_an_error_not_a_traceback(typed, message):
    app = open_page("Softmax")
    app.text_input(key="logits").input(typed)
    rerun(app)
    assert message in app.error[0].value


def test_dying_relu_defaults_show_dead_relu_units_no_dead_leaky_units_and_a_healthy_baseline():
    app = open_page("Dying ReLU")
    shown = metrics(app)
    assert list(shown) == ["ReLU · He (Kaiming) · lr 3", "LeakyReLU · He (Kaiming) · lr 3",
                           "ReLU · He (Kaiming) · lr 0.01"]
    relu, leaky, safe = (percent(v) for v in shown.values())
    assert relu >= 20 and leaky == 0 and safe <= 3
    assert len(app.get("plotly_chart")) == 1 and "A unit is **dead**" in text(app)


def test_dying_relu_settings_come_from_widgets_and_the_address():
    app = open_page("Dying ReLU", init="Negative bias (-2)", lr="0.01")
    assert app.selectbox(key="init").value == "negative_bias"
    assert percent(metrics(app)["ReLU · Negative bias (-2) · lr 0.01"]) > 25
    app.toggle(key="safe").set_value(False)
    app.multiselect(key="dact").set_value(["relu"])
    rerun(app)
    assert list(metrics(app)) == ["ReLU · Negative bias (-2) · lr 0.01"]
    app.selectbox(key="init").select("he")
    app.select_slider(key="lr").set_value(10.0)
    app.slider(key="steps").set_value(60)
    rerun(app)
    assert percent(metrics(app)["ReLU · He (Kaiming) · lr 10"]) > 25


def test_vanishing_gradients_show_the_first_to_last_ratio_per_configuration():
    app = open_page("Vanishing gradients")
    shown = metrics(app)
    assert float(shown["Sigmoid · He (Kaiming)"]) < 1e-8
    assert 0.1 < float(shown["ReLU · He (Kaiming)"]) < 10
    assert "at layer 1 ÷ at layer 30" in text(app)
    app.multiselect(key="vinit").select("pytorch")
    app.slider(key="depth").set_value(20)
    rerun(app)
    shown = metrics(app)
    assert len(shown) == 4 and float(shown["ReLU · PyTorch default"]) < 1e-4
    assert "at layer 1 ÷ at layer 20" in text(app)


@pytest.mark.parametrize("section", ["Functions", "Softmax", "Dying ReLU", "Vanishing gradients"])
def test_every_section_draws_in_projector_mode(section):
    app = AppTest.from_file(str(REPO_ROOT / PAGE), default_timeout=60)
    app.query_params["section"] = section
    app.session_state["projector"] = True
    app.run()
    assert not app.exception and len(app.get("plotly_chart")) == 1
