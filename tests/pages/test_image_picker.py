"""The shared image picker on a bare page: samples from the address bar, uploads, the camera, bad files."""

import io

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from cvlab.settings import get_settings
from cvlab.ui.image_picker import cached_decode
from tests.pages.apptest import run_script

PAGE = "tests/pages/scripts/image_picker_page.py"


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, app.exception
    return app


def shown(app: AppTest) -> str:
    return "\n".join(str(el.value) for el in [*app.markdown, *app.caption])


def test_the_default_sample_is_shown_with_its_caption():
    app = run_script(PAGE)
    assert app.segmented_control(key="img_src").value == "Sample"
    assert app.selectbox(key="img").value == "chelsea"
    assert len(app.get("image")) == 1 and not app.error
    assert "Chelsea the cat · scikit-image · 451×300 px · CC0, Stefan van der Walt" in shown(app)


def test_the_address_bar_picks_the_sample_and_a_wrong_name_falls_back_to_the_default():
    assert "picked `coffee` shape `(400, 600, 3)`" in shown(run_script(PAGE, img="coffee"))
    assert "resized from 1280×720 to 1024×576 to fit 1024 px" in shown(run_script(PAGE, img="zidane"))
    app = run_script(PAGE, img="no-such-photo")
    assert app.selectbox(key="img").value == "chelsea" and not app.error


def test_choosing_another_sample_loads_it():
    app = run_script(PAGE)
    app.selectbox(key="img").set_value("bus")
    assert "picked `bus` shape `(1024, 768, 3)`" in shown(rerun(app))


def test_a_bad_upload_shows_one_error_and_the_rest_of_the_page_keeps_working():
    app = run_script(PAGE, img_src="Upload")
    assert app.info and not app.get("image")  # nothing uploaded yet: the page asks for an image
    app.file_uploader(key="img_file").upload("notes.png", b"just some text\n", "image/png")
    rerun(app)
    assert len(app.error) == 1 and "'notes.png' is not a PNG, JPEG" in app.error[0].value
    assert "it looks like text" in app.error[0].value
    assert "The rest of the page still runs." in shown(app) and not app.get("image")


def test_a_huge_upload_is_refused_and_a_good_one_then_works():
    app = run_script(PAGE, img_src="Upload")
    huge = encode(Image.new("L", (8000, 6000)), "PNG")  # 48 Mpx of one colour compress to ~50 kB
    app.file_uploader(key="img_file").set_value(("huge.png", huge, "image/png"))
    assert "48,000,000 pixels; the limit is 40,000,000" in rerun(app).error[0].value
    transparent = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    app.file_uploader(key="img_file").set_value(("logo.png", encode(transparent, "PNG"), "image/png"))
    rerun(app)
    assert not app.error and len(app.get("image")) == 1
    assert "logo.png · upload · 40×20 px · converted from RGBA: transparency flattened on white" in shown(app)


def test_a_camera_photo_is_decoded_like_an_upload():
    app = run_script(PAGE, img_src="Camera")
    assert app.camera_input(key="img_camera") and not app.get("image")
    photo = encode(Image.new("RGB", (64, 48), "red"), "JPEG")
    app.camera_input(key="img_camera").set_value(("shot.jpg", photo, "image/jpeg"))
    rerun(app)
    assert "camera photo · camera · 64×48 px" in shown(app) and len(app.get("image")) == 1


def test_the_cached_decoder_refuses_bad_bytes_every_time_and_keeps_good_results():
    settings = get_settings()
    for _ in range(2):  # an error is never cached as if it were a result
        try:
            cached_decode(b"", "empty.png", "upload", 1024, settings)
            raise AssertionError("empty bytes were accepted")
        except ValueError as err:
            assert "empty (0 bytes)" in str(err)
    good = encode(Image.new("RGB", (16, 16), (1, 2, 3)), "PNG")
    first = cached_decode(good, "a.png", "upload", 1024, settings)
    again = cached_decode(good, "a.png", "upload", 1024, settings)
    assert np.array_equal(first.pixels, again.pixels) and first.pixels[0, 0].tolist() == [1, 2, 3]


def test_the_camera_over_plain_http_on_a_lab_server_says_why_and_offers_the_upload(monkeypatch):
    from cvlab.ui import image_picker

    monkeypatch.setattr(image_picker, "_browser_address", lambda: ("http://lab-server:8501/", {}), raising=False)
    app = run_script(PAGE, img_src="Camera")
    [warning] = app.warning
    assert "camera cannot open" in warning.value and "`http://lab-server:8501`" in warning.value
    assert "HTTPS" in warning.value
    assert not app.get("camera_input")  # a camera the browser would refuse without a word is not drawn
    assert app.get("file_uploader")  # the photo upload instead
    assert "--server.sslCertFile" in "\n".join(m.value for m in app.markdown)  # and how to serve HTTPS


def test_the_camera_on_localhost_or_https_opens_as_before(monkeypatch):
    from cvlab.ui import image_picker

    for url in ("http://localhost:8501/", "https://lab-server/"):
        monkeypatch.setattr(image_picker, "_browser_address", lambda url=url: (url, {}), raising=False)
        app = run_script(PAGE, img_src="Camera")
        assert app.get("camera_input") and not app.warning
