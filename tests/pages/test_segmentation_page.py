"""The segmentation page through its widgets' keys and address-bar parameters."""

from streamlit.testing.v1 import AppTest

from tests.pages.apptest import run_script

PAGE = "pages/tasks/segmentation.py"
TIMEOUT = 240  # SAM's image encoder runs on a shared CPU in the SAM tests


def open_page(section: str | None = None, **query) -> AppTest:
    return run_script(PAGE, timeout=TIMEOUT, **({"section": section} if section else {}), **query)


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def text(app: AppTest) -> str:
    return "\n".join(str(el.value) for el in [*app.markdown, *app.caption, *app.code, *app.info, *app.warning])


def test_unet_section_shows_the_real_stage_shapes_and_nothing_else_is_computed():
    app = open_page(unet_size="64")
    assert app.selectbox(key="unet_enc").value == "resnet18"
    assert len(app.get("plotly_chart")) == 2  # the U and the untrained prediction
    stages = app.dataframe[0]
    shapes = stages.value["shape (C×H×W)"].tolist()  # every stage, head included
    assert shapes[0] == "3×64×64" and "512×2×2" in shapes and shapes[-1] == "1×64×64"
    assert "UNTRAINED U-Net" in text(app)
    assert not app.metric and not app.warning  # the loss explorer and SAM wait for their tabs


def test_loss_explorer_computes_the_toy_pair_live():
    app = open_page("Loss explorer")
    assert metrics(app)["IoU, thresholded"] == "0.455"
    app.slider(key="toy_dx").set_value(0)
    app.slider(key="toy_dy").set_value(0)
    rerun(app)
    assert metrics(app)["IoU, thresholded"] == "1.000"
    # soft Dice still counts p = 0.1 on the 3,520 background pixels: 1 - (2*518.4 + 1) / (870.4 + 576 + 1)
    assert metrics(app)["Dice loss"] == "0.283"
    assert len(app.get("plotly_chart")) == 4  # curves, toy pair, focal shares, focal curve
    assert len(app.latex) == 5  # the five formulas


def test_a_shared_address_restores_the_loss_explorer():
    app = open_page("Loss explorer", loss_names=["bce", "focal"], toy_side="12", focal_gamma="0")
    assert app.multiselect(key="loss_names").value == ["bce", "focal"]
    assert app.slider(key="toy_side").value == 12 and app.slider(key="focal_gamma").value == 0


def test_sam_with_points_and_a_box_from_the_address_shows_masks_timings_and_downloads():
    app = open_page("Segment Anything", sam_pts="100,80,+; 300,200,-", sam_box="50,40,300,250")
    assert "RANDOM weights" in app.warning[0].value and "mobile_sam.pt" in app.warning[0].value
    shown = metrics(app)
    assert shown["Encoder"].endswith(" ms") and shown["Decoder"].endswith(" ms")
    assert len(app.get("image")) >= 1 and len(app.get("download_button")) == 2
    assert len(app.get("plotly_chart")) == 1  # the encoder vs decoder timing
    app.segmented_control(key="sam_pick").set_value("2")
    rerun(app)
    assert app.metric[0].proto.delta == "cached"  # the second run of the same image: no encoder


def test_a_click_never_runs_the_encoder_even_when_other_images_evicted_the_shared_cache():
    from cvlab.ui import segmentation as ui

    app = open_page("Segment Anything", sam_pts="100,80,+")
    assert app.session_state["_sam_embedding"].key.startswith("mobile_sam:")  # held by this session
    model = ui.cached_sam("mobile_sam")  # the process-wide model the page used
    assert app.session_state["_sam_embedding"].key in model._embeddings
    model._embeddings.clear()  # as if other users' images had pushed this one out
    calls = model.encoder_calls
    app.session_state["sam_click"] = {"x": 200, "y": 100, "width": 451, "height": 300, "unix_time": 7}
    rerun(app)
    assert app.text_input(key="sam_pts").value == "100,80,+; 200,100,+"
    assert model.encoder_calls == calls and metrics(app)["Decoder"].endswith(" ms")
    assert app.metric[0].proto.delta == "cached"


def test_a_click_becomes_a_point_and_clear_removes_it():
    app = open_page("Segment Anything")
    assert "Click the object" in text(app)
    # what streamlit-image-coordinates stores after a click on an image shown at half size
    app.session_state["sam_click"] = {"x": 100, "y": 50, "width": 225, "height": 150, "unix_time": 1}
    rerun(app)
    assert app.text_input(key="sam_pts").value == "200,100,+"
    assert "Decoder" in metrics(app)
    app.button(key="sam_clear").click()
    rerun(app)
    assert app.text_input(key="sam_pts").value == ""


def _what_comes_before_the_image(app: AppTest) -> list[str]:
    """The elements above the clickable image in its column, by type (and key for widgets)."""
    def columns(node):
        for child in getattr(node, "children", {}).values():
            yield child
            yield from columns(child)

    [column] = [c for c in columns(app.main)  # the still image's column (the video part has a clickable frame too)
                if any(k.type == "component_instance" and getattr(k, "key", None) == "sam_click"
                       for k in getattr(c, "children", {}).values())]
    kinds = [f"{k.type}:{getattr(k, 'key', None) or ''}" for k in column.children.values()]
    return kinds[:kinds.index("component_instance:sam_click")]


def test_the_image_stays_where_it_is_when_the_first_click_brings_masks():
    app = open_page("Segment Anything")
    before = _what_comes_before_the_image(app)
    app.session_state["sam_click"] = {"x": 100, "y": 50, "width": 225, "height": 150, "unix_time": 1}
    rerun(app)
    assert "Decoder" in metrics(app)  # the click brought masks, scores and timings...
    assert _what_comes_before_the_image(app) == before  # ...all below the image, which did not move
    assert not app.segmented_control(key="sam_pick").disabled


def test_a_typed_prompt_outside_the_image_is_a_message():
    app = open_page("Segment Anything", sam_pts="5000,10,+")
    assert "outside the 451x300 image" in app.error[0].value
    app.text_input(key="sam_pts").input("12;")
    rerun(app)
    assert "x,y" in app.error[0].value


def test_the_training_form_refuses_what_the_command_line_refuses():
    app = open_page("Train a U-Net", user="ada", segment_model="pan")
    assert any("too small for PAN: it needs at least 128 px per side" in e.value for e in app.error)
    app = open_page("Train a U-Net", user="ada", segment_loss="0.5*bce+0.5*dicee")
    assert any("Unknown loss 'dicee'. Did you mean 'dice'" in e.value for e in app.error)
