"""cvlab.data.images: the shipped sample photos, and every kind of bad or odd file, made here with Pillow."""

import io
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from cvlab.data.images import (
    MAX_IMAGE_BYTES,
    SAMPLE_IMAGES,
    BadImage,
    SampleImage,
    SampleUnavailable,
    available_samples,
    decode_image,
    load_sample,
    to_float,
    to_grayscale,
)
from cvlab.errors import CvlabError, InvalidInput, UnknownName
from cvlab.settings import Settings


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    """Random RGB pixels: they do not compress, so cutting the file cuts pixel data."""
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` RGB in its IHDR and carries a few bytes of data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", b"not really")
    return buffer.getvalue()


def decode(data: bytes, **options):
    return decode_image(data, "test-file", **options)


# --- the samples ------------------------------------------------------------------------------

def test_every_registered_sample_is_installed_here_and_loads_as_rgb_uint8():
    assert available_samples() == SAMPLE_IMAGES.names()  # scikit-image, scikit-learn, ultralytics present
    assert len(SAMPLE_IMAGES) >= 15
    for name in SAMPLE_IMAGES:
        image = load_sample(name)
        assert image.pixels.dtype == np.uint8 and image.pixels.ndim == 3 and image.pixels.shape[2] == 3, name
        assert min(image.pixels.shape[:2]) >= 100, name
        assert (image.width, image.height) == image.original_size, name
        assert image.title and image.credit and image.source in {"scikit-image", "scikit-learn", "ultralytics"}
        assert not image.pixels.flags.writeable


def test_samples_equal_what_their_packages_own_loaders_return():
    from skimage import data
    from sklearn.datasets import load_sample_image

    assert np.array_equal(load_sample("chelsea").pixels, data.chelsea())
    assert np.array_equal(load_sample("rocket").pixels, data.rocket())
    camera = load_sample("camera")
    assert np.array_equal(camera.pixels[..., 1], data.camera()) and "grayscale" in camera.caption
    assert np.array_equal(load_sample("china").pixels, load_sample_image("china.jpg"))


def test_sample_sizes_and_the_optional_downscale():
    assert load_sample("coffee").pixels.shape == (400, 600, 3)
    zidane = load_sample("zidane", max_side=640)
    assert zidane.pixels.shape == (360, 640, 3) and zidane.original_size == (1280, 720)
    assert "resized from 1280×720 to 640×360 to fit 640 px" in zidane.notes
    assert load_sample("chelsea", max_side=1024).notes == ()  # never enlarged


def test_an_unknown_sample_lists_the_choices_and_a_missing_package_says_what_to_install():
    with pytest.raises(UnknownName, match="coffee"):
        load_sample("cofee")
    missing = SampleImage("ghost", "Ghost", "no-such-dist", "no_such_module_cvlab", "a.png", "")
    assert not missing.available
    with pytest.raises(SampleUnavailable, match="pip install no-such-dist"):
        missing.load()


# --- files that are refused -------------------------------------------------------------------

BAD_FILES = {
    "empty": (lambda: b"", "empty (0 bytes)"),
    "text": (lambda: b"name,score\nada,1\n", "it looks like text"),
    "zip": (zip_bytes, "it looks like a ZIP archive"),
    "random bytes": (lambda: bytes(np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8)),
                     "its format is none of these"),
    "jpeg header cut": (lambda: encode(noise(64, 64), "JPEG")[:40], "header is damaged or cut short"),
    "truncated jpeg": (lambda: encode(noise(64, 64), "JPEG")[:1500], "is damaged or cut short (OSError"),
    "truncated png": (lambda: encode(noise(64, 64), "PNG")[:6000], "is damaged or cut short ("),
    "other format (PPM)": (lambda: encode(noise(16, 16), "PPM"), "not a PNG, JPEG, BMP, GIF, TIFF or WebP image"),
    "1x1 png": (lambda: encode(Image.new("RGB", (1, 1)), "PNG"), "only 1×1 px; a convolution needs at least 8 px"),
    "thin strip": (lambda: encode(Image.new("L", (200, 4)), "PNG"), "only 200×4 px"),
    "too many pixels": (lambda: png_header_only(8000, 6000), "8000×6000 = 48,000,000 pixels; the limit is 40,000,000"),
    "decompression bomb": (lambda: png_header_only(20000, 20000), "claims 400,000,000 pixels"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_bad_file_is_refused_with_a_message_that_says_what_is_wrong(kind):
    make, words = BAD_FILES[kind]
    with pytest.raises(BadImage) as caught:
        decode(make())
    message = str(caught.value)
    assert words in message and "'test-file'" in message
    assert any(hint in message for hint in ("pick a sample", "upload", "Upload", "again")), message
    assert isinstance(caught.value, (InvalidInput, CvlabError))


def test_too_many_bytes_names_the_limit():
    with pytest.raises(BadImage, match="the limit is 20 MB"):
        decode(b"\x89PNG" + bytes(MAX_IMAGE_BYTES))


@pytest.mark.parametrize("data", [png_header_only(8000, 6000), png_header_only(20000, 20000),
                                  encode(Image.new("RGB", (200, 100)), "PNG")])
def test_too_many_pixels_is_refused_from_the_header_without_decoding(data, monkeypatch):
    def no_decoding(self, *args):
        raise AssertionError("pixels were decoded")
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    settings = Settings.from_env({"CVLAB_MAX_IMAGE_PIXELS": "10000"})
    with pytest.raises(BadImage, match="pixels"):
        decode(data, settings=settings)


def test_the_pixel_limit_comes_from_the_settings():
    data = encode(Image.new("RGB", (200, 100)), "PNG")
    assert decode(data).pixels.shape == (100, 200, 3)
    with pytest.raises(BadImage, match="200×100 = 20,000 pixels; the limit is 19,999 pixels"):
        decode(data, settings=Settings.from_env({"CVLAB_MAX_IMAGE_PIXELS": "19999"}))


# --- files that are converted, with a note ----------------------------------------------------

def test_16_bit_png_is_scaled_to_8_bits():
    values = np.tile(np.array([[0, 65535], [257, 1000]], dtype=np.uint16), (4, 4))  # (8, 8)
    image = decode(encode(Image.fromarray(values), "PNG"))
    assert image.original_mode == "I;16" and image.original_format == "PNG"
    assert image.pixels[:2, :2, 0].tolist() == [[0, 255], [1, 4]]  # 1000 / 257 = 3.9
    assert np.array_equal(image.pixels[..., 0], image.pixels[..., 2])
    assert "16-bit grayscale (I;16) converted to 8 bits (scaled 0-65535 to 0-255)" in image.notes


def png_48_bit(values: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG written by hand (Pillow cannot write one)."""
    height, width, _ = values.shape
    big_endian = values.astype(">u2")
    raw = b"".join(b"\x00" + big_endian[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_16_bit_colour_png_keeps_the_high_bits_with_a_note():
    values = np.zeros((9, 10, 3), np.uint16)
    values[..., 0], values[..., 1], values[..., 2] = 65535, 0x8000, 0x01FF  # high bytes 255, 128, 1
    image = decode(png_48_bit(values))
    assert image.pixels.shape == (9, 10, 3)
    assert image.pixels[0, 0].tolist() == [255, 128, 1]
    assert "16-bit colour: each channel kept to its 8 high bits" in image.notes
    assert not any("16-bit" in note for note in decode(encode(Image.new("RGB", (9, 9)), "PNG")).notes)


def test_float_and_32_bit_tiffs_are_scaled_or_stretched():
    ramp = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    unit = decode(encode(Image.fromarray(ramp), "TIFF"))
    assert unit.pixels[0, 0, 0] == 0 and unit.pixels[-1, -1, 0] == 255 and "scaled 0-1 to 0-255" in unit.caption
    wide = decode(encode(Image.fromarray(ramp * 4 - 1), "TIFF"))
    assert wide.pixels[-1, -1, 0] == 255 and "stretched -1..3 to 0-255" in wide.caption
    ints = decode(encode(Image.fromarray((np.arange(64, dtype=np.int32) * 100_000).reshape(8, 8)), "TIFF"))
    assert ints.original_mode == "I" and ints.pixels[-1, -1, 0] == 255 and "32-bit integer" in ints.caption


def test_cmyk_jpeg_becomes_rgb():
    image = decode(encode(Image.new("CMYK", (16, 16), (0, 255, 0, 0)), "JPEG"))  # full magenta ink
    assert image.original_mode == "CMYK"
    assert np.abs(image.pixels[8, 8].astype(int) - [255, 0, 255]).max() <= 3
    assert any(note.startswith("CMYK converted to RGB") for note in image.notes)


def test_transparency_is_flattened_on_white():
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))  # transparent black
    rgba.putpixel((1, 0), (255, 0, 0, 255))  # opaque red
    rgba.putpixel((2, 0), (0, 0, 255, 128))  # half-transparent blue
    image = decode(encode(rgba, "PNG"))
    assert image.pixels[0, 0].tolist() == [255, 255, 255]
    assert image.pixels[0, 1].tolist() == [255, 0, 0]
    assert np.abs(image.pixels[0, 2].astype(int) - [127, 127, 255]).max() <= 1
    assert "converted from RGBA: transparency flattened on white" in image.notes


def test_palette_and_gray_alpha_transparency_and_an_opaque_alpha():
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    palette.putpixel((0, 0), 1)
    image = decode(encode(palette, "PNG", transparency=0))
    assert image.pixels[0, 0].tolist() == [0, 255, 0] and image.pixels[5, 5].tolist() == [255, 255, 255]
    assert "converted from P: transparency flattened on white" in image.notes
    assert decode(encode(Image.new("LA", (8, 8), (0, 0)), "PNG")).pixels.min() == 255
    opaque = decode(encode(Image.new("RGBA", (8, 8), (9, 8, 7, 255)), "PNG"))
    assert opaque.pixels[0, 0].tolist() == [9, 8, 7] and "RGBA: alpha channel fully opaque, dropped" in opaque.notes


def test_grayscale_is_copied_to_three_channels():
    image = decode(encode(Image.new("L", (8, 8), 77), "PNG"))
    assert image.pixels.shape == (8, 8, 3) and (image.pixels == 77).all()
    assert image.notes == ("grayscale: copied to 3 channels",)


def test_an_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    image = decode(data)
    assert image.pixels[0, 0].tolist() == [255, 0, 0] and image.original_format == "GIF"
    assert "animated or multi-page: the first frame is used" in image.notes


def test_exif_orientation_is_applied():
    stored = Image.new("RGB", (32, 16), "blue")
    stored.paste((255, 0, 0), (0, 0, 16, 16))  # left half red, as the sensor saw it
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    image = decode(encode(stored, "JPEG", exif=exif, quality=95))
    assert image.pixels.shape == (32, 16, 3) and image.original_size == (32, 16)
    assert image.pixels[2, 8, 0] > 200 and image.pixels[29, 8, 2] > 200  # red on top, blue below
    assert "turned upright from EXIF orientation 6" in image.notes


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_lossless_formats_round_trip_exactly(fmt):
    original = noise(24, 16, seed=3)
    options = {"lossless": True} if fmt == "WEBP" else {}
    image = decode(encode(original, fmt, **options))
    assert np.array_equal(image.pixels, np.asarray(original)) and image.notes == ()


def test_max_side_keeps_the_aspect_and_is_checked():
    image = decode(encode(noise(400, 300), "PNG"), max_side=100)
    assert image.pixels.shape == (75, 100, 3)
    assert image.notes == ("resized from 400×300 to 100×75 to fit 100 px",)
    assert "100×75 px" in image.caption
    with pytest.raises(InvalidInput, match="max_side=4"):
        decode(encode(noise(400, 300), "PNG"), max_side=4)



def test_a_16_bit_png_is_converted_in_float32_not_float64():
    """Old path: float64 copies at ~32 traced bytes per pixel; now ~9 (the raw copy, float32 and uint8)."""
    import tracemalloc

    values = (np.arange(1500 * 1000, dtype=np.uint32) % 65536).astype(np.uint16).reshape(1000, 1500)
    data = encode(Image.fromarray(values), "PNG")
    tracemalloc.start()
    try:
        image = decode(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert image.pixels[0, :3, 0].tolist() == [0, 0, 0] and image.pixels[0, 1000, 0] == round(1000 / 257)
    assert peak / values.size < 14, f"{peak / values.size:.1f} traced bytes per pixel"


def test_a_big_jpeg_is_decoded_at_a_reduced_scale_when_a_max_side_is_asked(monkeypatch):
    """The decoder's draft mode: a 4000x3000 JPEG read for 500 px is never decoded at full size."""
    from PIL import JpegImagePlugin

    decoded_sizes, real_load = [], JpegImagePlugin.JpegImageFile.load

    def load(self):
        decoded_sizes.append(self.size)
        return real_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", load)
    photo = encode(Image.new("RGB", (4000, 3000), (200, 30, 40)), "JPEG", quality=90)
    image = decode(photo, max_side=500)
    assert image.pixels.shape == (375, 500, 3) and image.original_size == (4000, 3000)
    assert image.notes == ("resized from 4000×3000 to 500×375 to fit 500 px",)
    assert abs(int(image.pixels[100, 100, 0]) - 200) < 6
    assert decoded_sizes and max(decoded_sizes) == (1000, 750)  # 1/4 scale still covers 500 px

# --- conversions for later pages --------------------------------------------------------------

def test_to_grayscale_uses_bt601_luma_like_pillow():
    pixels = np.asarray(noise(20, 10, seed=5))
    gray = to_grayscale(pixels)
    assert gray.shape == (10, 20) and gray.dtype == np.float32
    pillow = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.float32) / 255
    assert np.abs(gray - pillow).max() <= 1 / 255 + 1e-6
    assert to_grayscale(np.array([[[255, 0, 0], [255, 255, 255]]], np.uint8))[0] == pytest.approx([0.299, 1.0])
    assert np.allclose(to_grayscale(np.full((3, 3), 51, np.uint8)), 0.2)
    with pytest.raises(InvalidInput, match="shape"):
        to_grayscale(np.zeros((4, 4, 4), np.uint8))


def test_to_float_scales_uint8_and_refuses_other_integers():
    assert to_float(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    assert to_float(np.array([0.5], np.float64)).dtype == np.float32
    with pytest.raises(InvalidInput, match="int32"):
        to_float(np.array([1], np.int32))


def test_the_module_imports_no_torch_streamlit_or_the_packages_it_reads_from():
    code = ("import sys, cvlab.data.images as m; m.load_sample('bus'); m.load_sample('china'); "
            "print(sorted({'torch', 'streamlit', 'ultralytics', 'sklearn', 'skimage'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
