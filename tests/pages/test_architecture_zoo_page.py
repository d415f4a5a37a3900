"""The Architectures page through AppTest: the table, filters, the chooser's three scenarios, every section."""

import pytest

from tests.pages.apptest import run_script

PAGE = "pages/architectures/architecture_zoo.py"


@pytest.mark.parametrize("section", ["Compare", "Inside a model", "Choose", "Compound scaling", "ViT vs Swin",
                                     "YOLO", "Lecture claims"])
def test_every_section_draws_without_an_error(section):
    app = run_script(PAGE, timeout=180, section=section)
    assert not app.error


def test_the_table_lists_every_family_and_the_filter_narrows_it():
    app = run_script(PAGE, timeout=180)
    everything = app.dataframe[0].value
    assert {"VGG", "ResNet", "EfficientNet", "ViT", "Swin", "ConvNeXt"} <= set(everything["family"])
    narrowed = run_script(PAGE, timeout=180, fam=["ResNet"]).dataframe[0].value
    assert set(narrowed["family"]) == {"ResNet"} and len(narrowed) == 5
    vgg16 = everything[everything["name"] == "vgg16"].iloc[0]
    assert round(vgg16["params (M)"], 2) == 138.36


@pytest.mark.parametrize("scenario, words", [("A", "5 MB"), ("B", "Fine-tune"), ("C", "ransformer")])
def test_the_chooser_answers_the_three_scenarios(scenario, words):
    app = run_script(PAGE, timeout=180, section="Choose", scn=scenario)
    assert words in app.success[0].value


def test_a_size_limit_ranks_only_models_that_fit():
    app = run_script(PAGE, timeout=180, section="Choose", mb="25")
    ranked = app.dataframe[-1].value  # the first is the Compare tab's table
    assert len(ranked) > 0 and (ranked["size MB"] <= 25).all()


def test_compound_scaling_follows_the_sliders():
    app = run_script(PAGE, timeout=180, section="Compound scaling", phi="1", alpha="1.2", beta="1.1", gamma="1.15")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Depth x"] == "1.20" and metrics["Width x"] == "1.10" and metrics["Resolution"] == "258 px"


def test_inside_a_model_adds_up_and_shows_the_block_code():
    app = run_script(PAGE, timeout=180, section="Inside a model", net="resnet18", block="bottleneck")
    layers = app.dataframe[-1].value
    assert layers["params"].sum() == 11_689_512  # torchvision's published ResNet-18 count
    assert any("class Bottleneck" in code.value for code in app.code)


def test_the_yolo_table_has_every_generation_from_the_configs():
    app = run_script(PAGE, timeout=300, section="YOLO")
    table = app.dataframe[-1].value
    assert {"YOLOv3", "YOLOv5", "YOLOv8", "YOLO11", "YOLO26"} <= set(table["generation"])
    assert (table["params (M)"] > 0).all()
