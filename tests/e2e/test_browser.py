"""Every page in a real browser: no exception element, a screenshot, normal and projector mode."""

from __future__ import annotations

import pytest

from cvlab.syllabus import LECTURE_PATH
from cvlab.syllabus import PAGES as PAGE_INFO
from tests.harness import REPO_ROOT, app_server, layout_problems, screenshot_whole_page, wait_until_idle

pytestmark = pytest.mark.e2e
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
PAGES = list(PAGE_INFO)


def path_of(url_path: str) -> str:
    return "" if url_path == "home" else url_path


def open_page(page, url: str) -> None:
    page.goto(url)
    wait_until_idle(page)
    # The device panel fills in once its probe process answers.
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("torch 2.", exact=False).first.wait_for(timeout=60_000)
    wait_until_idle(page)


@pytest.mark.parametrize("mode", ["normal", "projector"])
@pytest.mark.parametrize("url_path", PAGES)
def test_page_renders_without_exception(app, page, url_path, mode):
    url, _ = app
    query = "?projector=true" if mode == "projector" else ""
    open_page(page, f"{url}/{path_of(url_path)}{query}")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator("h1").first.is_visible()
    size = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector("
        "'[data-testid=\"stMarkdownContainer\"] p')).fontSize)"
    )
    assert (size >= 24) if mode == "projector" else (size <= 18)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot_whole_page(page, str(SCREENSHOTS / f"{url_path}-{mode}.png"))


# Pages and sections seen to break at a classroom's widths: cards, formulas, metrics, charts and tables.
LAYOUT_PAGES = [
    "",  # home: its cards and the lecture path
    "output-size?section=Single+layer&cin=512&cout=512",  # metrics with ten-digit values
    "output-size?section=Single+layer&layer=maxpool&h=5&w=5&k=2&sk=false&s=2&p=1&ceil=true",  # a dropped window
    "output-size?section=Layer+chain&preset=vgg16",
    "inside-cnn?section=Convolution",
    "inside-cnn?section=Pooling",
    "activations?section=Functions",
    "architectures?section=Compare",
    "architectures?section=Choose",
    "architectures?section=Compound+scaling",
    "detection?section=Detect",
    "segmentation?section=U-Net",
]


@pytest.mark.parametrize("width", [1400, 1920])
@pytest.mark.parametrize("mode", ["normal", "projector"])
@pytest.mark.parametrize("path", LAYOUT_PAGES)
def test_nothing_is_cut_split_or_run_together_at_a_classroom_width(app, browser, path, mode, width):
    """Figures' texts apart and inside them, no word broken mid-word, no label in an ellipsis, no formula
    or table wider than its place: in a 1400 and a 1920 px window, normal and projected."""
    url, _ = app
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    separator = "&" if "?" in path else "?"
    open_page(page, f"{url}/{path}" + (f"{separator}projector=true" if mode == "projector" else ""))
    problems = layout_problems(page, width)
    name = (path.replace("?", "--").replace("&", "-").replace("=", "_").replace("+", "_") or "home")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot_whole_page(page, str(SCREENSHOTS / f"layout-{name}-{mode}-{width}.png"), width=width)
    context.close()
    assert not problems, "\n".join(problems)


def test_projector_mode_survives_a_page_change(app, page):
    url, _ = app
    open_page(page, f"{url}/?projector=true")
    page.locator('[data-testid="stSidebarNav"] a', has_text="Activations").click()
    page.wait_for_url("**/activations**", timeout=60_000)
    wait_until_idle(page)
    assert "projector=true" in page.url
    assert page.get_by_role("switch", name="Projector mode").is_checked()


def test_home_links_open_the_right_section(app, page):
    url, _ = app
    open_page(page, url)
    page.locator('[data-testid="stPageLink"] a', has_text="Output size: exercises").click()
    page.wait_for_url("**/output-size?*section=Exercises*", timeout=60_000)
    selected = page.locator('[data-testid="stTab"][aria-selected="true"]', has_text="Exercises")
    selected.first.wait_for(timeout=60_000)  # the page has run and opened the linked tab
    wait_until_idle(page)


@pytest.mark.parametrize("deep", [next(url_path for url_path in PAGES if url_path != "home"), "home"])
def test_a_deep_link_as_the_first_visit_after_a_restart_gets_the_whole_app(tmp_path, browser, deep):
    """Guards the page layout against Streamlit's old pages-directory mode (see cvlab.syllabus)."""
    with app_server(tmp_path) as (url, _):
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{url}/{deep}?projector=true")
        wait_until_idle(page)
        assert page.get_by_role("switch", name="Projector mode").is_checked()
        assert page.get_by_text("Page not found").count() == 0
        heading = page.locator("h1").first.inner_text()
        assert (heading == "CV Lab") if deep == "home" else (heading != "CV Lab")  # the page asked for
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Home" in nav and "streamlit app" not in nav
        context.close()


def test_the_home_path_opens_the_home_page(app, page):
    """The home page is served at the root; "/home", typed or bookmarked, gets there too, projector kept."""
    url, _ = app
    open_page(page, f"{url}/home?projector=true")
    assert page.get_by_text("Page not found").count() == 0
    assert page.locator("h1").first.inner_text() == "CV Lab"
    assert page.get_by_role("switch", name="Projector mode").is_checked()
    assert page.locator('[data-testid="stSidebarNav"] a', has_text="Home").count() == 1  # no second entry


def stops() -> list:
    seen, found = set(), []
    for topic in LECTURE_PATH:
        for stop in topic.stops:
            key = (stop.page, stop.section, tuple(sorted(stop.params.items())))
            if key not in seen:
                seen.add(key)
                found.append(stop)
    return found


@pytest.mark.parametrize("stop", stops(), ids=lambda s: f"{s.page}-{s.section}-{'-'.join(s.params.values())}")
def test_every_lecture_stop_opens_its_section(app, page, stop):
    from urllib.parse import parse_qs, urlencode, urlparse

    url, _ = app
    query = urlencode({"section": stop.section, **stop.params})
    open_page(page, f"{url}/{stop.page}?{query}")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stTab"][aria-selected="true"]').first.inner_text().strip() == stop.section
    chosen = page.evaluate(  # what selectboxes show, and the tags of multiselects
        "() => [...Array.from(document.querySelectorAll('[data-testid=\"stSelectbox\"] input')).map(i => i.value),"
        " ...Array.from(document.querySelectorAll('[data-testid=\"stMultiSelect\"] span'))"
        ".filter(t => !t.children.length).map(t => t.textContent.trim())]"
    )
    kept = parse_qs(urlparse(page.url).query)  # a bound widget drops a value it rejects from the address
    for key, value in stop.params.items():  # the page took the preset (a default shows, but leaves the address)
        assert kept.get(key) == [value] or value in chosen, (key, value)
    name = f"{stop.page}--{stop.section}{'--' + '-'.join(stop.params.values()) if stop.params else ''}"
    screenshot_whole_page(page, str(SCREENSHOTS / f"{name.replace(' ', '_')}.png"))


SEGMENTATION_SECTIONS = {
    "Train a U-Net": "",
    "Loss explorer": "",
    # A prompt in the address bar: the random-weights MobileSAM encodes the sample once and answers it.
    "Segment Anything": "&sam_pts=300%2C200%2C%2B",
}


@pytest.mark.parametrize("mode", ["normal", "projector"])
@pytest.mark.parametrize("section", list(SEGMENTATION_SECTIONS))
def test_segmentation_sections_render(app, page, section, mode):
    from urllib.parse import quote_plus

    url, _ = app
    projector = "&projector=true" if mode == "projector" else ""
    open_page(page, f"{url}/segmentation?section={quote_plus(section)}{SEGMENTATION_SECTIONS[section]}{projector}")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stTab"][aria-selected="true"]').first.inner_text().strip() == section
    if section == "Segment Anything":
        page.get_by_text("Decoder", exact=True).first.wait_for(timeout=120_000)  # the masks and timings came
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    elif section == "Loss explorer":
        assert page.locator('[data-testid="stPlotlyChart"]').count() >= 4  # curves, toy pair, focal x2
    wait_until_idle(page)
    screenshot_whole_page(page, str(SCREENSHOTS / f"segmentation--{section.replace(' ', '_')}-{mode}.png"))


def test_verify_with_pytorch_in_the_browser(app, page):
    url, _ = app
    open_page(page, f"{url}/output-size?section=Layer+chain&preset=vgg16")
    page.get_by_role("button", name="Verify with PyTorch").click()
    alert = page.locator('[data-testid="stAlertContentSuccess"]', has_text="layers match")
    alert.first.wait_for(timeout=90_000)  # the first check imports torch in the server
    wait_until_idle(page)
    assert "22 of 22 layers match" in alert.first.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_bad_input_shows_a_message_and_the_page_keeps_working(app, page):
    url, _ = app
    open_page(page, f"{url}/activations?section=Softmax")
    box = page.get_by_label("Logits z (comma-separated)")
    box.fill("2.0, banana")
    box.press("Enter")
    errors = page.locator('[data-testid="stAlertContentError"]')
    errors.first.wait_for(timeout=60_000)
    assert errors.count() == 1
    box.fill("1, 2, 3")
    box.press("Enter")
    errors.first.wait_for(state="detached", timeout=60_000)
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_bad_upload_is_a_message_and_the_page_keeps_working(app, page, tmp_path):
    url, _ = app
    open_page(page, f"{url}/inside-cnn?img_src=Upload")
    fake = tmp_path / "holiday.png"
    fake.write_text("this is not a picture")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(fake))
    error = page.locator('[data-testid="stAlertContentError"]', has_text="holiday.png")
    error.first.wait_for(timeout=60_000)
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_text("Sample", exact=True).click()
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=60_000)  # the photo is back
    wait_until_idle(page)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def test_the_run_picker_follows_a_run_that_finishes(tmp_path, browser, monkeypatch):
    """Only the Live panel redraws every two seconds; when its run ends, the picker above it must say so too."""
    import re
    import threading

    from playwright.sync_api import expect

    from cvlab.training import runs
    from cvlab.training.config import TrainConfig

    monkeypatch.setenv("CVLAB_START_WORKER", "never")  # nothing but the test changes the run
    run_dir = runs.RunStore(root=tmp_path / "runs").create(TrainConfig(), owner="ada")
    runs.update_record(run_dir, status="running")
    alive = threading.Event()

    def worker_heartbeat():  # a running run whose worker falls silent is shown as interrupted
        while not alive.wait(2):
            runs.touch_heartbeat(run_dir)

    runs.touch_heartbeat(run_dir)
    threading.Thread(target=worker_heartbeat, daemon=True).start()
    try:
        with app_server(tmp_path) as (url, _):
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.goto(f"{url}/training?section=Live")
            wait_until_idle(page)
            picker = page.get_by_label("Run (yours first)")  # its value is the chosen run's label
            expect(picker).to_have_value(re.compile(f"{run_dir.name}.*· running$"), timeout=60_000)
            runs.set_status(run_dir, "finished")
            alive.set()
            expect(picker).to_have_value(re.compile("· finished$"), timeout=30_000)  # no click: the panel's refresh
            context.close()
    finally:
        alive.set()
