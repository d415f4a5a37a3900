"""On the projector every table is a static table in its large type, numbers whole, no "None"."""

import re

from streamlit.testing.v1 import AppTest

from cvlab.syllabus import REPO_ROOT


def projected(script: str, **query) -> AppTest:
    app = AppTest.from_file(str(REPO_ROOT / script), default_timeout=180)
    for key, value in query.items():
        app.query_params[key] = value
    app.session_state["projector"] = True
    app.run()
    assert not app.exception, app.exception
    return app


def cells(app: AppTest, index: int = 0) -> list[dict]:
    """A static table's rows as the room reads them (Markdown escapes removed)."""
    frame = app.table[index].value
    plain = lambda text: re.sub(r"\\(.)", r"\1", str(text))
    return [{plain(k): plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def test_the_layer_chain_is_a_large_table_with_every_digit():
    app = projected("pages/foundations/output_size.py", section="Layer chain", preset="vgg16")
    assert not app.dataframe  # a canvas grid keeps its small type on the projector
    rows = cells(app)
    assert rows[0]["layer"] == "input" and len(rows) == 23  # the input and VGG-16's 22 layers
    first_dense = next(r for r in rows if r["layer"].startswith("linear(4096"))
    assert first_dense["params"] == "102,764,544"  # grouped, not cut to "102,764,..."
    assert rows[1]["params"] == "1,792" and rows[0]["params"] == "0"  # the column groups every number


def test_the_chooser_and_a_models_layers_are_large_tables():
    chooser = projected("pages/architectures/architecture_zoo.py", section="Choose")
    assert not chooser.dataframe and "None" not in str(cells(chooser))
    layers = projected("pages/architectures/architecture_zoo.py", section="Inside a model", net="vgg16")
    rows = cells(layers)
    assert not layers.dataframe and any(r["params"] == "102,764,544" for r in rows)


def test_the_unet_stages_show_a_dash_where_a_stage_has_no_value():
    app = projected("pages/tasks/segmentation.py", unet_size="64")
    rows = cells(app)
    assert rows[0]["skip from"] == "—" and rows[-1]["stage"] == "segmentation head"
    assert "None" not in str(rows)


def test_a_projected_charts_title_is_text_above_it_that_wraps():
    """In the figure, in large type, a half-width chart's title ran off its right edge."""
    from tests.pages.apptest import run_script

    plain = run_script("tests/pages/scripts/projected_figure_page.py")
    assert not plain.markdown  # normally the title stays in the figure
    app = projected("tests/pages/scripts/projected_figure_page.py")
    assert [m.value for m in app.markdown] == ["**Where the loss comes from on an imbalanced mask**"]
    chart = app.get("plotly_chart")[0]
    assert "imbalanced" not in chart.proto.spec and "imbalanced" in plain.get("plotly_chart")[0].proto.spec
