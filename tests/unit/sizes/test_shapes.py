"""cvlab.sizes.arithmetic against real PyTorch layers: same sizes, same rejections, honest working."""

from __future__ import annotations

import random
import warnings

import pytest
import torch
from torch import nn

from cvlab.sizes import arithmetic as shapes

from cvlab.sizes import working as size_working
from cvlab.errors import CvlabError, InvalidInput, InvalidLayer

CASES_PER_KIND = 400


@pytest.fixture(autouse=True)
def _one_thread():
    """Tensors here are tiny: a thread pool only adds wake-up latency (an avg pool: 1.8 ms vs 0.01 ms)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def torch_hw(make_layer, h: int, w: int) -> tuple[int, int] | None:
    """Output (H, W) of a real layer on a (1, 1, H, W) tensor, or None when PyTorch refuses."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zero-element init and 'same' padding copies warn
            out_hw = tuple(make_layer()(torch.zeros(1, 1, h, w)).shape[-2:])
    except (RuntimeError, ValueError, TypeError):
        return None
    # Some CPU kernels (oneDNN's transposed conv) return an empty tensor where the others raise
    # "Output size is too small"; an output with no pixels is a rejection either way.
    return out_hw if min(out_hw) > 0 else None


def ours_hw(size_fn, h: int, w: int) -> tuple[int, int] | None:
    try:
        return size_fn(h), size_fn(w)
    except CvlabError:
        return None


def random_params(rng: random.Random, pool: bool) -> dict:
    """Mostly sensible layer parameters, with zeros and negatives mixed in often enough to test rejections."""
    kernel = rng.choice([-1, 0] + [1, 2, 3, 3, 4, 5, 7] * 3)
    stride = rng.choice([-1, 0] + [1, 1, 2, 2, 3] * 3 + ([None] * 4 if pool else []))
    return dict(kernel=kernel, stride=stride, padding=rng.choice([-1] + [0, 0, 1, 1, 2, 3] * 2),
                dilation=rng.choice([0] + [1, 1, 1, 2, 3] * 2), h=rng.randint(1, 16), w=rng.randint(1, 16))


def compare(cases: list[tuple]) -> tuple[int, int]:
    """Assert each case agrees; return (accepted, rejected) counts so tests can check both happened."""
    accepted = rejected = 0
    for label, ours, theirs in cases:
        assert ours == theirs, f"{label}: cvlab {ours} vs torch {theirs}"
        accepted, rejected = (accepted + 1, rejected) if ours else (accepted, rejected + 1)
    return accepted, rejected


def test_conv_output_size_matches_torch_on_random_cases():
    rng, cases = random.Random(4), []
    for _ in range(CASES_PER_KIND):
        p = random_params(rng, pool=False)
        p["padding"] = rng.choice([p["padding"]] * 4 + ["same", "valid"])
        k, s, pad, d = p["kernel"], p["stride"], p["padding"], p["dilation"]
        theirs = torch_hw(lambda: nn.Conv2d(1, 1, k, stride=s, padding=pad, dilation=d), p["h"], p["w"])
        ours = ours_hw(lambda n: shapes.conv_output_size(n, k, s, pad, d), p["h"], p["w"])
        cases.append((p, ours, theirs))
    accepted, rejected = compare(cases)
    assert accepted > 100 and rejected > 100


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool_output_size_matches_torch_on_random_cases(ceil_mode):
    rng, cases = random.Random(5 + ceil_mode), []
    for _ in range(CASES_PER_KIND):
        p = random_params(rng, pool=True)
        k, s, pad, d = p["kernel"], p["stride"], p["padding"], p["dilation"]
        theirs = torch_hw(lambda: nn.MaxPool2d(k, s, pad, d, ceil_mode=ceil_mode), p["h"], p["w"])
        ours = ours_hw(lambda n: shapes.pool_output_size(n, k, s, pad, d, ceil_mode), p["h"], p["w"])
        cases.append((p, ours, theirs))
    accepted, rejected = compare(cases)
    assert accepted > 100 and rejected > 100


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_avg_pool_output_size_matches_torch_on_random_cases(ceil_mode):
    rng, cases = random.Random(7 + ceil_mode), []
    for _ in range(CASES_PER_KIND):
        p = random_params(rng, pool=True)
        k, s, pad, include = p["kernel"], p["stride"], p["padding"], rng.random() < 0.5
        theirs = torch_hw(lambda: nn.AvgPool2d(k, s, pad, ceil_mode, count_include_pad=include), p["h"], p["w"])
        ours = ours_hw(lambda n: shapes.avg_pool_output_size(n, k, s, pad, ceil_mode, include), p["h"], p["w"])
        cases.append((p, ours, theirs))
    accepted, rejected = compare(cases)
    assert accepted > 100 and rejected > 100


def test_conv_transpose_output_size_matches_torch_on_random_cases():
    rng, cases = random.Random(9), []
    for _ in range(CASES_PER_KIND):
        p = random_params(rng, pool=False)
        k, s, pad, d, op = p["kernel"], p["stride"], p["padding"], p["dilation"], rng.choice([-1, 0, 0, 1, 1, 2])
        theirs = torch_hw(lambda: nn.ConvTranspose2d(1, 1, k, s, pad, op, dilation=d), p["h"], p["w"])
        ours = ours_hw(lambda n: shapes.conv_transpose_output_size(n, k, s, pad, op, d), p["h"], p["w"])
        cases.append(({**p, "output_padding": op}, ours, theirs))
    accepted, rejected = compare(cases)
    assert accepted > 100 and rejected > 100


def test_ceil_mode_drops_a_last_window_that_starts_in_the_right_padding():
    # ceil((5 + 2 - 2) / 2) + 1 = 4, but window 4 would start at 6 >= 5 + 1: PyTorch keeps 3.
    assert shapes.pool_output_size(5, 2, 2, padding=1, ceil_mode=True) == 3
    assert torch_hw(lambda: nn.MaxPool2d(2, 2, 1, ceil_mode=True), 5, 5) == (3, 3)
    assert shapes.pool_output_size(5, 2, 2, ceil_mode=True) == 3  # ceil keeps the half window: 5 -> 3
    assert shapes.pool_output_size(5, 2, 2) == 2


def test_same_padding_keeps_the_size_and_pads_the_odd_pixel_after():
    assert shapes.conv_output_size(10, 4, padding="same") == 10
    assert shapes.conv_padding(4, padding="same") == (1, 2)
    assert shapes.conv_padding(3, padding="same", dilation=2) == (2, 2)
    assert shapes.conv_output_size(10, 3, stride=2, padding="valid") == 4


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: shapes.pool_output_size(10, 4, padding=3), ["pad should be at most half", "padding <= 2"]),
        (lambda: shapes.pool_output_size(10, 2, 1, 2, dilation=3), ["not the dilated span", "padding <= 1"]),
        (lambda: shapes.conv_output_size(10, 3, stride=2, padding="same"), ["stride=1", "padding=1"]),
        (lambda: shapes.conv_output_size(10, 3, stride=0), ["stride must be at least 1"]),
        (lambda: shapes.conv_output_size(10, 0), ["kernel_size must be at least 1"]),
        (lambda: shapes.conv_output_size(10, 3, padding=-1), ["padding must be at least 0"]),
        (lambda: shapes.conv_output_size(3, 5), ["no window fits", "padding of at least 1"]),
        (lambda: shapes.conv_output_size(10, 3, padding="full"), ["'same' or 'valid'"]),
        (lambda: shapes.conv_transpose_output_size(4, 3, 2, output_padding=2), ["smaller than either", "<= 1"]),
        (lambda: shapes.conv_transpose_output_size(2, 1, padding=1), ["crops 2", "padding <= 0"]),
        (lambda: shapes.conv_transpose_output_size(4, 3, padding="same"), ["number of pixels"]),
        (lambda: shapes.output_size("avgpool", 8, 2, dilation=2), ["no dilation"]),
        (lambda: shapes.conv_params(4, 6, 3, groups=4), ["must divide both", "1, 2"]),
    ],
)
def test_impossible_layers_raise_invalid_layer_saying_what_to_do(call, words):
    with pytest.raises(InvalidLayer) as caught:
        call()
    for word in words:
        assert word in str(caught.value)


def test_bad_input_sizes_and_non_integers_are_rejected():
    with pytest.raises(InvalidInput, match="at least 1 pixel"):
        shapes.conv_output_size(0, 3)
    with pytest.raises(InvalidLayer, match="whole number"):
        shapes.conv_output_size(8, 2.5)
    with pytest.raises(InvalidLayer, match="whole number"):
        shapes.pool_output_size(8, True)


@pytest.mark.parametrize("size, kernel, padding, stride, expected", [(*row, out) for row, out in zip(
    [(w, k, p, s) for w, k, p, s in size_working.LECTURE_EXAMPLES], [32, 30, 16, 112])])
def test_lecture_examples_table(size, kernel, padding, stride, expected):
    working = size_working.explain_output_size("conv", size, kernel, stride, padding)
    assert working.output == expected
    assert working.steps[-1].endswith(f"= {expected}")


def test_explanation_fills_in_the_users_numbers():
    working = size_working.explain_output_size("conv", 32, 3, 2, 1)
    assert working.steps == ("out = floor((W - K + 2P) / S) + 1", "    = floor((32 - 3 + 2*1) / 2) + 1",
                             "    = floor(31 / 2) + 1 = 15 + 1 = 16")
    assert r"\frac{32 - 3 + 2\cdot 1}{2}" in working.latex
    dilated = size_working.explain_output_size("conv", 32, 3, 1, 2, dilation=2)
    assert dilated.steps[0] == "K_eff = d*(K - 1) + 1 = 2*(3 - 1) + 1 = 5" and dilated.effective_kernel == 5
    ceil = size_working.explain_output_size("maxpool", 5, 2, 2, 1, ceil_mode=True)
    assert ceil.output == 3 and "drops it" in ceil.steps[-1] and r"\lceil" in ceil.latex
    transposed = size_working.explain_output_size("convtranspose", 7, 3, 2, 1, output_padding=1)
    assert transposed.output == 14 and transposed.steps[-1].endswith("+ 1 + 1 = 14")


@pytest.mark.parametrize(
    "kind, size, kernel, stride, padding, dilation, dropped, unread",
    [
        ("maxpool", 112, 3, 2, 0, 1, 1, 1),  # the lecture's Q3 pool: row 111 is never pooled
        ("maxpool", 112, 3, 2, 1, 1, 0, 0),  # ResNet's padding=1 pool reads every row
        ("conv", 32, 3, 2, 0, 1, 1, 1),  # floor(29 / 2) = 14 drops one pixel
        ("conv", 10, 1, 3, 0, 1, 0, 6),  # a 1-pixel window every 3 pixels skips 6 of 10, none at the end
        ("conv", 9, 2, 1, 0, 4, 0, 0),
        ("conv", 32, 3, 1, 1, 1, 0, 0),
    ],
)
def test_dropped_and_unread_pixels(kind, size, kernel, stride, padding, dilation, dropped, unread):
    working = size_working.explain_output_size(kind, size, kernel, stride, padding, dilation)
    assert (working.dropped, working.unread) == (dropped, unread)


def test_unread_pixels_match_where_torch_gradients_are_zero():
    # A pixel no tap reads gets zero gradient through an all-ones conv: torch's own coverage map.
    rng = random.Random(11)
    for _ in range(60):
        size, k, s, d = rng.randint(4, 20), rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 3)
        p = rng.randint(0, (d * (k - 1) + 1) // 2)
        try:
            working = size_working.explain_output_size("conv", size, k, s, p, d)
        except InvalidLayer:
            continue
        conv = nn.Conv2d(1, 1, (1, k), (1, s), (0, p), (1, d), bias=False)
        nn.init.ones_(conv.weight)
        x = torch.zeros(1, 1, 1, size, requires_grad=True)
        conv(x).sum().backward()
        assert working.unread == int((x.grad == 0).sum()), (size, k, s, p, d)


def test_transposed_unread_counts_contributions_cropped_away():
    assert size_working.explain_output_size("convtranspose", 3, 1, 1, 1).unread == 2


def test_conv_params_and_macs_match_torch():
    rng = random.Random(13)
    for _ in range(40):
        cin, cout, k, g = rng.randint(1, 8), rng.randint(1, 8), rng.randint(1, 4), rng.randint(1, 4)
        bias = rng.random() < 0.5
        try:
            layer = nn.Conv2d(cin, cout, k, groups=g, bias=bias)
        except ValueError:
            with pytest.raises(InvalidLayer):
                shapes.conv_params(cin, cout, k, g, bias)
            continue
        assert shapes.conv_params(cin, cout, k, g, bias) == sum(t.numel() for t in layer.parameters())
        transposed = nn.ConvTranspose2d(cin, cout, k, groups=g, bias=bias)
        assert shapes.conv_params(cin, cout, k, g, bias) == sum(t.numel() for t in transposed.parameters())


def test_macs_match_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    def torch_macs(layer, x):
        with FlopCounterMode(display=False) as counter:
            layer(x)
        return counter.get_total_flops() // 2  # one MAC = one multiply + one add

    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert shapes.conv_macs(4, 6, 3, 5, 5, groups=2) == torch_macs(conv, torch.zeros(1, 4, 9, 9))
    transposed = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2)
    assert shapes.conv_transpose_macs(4, 6, 3, 9, 9, groups=2) == torch_macs(transposed, torch.zeros(1, 4, 9, 9))
    assert shapes.linear_params(512, 1000) == 513_000


def test_lecture_exercises_are_answered_honestly():
    q1, q2, q3 = size_working.lecture_exercises()
    assert (q1.answer, q2.answer, q3.answer) == (62, 32, 55)
    assert "56" in q3.note and "padding=1" in q3.note and "55" not in q3.hint
    assert q3.working[0].startswith("Conv") and q3.working[-1].endswith("= 55")


def test_importing_shapes_does_not_import_torch():
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, cvlab.sizes.arithmetic, cvlab.sizes.chain; print('torch' in sys.modules)"
    repo = Path(__file__).resolve().parents[3]  # python -c puts the working directory on sys.path
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo)
    assert done.stdout.strip() == "False"
