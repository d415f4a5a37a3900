import pytest
import torch

from cvlab.zoo.anatomy import BLOCKS, layer_table, stage_sizes, try_block
from cvlab.zoo.architectures import ARCHITECTURES


@pytest.fixture(scope="module")
def resnet18_rows():
    return layer_table("resnet18")


def test_layer_table_params_sum_to_the_model(resnet18_rows):
    model = ARCHITECTURES.get("resnet18").build()
    assert sum(row.params for row in resnet18_rows) == sum(p.numel() for p in model.parameters()) == 11_689_512
    assert resnet18_rows[-1].name == "fc" and resnet18_rows[-1].output_shape == (1000,)
    assert resnet18_rows[0].name == "conv1" and resnet18_rows[0].output_shape == (64, 112, 112)
    relu = next(row for row in resnet18_rows if row.name == "relu")
    assert relu.calls == 1 and relu.params == 0


@pytest.mark.parametrize("name, params", [("vit_b_16", 86_567_656),  # torchvision's num_params
                                          ("vit_tiny_patch16_224", 5_717_416)])
def test_layer_table_counts_weights_that_no_leaf_holds(name, params):
    # torchvision: nn.MultiheadAttention reads out_proj's weight without calling it (a row with no shape);
    # timm: cls_token and pos_embed belong to the model itself (a "(model)" row).
    rows = layer_table(name)
    assert sum(row.params for row in rows) == params
    assert rows[-1].output_shape in {(1000,), None}


def test_stage_sizes_follow_resnet18(resnet18_rows):
    sizes = {s.stage: (s.channels, s.height, s.width) for s in stage_sizes(resnet18_rows)}
    assert sizes["layer1"] == (64, 56, 56) and sizes["layer4"] == (512, 7, 7) and sizes["fc"] == (1000, None, None)
    chosen = stage_sizes(resnet18_rows, ARCHITECTURES.get("resnet18").stages)
    assert [s.stage for s in chosen] == list(ARCHITECTURES.get("resnet18").stages)


EXPECTED_OUTPUTS = {
    "vgg_block": (1, 16, 16, 16),
    "residual_block": (1, 32, 16, 16),
    "basic_block": (1, 64, 14, 14),
    "bottleneck": (1, 256, 14, 14),  # 256 -> 64 -> 64 -> 256 channels
    "mbconv": (1, 24, 32, 32),
    "vit_encoder": (1, 16, 64),  # 64 px / 16 px patches = 4 x 4 tokens of width 64
    "convnext_block": (1, 32, 14, 14),
    "swin_window_attention": (1, 8, 8, 32),  # channels-last
}


def test_every_lecture_block_is_catalogued():
    assert set(BLOCKS.names()) == set(EXPECTED_OUTPUTS)


@pytest.mark.parametrize("name", list(EXPECTED_OUTPUTS))
def test_blocks_build_run_and_show_their_source(name):
    sample = try_block(name)
    assert sample.output_shape == EXPECTED_OUTPUTS[name]
    block = BLOCKS.get(name)
    assert sample.params == sum(p.numel() for p in block.build().parameters()) > 0
    assert "class " in block.source and "def forward" in block.source
    assert block.title and len(block.explanation.split(". ")) >= 2


def test_bottleneck_squeezes_to_a_quarter():
    model = BLOCKS.get("bottleneck").build()
    assert [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)] == [64, 64, 256]
