"""SAM 2 across frames in a real browser: a click on the frame, propagation, the masked clip plays, the chart draws."""

from __future__ import annotations

import numpy as np
import pytest

from cvlab.data.shapes_clip import shapes_clip
from tests.harness import REPO_ROOT, layout_problems, screenshot_whole_page, show_whole_page, wait_until_idle

pytestmark = pytest.mark.e2e
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
MADE = shapes_clip(0, 8, 256, 3)  # the page's generated clip with svseed=0, svframes=8
PROMPT_FRAME = 4


@pytest.mark.parametrize("mode", ["normal", "projector"])
def test_a_click_on_the_frame_then_propagate_plays_the_masked_clip_and_draws_the_chart(app, browser, mode):
    url, _ = app
    query = "&projector=true" if mode == "projector" else ""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{url}/segmentation?section=Segment+Anything&svframes=8&svframe={PROMPT_FRAME}{query}")
        wait_until_idle(page, 180_000)
        frame_image = page.frame_locator("iframe").nth(1).locator("img").first  # the clip's frame, after the still
        frame_image.wait_for(timeout=120_000)
        rows, cols = np.nonzero(MADE.mask(PROMPT_FRAME, MADE.present(PROMPT_FRAME)[0]))
        zoom = frame_image.bounding_box()["width"] / 256  # the frame is shown larger than the clip
        middle = len(rows) // 2
        frame_image.click(position={"x": float(cols[middle]) * zoom, "y": float(rows[middle]) * zoom})
        points = page.get_by_label("Prompt points: x,y,+ or x,y,-, separated by ;")
        page.wait_for_function("(el) => el.value.endsWith(',+')", arg=points.element_handle(), timeout=60_000)
        wait_until_idle(page, 120_000)
        page.get_by_role("button", name="Propagate through the clip").click()
        video = page.locator('[data-testid="stVideo"]')
        video.first.wait_for(timeout=240_000)
        wait_until_idle(page, 120_000)
        show_whole_page(page, 1400)  # Streamlit draws a chart once it is in view
        page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=30_000)  # time and state per frame
        assert video.first.evaluate("(v) => v.readyState >= 1 && v.duration > 0")  # the browser reads the WebM
        assert page.get_by_text("Masks (8 PNGs, zip)").count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
        problems = [p for p in layout_problems(page, 1400) if "SAM 2" in p or "frame" in p.lower()]
        assert not problems, problems
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        screenshot_whole_page(page, str(SCREENSHOTS / f"segmentation--sam2-video-{mode}.png"), width=1400)
    finally:
        context.close()
