"""Convolution and pooling by hand agree with torch.nn.functional, with cvlab.sizes.arithmetic and with arithmetic
by hand."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.data import camera

from cvlab.sizes import arithmetic as shapes
from cvlab.cnn.convolution import (KERNELS, TYPED_KERNEL_SIZES, conv_vs_dense_params, convolve, format_kernel,
                               parse_kernel, step_through)
from cvlab.errors import InvalidInput, InvalidLayer, UnknownName
from cvlab.cnn.pooling import (compare_pooling, global_average, head_params, pool, translation_invariance)

RNG = np.random.default_rng(4)


@pytest.fixture(scope="module")
def photo():
    return camera() / 255.0  # (512, 512) in [0, 1]


def _torch_conv(image, kernel, stride, padding, dilation, bias):
    x = torch.from_numpy(image)[None, None]
    w = torch.from_numpy(kernel)[None, None]
    return F.conv2d(x, w, torch.tensor([bias], dtype=torch.float64), stride, padding, dilation)[0, 0].numpy()


def _random_case(rng):
    k = int(rng.integers(1, 6))
    stride, dilation = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    paddings = ["same", "valid", 0, 1, 2, 3] if stride == 1 else [0, 1, 2, 3]  # PyTorch: "same" needs stride 1
    padding = paddings[int(rng.integers(len(paddings)))]
    image = rng.random((int(rng.integers(4, 40)), int(rng.integers(4, 40))))
    return image, rng.normal(size=(k, k)), stride, padding, dilation, float(rng.normal())


CASES = [_random_case(RNG) for _ in range(48)]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's note on its own speed
@pytest.mark.parametrize("image, kernel, stride, padding, dilation, bias", CASES)
def test_convolve_matches_torch_conv2d_and_cvlab_shapes(image, kernel, stride, padding, dilation, bias):
    try:
        expected = _torch_conv(image, kernel, stride, padding, dilation, bias)
    except RuntimeError:  # the window does not fit: cvlab must refuse as well, with its own message
        with pytest.raises(InvalidLayer):
            convolve(image, kernel, stride=stride, padding=padding, dilation=dilation, bias=bias)
        return
    result = convolve(image, kernel, stride=stride, padding=padding, dilation=dilation, bias=bias)
    np.testing.assert_allclose(result.output, expected, rtol=1e-12, atol=1e-12)
    assert result.output.shape == tuple(shapes.conv_output_size(n, len(kernel), stride, padding, dilation)
                                        for n in image.shape)
    assert (result.min, result.max) == (expected.min(), expected.max())
    assert result.pad == shapes.conv_padding(len(kernel), stride, padding, dilation)


def test_most_random_cases_are_valid_so_the_comparison_means_something():
    def fits(image, kernel, s, p, d, _):
        padded = min(image.shape) + sum(shapes.conv_padding(len(kernel), s, p, d))
        return shapes.effective_kernel(len(kernel), d) <= padded

    valid = sum(fits(*case) for case in CASES)
    assert valid >= 40


@pytest.mark.parametrize("name", KERNELS.names())
def test_every_registered_kernel_matches_torch_and_carries_its_facts(name, photo):
    kernel = KERNELS.get(name)
    crop = photo[200:264, 150:230]
    result = convolve(crop, name, padding="same", bias=kernel.bias)
    np.testing.assert_allclose(result.output, _torch_conv(crop, kernel.array, 1, "same", 1, kernel.bias), atol=1e-12)
    assert result.output.shape == crop.shape
    assert kernel.size in TYPED_KERNEL_SIZES and kernel.array.shape == (kernel.size, kernel.size)
    assert kernel.title and kernel.detects.endswith(".") and kernel.bias == 0.0
    np.testing.assert_allclose(parse_kernel(kernel.text), kernel.array, rtol=1e-12)  # the page's text box round-trips


def test_kernel_facts_hold_for_the_families():
    for name in ("box_blur_3x3", "box_blur_5x5", "gaussian_blur_3x3", "gaussian_blur_5x5", "sharpen", "emboss",
                 "identity"):
        assert KERNELS.get(name).array.sum() == pytest.approx(1.0)  # brightness kept
    for name in ("edge", "sobel_x", "sobel_y"):
        assert KERNELS.get(name).array.sum() == 0  # flat regions give 0
    ramp = np.tile(np.linspace(0, 1, 9), (9, 1))  # brighter to the right
    assert convolve(ramp, "sobel_x").output.min() > 0 and np.allclose(convolve(ramp, "sobel_y").output, 0)
    assert KERNELS.get("gaussian_blur_3x3").text == "1/16 1/8 1/16; 1/8 1/4 1/8; 1/16 1/8 1/16"


def test_colour_images_are_convolved_channel_by_channel_like_a_depthwise_conv():
    image = RNG.random((20, 24, 3))
    kernel = KERNELS.get("sobel_y").array
    result = convolve(image, kernel, stride=2, padding=1, bias=0.5)
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    w = torch.from_numpy(kernel).expand(3, 1, 3, 3)
    expected = F.conv2d(x, w, torch.full((3,), 0.5, dtype=torch.float64), 2, 1, groups=3)[0].permute(1, 2, 0)
    np.testing.assert_allclose(result.output, expected.numpy(), atol=1e-12)
    assert result.output.shape == (10, 12, 3)


def test_impossible_settings_raise_the_errors_cvlab_shapes_raises():
    image = np.zeros((8, 8))
    with pytest.raises(InvalidLayer, match="stride=1"):
        convolve(image, "edge", stride=2, padding="same")
    with pytest.raises(InvalidLayer, match="no window fits"):
        convolve(image, "box_blur_5x5", dilation=3)
    with pytest.raises(InvalidLayer, match="stride must be at least 1"):
        convolve(image, "edge", stride=0)
    with pytest.raises(UnknownName, match="sobel_x"):
        convolve(image, "sobel")
    with pytest.raises(InvalidInput, match="square"):
        convolve(image, np.ones((3, 2)))
    with pytest.raises(InvalidInput, match=r"\(H, W\)"):
        convolve(np.zeros((2, 3, 4, 5)), "edge")
    with pytest.raises(InvalidInput, match="NaN"):
        convolve(np.full((5, 5), np.nan), "edge")
    with pytest.raises(InvalidInput, match="bias must be a finite number"):
        step_through(image, "edge", 0, 0, bias=float("inf"))


# ---- the step-through -----------------------------------------------------------------------------


STEP_CASES = [  # (kernel size, stride, padding, dilation): padded, dilated, strided and asymmetric "same"
    (3, 1, 1, 1), (3, 2, 1, 1), (5, 1, 2, 1), (3, 1, 2, 2), (5, 3, 4, 2), (4, 1, "same", 1), (3, 1, "valid", 3),
]


@pytest.mark.parametrize("k, stride, padding, dilation", STEP_CASES)
def test_step_through_reproduces_every_checked_output_pixel(k, stride, padding, dilation):
    image, kernel = RNG.random((17, 23)), RNG.normal(size=(k, k))
    result = convolve(image, kernel, stride=stride, padding=padding, dilation=dilation, bias=0.25)
    out_h, out_w = result.output.shape
    corners = [(0, 0), (0, out_w - 1), (out_h - 1, 0), (out_h - 1, out_w - 1)]  # these touch the padding
    pixels = corners + [tuple(RNG.integers((out_h, out_w))) for _ in range(8)]
    for row, col in pixels:
        step = step_through(image, kernel, row, col, stride=stride, padding=padding, dilation=dilation, bias=0.25)
        assert step.output == pytest.approx(result.output[row, col], abs=1e-12)
        np.testing.assert_array_equal(step.products, step.window * kernel)
        assert step.total == pytest.approx(step.products.sum()) and step.output == step.total + 0.25
        inside = ~step.is_padding
        np.testing.assert_array_equal(step.window[inside], image[step.tap_y[inside], step.tap_x[inside]])
        assert np.all(step.window[step.is_padding] == 0)
    if result.pad[0]:
        first = step_through(image, kernel, 0, 0, stride=stride, padding=padding, dilation=dilation)
        assert first.is_padding[0, 0] and first.top_left == (-result.pad[0], -result.pad[0])


def test_step_through_coordinates_by_hand():
    image = np.arange(25, dtype=float).reshape(5, 5) / 24
    step = step_through(image, "sobel_x", 0, 2, stride=2, padding=1)  # output is 3x3
    assert step.top_left_padded == (0, 4) and step.top_left == (-1, 3)
    np.testing.assert_array_equal(step.tap_y, [[-1] * 3, [0] * 3, [1] * 3])
    np.testing.assert_array_equal(step.tap_x, [[3, 4, 5]] * 3)
    np.testing.assert_array_equal(step.is_padding, [[True] * 3, [False, False, True], [False, False, True]])
    assert step.window[1, 0] == image[0, 3] and step.window[2, 1] == image[1, 4]
    assert step.equation() == f"sum of 9 products = {step.total:.4g}, + bias 0 = {step.output:.4g}"


def test_step_through_names_the_valid_range_when_out_of_range():
    image = np.zeros((10, 12))
    with pytest.raises(InvalidInput, match=r"row must be a whole number between 0 and 7 \(the output is 8x10\)"):
        step_through(image, "edge", 8, 0)
    with pytest.raises(InvalidInput, match="col must be a whole number between 0 and 9"):
        step_through(image, "edge", 0, -1)
    with pytest.raises(InvalidInput, match="channel must be between 0 and 2"):
        step_through(np.zeros((10, 12, 3)), "edge", 0, 0, channel=3)
    colour = RNG.random((9, 9, 3))
    step = step_through(colour, "emboss", 4, 4, channel=2)
    assert step.output == pytest.approx(convolve(colour, "emboss").output[4, 4, 2], abs=1e-12)


# ---- typed kernels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1 0 -1; 2 0 -2; 1 0 -1", "1, 0, -1\n2, 0, -2\n1, 0, -1\n",
                                  "[[1, 0, -1], [2, 0, -2], [1, 0, -1]]", "1 0 -1 2 0 -2 1 0 -1",
                                  "  1,0,-1 ;2 0 -2;\n\n 1 0 -1  ", "2/2 0 -1; 2 0 -2; 1 0 -1.0"])
def test_parse_kernel_reads_the_usual_ways_of_typing_a_grid(text):
    # The textbook's Sobel x as written for a flipped (true) convolution: our sobel_x mirrored.
    np.testing.assert_array_equal(parse_kernel(text), -KERNELS.get("sobel_x").array)


def test_parse_kernel_reads_5x5_and_fractions():
    kernel = parse_kernel("\n".join(["1/25 " * 5] * 5))
    assert kernel.shape == (5, 5) and kernel.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("text, message", [
    ("", "Type a 3x3 or 5x5 kernel"), ("1 0 x; 2 0 -2; 1 0 -1", "'x' is not a number"),
    ("1 0; 2 0 -2; 1 0 -1", "same number of values; yours have 2, 3"),
    ("1 0 -1; 2 0 -2", "must be square: you typed 2 rows of 3"),
    ("7", "A 1x1 kernel is not offered: type a 3x3 or 5x5"),
    ("1 2 3 4; 1 2 3 4; 1 2 3 4; 1 2 3 4", "4x4 kernel is not offered"),
    ("1 0 inf; 2 0 -2; 1 0 -1", "not a finite number"), ("1/0 0 1; 2 0 -2; 1 0 -1", "'1/0' is not a number"),
])
def test_parse_kernel_says_what_is_expected(text, message):
    with pytest.raises(InvalidInput, match=message) as error:
        parse_kernel(text)
    assert "e.g." in str(error.value) or "ordinary numbers" in str(error.value)


def test_format_kernel_writes_plain_numbers_and_simple_fractions():
    assert format_kernel(np.array([[0.5, -2.0], [0.1, 1 / 3]])) == "1/2 -2; 1/10 1/3"
    assert format_kernel(np.array([[np.pi]])) == f"{np.pi:g}"


# ---- parameters: conv against dense, GAP head against flatten ---------------------------------------


def test_conv_vs_dense_by_hand():
    result = conv_vs_dense_params(32, 32, 3, 16, 3)  # 'same' padding: 32x32x16 out
    assert result.output_shape == (32, 32, 16)
    assert result.conv_params == 3 * 3 * 3 * 16 + 16 == 448
    assert result.dense_params == (32 * 32 * 3) * (32 * 32 * 16) + 32 * 32 * 16 == 50_348_032
    assert result.ratio == pytest.approx(50_348_032 / 448)
    assert result.conv_macs == 32 * 32 * 16 * 27 and result.dense_macs == 3072 * 16384
    strided = conv_vs_dense_params(32, 32, 3, 16, 3, stride=2, padding=1)
    assert strided.output_shape == (16, 16, 16) and strided.dense_params == 3072 * 4096 + 4096
    with pytest.raises(InvalidLayer):
        conv_vs_dense_params(4, 4, 3, 16, 7, padding=0)


def test_gap_head_is_the_lectures_example():
    head = head_params()  # 7x7x512 -> 1000 classes
    assert head.flatten_fc_params == 7 * 7 * 512 * 1000 + 1000 == 25_089_000
    assert head.gap_fc_params == 512 * 1000 + 1000 == 513_000
    assert head.ratio == pytest.approx(48.906, abs=1e-3)
    assert head_params(14, 14, 256, 10).flatten_fc_params == 14 * 14 * 256 * 10 + 10


# ---- pooling ------------------------------------------------------------------------------------------


def _pool_cases(rng):
    cases = []
    for _ in range(30):
        k = int(rng.integers(1, 5))
        stride = None if rng.random() < 0.3 else int(rng.integers(1, 4))
        feature = rng.normal(size=(int(rng.integers(k, 30)), int(rng.integers(k, 30))))
        cases.append((str(rng.choice(["max", "avg"])), feature, k, stride, int(rng.integers(0, k // 2 + 1))))
    return cases


@pytest.mark.parametrize("kind, feature, k, stride, padding", _pool_cases(np.random.default_rng(7)))
def test_pool_matches_torch_and_cvlab_shapes(kind, feature, k, stride, padding):
    op = F.max_pool2d if kind == "max" else F.avg_pool2d
    expected = op(torch.from_numpy(feature)[None], k, stride, padding)[0].numpy()
    pooled = pool(feature, kind, k, stride, padding)
    np.testing.assert_allclose(pooled, expected, atol=1e-12)
    size = shapes.pool_output_size if kind == "max" else shapes.avg_pool_output_size
    assert pooled.shape == tuple(size(n, k, stride, padding) for n in feature.shape)


def test_pool_per_channel_global_average_and_errors():
    feature = RNG.normal(size=(12, 10, 4))
    pooled = pool(feature, "max", 2)
    assert pooled.shape == (6, 5, 4) and pooled[0, 0, 3] == feature[:2, :2, 3].max()
    gap = torch.nn.AdaptiveAvgPool2d(1)(torch.from_numpy(feature.transpose(2, 0, 1).copy())).flatten().numpy()
    np.testing.assert_allclose(global_average(feature), gap, atol=1e-12)
    assert global_average(feature[:, :, 0]) == pytest.approx(feature[:, :, 0].mean())
    with pytest.raises(InvalidLayer, match="at most half of kernel size"):
        pool(feature, "avg", 2, padding=2)
    with pytest.raises(InvalidInput, match="Choose one of: max, avg"):
        pool(feature, "min", 2)
    comparison = compare_pooling(feature[:, :, 0], 3, 2, 1)
    assert comparison.max_pooled.shape == comparison.avg_pooled.shape == (6, 5) and comparison.stride == 2


def test_a_shift_inside_the_pooling_window_leaves_the_max_unchanged():
    feature = np.zeros((8, 8))
    feature[2, 3] = 1.0  # after a 1 px crop-shift it sits at column 2: the same 2x2 window (columns 2-3)
    result = translation_invariance(feature, kernel_size=2, shift_px=1)
    assert result.compared_shape == (8, 7) and result.shift == (0, 1)
    assert result.raw_change == pytest.approx(2.0)  # the peak left one place and arrived at another
    assert result.max_change == 0.0 and result.avg_change == 0.0 and result.gap_change == 0.0
    assert result.max_unchanged == 1.0 and result.raw_unchanged == pytest.approx(54 / 56)
    assert translation_invariance(feature, shift_px=0).raw_change == 0.0


@pytest.mark.parametrize("feature_name", ["photo", "relu(edge)"])
def test_pooling_makes_a_photo_and_its_feature_map_less_sensitive_to_a_shift(photo, feature_name):
    feature = photo if feature_name == "photo" else np.maximum(convolve(photo, "edge", padding=1).output, 0)
    result = translation_invariance(feature)  # the defaults the page starts from: 2x2 pools, 1 px shift
    assert result.gap_change < result.max_change < result.raw_change
    assert result.avg_change < result.raw_change and result.max_unchanged > result.raw_unchanged
    assert result.gap_change < 0.1 * result.raw_change
    assert [row[0] for row in result.rows()] == ["feature map (no pooling)", "max pool 2x2", "avg pool 2x2",
                                                 "global average (GAP)"]


def test_translation_invariance_refuses_impossible_shifts():
    with pytest.raises(InvalidInput, match="shift_px must be between 0"):
        translation_invariance(np.ones((4, 4)), shift_px=4)
    with pytest.raises(InvalidInput, match="shift_px"):
        translation_invariance(np.ones((4, 4)), shift_px=(-1, 0))
    assert translation_invariance(np.ones((6, 6)), shift_px=(2, 1)).compared_shape == (4, 5)
