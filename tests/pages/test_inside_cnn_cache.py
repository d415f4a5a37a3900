"""Inside a CNN convolves an image once per settings: a rerun that changes nothing, or another
session on the same settings, reuses the result and its figures."""

from cvlab.cnn import convolution
from tests.pages.apptest import run_script

PAGE = "pages/foundations/inside_cnn.py"


def test_the_same_image_and_settings_convolve_once(monkeypatch):
    calls = []
    original = convolution.convolve

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(convolution, "convolve", counted)
    settings = dict(img="camera", kernel="box_blur_3x3", cs="3", cd="2", cb="0.3")  # no other test's settings
    first = run_script(PAGE, timeout=120, **settings)
    second = run_script(PAGE, timeout=120, **settings)  # another visitor, the same address
    assert len(calls) == 1
    assert [m.value for m in first.markdown] == [m.value for m in second.markdown]
    run_script(PAGE, timeout=120, **{**settings, "cb": "0.4"})
    assert len(calls) == 2
