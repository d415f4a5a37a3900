"""Dataset uploads through the real uploaders of the training form: a crafted zip is refused with a clear
message while the page server's memory stays flat, a folder over the cap is refused before it is read, and
the names shown are the user's, never the server's hash folders."""

import io
import threading
import time
import zipfile

import psutil
from PIL import Image

from cvlab.data.uploads import UploadStore
from tests.pages.apptest import run_script

TRAINING = "pages/training/live_training.py"
MIB = 2**20


def crafted_mask_zip(pairs: int = 10, side: int = 6000) -> bytes:
    """~940 KiB: pairs of one-colour 36-megapixel PNGs whose masks hold class 2 of a two-class set. The old
    reader decoded every pair whole and kept them all (~1.6 GiB) before it looked at a mask value."""
    def png(value: int) -> bytes:
        buffer = io.BytesIO()
        Image.new("L", (side, side), value).save(buffer, "PNG", compress_level=9)
        return buffer.getvalue()

    image, mask, buffer = png(128), png(2), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # deflated, it would be 10 KiB
        archive.writestr("big/classes.json", '{"classes": ["background", "object"]}')
        for index in range(pairs):
            archive.writestr(f"big/images/{index:03d}.png", image)
            archive.writestr(f"big/masks/{index:03d}.png", mask)
    return buffer.getvalue()


class PeakRss:
    """The largest resident set of this process (AppTest runs the page in it) while the block runs."""

    def __enter__(self):
        self.process, self.done = psutil.Process(), threading.Event()
        self.start = self.peak = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self):
        while not self.done.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.start


def errors(app) -> str:
    return "\n".join(e.value for e in app.error)


def test_a_crafted_mask_zip_is_refused_in_words_and_memory_stays_flat():
    data = crafted_mask_zip()
    assert len(data) < MIB
    app = run_script(TRAINING, timeout=180, section="New run", task="Segmentation", segment_data="upload")
    app.file_uploader(key="segment_data_zip").upload("holiday masks.zip", data, "application/zip")
    with PeakRss() as memory:
        app.run()
    assert not app.exception, app.exception
    shown = errors(app)
    assert shown.startswith("holiday masks.zip has 6 problem(s); fix them and upload it again"), shown
    assert "mask 000 holds values [2] but there are 2 classes (ids 0..1)" in shown
    assert "Traceback" not in shown and "/uploads/" not in shown
    print(f"page server RSS: {memory.start / MIB:.0f} MiB before the upload, peak {memory.peak / MIB:.0f} MiB")
    assert memory.growth < 300 * MIB, f"the page server grew by {memory.growth / MIB:.0f} MiB"
    [entry] = [e for e in UploadStore().entries() if e.area == "uploads"]
    assert entry.name == "holiday masks.zip" and entry.owners  # counted for the browser that uploaded it


def test_a_folder_upload_over_the_cap_is_refused_before_it_is_read(monkeypatch):
    monkeypatch.setenv("CVLAB_MAX_UPLOAD_MB", "1")
    app = run_script(TRAINING, timeout=180, section="New run", task="Classification", data="folder")
    files = [(f"pets/{kind}/{i}.png", bytes(400 * 1024), "image/png") for kind in ("cats", "dogs") for i in range(2)]
    app.file_uploader(key="data_folder").set_value(files)
    app.run()
    assert not app.exception, app.exception
    assert "The folder holds 2 MiB in 4 files; the limit is 1 MiB" in errors(app)
    assert UploadStore().entries() == [] and not (UploadStore().home / "uploads").exists()


def test_a_folder_with_a_name_too_long_for_the_disk_is_refused_in_words():
    app = run_script(TRAINING, timeout=180, section="New run", task="Classification", data="folder")
    png = io.BytesIO()
    Image.new("RGB", (16, 16)).save(png, "PNG")
    app.file_uploader(key="data_folder").set_value([("pets/cats/1.png", png.getvalue(), "image/png"),
                                                    ("pets/dogs/" + "d" * 300 + ".png", png.getvalue(), "image/png")])
    app.run()
    assert not app.exception, app.exception
    assert "has a file or folder name of 304 characters; names may be at most 255 bytes long" in errors(app)


def test_an_uploaded_zip_with_one_class_is_named_as_uploaded():
    buffer = io.BytesIO()
    png = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(png, "PNG")
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cats/1.png", png.getvalue())
    app = run_script(TRAINING, timeout=180, section="New run", task="Classification", data="upload")
    app.file_uploader(key="data_zip").upload("my pets.zip", buffer.getvalue(), "application/zip")
    app.run()
    assert not app.exception, app.exception
    shown = errors(app)
    assert shown.startswith("'my pets' has 'cats' with 1 usable image"), shown
    [entry] = [e for e in UploadStore().entries() if e.area == "uploads"]
    assert entry.key not in shown and any("Your uploads keep" in c.value for c in app.caption)


def test_a_yolo_zip_checked_on_the_detection_page_is_named_as_uploaded_and_kept_once():
    png = io.BytesIO()
    Image.new("RGB", (32, 32)).save(png, "PNG")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("birds/data.yaml", "path: .\ntrain: images/train\nval: images/train\nnames: [a]\n"
                                            "download: bash -c 'touch /tmp/never'\n")
        archive.writestr("birds/images/train/0.png", png.getvalue())
        archive.writestr("birds/labels/train/0.txt", "3 0.5 0.5 0.2 0.2\n")
    app = run_script("pages/tasks/detection.py", timeout=180, section="Your data")
    app.file_uploader(key="dataset_zip").upload("birds.zip", buffer.getvalue(), "application/zip")
    app.run()
    assert not app.exception, app.exception
    assert errors(app).startswith("1 problem(s) in birds.zip:"), errors(app)
    areas = sorted(e.area for e in UploadStore().entries())
    assert areas == ["datasets/archives", "uploads"]
