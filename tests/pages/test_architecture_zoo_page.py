"""The Architectures page through AppTest: the table, filters, the chooser's three scenarios, every section."""

import pytest

from tests.pages.apptest import run_script
from tests.unit.zoo.test_zoo_measure import work_the_queue

PAGE = "pages/architectures/architecture_zoo.py"


@pytest.mark.parametrize("section", ["Compare", "Inside a model", "Choose", "Compound scaling", "ViT vs Swin",
                                     "YOLO", "Segmentation", "Lecture claims"])
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
    assert vgg16["block"].startswith("VGG block") and vgg16["GMACs published"] == 15.47
    assert {"MACs diff %", "images/s", "at batch", "peak MB"} <= set(everything.columns)
    lecture = everything[everything["family"] == "Lecture"].set_index("name")
    assert {"lecture-vgg", "lecture-residual"} <= set(lecture.index)
    assert lecture.loc["lecture-vgg", "input px"] == 32 and round(lecture.loc["lecture-vgg", "params (M)"], 3) == 0.289
    # no published top-1: named under the chart, as text outside the figure
    assert any(c.value.startswith("Not shown: ") and "lecture-vgg" in c.value for c in app.caption)
    assert any("Latency measured here for 0 of " in c.value for c in app.caption)


def test_on_the_projector_the_table_keeps_the_columns_a_room_can_read():
    from streamlit.testing.v1 import AppTest

    from cvlab.ui.zoo import PROJECTOR_COLUMNS
    from tests.pages.apptest import REPO_ROOT

    app = AppTest.from_file(str(REPO_ROOT / PAGE), default_timeout=180)
    app.query_params["fam"] = ["MobileNet"]
    app.session_state["projector"] = True
    app.run()
    assert not app.exception and not app.dataframe  # a canvas grid would ignore the large type
    table = app.table[0].value
    assert tuple(table.columns) == PROJECTOR_COLUMNS and len(table) == 2
    small = table.set_index("name").loc[r"mobilenet\_v3\_small"]  # escaped: a static table reads Markdown
    assert (small["GMACs published"], small["MACs diff %"], small["latency ms"]) == ("0.057", "-0.86", "—")


def test_missing_values_are_a_dash_and_each_column_says_why():
    import json

    app = run_script(PAGE, timeout=180, fam=["Lecture", "MobileNet"])  # no published facts, nothing measured
    table = app.dataframe[0]
    assert table.proto.placeholder == "—"  # not "None"
    help_of = {name: config.get("help", "") for name, config in json.loads(table.proto.columns).items()}
    for column in ("GMACs published", "MACs diff %", "top-1 %", "latency ms", "images/s", "at batch", "peak MB"):
        assert table.value[column].isna().any(), column
        assert "A dash: " in help_of[column], column


def test_only_the_open_section_is_built_widgets_included():
    app = run_script(PAGE, timeout=180)  # Compare: a table and a chart, not the other sections' widgets
    assert len(app.dataframe) == 1 and len(app.get("plotly_chart")) == 1
    assert not app.selectbox and not app.slider and not app.number_input
    choose = run_script(PAGE, timeout=180, section="Choose", fam=["ResNet"])
    assert len(choose.number_input) == 4 and not choose.multiselect and not choose.get("plotly_chart")


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
    by_model = table.set_index("model")  # the config's summary line beside the count
    assert by_model.loc["yolov8n", "GFLOPs published"] == 8.9 and by_model.loc["yolov8n", "GFLOPs at 640"] == 8.74


@pytest.fixture
def fake_timing(monkeypatch):
    """Measuring without timing: each model gets latency = pixels / 8 ms at once; the calls are kept."""
    import dataclasses

    from cvlab.zoo import measure as zoo_measure
    from tests.unit.zoo.test_zoo_measure import SAMPLE

    calls = []

    def fake(name, *, input_size=None, suite="classification", **options):
        calls.append((suite, name, input_size))
        size = input_size or zoo_measure.SUITES.get(suite).default_size(name)
        return dataclasses.replace(SAMPLE, name=name, input_size=size, latency_ms=size / 8)

    monkeypatch.setattr(zoo_measure, "measure", fake)
    monkeypatch.setenv("CVLAB_START_WORKER", "never")  # the test plays the worker (work_the_queue)
    return calls


def test_yolo_latency_is_shown_where_measured_and_the_button_measures_the_size_chosen(fake_timing):
    from cvlab.zoo import measure_job as zoo_jobs
    from cvlab.zoo import measure as zoo_measure

    zoo_measure.measure_all(["yolov8n"], suite="yolo")  # 640 px, as if a job had run
    app = run_script(PAGE, timeout=300, section="YOLO", yolo_px="320")
    table = app.dataframe[-1].value.set_index("model")
    assert table.loc["yolov8n", "latency ms at 640"] == 80.0 and table["latency ms at 320"].isna().all()
    assert table["latency ms at 640"].notna().sum() == 1
    app.button(key="measure_yolo").click().run()
    assert zoo_jobs.current_job() is None  # first it says what it will hold, and asks
    app.button(key="measure_yolo_confirm").click().run()
    assert zoo_jobs.current_job().status().state == "queued"
    assert any("is queued" in i.value for i in app.info)  # the page says it waits for a worker
    assert work_the_queue() == 1
    status = zoo_jobs.current_job().status()
    assert (status.suite, status.input_size, status.error, status.done) == ("yolo", 320, None, len(table))
    assert fake_timing[1:] == [("yolo", name, 320) for name in table.index]
    refreshed = run_script(PAGE, timeout=300, section="YOLO", yolo_px="320").dataframe[-1].value
    assert (refreshed["latency ms at 320"] == 40.0).all()


def test_the_segmentation_table_counts_and_measures_the_unets(fake_timing):
    from cvlab.zoo import measure as zoo_measure

    zoo_measure.measure_all(["unet-resnet34"], suite="segmentation")
    app = run_script(PAGE, timeout=300, section="Segmentation")
    table = app.dataframe[-1].value.set_index("model")
    assert {"unet-resnet34", "unet-efficientnet-b3", "unetplusplus-resnet34"} <= set(table.index)
    assert round(table.loc["unet-resnet34", "params (M)"], 2) == 24.44  # smp.Unet("resnet34"), counted
    assert table.loc["unet-resnet34", "GMACs at 256"] > 1 and table.loc["unet-resnet34", "latency ms at 256"] == 32.0
    assert any("Latency measured here for 1 of 9 segmentation networks" in c.value for c in app.caption)


def test_inside_the_lectures_residual_net():
    app = run_script(PAGE, timeout=180, section="Inside a model", net="lecture-residual", block="residual_block")
    layers = app.dataframe[-1].value
    assert layers["params"].sum() == 300_202  # hand count in tests/unit/zoo/test_lecture_nets.py
    assert layers.iloc[-1]["layer"] == "classifier" and layers.iloc[-1]["output"] == "10"
    assert any("class ResidualBlock" in code.value for code in app.code)


def test_measurements_from_a_busy_machine_are_flagged(monkeypatch):
    import dataclasses

    from cvlab.zoo import measure as zoo_measure
    from tests.unit.zoo.test_zoo_measure import SAMPLE

    monkeypatch.setattr(zoo_measure, "measure", lambda name, **options: dataclasses.replace(
        SAMPLE, name=name, input_size=256, threads=2, load_average=9.5))
    zoo_measure.measure_all(["unet-resnet34", "fpn-resnet34"], suite="segmentation")
    app = run_script(PAGE, timeout=300, section="Segmentation")
    assert any("2 of these were measured while other work kept this machine busy" in c.value and "9.5" in c.value
               for c in app.caption)


def test_measuring_says_what_it_holds_and_for_how_long_and_starts_only_when_confirmed(fake_timing):
    from cvlab.zoo import measure_job as zoo_jobs
    from cvlab.zoo import measure as zoo_measure

    app = run_script(PAGE, timeout=300, section="Segmentation")
    app.button(key="measure_seg").click().run()
    assert not app.exception and zoo_jobs.current_job() is None
    [plan] = [w.value for w in app.warning if "device slot" in w.value]
    count = len(zoo_measure.SUITES.get("segmentation").names())
    assert f"Measuring {count} segmentation networks takes about **2 min** on cpu" in plan  # 9 x 12 s, a first guess
    assert "holds the only device slot" in plan and "every training run queued meanwhile" in plan
    assert count == 9 and app.button(key="measure_seg_confirm").label == "Measure now (about 2 min)"
    app.button(key="measure_seg_cancel").click().run()
    assert zoo_jobs.current_job() is None and not any("device slot" in w.value for w in app.warning)
    app.button(key="measure_seg").click().run()
    app.button(key="measure_seg_confirm").click().run()
    assert zoo_jobs.current_job().status().state == "queued"
