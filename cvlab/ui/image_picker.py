"""The one image picker every page uses: a sample photo, an upload, or the browser's camera.

The source and the sample live in the address bar (``?img_src=Sample&img=coffee``),
so a shared link shows the same photo; an upload or a camera shot cannot travel
in a URL and stays in the session. ``st.camera_input`` takes the photo in the
user's browser, so it works for remote students (a server-side camera would film
the server room); over plain http to another machine the browser refuses it, so the
picker says why and how to serve HTTPS, and offers the upload instead. Decoding is cached
on the file's bytes; a bad file shows one ``st.error`` and the picker returns None, while
the rest of the page keeps working.
"""

from __future__ import annotations

import streamlit as st

from cvlab.data.images import (
    DEFAULT_SAMPLE,
    MAX_IMAGE_BYTES,
    UPLOAD_TYPES,
    LoadedImage,
    available_samples,
    decode_image,
    load_sample,
)
from cvlab.settings import Settings, get_settings
from cvlab.ui import report_errors

SAMPLE, UPLOAD, CAMERA = "Sample", "Upload", "Camera"  # also the ?<key>_src= values
_CACHED_IMAGES = 16  # decoded images kept per process; a 1024 px image is about 3 MB


@st.cache_data(max_entries=_CACHED_IMAGES, show_spinner=False)
def cached_sample(name: str, max_side: int | None, settings: Settings) -> LoadedImage:
    """``load_sample``, decoded once per (name, size, settings) for every session."""
    return load_sample(name, max_side, settings=settings)


@st.cache_data(max_entries=_CACHED_IMAGES, show_spinner=False)
def cached_decode(data: bytes, name: str, source: str, max_side: int | None, settings: Settings) -> LoadedImage:
    """``decode_image`` keyed on the bytes themselves; a BadImage is raised, never cached."""
    return decode_image(data, name, settings=settings, max_side=max_side, source=source)


def image_picker(
    key: str = "img",
    *,
    max_side: int | None = 1024,
    allow_camera: bool = True,
    default: str = DEFAULT_SAMPLE,
) -> LoadedImage | None:
    """Let the user choose an image; None while there is none, or when the file is bad.

    ``key`` names the widgets and URL parameters (``?{key}=`` the sample,
    ``?{key}_src=`` the source), so two pickers on one page need two keys.
    ``max_side`` (px) shrinks big images, keeping their aspect; None keeps them whole.
    """
    sources = [SAMPLE, UPLOAD] + ([CAMERA] if allow_camera else [])
    source = st.segmented_control(
        "Image", sources, default=SAMPLE, required=True, key=f"{key}_src", bind="query-params", wrap=True,
        help="A photo shipped with the lab, a file of yours, or a shot from your own camera.",
    )
    image: LoadedImage | None = None
    with report_errors():
        if source == UPLOAD:
            image = _from_upload(key, max_side)
        elif source == CAMERA:
            image = _from_camera(key, max_side)
        else:
            image = _from_samples(key, max_side, default)
    if image is not None:
        st.caption(image.caption)
    return image


def _from_samples(key: str, max_side: int | None, default: str) -> LoadedImage | None:
    names = available_samples()
    if not names:
        st.warning("No sample photos are installed here: install scikit-image, or upload an image.")
        return None
    # No format_func: a bound selectbox would put the formatted label in the URL; the
    # names are short words on purpose, and the caption below gives the title.
    name = st.selectbox(
        "Sample photo", names, index=names.index(default) if default in names else 0,
        key=key, bind="query-params", persist_state="page", label_visibility="collapsed",
    )
    return cached_sample(name, max_side, get_settings())


def _from_upload(key: str, max_side: int | None) -> LoadedImage | None:
    limit_mb = MAX_IMAGE_BYTES // 2**20
    file = st.file_uploader(
        "Upload an image", type=list(UPLOAD_TYPES), key=f"{key}_file", max_upload_size=limit_mb,
        label_visibility="collapsed",
        help=f"PNG, JPEG, BMP, GIF, TIFF or WebP, up to {limit_mb} MB. It stays on this server only "
        "while you use it.",
    )
    if file is None:
        st.caption(f"Drop a PNG, JPEG, BMP, GIF, TIFF or WebP image (up to {limit_mb} MB).")
        return None
    return cached_decode(file.getvalue(), file.name, "upload", max_side, get_settings())


def _browser_address() -> tuple[str | None, dict[str, str]]:
    """The page's address as the browser has it, and the headers of its connection."""
    try:
        return st.context.url, dict(st.context.headers)
    except Exception:  # no browser behind this run (a bare script run): nothing to tell
        return None, {}


def _from_camera(key: str, max_side: int | None) -> LoadedImage | None:
    from cvlab.server.secure_context import camera_blocked, https_help

    blocked = camera_blocked(*_browser_address())
    if blocked is not None:  # the browser would refuse the camera without a word: say why, offer the upload
        st.warning(f"**The camera cannot open on this page.** It came over plain `{blocked.shown}`, and browsers "
                   "let a page use the camera only over HTTPS, or on the machine itself (`localhost`). Upload a "
                   "photo instead (below; a phone's camera can take one), or ask whoever runs this server to "
                   "serve it over HTTPS.", icon=":material/no_photography:")
        with st.expander("Serving CV Lab over HTTPS"):
            st.markdown(https_help(blocked))
        return _from_upload(key, max_side)
    shot = st.camera_input("Take a photo", key=f"{key}_camera", label_visibility="collapsed")
    if shot is None:
        st.caption("Allow the browser to use your camera, then take a photo.")
        return None
    return cached_decode(shot.getvalue(), "camera photo", "camera", max_side, get_settings())
