"""ViT patches, Swin windows, and attention cost measured from the real models."""

import numpy as np
import pytest

from cvlab.errors import InvalidInput, UnknownName
from cvlab.zoo.tokens import (Rect, attention_cost, fit_exponents, patch_grid, swin_windows, vit_tokens)
from cvlab.viz.scaling import attention_cost_figure, patch_grid_figure, swin_windows_figure

SIZES = (224, 320, 448, 640, 896, 1024)


@pytest.mark.parametrize("size,expected", [(224, (14, 14, 197)), (384, (24, 24, 577)), ((224, 320), (14, 20, 281))])
def test_vit_tokens(size, expected):
    assert vit_tokens(size) == expected


@pytest.mark.parametrize("size", [225, 100, (224, 230)])
def test_vit_sizes_that_do_not_cut_into_patches_are_refused(size):
    with pytest.raises(InvalidInput, match="multiple of the patch size"):
        vit_tokens(size)
    with pytest.raises(InvalidInput, match="positive"):
        vit_tokens(0)


def test_patch_grid_covers_the_image_row_by_row():
    rects = patch_grid(224, 224)
    assert len(rects) == 196 and rects[0] == Rect(0, 0, 16, 16) and rects[13] == Rect(208, 0, 224, 16)
    assert rects[-1] == Rect(208, 208, 224, 224)


def test_swin_regular_windows_at_224():
    windows = swin_windows(224, 224)
    assert len(windows) == 64 and windows[0].rect == Rect(0, 0, 28, 28)  # 7 tokens x 4 px
    assert windows[-1].rect == Rect(196, 196, 224, 224)
    assert len({w.batch_window for w in windows}) == 64


def test_swin_shifted_partition_cuts_81_regions_in_64_windows():
    regions = swin_windows(224, 224, shift=True)
    assert len(regions) == 81  # 9x9: cuts at 3, 10, ..., 52 tokens on each axis
    assert regions[0].rect == Rect(0, 0, 12, 12)  # 3 tokens
    assert regions[1].rect == Rect(12, 0, 40, 12)
    assert regions[-1].rect == Rect(208, 208, 224, 224)  # 4 tokens
    assert len({r.batch_window for r in regions}) == 64  # the cyclic shift packs edge pieces together
    assert regions[0].batch_window == regions[-1].batch_window == (7, 7)
    assert sum((r.rect.x1 - r.rect.x0) * (r.rect.y1 - r.rect.y0) for r in regions) == 224 * 224


def test_swin_pads_to_whole_windows_and_refuses_partial_patches():
    windows = swin_windows(320, 320)  # 80 tokens padded to 84: 12 windows a side, the last clipped
    assert len(windows) == 144 and windows[-1].rect == Rect(308, 308, 320, 320)
    with pytest.raises(InvalidInput, match="multiples of 4"):
        swin_windows(225, 224)


@pytest.fixture(scope="module")
def costs():
    return attention_cost(SIZES)


def test_attention_cost_is_measured_from_the_real_models(costs):
    by_key = {(p.model, p.image_size): p for p in costs}
    assert len(costs) == 12
    vit, swin = by_key["vit_b_16", 224], by_key["swin_t", 224]
    assert vit.macs == pytest.approx(17.564e9, rel=0.01)  # torchvision's published _ops for ViT-B/16
    assert swin.macs == pytest.approx(4.491e9, rel=0.01)  # and for Swin-T
    assert vit.tokens == 197 and swin.tokens == 56 * 56
    assert 0 < vit.attention_macs < vit.macs


def test_vit_grows_quadratically_and_swin_linearly(costs):
    fits = {f.model: f for f in fit_exponents(costs)}
    vit, swin = fits["vit_b_16"], fits["swin_t"]
    assert vit.attention_exponent > 1.9 and swin.attention_exponent < 1.1  # measured 2.00 and 1.00
    # The whole ViT is still dominated by its MLPs at these sizes, so its total lies between.
    assert vit.total_exponent > swin.total_exponent + 0.12 and swin.total_exponent < 1.1


@pytest.mark.parametrize("model,size,match", [("vit_b_16", 230, "multiple of the patch"),
                                              ("swin_t", 240, "multiple of 32")])
def test_attention_cost_refuses_sizes_the_models_cannot_take(model, size, match):
    with pytest.raises(InvalidInput, match=match):
        attention_cost((size,), (model,))
    with pytest.raises(UnknownName):
        attention_cost((224,), ("resnet50",))


def test_figures(costs):
    pixels = np.zeros((224, 224, 3), dtype=np.uint8)
    fig = patch_grid_figure(pixels, patch_grid(224, 224), 197)
    assert fig.data[0].type == "image" and len(fig.layout.shapes) == 196
    assert (fig.layout.shapes[0].x0, fig.layout.shapes[0].x1) == (-0.5, 15.5)
    assert "197 tokens" in fig.layout.title.text

    fig = swin_windows_figure(pixels, swin_windows(224, 224), swin_windows(224, 224, shift=True))
    assert [t.type for t in fig.data] == ["image", "image"] and len(fig.layout.shapes) == 64 + 81
    shifted = [s for s in fig.layout.shapes if s.xref == "x2"]
    assert len(shifted) == 81 and shifted[0].x1 == 11.5
    assert sum(s.fillcolor != "rgba(0,0,0,0)" for s in shifted) == 81 - 49  # edge pieces share windows

    fits = fit_exponents(costs)
    fig = attention_cost_figure(costs, fits, x="image_size")
    assert len(fig.data) == 4 and list(fig.data[0].x) == list(SIZES)
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    assert f"{fits[0].total_exponent:.2f}" in fig.data[0].name and "attention" in fig.data[1].name
