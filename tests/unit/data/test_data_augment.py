"""Batch augmentation: shapes kept, each transform does what it says, per sample, reproducibly."""

import numpy as np
import pytest
import torch

from cvlab.data.augment import (AUGMENTATIONS, Augmentation, augment_batch, augment_preview, channel_stats,
                                color_jitter, cutout, dataset_mean_std, get_augmentation, normalize, random_crop,
                                random_flip, to_float)
from cvlab.data.datasets import LabelledImages
from cvlab.errors import InvalidInput, UnknownName


def ramp_batch(batch=8, size=16):
    """(B, 3, H, W) float whose pixel value encodes its column (and the sample), so moves are visible."""
    cols = torch.arange(size, dtype=torch.float32) / size
    x = cols.view(1, 1, 1, -1).expand(batch, 3, size, size).clone()
    return x * 0.5 + torch.arange(batch).view(-1, 1, 1, 1) * 0.01


def test_presets_are_registered_and_unknown_names_list_them():
    assert AUGMENTATIONS.names() == ["none", "standard", "strong"]
    assert get_augmentation("none").is_identity and not get_augmentation("standard").is_identity
    with pytest.raises(UnknownName, match="none, standard, strong"):
        get_augmentation("wild")


@pytest.mark.parametrize("name", ["none", "standard", "strong"])
def test_shape_dtype_device_and_range_are_kept(name):
    x = torch.rand(6, 3, 20, 20)
    out = augment_batch(x, get_augmentation(name), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert out.min() >= 0 and out.max() <= 1


def test_no_augmentation_returns_the_batch_unchanged():
    x = torch.rand(4, 3, 8, 8)
    assert torch.equal(augment_batch(x, get_augmentation("none")), x)


def test_flip_mirrors_about_half_of_the_samples_exactly():
    x = ramp_batch(batch=200)
    out = random_flip(x, 3, torch.Generator().manual_seed(1))
    flipped = torch.tensor([torch.equal(o, s.flip(2)) for o, s in zip(out, x)])
    unchanged = torch.tensor([torch.equal(o, s) for o, s in zip(out, x)])
    assert (flipped ^ unchanged).all()  # each sample is either mirrored or untouched
    assert 70 < int(flipped.sum()) < 130


def test_crop_with_padding_shifts_content_per_sample():
    size = 16
    pixel_id = (torch.arange(size * size, dtype=torch.float32) + 1).view(1, 1, size, size) / 1000
    x = pixel_id.expand(64, 3, size, size).clone()  # every pixel tells where it came from
    out = random_crop(x, 4, "zeros", torch.Generator().manual_seed(2))
    offsets = set()
    for o, s in zip(out, x):
        source = int(round(float(o[0, 8, 8]) * 1000)) - 1  # the centre always comes from the image
        dy, dx = source // size - 8, source % size - 8
        assert abs(dy) <= 4 and abs(dx) <= 4
        assert torch.equal(o[:, 4:12, 4:12], s[:, 4 + dy:12 + dy, 4 + dx:12 + dx])  # a pure shift
        offsets.add((dy, dx))
    assert len(offsets) > 10  # offsets differ between samples


def test_zero_padding_brings_in_black_and_reflect_padding_does_not():
    x = torch.full((32, 3, 8, 8), 0.5)
    zero = random_crop(x, 3, "zeros", torch.Generator().manual_seed(3))
    reflect = random_crop(x, 3, "reflect", torch.Generator().manual_seed(3))
    assert (zero == 0).any() and (reflect == 0.5).all()


def test_the_same_generator_seed_gives_the_same_batch_and_another_seed_differs():
    x = torch.rand(16, 3, 12, 12)
    aug = get_augmentation("strong")
    a = augment_batch(x, aug, torch.Generator().manual_seed(5))
    b = augment_batch(x, aug, torch.Generator().manual_seed(5))
    c = augment_batch(x, aug, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_color_jitter_changes_each_sample_differently():
    x = torch.rand(10, 3, 8, 8) * 0.5 + 0.25
    out = color_jitter(x, 0.5, torch.Generator().manual_seed(7))
    ratios = (out.mean(dim=(1, 2, 3)) / x.mean(dim=(1, 2, 3)))
    assert ratios.std() > 0.05 and ((out - x).abs().mean(dim=(1, 2, 3)) > 0.005).all()


def test_cutout_zeros_one_square_per_sample():
    x = torch.ones(20, 3, 16, 16)
    out = cutout(x, 0.25, torch.Generator().manual_seed(8))
    zeros = (out == 0).all(1).sum(dim=(1, 2))  # erased pixels per sample
    assert (zeros > 0).all() and (zeros <= 16).all()  # a 4x4 square, clipped at the edges


def test_augment_batch_has_no_per_image_python_loop(monkeypatch):
    """A batch of 4 or of 4,000 makes the same number of random draws: one tensor per transform."""
    small_batch, large_batch = torch.rand(4, 3, 8, 8), torch.rand(4000, 3, 8, 8)
    calls = []
    real_rand = torch.rand

    def counting_rand(*args, **kwargs):
        calls.append(args)
        return real_rand(*args, **kwargs)

    monkeypatch.setattr(torch, "rand", counting_rand)
    aug = Augmentation(crop_padding=2, hflip=True, vflip=True, color_jitter=0.3, cutout=0.2)
    augment_batch(small_batch, aug)
    small = len(calls)
    augment_batch(large_batch, aug)
    # crop 2 offsets, 2 flips, 3 jitter factors, 2 cutout centres: each one (B,) tensor
    assert len(calls) - small == small == 9


def test_preview_gives_uint8_variants_of_one_image():
    image = (np.random.default_rng(0).random((1, 24, 24, 3)) * 255).astype(np.uint8)
    preview = augment_preview(image, get_augmentation("standard"), n=6, seed=0)
    assert preview.shape == (6, 24, 24, 3) and preview.dtype == np.uint8
    assert len({p.tobytes() for p in preview}) > 1
    again = augment_preview(torch.from_numpy(image).permute(0, 3, 1, 2), get_augmentation("standard"), n=6, seed=0)
    assert np.array_equal(preview, again)


def test_to_float_normalize_and_channel_stats():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 2, 2)
    f = to_float(x)
    assert f.dtype == torch.float32 and torch.allclose(f[0, :, 0, 0], torch.tensor([0.0, 0.2, 1.0]))
    out = normalize(f, (0.0, 0.2, 0.5), (1.0, 0.1, 0.25))
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.0, 0.0, 2.0]))
    mean, std = channel_stats(x)
    assert mean == pytest.approx((0.0, 0.2, 1.0)) and min(std) >= 1e-3


@pytest.mark.parametrize("options", [{"crop_padding": -1}, {"pad_mode": "wrap"}, {"color_jitter": 2.0},
                                     {"cutout": 1.0}])
def test_invalid_settings_are_refused(options):
    with pytest.raises(InvalidInput):
        Augmentation(**options)


def test_dataset_mean_std_uses_published_values_or_measures():
    x = torch.full((4, 3, 2, 2), 51, dtype=torch.uint8)
    y = torch.zeros(4, dtype=torch.int64)
    assert dataset_mean_std(LabelledImages("cifar10", ("a",), x, y, x, y))[0] == (0.4914, 0.4822, 0.4465)
    mean, _ = dataset_mean_std(LabelledImages("my-folder", ("a",), x, y, x, y))
    assert mean == pytest.approx((0.2, 0.2, 0.2))


def test_the_preview_takes_each_class_in_turn_from_a_set_sorted_by_class():
    from cvlab.data.splits import preview_indices

    labels = torch.tensor([0] * 30 + [1] * 20 + [2] * 2)  # as an uploaded folder lists them
    picked = preview_indices(labels, 8)
    assert picked == [0, 30, 50, 1, 31, 51, 2, 32]  # every class, the small one included
    assert preview_indices(labels[:3], 8) == [0, 1, 2]  # fewer images than asked: all of them
    assert preview_indices(torch.tensor([], dtype=torch.int64), 8) == []
