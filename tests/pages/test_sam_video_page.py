"""SAM 2 across frames in the Segment Anything section, through its widgets' keys and address-bar parameters."""

import numpy as np
import pytest

from cvlab.data.shapes_clip import shapes_clip
from cvlab.segmentation import sam_video as sv
from cvlab.ui import sam_video as sam_video_ui
from tests.pages.apptest import run_script

PAGE = "pages/tasks/segmentation.py"
TIMEOUT = 300  # SAM 2 through a clip, and the still SAM's encoder, on a shared CPU
MADE = shapes_clip(0, 8, 256, 3)  # the page's generated clip with svseed=0, svframes=8


def point_on_object(t: int) -> str:
    rows, cols = np.nonzero(MADE.mask(t, MADE.present(t)[0]))
    return f"{cols[len(cols) // 2]},{rows[len(rows) // 2]},+"


def open_video(**query):
    return run_script(PAGE, timeout=TIMEOUT, section="Segment Anything", svframes="8", **query)


@pytest.fixture
def counted_runs(monkeypatch):
    calls = []
    real = sv.propagate

    def counting(*args, **kwargs):
        calls.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(sv, "propagate", counting)
    return calls


def test_propagation_on_the_generated_clip_shows_the_clip_time_memory_and_download(counted_runs):
    app = open_video(svframe="4", svpts=point_on_object(4))
    assert not app.get("video") and any("Press Propagate" in i.value for i in app.info)
    app.button(key="svrun").click()
    app.run()
    assert not app.exception, app.exception
    assert len(counted_runs) == 1
    assert len(app.get("video")) == 1  # the masked clip, as WebM
    shown = {m.label: m.value for m in app.metric}
    assert shown["Per frame"].endswith(" ms") and shown["State memory"].endswith(" MB")
    assert shown["Process peak"].endswith(" MB")
    assert any("RANDOM weights" in w.value for w in app.warning)
    assert len(app.get("plotly_chart")) == 1  # time and state per frame; no IoU with random weights
    assert any("IoU against the true masks is shown with real weights" in c.value for c in app.caption)
    assert [b for b in app.get("download_button") if "Masks (8 PNGs" in b.proto.label]
    result = app.session_state["_sv_result"][1]
    assert result.masks.shape == (8, 256, 256) and result.prompted_frames == (4,)
    app.run()  # nothing changed: the stored result is shown, SAM 2 does not run again
    assert len(counted_runs) == 1 and len(app.get("video")) == 1
    app.text_input(key="svfixpts").input("30,30,-")  # a correction on the last frame (the default)
    app.run()
    assert not app.get("video") and len(counted_runs) == 1  # new prompts: the old masks are not passed off
    app.button(key="svrun").click()
    app.run()
    assert not app.exception, app.exception
    assert app.session_state["_sv_result"][1].prompted_frames == (4, 7) and len(counted_runs) == 2


def test_a_click_on_the_frame_becomes_a_prompt_or_a_correction_point():
    app = open_video(svframe="2")
    assert app.text_input(key="svpts").value == ""
    app.session_state["svclick"] = {"x": 100, "y": 60, "width": 256, "height": 256, "unix_time": 1}
    app.run()
    assert app.text_input(key="svpts").value == "100,60,+"
    app.segmented_control(key="svtarget").set_value(sam_video_ui.CORRECTION)
    app.segmented_control(key="svmode").set_value(sam_video_ui.BACKGROUND)
    app.run()
    app.session_state["svclick"] = {"x": 20, "y": 10, "width": 512, "height": 512, "unix_time": 2}  # shown 2x
    app.run()
    assert app.text_input(key="svfixpts").value == "10,5,-" and app.text_input(key="svpts").value == "100,60,+"
    assert not app.exception


def test_a_text_file_named_mp4_is_refused_with_the_message():
    app = run_script(PAGE, timeout=TIMEOUT, section="Segment Anything", svsrc=sam_video_ui.UPLOAD)
    assert any("Upload a clip" in i.value for i in app.info)
    app.file_uploader(key="svfile").upload("lecture.mp4", b"this is a text file, not a video\n" * 4, "video/mp4")
    app.run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert any("'lecture.mp4' is not a video file" in e for e in errors), errors
    assert not any("Traceback" in e for e in errors) and not app.get("video")


def test_a_clip_too_long_for_the_page_says_what_fits_and_offers_no_button(monkeypatch):
    monkeypatch.setitem(sv.CPU_SECONDS_PER_FRAME, 256, 5.0)  # as if this CPU took 5 s a frame
    app = run_script(PAGE, timeout=TIMEOUT, section="Segment Anything", svframes="24", svpts="10,10,+")
    errors = [e.value for e in app.error]
    assert any("About 120 s is longer than the page runs SAM 2 for (60 s): trim the clip to 12 frames" in e
               and "python -m cvlab sam-video" in e for e in errors), errors
    assert not [b for b in app.button if b.key == "svrun"]


def test_with_a_checkpoint_the_generated_clip_is_scored_against_its_true_masks(tmp_path, monkeypatch):
    import torch
    from ultralytics.models.sam.build import build_sam2_t

    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path))
    torch.save(build_sam2_t().state_dict(), tmp_path / "sam2_t.pt")  # SAM 2's real format (not its real values)
    app = open_video(svframe="4", svpts=point_on_object(4))
    app.button(key="svrun").click()
    app.run()
    assert not app.exception, app.exception
    assert not any("RANDOM weights" in w.value for w in app.warning if "SAM 2" in w.value)
    mean = float(next(m.value for m in app.metric if m.label == "Mean IoU against the true mask"))
    assert 0.0 <= mean <= 1.0
    assert len(app.get("plotly_chart")) == 2  # time and state, and IoU per frame
    assert any("sam2_t.pt · 256 px input on cpu" in c.value for c in app.caption)


def test_the_figures_carry_the_numbers():
    fig = sam_video_ui.propagation_figure((10.0, 20.0, 30.0), (2**20, 2 * 2**20, 3 * 2**20), (1,))
    bars, line = fig.data
    assert list(bars.y) == [10.0, 20.0, 30.0] and list(line.y) == [1.0, 2.0, 3.0]
    assert bars.marker.color[1] != bars.marker.color[0] == bars.marker.color[2]  # the prompted frame stands out
    fig = sam_video_ui.iou_figure(np.array([0.5, 1.0, 0.25]), (2,))
    assert list(fig.data[0].y) == [0.5, 1.0, 0.25] and list(fig.data[1].x) == [2] and list(fig.data[1].y) == [0.25]
