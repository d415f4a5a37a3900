"""A segmentation batch of one image: refused by the settings, because some decoders cannot train on it."""

import pytest
import torch

from cvlab.errors import InvalidInput
from cvlab.segmentation.architectures import build_segmentation_model
from cvlab.training.config import TrainConfig


def test_a_batch_of_one_is_refused_for_segmentation_only():
    with pytest.raises(InvalidInput, match="a segmentation batch needs at least 2 images"):
        TrainConfig.for_task("segment", batch_size=1)
    assert TrainConfig.for_task("segment", batch_size=2).batch_size == 2
    assert TrainConfig.for_task("classify", batch_size=1).batch_size == 1


def test_why_deeplab_cannot_train_on_one_image():
    model = build_segmentation_model("deeplabv3", "resnet18", 1).train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        model(torch.zeros(1, 3, 64, 64))
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 64, 64)
