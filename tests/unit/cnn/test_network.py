import threading

import numpy as np
import pytest
import torch
from torch import nn

from cvlab.sizes.chain import chain_rows
from cvlab.sizes.chain_text import PRESETS, parse_chain
from cvlab.zoo.architectures import ARCHITECTURES, Architecture
from cvlab.errors import InvalidInput
from cvlab.cnn.inside_network import LoadedNetwork, class_label, classes_note, grad_cam, load_network, trace
from cvlab.viz.network import cam_overlay, feature_map_grid, top5_figure, vector_figure
from cvlab.weights import WeightsUnavailable, load_torchvision_weights


def photo(size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


# One network per family keeps this fast; tests/unit/zoo/test_zoo.py builds every entry.
TRACED = ["overview", "vgg16", "resnet18", "efficientnet_b0", "mobilenet_v3_small", "regnet_y_400mf",
          "convnext_tiny", "swin_t", "vit_tiny_patch16_224"]


def test_the_traced_sample_covers_every_family():
    assert {ARCHITECTURES.get(n).family for n in TRACED} == {a.family for _, a in ARCHITECTURES.items()} - {
        "EfficientNetV2"}


@pytest.mark.parametrize("name", TRACED)
def test_every_family_traces_offline_with_random_weights(name):
    net = load_network(name)
    assert not net.pretrained and "random weights" in net.weights_note
    result = trace(net, photo())
    assert len(result.stages) == len(net.architecture.stages)
    assert result.stages[-1].shape == (1000,)
    assert result.probabilities.shape == (1000,) and abs(result.probabilities.sum() - 1) < 1e-4
    shifted = np.exp(result.logits - result.logits.max())
    assert np.allclose(result.probabilities, shifted / shifted.sum(), atol=1e-6)
    assert [p for _, _, p in result.top5] == sorted((p for _, _, p in result.top5), reverse=True)
    maps = [s.maps for s in result.stages if s.maps is not None]
    assert maps and all(m.min() >= 0 and m.max() <= 1 for m in maps)


def test_overview_stage_shapes_equal_the_calculator():
    net = load_network("overview")
    result = trace(net, photo())
    preset = PRESETS.get("overview")
    rows = chain_rows(preset.input_shape, parse_chain(preset.spec))
    for stage in result.stages:
        assert stage.shape == tuple(rows[int(stage.name)].output_shape), stage.name
    assert result.gap_vector.shape == (512,)


def test_weights_come_from_the_local_folder_in_torchvisions_format(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path))
    reference = ARCHITECTURES.get("mobilenet_v3_small").build()
    torch.save(reference.state_dict(), tmp_path / "mobilenet_v3_small-047dcff4.pth")
    net = load_network("mobilenet_v3_small")
    assert net.pretrained and "local folder" in net.weights_note
    assert len(net.categories) == 1000 and net.categories[0] == "tench"
    loaded = dict(net.model.named_parameters())
    for name, tensor in reference.named_parameters():
        assert torch.equal(loaded[name], tensor)
    assert trace(net, photo()).top5[0][1] in net.categories


def test_missing_weights_offline_say_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with pytest.raises(WeightsUnavailable, match=f"resnet18-f37072fd.pth.*{tmp_path}"):
        load_torchvision_weights("ResNet18_Weights.IMAGENET1K_V1")


def test_a_broken_weights_file_is_refused_with_a_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / "resnet18-f37072fd.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailable, match="Delete it"):
        load_torchvision_weights("ResNet18_Weights.IMAGENET1K_V1")


def blob_network() -> LoadedNetwork:
    """Class 0 is driven only by red pixels: conv picks the red channel, ReLU drops the rest."""
    conv = nn.Conv2d(3, 1, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
        conv.bias.zero_()
    head = nn.Linear(1, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0], [-1.0]]))
        head.bias.zero_()
    model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head).eval()
    arch = Architecture("blob", "blob", "test", 2026, "", 64, lambda: model, stages=("1",), cam_layer="1")
    return LoadedNetwork(arch, model, False, "hand-set", ("red", "not red"), threading.Lock())


def test_grad_cam_lands_on_the_only_region_that_can_drive_the_class():
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[8:24, 40:56, 0] = 255  # a red square, top right
    cam, target = grad_cam(blob_network(), image)
    assert target == 0 and cam.shape == (64, 64)
    inside, outside = cam[10:22, 42:54].mean(), np.concatenate([cam[:, :30].ravel(), cam[34:].ravel()]).mean()
    assert inside > 0.8 and outside < 0.05
    peak = np.unravel_index(cam.argmax(), cam.shape)
    assert 8 <= peak[0] < 24 and 40 <= peak[1] < 56


def test_grad_cam_for_another_class_and_the_model_is_left_as_it_was():
    net = load_network("resnet18")
    before = {n: p.clone() for n, p in net.model.named_parameters()}
    cam, target = grad_cam(net, photo(), class_index=7)
    assert target == 7 and cam.shape == (96, 96) and 0 <= cam.min() and cam.max() <= 1
    assert all(p.grad is None for p in net.model.parameters())
    assert all(torch.equal(before[n], p) for n, p in net.model.named_parameters())


@pytest.mark.parametrize("name", ["lecture-vgg", "lecture-residual"])
def test_the_lectures_cifar_nets_have_ten_outputs(name):
    net = load_network(name)
    result = trace(net, photo(32))
    assert result.num_classes == 10 and result.logits.shape == (10,) and result.stages[-1].shape == (10,)
    assert all(label == f"class {index}" for index, label, _ in result.top5)
    assert classes_note(net, 10).startswith("10 outputs")


@pytest.mark.parametrize("class_index", [10, 999, -1])
def test_grad_cam_refuses_a_class_the_network_does_not_have(class_index):
    with pytest.raises(InvalidInput, match="has 10 outputs.*from 0 to 9"):
        grad_cam(load_network("lecture-vgg"), photo(32), class_index=class_index)


def test_class_names_where_the_weights_carry_them():
    net = blob_network()
    assert [class_label(net, i) for i in (0, 1, 2, -1)] == ["red", "not red", "class 2", "class -1"]
    assert classes_note(net, 2) == "2 classes: 0 red, 1 not red"


def test_figures_carry_the_data():
    maps = np.random.default_rng(1).random((8, 5, 5)).astype(np.float32)
    grid = feature_map_grid(maps, tuple(range(8)), "stage")
    assert len(grid.data) == 8 and np.allclose(grid.data[3].z, maps[3])
    assert grid.layout.annotations[2].text == "channel 2"
    bars = top5_figure(((3, "cat", 0.5), (1, "dog", 0.3)), pretrained=False)
    assert list(bars.data[0].y) == ["dog", "cat"] and "random weights" in bars.layout.title.text
    vector = vector_figure(np.arange(5.0), "GAP", x_title="channel", y_title="mean")
    assert list(vector.data[0].y) == [0, 1, 2, 3, 4] and vector.data[0].customdata is None
    named = vector_figure(np.arange(2.0), "FC: 2 logits", x_title="class", y_title="logit", labels=("cat", "dog"))
    assert list(named.data[0].customdata) == ["cat", "dog"] and "customdata" in named.data[0].hovertemplate
    overlay = cam_overlay(photo(8), np.ones((8, 8)), "cam")
    assert overlay.data[0].type == "image" and overlay.data[1].opacity == 0.45


# ---- transformers, and maps as they are shown ----
@pytest.mark.parametrize("name", TRACED)
def test_every_family_opens_on_a_stage_with_maps(name):
    net = load_network(name)
    stage = next(s for s in trace(net, photo()).stages if s.name == net.architecture.default_stage)
    assert stage.maps is not None and stage.maps.shape[-1] > 1, (stage.name, stage.shape)


def test_vit_b16_opens_on_its_patch_grid_and_shows_attention_instead_of_a_meaningless_top5():
    from cvlab.cnn.inside_network import prediction_note

    net = load_network("vit_b_16")  # offline: random weights, and torchvision starts the head at zero
    result = trace(net, photo())
    stage = next(s for s in result.stages if s.name == net.architecture.default_stage)
    assert stage.shape == (197, 768) and stage.from_tokens and stage.maps.shape == (8, 14, 14)
    assert result.uniform  # 1000 classes at 0.1% each: classes 999..995 were its "top-5"
    assert "same probability" in prediction_note(net, result)
    assert result.attention.shape == (14, 14)
    assert 0 < result.attention.sum() <= 1 + 1e-5 and (result.attention >= 0).all()


def test_the_timm_vit_lays_its_tokens_on_the_grid_and_attends_like_a_hand_computed_softmax():
    net = load_network("vit_tiny_patch16_224")
    result = trace(net, photo())
    stages = {s.name: s for s in result.stages}
    assert stages["blocks.5"].from_tokens and stages["blocks.5"].maps.shape == (8, 14, 14)
    assert stages["head"].maps is None  # the classifier's vector stays a vector
    block = net.model.blocks[11]
    captured = {}
    handle = block.norm1.register_forward_hook(lambda _m, _i, out: captured.setdefault("x", out))
    with torch.no_grad():
        from cvlab.cnn.inside_network import to_input

        net.model(to_input(photo(), 224))
        handle.remove()
        x = captured["x"]
        q, k, _ = block.attn.qkv(x).reshape(1, 197, 3, 3, 64).permute(2, 0, 3, 1, 4)
        expected = torch.softmax(q @ k.transpose(-2, -1) / 8, dim=-1).mean(dim=1)[0, 0, 1:].reshape(14, 14)
    assert np.allclose(result.attention, expected.numpy(), atol=1e-6)


def test_random_weights_give_no_top5_and_pretrained_ones_do():
    from cvlab.cnn.inside_network import prediction_note

    net = load_network("lecture-vgg")
    result = trace(net, photo(32))
    assert not result.uniform and "Random weights" in prediction_note(net, result)
    trained = LoadedNetwork(net.architecture, net.model, True, "pretrained here", ())
    assert prediction_note(trained, result) is None


def test_each_map_is_stretched_between_its_percentiles_so_a_few_peaks_do_not_black_it_out():
    from cvlab.cnn.inside_network import display_maps, stage_maps

    rng = np.random.default_rng(0)
    fmap = torch.from_numpy(rng.random((2, 20, 20)).astype(np.float32))  # a texture in [0, 1]
    fmap[0, 3, 4] = 500.0  # one hot pixel, as a ReLU map often has
    fmap[1] = 0.25  # a flat map: no spread at all
    shown = display_maps(fmap)
    assert shown.min() >= 0 and shown.max() <= 1 and shown[0, 3, 4] == 1
    assert shown[0].mean() > 0.3  # min-max scaling gave this map a mean of 0.001: black
    assert (fmap[0] / 500).mean() < 0.01
    assert torch.all(shown[1] == 0)  # nothing to show, nothing invented
    maps, channels, from_tokens = stage_maps(fmap.unsqueeze(0))
    assert maps.shape == (2, 20, 20) and channels == (0, 1) and not from_tokens
