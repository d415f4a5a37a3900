"""smp architectures: every registered one trains a step; sizes, weights, metrics and the U-Net anatomy."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from cvlab.data.shapes import shapes_segmentation
from cvlab.errors import InvalidInput, UnknownName
from cvlab.segmentation.architectures import ARCHITECTURES, ENCODERS, check_input_size
from cvlab.segmentation.train import build_segmentation_model, evaluate, predict_masks, \
    segmentation_loss, segmentation_metrics, to_model_input, train_step
from cvlab.segmentation.unet_anatomy import random_unet_prediction, unet_anatomy
from cvlab.weights import WeightsUnavailable


@pytest.fixture(scope="module")
def shapes_batch():
    images, masks = shapes_segmentation(2, seed=3, size=128)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(masks)


def head_weights(model) -> torch.Tensor:
    return model.segmentation_head[0].weight.detach().clone()


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
def test_every_architecture_trains_one_step_on_shapes(arch, shapes_batch):
    torch.manual_seed(0)
    images, masks = shapes_batch
    size = max(64, ARCHITECTURES.get(arch).min_size)
    images, masks = images[:, :, :size, :size], masks[:, :size, :size]
    classes = 6 if arch in ("unet", "fpn") else 1  # multi-class on two, binary on the rest
    model = build_segmentation_model(arch, "resnet18", classes)
    before = head_weights(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = segmentation_loss("0.5*ce+0.5*dice" if classes > 1 else "0.5*bce+0.5*dice")
    value = train_step(model, images, masks, loss, optimizer)
    assert np.isfinite(value) and value > 0
    assert not torch.equal(before, head_weights(model))
    assert predict_masks(model, images).shape == masks.shape


def test_the_lecture_unet_plus_plus_with_efficientnet_b3_and_five_classes_builds():
    model = build_segmentation_model("unetplusplus", "efficientnet-b3", 5)
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 5, 64, 64)


def test_input_sizes_not_divisible_by_32_are_refused_with_a_fix():
    check_input_size("unet", 96, 128)
    with pytest.raises(InvalidInput, match=r"divisible by 32.*128x128"):
        check_input_size("unet", 100, 100)
    with pytest.raises(InvalidInput, match="at least 128 px"):
        check_input_size("pan", 64, 64)
    with pytest.raises(UnknownName, match="unetplusplus"):
        check_input_size("unet++", 64, 64)


def test_the_size_fix_keeps_width_and_height_in_the_order_of_the_input():
    with pytest.raises(InvalidInput) as caught:
        check_input_size("unet", 100, 200)  # height 100, width 200
    assert "Input 200x100 px" in str(caught.value)
    assert "Pad or resize to 224x128 px" in str(caught.value)


def test_unknown_encoder_and_bad_class_count_are_refused():
    with pytest.raises(UnknownName, match="resnet18"):
        build_segmentation_model("unet", "resnet19", 1)
    with pytest.raises(InvalidInput, match="classes=0"):
        build_segmentation_model("unet", "resnet18", 0)


def test_imagenet_weights_offline_say_where_to_put_the_file():
    with pytest.raises(WeightsUnavailable, match=r"smp-resnet18-imagenet\.safetensors.*weights"):
        build_segmentation_model("unet", "resnet18", 1, pretrained=True)


def test_imagenet_weights_load_from_the_local_weights_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path))
    torch.manual_seed(5)
    donor = build_segmentation_model("unet", "resnet18", 1).encoder.state_dict()
    save_file({k: v.contiguous() for k, v in donor.items()}, str(tmp_path / "smp-resnet18-imagenet.safetensors"))
    model = build_segmentation_model("fpn", "resnet18", 3, pretrained=True)
    assert torch.equal(model.encoder.conv1.weight, donor["conv1.weight"])


def test_metrics_on_hand_made_masks():
    truth = torch.zeros(1, 4, 4, dtype=torch.long)
    truth[0, :2, :2] = 1  # 4 object pixels
    logits = torch.full((1, 1, 4, 4), -5.0)
    logits[0, 0, :2, :3] = 5.0  # 6 predicted, 4 of them right
    metrics = segmentation_metrics(logits, truth, classes=1)
    assert metrics["iou"] == pytest.approx(4 / 6) and metrics["dice"] == pytest.approx(8 / 10)
    multi = torch.zeros(1, 3, 4, 4)
    multi[0, 0] = 1.0  # predicts background everywhere
    multi[0, 2, 2:, 2:] = 5.0  # and class 2 where class 2 is
    truth3 = torch.zeros(1, 4, 4, dtype=torch.long)
    truth3[0, 2:, 2:] = 2
    truth3[0, 0, 0] = 1  # a class-1 pixel it misses
    result = segmentation_metrics(multi, truth3, classes=3)
    assert result["iou"] == pytest.approx((0 + 1) / 2)  # mean over classes 1 and 2, background left out
    assert segmentation_metrics(torch.full((1, 1, 2, 2), -3.0), torch.zeros(1, 2, 2, dtype=torch.long), 1)["iou"] == 1


def test_evaluate_reports_loss_iou_and_dice(shapes_batch):
    images, masks = shapes_batch
    model = build_segmentation_model("linknet", "resnet18", 1)
    result = evaluate(model, images[:, :, :64, :64], masks[:, :64, :64], segmentation_loss("bce"))
    assert set(result) == {"loss", "iou", "dice"} and 0 <= result["iou"] <= result["dice"] <= 1


def test_model_input_is_normalised_with_imagenet_statistics():
    gray = torch.full((1, 3, 2, 2), 124, dtype=torch.uint8)  # 124/255 = 0.486 ~ the red mean
    assert to_model_input(gray)[0, 0].abs().max() < 0.01


def test_the_default_recipe_names_registered_choices():
    from cvlab.training.config import TrainConfig
    from cvlab.training.schedulers import SCHEDULERS

    recipe = TrainConfig.for_task("segment")
    assert recipe.model in ARCHITECTURES and recipe.encoder in ENCODERS
    assert recipe.scheduler in SCHEDULERS
    segmentation_loss(recipe.loss)
    check_input_size(recipe.model, recipe.image_size, recipe.image_size)


def test_unet_anatomy_halves_down_and_doubles_up_with_skips():
    anatomy = unet_anatomy("resnet18", 64, classes=2)
    by_name = {s.name: s for s in anatomy.stages}
    assert [by_name[f"encoder {i}"].height for i in range(1, 5)] == [32, 16, 8, 4]
    assert (by_name["bottleneck"].channels, by_name["bottleneck"].height) == (512, 2)
    decoder = [s for s in anatomy.stages if s.part == "decoder"]
    assert [s.height for s in decoder] == [4, 8, 16, 32, 64]
    assert decoder[0].skip_from == "encoder 4"
    # the first decoder conv sees the upsampled bottleneck plus the skip: 512 + 256 channels
    assert decoder[0].conv_in_channels == 512 + 256
    assert (anatomy.stages[-1].channels, anatomy.stages[-1].height) == (2, 64)
    assert anatomy.decoder_params == sum(s.params for s in decoder)


def test_an_untrained_unet_predicts_noise_not_the_mask():
    image, truth, probability = random_unet_prediction("resnet18", 64, seed=1)
    assert image.shape == (64, 64, 3) and truth.shape == probability.shape == (64, 64)
    assert truth.any() and 0 < probability.min() and probability.max() < 1
