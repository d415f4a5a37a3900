"""The Detection page's Video section under AppTest: the generated clip tracked in the page, a long one queued."""

from streamlit.testing.v1 import AppTest

from tests.pages.apptest import run_script
from tests.unit.zoo.test_zoo_measure import work_the_queue

PAGE = "pages/tasks/detection.py"
TIMEOUT = 240


def text(app: AppTest) -> str:
    return "\n".join(str(el.value) for el in [*app.markdown, *app.caption, *app.info, *app.warning, *app.error])


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_the_generated_clip_is_tracked_and_scored_against_its_true_tracks():
    app = run_script(PAGE, timeout=TIMEOUT, section="Video", vframes="32", vobjects="3")
    assert not app.error, [e.value for e in app.error]
    assert app.selectbox(key="vmodel").value == "shapes-yolo"
    assert 2 <= int(metric(app, "Tracks")) <= 6
    assert "32 frames of 256x256 px at 15 fps" in text(app)
    assert "MOTA" in text(app) and "identity switches" in text(app)
    tracks = app.dataframe[-1].value
    assert list(tracks.columns) == ["track", "class", "frames", "first frame", "last frame"]
    assert set(tracks["class"]) <= {"circle", "square", "triangle", "star", "cross"}
    app.selectbox(key="tracker").set_value("botsort").run()
    assert not app.exception and not app.error
    assert "MOTA" in text(app)


def test_a_clip_longer_than_the_page_tracks_goes_to_the_queue_and_comes_back(monkeypatch):
    monkeypatch.setenv("CVLAB_START_WORKER", "never")  # the test plays the worker
    app = run_script(PAGE, timeout=TIMEOUT, section="Video", vframes="96", vobjects="2")
    assert "tracked on the job queue" in text(app)
    assert not app.metric  # nothing tracked in the page
    app.button(key="vqueue").click().run()
    assert not app.exception
    assert work_the_queue() == 1
    app.run()
    assert not app.exception and not app.error
    assert int(metric(app, "Tracks")) >= 1 and "MOTA" in text(app)


def test_an_unknown_tracker_in_the_address_falls_back_to_a_real_one():
    app = run_script(PAGE, timeout=TIMEOUT, section="Video", tracker="../../evil", vframes="16", vobjects="2")
    assert app.selectbox(key="tracker").value in ("bytetrack", "botsort")
    assert not app.exception


def upload_app(monkeypatch) -> AppTest:
    monkeypatch.setenv("CVLAB_START_WORKER", "never")
    return run_script(PAGE, timeout=TIMEOUT, section="Video", vsrc="Upload a clip")


def test_an_uploaded_clip_is_tracked_and_bad_files_get_a_message(monkeypatch):
    from cvlab.data.shapes_clip import shapes_clip
    from cvlab.data.video import encode_webm

    app = upload_app(monkeypatch)
    assert "Upload a clip, or pick the generated one." in text(app)
    made = shapes_clip(seed=6, frames=16, size=160, objects=2).clip
    good = encode_webm(made.frames, made.fps)
    app.file_uploader(key="vfile").upload("walk.webm", good, "video/webm").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert "walk.webm: 16 frames of 160x160 px at 15 fps" in text(app)
    assert int(metric(app, "Tracks")) >= 1 and "MOTA" not in text(app)  # no truth to score an upload against

    app.file_uploader(key="vfile").upload("broken.webm", good[:400], "video/webm").run()
    assert not app.exception and any("broken.webm" in e.value for e in app.error)
    assert not app.metric

    app.file_uploader(key="vfile").upload("lecture.mp4", b"Only words here.\n" * 40, "video/mp4").run()
    assert not app.exception
    assert any("not a video file" in e.value and "lecture.mp4" in e.value for e in app.error)
