"""The lecture's CIFAR networks: shapes, hand-counted parameters, the skip connection, and that they learn."""

import numpy as np
import pytest
import torch
from torch import nn

from cvlab.zoo import facts as zoo
from cvlab.zoo.anatomy import layer_table
from cvlab.errors import InvalidInput, UnknownName
from cvlab.zoo.architectures import ARCHITECTURES
from cvlab.zoo.lecture_nets import LECTURE_NETS, ResidualBlock, VGGBlock, build_lecture_net

NAMES = ["lecture-vgg", "lecture-residual"]


def conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k + c_out  # weights + bias


def bn(c: int) -> int:
    return 2 * c  # gamma + beta (running statistics are buffers, not parameters)


def hand_count(name: str, num_classes: int) -> int:
    """Stages 3->32->64->128, two 3x3 conv + BN each; the residual net adds a 1x1 conv + BN skip per stage."""
    total = 0
    for c_in, c_out in ((3, 32), (32, 64), (64, 128)):
        total += conv(c_in, c_out, 3) + bn(c_out) + conv(c_out, c_out, 3) + bn(c_out)
        if name == "lecture-residual":
            total += conv(c_in, c_out, 1) + bn(c_out)  # the projection: channels change in every stage
    return total + 128 * num_classes + num_classes  # the linear head after global average pooling


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("num_classes", [1, 4, 10, 100])
def test_output_shape_and_parameters_follow_num_classes(name, num_classes):
    model = build_lecture_net(name, num_classes).eval()
    with torch.no_grad():
        logits = model(torch.randn(3, 3, 32, 32))  # (B, C, H, W)
    assert logits.shape == (3, num_classes) and torch.isfinite(logits).all()
    assert params(model) == hand_count(name, num_classes)


def test_hand_counts_written_out():
    assert hand_count("lecture-vgg", 10) == 289_194  # == 10_272 + 55_680 + 221_952 + 1_290
    assert hand_count("lecture-residual", 10) == 289_194 + (96 + 32 + 64) + (2048 + 64 + 128) + (8192 + 128 + 256)


@pytest.mark.parametrize("name", NAMES)
def test_stages_halve_the_image_three_times(name):
    model = build_lecture_net(name).eval()
    x = torch.randn(1, 3, 32, 32)
    sizes = []
    with torch.no_grad():
        for stage in model.features:
            x = stage(x)
            sizes.append(tuple(x.shape[1:]))
    assert sizes == [(32, 16, 16), (64, 8, 8), (128, 4, 4)]


def _zero_convs(module: nn.Module, *, skip_too: bool = False) -> None:
    """Zero the weights and biases of the main-path convolutions (and of the 1x1 skips if asked)."""
    for name, layer in module.named_modules():
        if isinstance(layer, nn.Conv2d) and (skip_too or "shortcut" not in name):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)


def test_a_residual_block_with_zero_convolutions_is_the_identity():
    block = ResidualBlock(16, 16).eval()  # same channels, stride 1: the skip is the input itself
    _zero_convs(block)
    x = torch.rand(2, 16, 8, 8)  # non-negative, as after a ReLU
    with torch.no_grad():
        assert torch.equal(block(x), x)  # F(x) = 0, so y = ReLU(0 + x) = x
        assert torch.equal(block(-x), torch.zeros_like(x))  # the final ReLU is still there


def test_the_residual_net_still_passes_its_input_when_every_main_convolution_is_zero():
    x1, x2 = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)
    outputs = {}
    for name in NAMES:
        torch.manual_seed(0)
        model = build_lecture_net(name).eval()
        _zero_convs(model)
        with torch.no_grad():
            outputs[name] = model(x1), model(x2)
    vgg1, vgg2 = outputs["lecture-vgg"]
    res1, res2 = outputs["lecture-residual"]
    assert torch.equal(vgg1, vgg2)  # no path left from the image: the same logits for every input
    assert not torch.allclose(res1, res2)  # the skip additions carry the image through


def test_vgg_block_is_the_lectures_without_batch_norm():
    plain, with_bn = VGGBlock(3, 8, 2), VGGBlock(3, 8, 2, batch_norm=True)
    assert [type(m).__name__ for m in plain.block] == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    assert [type(m).__name__ for m in with_bn.block].count("BatchNorm2d") == 2
    assert plain(torch.randn(1, 3, 10, 10)).shape == (1, 8, 5, 5)


@pytest.fixture
def one_thread():
    """One thread: on 2 shared cores, two spinning OpenMP threads made training several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", NAMES)
def test_a_few_sgd_steps_reduce_the_loss_on_a_fixed_batch(name, one_thread):
    torch.manual_seed(0)
    model = build_lecture_net(name, 5).train()
    x, y = torch.randn(32, 3, 32, 32), torch.arange(32) % 5
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(10):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def shapes_set(n: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Five classes (disc, square, triangle, plus, ring) at random places, sizes and colours, on noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    images = np.empty((n, 3, size, size), np.float32)
    labels = rng.integers(0, 5, n)
    for i, label in enumerate(labels):
        r = rng.uniform(6, 11)
        cx, cy = rng.uniform(r, size - r, 2)
        dx, dy = xx - cx, yy - cy
        disc = dx ** 2 + dy ** 2 <= r ** 2
        mask = [disc,
                (abs(dx) <= 0.8 * r) & (abs(dy) <= 0.8 * r),
                (dy <= 0.7 * r) & (dy >= -0.9 * r + 1.8 * abs(dx)),
                ((abs(dx) <= 0.25 * r) & (abs(dy) <= r)) | ((abs(dy) <= 0.25 * r) & (abs(dx) <= r)),
                disc & (dx ** 2 + dy ** 2 >= (0.55 * r) ** 2)][label]
        colour = rng.uniform(0.5, 1.0, 3) * rng.choice([-1, 1])
        images[i] = rng.normal(0, 0.2, (3, size, size)) + mask * colour[:, None, None]
    return torch.from_numpy(images), torch.from_numpy(labels)


@pytest.mark.parametrize("name", NAMES)
def test_both_learn_a_synthetic_shapes_set_to_95_percent(name, one_thread, record_property):
    """600 images, 5 epochs, AdamW with a one-cycle schedule: about 10 CPU seconds per network."""
    torch.manual_seed(0)
    (x, y), (x_test, y_test) = shapes_set(600, seed=0), shapes_set(300, seed=1)
    model = build_lecture_net(name, 5)
    epochs, batch = 5, 25
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=epochs * len(x) // batch)
    for _ in range(epochs):
        model.train()
        for index in torch.randperm(len(x)).split(batch):
            loss = nn.functional.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    record_property(f"{name}_shapes_accuracy", accuracy)  # measured: 0.997-1.00 over seeds 0-2, both nets
    assert accuracy >= 0.95


@pytest.mark.parametrize("name", NAMES)
def test_registered_for_the_comparison_and_the_layer_view(name):
    arch = ARCHITECTURES.get(name)
    assert (arch.family, arch.input_size, arch.weights) == ("Lecture", 32, None)
    model = arch.build()
    modules = dict(model.named_modules())
    assert all(stage in modules for stage in arch.stages) and arch.cam_layer in modules
    facts = zoo.facts(name)
    assert facts.params == hand_count(name, 10) and facts.top1 is None
    assert 38e6 < facts.macs < 41e6 and facts.flops == 2 * facts.macs  # about 39 M MACs at 32 px
    rows = layer_table(name)
    assert sum(r.params for r in rows) == facts.params and rows[-1].output_shape == (10,)


def test_bad_names_and_class_counts_say_what_to_do():
    with pytest.raises(UnknownName, match="Choose one of: lecture-vgg, lecture-residual"):
        build_lecture_net("lecture-resnet")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(InvalidInput, match="num_classes"):
            build_lecture_net("lecture-vgg", bad)
    assert LECTURE_NETS.names() == NAMES
