"""Video on the Detection page in a real browser: the generated clip tracked, an upload tracked, bad files refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cvlab.data.shapes_clip import shapes_clip
from cvlab.data.video import encode_webm
from tests.e2e.test_browser import SCREENSHOTS, open_page
from tests.harness import layout_problems, screenshot_whole_page, wait_until_idle

pytestmark = pytest.mark.e2e


def wait_for_playable_video(page) -> dict:
    """The tracked clip's <video>, once the browser has decoded its header: its size and length."""
    page.locator('[data-testid="stVideo"]').first.wait_for(timeout=120_000)
    page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 1; }",
                           timeout=60_000)
    return page.evaluate("() => { const v = document.querySelector('video');"
                         " return {w: v.videoWidth, h: v.videoHeight, seconds: v.duration}; }")


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


@pytest.mark.parametrize("mode", ["normal", "projector"])
def test_the_generated_clip_is_tracked_and_plays(app, page, mode):
    url, _ = app
    projector = "&projector=true" if mode == "projector" else ""
    open_page(page, f"{url}/detection?section=Video&vframes=32&vobjects=4{projector}")
    video = wait_for_playable_video(page)
    assert (video["w"], video["h"]) == (256, 256) and video["seconds"] == pytest.approx(32 / 15, abs=0.2)
    wait_until_idle(page)
    assert page.get_by_text("MOTA", exact=False).count() >= 1
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2  # the timeline and the paths
    no_exception(page)
    assert not layout_problems(page, 1440)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot_whole_page(page, str(SCREENSHOTS / f"detection-video-{mode}.png"))


def upload(page, path) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))


def test_uploads_a_good_clip_is_tracked_a_corrupt_one_and_a_text_file_are_refused(app, page, tmp_path):
    url, _ = app
    open_page(page, f"{url}/detection?section=Video&vsrc=Upload+a+clip")
    made = shapes_clip(seed=4, frames=20, size=192, objects=3).clip
    good = tmp_path / "my clip.mp4"  # MPEG-4 Part 2 in MP4, as OpenCV writes it without extra codecs
    writer = cv2.VideoWriter(str(good), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (192, 192))
    for frame in made.frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    upload(page, good)
    video = wait_for_playable_video(page)
    assert (video["w"], video["h"]) == (192, 192)
    wait_until_idle(page)
    page.get_by_text("20 frames of 192x192 px", exact=False).first.wait_for(timeout=30_000)
    no_exception(page)

    corrupt = tmp_path / "broken.webm"
    corrupt.write_bytes(encode_webm(made.frames, 15.0)[:300])
    upload(page, corrupt)
    page.locator('[data-testid="stAlertContentError"]', has_text="broken.webm").first.wait_for(timeout=60_000)
    no_exception(page)

    text = tmp_path / "lecture.mp4"
    text.write_text("Not a video, only words.\n" * 20)
    upload(page, text)
    page.locator('[data-testid="stAlertContentError"]', has_text="not a video file").first.wait_for(timeout=60_000)
    wait_until_idle(page)
    no_exception(page)
    assert page.locator('[data-testid="stVideo"]').count() == 0
