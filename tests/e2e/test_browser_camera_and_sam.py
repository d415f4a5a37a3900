"""What only a browser shows: whether it gives the page the camera, and where the SAM image sits after a click."""

from __future__ import annotations

import pytest

from tests.harness import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, screenshot_whole_page, \
    wait_until_idle

pytestmark = pytest.mark.e2e
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
LAB_SERVER = "lab-server"  # a name for this machine that is not localhost, as students reach a lab server


@pytest.fixture(scope="module")
def lab_browser(browser):
    """Chromium that reaches this machine as http://lab-server:<port>: plain http to a machine that is not
    localhost, so the page is not a secure context and the camera is refused, as on a real lab server."""
    other = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {LAB_SERVER} 127.0.0.1"])
    yield other
    other.close()


def open_idle(browser, url: str, width: int = 1400):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(url)
    wait_until_idle(page)
    return context, page


@pytest.mark.parametrize("mode", ["normal", "projector"])
def test_the_camera_over_plain_http_on_a_lab_server_says_why_and_offers_the_upload(app, lab_browser, mode):
    url, _ = app
    query = "&projector=true" if mode == "projector" else ""
    context, page = open_idle(lab_browser, f"{url.replace('127.0.0.1', LAB_SERVER)}/detection?src=Photo&img_src=Camera"
                                           f"{query}")
    try:
        assert page.evaluate("() => window.isSecureContext") is False  # what the browser decides
        warning = page.locator('[data-testid="stAlertContentWarning"]', has_text="camera cannot open")
        warning.first.wait_for(timeout=60_000)
        assert f"http://{LAB_SERVER}:{url.rsplit(':', 1)[1]}" in warning.first.inner_text()
        assert page.locator('[data-testid="stCameraInput"]').count() == 0
        assert page.get_by_text("Drop a PNG, JPEG", exact=False).first.is_visible()  # the photo upload instead
        assert page.locator('[data-testid="stException"]').count() == 0
        page.get_by_text("Serving CV Lab over HTTPS").click()
        page.get_by_text("--server.sslCertFile", exact=False).first.wait_for(timeout=30_000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        screenshot_whole_page(page, str(SCREENSHOTS / f"detection--camera-over-http-{mode}.png"), width=1400)
    finally:
        context.close()


def test_the_camera_on_the_machine_itself_opens(app, browser):
    url, _ = app
    context, page = open_idle(browser, f"{url}/detection?src=Photo&img_src=Camera")
    try:
        assert page.evaluate("() => window.isSecureContext") is True
        page.locator('[data-testid="stCameraInput"]').first.wait_for(timeout=60_000)
        assert page.get_by_text("camera cannot open").count() == 0
    finally:
        context.close()


def image_below_controls(page) -> float:
    """px from the prompt's text box down to the clickable image: the same however the page is scrolled."""
    image = page.locator("iframe").first.bounding_box()
    points = page.get_by_label("Points (x,y,+ or x,y,-; separated by ;)").bounding_box()
    return image["y"] - points["y"]


@pytest.mark.parametrize("mode", ["normal", "projector"])
def test_the_sam_image_stays_where_it_is_after_the_first_click(app, browser, mode):
    url, _ = app
    query = "&projector=true" if mode == "projector" else ""
    context, page = open_idle(browser, f"{url}/segmentation?section=Segment+Anything{query}")
    try:
        image = page.frame_locator("iframe").first.locator("img").first  # streamlit-image-coordinates' picture
        image.wait_for(timeout=180_000)  # after the one-off encoding
        wait_until_idle(page, 180_000)
        before = image_below_controls(page)
        image.click(position={"x": 120, "y": 90})
        page.get_by_text("Decoder", exact=True).first.wait_for(timeout=120_000)  # the click brought masks
        wait_until_idle(page, 180_000)
        after = image_below_controls(page)
        assert abs(after - before) <= 2, (before, after)  # it used to drop by the height of the results
        assert page.locator('[data-testid="stException"]').count() == 0
        screenshot_whole_page(page, str(SCREENSHOTS / f"segmentation--sam-after-a-click-{mode}.png"), width=1400)
    finally:
        context.close()
