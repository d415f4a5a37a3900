import plotly.graph_objects as go

from cvlab.syllabus import LECTURE_PATH, PAGES, REPO_ROOT
from cvlab.viz.style import PROJECTOR_FONT_SIZE, for_projector, styled


def sample_figure() -> go.Figure:
    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], name="line"), go.Bar(x=["a"], y=[1], text=["1"])])
    return styled(fig, title="sample")


def test_projector_copy_has_large_text_and_thick_lines_and_leaves_the_original():
    fig = sample_figure()
    big = for_projector(fig)
    assert big.layout.font.size == PROJECTOR_FONT_SIZE
    assert big.layout.xaxis.tickfont.size == PROJECTOR_FONT_SIZE
    assert big.data[0].line.width == 5
    assert big.data[1].textfont.size == PROJECTOR_FONT_SIZE
    assert fig.layout.font.size == 14 and fig.data[0].line.width is None


def test_lecture_path_follows_the_lecture_order():
    titles = [topic.title for topic in LECTURE_PATH]
    expected_order = ["CNN overview", "Convolution", "Output size", "Pooling", "Fully connected layers",
                      "Activation functions", "VGG-16", "ResNet", "EfficientNet", "Vision Transformer",
                      "ConvNeXt and Swin", "YOLO", "U-Net", "Segment Anything", "Loss functions",
                      "Optimizers", "Learning-rate schedulers", "The training loop", "Hands-on lab"]
    assert titles == expected_order


def test_every_stop_names_a_known_page():
    for topic in LECTURE_PATH:
        assert topic.stops, topic.title
        for stop in topic.stops:
            assert stop.page in PAGES, (topic.title, stop.page)


def test_every_page_script_exists():
    assert all((REPO_ROOT / page.script).is_file() for page in PAGES.values())
    assert set(PAGES) >= {"home", "output-size", "activations"}


def test_every_stop_opens_a_section_of_its_page():
    """A link without a section opens the page's first tab: SAM and the losses landed on the U-Net."""
    tabs = {"detection": {"Detect", "NMS step by step", "IoU", "Train", "Your data"},
            "segmentation": {"U-Net", "Train a U-Net", "Loss explorer", "Segment Anything"},
            "training": {"New run", "Live", "Compare", "Results"}}
    for topic in LECTURE_PATH:
        for stop in topic.stops:
            assert stop.section, topic.title
            if stop.page in tabs:
                assert stop.section in tabs[stop.page], (topic.title, stop.section)
    by_topic = {topic.title: {stop.section for stop in topic.stops} for topic in LECTURE_PATH}
    assert by_topic["Segment Anything"] == {"Segment Anything"}
    assert by_topic["Loss functions"] == {"Loss explorer"}


def test_every_page_has_its_pages_directory_alias_and_nothing_else_sits_there():
    alias_text = (REPO_ROOT / "pages" / "activations.py").read_text()
    expected = {f"{url_path}.py" for url_path in PAGES}  # /home too: it is a path people type
    found = {path.name for path in (REPO_ROOT / "pages").glob("*.py")}
    assert found == expected
    for name in found:
        assert (REPO_ROOT / "pages" / name).read_text() == alias_text
    assert 'runpy.run_path("streamlit_app.py"' in alias_text


def test_projector_moves_a_top_legend_below_and_keeps_a_builders_wider_margin():
    fig = sample_figure().update_layout(margin_b=100)
    big = for_projector(fig)
    assert big.layout.legend.yref == "container" and big.layout.legend.y == 0
    assert big.layout.margin.b == 150 and big.layout.margin.t >= 90
    assert fig.layout.legend.orientation == "h"  # the original is left as it was
