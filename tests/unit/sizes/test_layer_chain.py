"""Layer chains: the text spec, rows against real PyTorch, receptive fields, presets and exported code."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

from cvlab.sizes import frameworks
from cvlab.sizes import arithmetic as shapes
from cvlab.errors import CvlabError, InvalidInput, InvalidLayer
from cvlab.sizes.chain import (AvgPool, Conv, ConvTranspose, Flatten, GlobalAvgPool, Linear, MaxPool, chain_rows,
                               chain_table, layer_spec)
from cvlab.sizes.chain_text import (PRESETS, append_layers, format_chain, move_layer, parse_chain, parse_input_shape,
                                    parse_layer, remove_layer)

REPO = Path(__file__).resolve().parents[3]
# Every layer type and most options, on a small input: used by the round-trip and code tests.
MIXED = ("conv(8,k=3,s=1,p=same,bias=0)|bn|relu|conv(8,k=4,p=valid,g=2)|maxpool(k=3,s=2,p=1,d=2,ceil=1)|"
         "avgpool(k=2,ceil=1)|convt(6,k=3,s=2,p=1,op=1)|conv(6,k=3,s=2,p=1,g=3)|gap|flatten|bn|linear(10,bias=0)")


# ---- the text spec -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESETS.names())
def test_presets_round_trip_through_the_text_spec(name):
    preset = PRESETS.get(name)
    assert format_chain(preset.layers) == preset.spec
    assert parse_chain(format_chain(preset.layers)) == preset.layers


def test_spec_reads_positional_values_aliases_spaces_and_repeats():
    assert parse_chain(" Conv2d(64, 3, 2, 1) | MaxPool(3,2,1) | FC(10) | ") == (
        Conv(64, 3, 2, 1), MaxPool(3, 2, 1), Linear(10))
    assert parse_chain("conv(16,kernel_size=3,padding=same)*3") == (Conv(16, 3, padding="same"),) * 3
    assert parse_layer("maxpool(k=2,ceil=true)") == MaxPool(2, ceil_mode=True)
    assert parse_chain("") == ()
    layers = parse_chain(MIXED)
    assert parse_chain(format_chain(layers)) == layers and len(layers) == 12
    assert format_chain(parse_chain("conv(8,k=3)|conv(8,k=3)|relu|conv(8,k=3)")) == "conv(8,k=3)*2|relu|conv(8,k=3)"


@pytest.mark.parametrize(
    "text, error, words",
    [
        ("conv(k=3)", InvalidLayer, ["conv needs out channels", "conv(C, k=K[, s=1, p=0|same|valid"]),
        ("conv(64)", InvalidLayer, ["conv needs k=", "e.g. conv(64,k=3,p=1)"]),
        ("conv(64,k=3,z=1)", InvalidLayer, ["unknown key 'z'"]),
        ("conv(64,k=3,k=5)", InvalidLayer, ["k is given twice"]),
        ("conv(k=3,64)", InvalidLayer, ["bare values before key=value"]),
        ("conv(64,3,1,1,1,1,1,1)", InvalidLayer, ["too many values"]),
        ("conv(64,k=x)", InvalidLayer, ["k=x should be a whole number"]),
        ("maxpool(k=2,ceil=2)", InvalidLayer, ["ceil=2 should be 0 or 1"]),
        ("maxpool(k=2,p=same)", InvalidLayer, ["p=same should be a whole number"]),
        ("pool(2)", InvalidLayer, ["Unknown layer 'pool'", "maxpool(k=2)"]),
        ("conv(64,k=3", InvalidInput, ["name(values)", "|"]),
        ("conv(64,k=3)*0", InvalidInput, ["1 to 64 times"]),
        ("relu*64|relu*64|relu*64|relu*64|relu*64", InvalidInput, ["256 or fewer"]),
    ],
)
def test_spec_errors_show_the_expected_form(text, error, words):
    with pytest.raises(error) as caught:
        parse_chain(text)
    for word in words:
        assert word in str(caught.value)


def test_input_shapes():
    assert parse_input_shape("3x224x224") == (3, 224, 224)
    assert parse_input_shape(" 1 × 28 × 20 ") == (1, 28, 20)
    assert parse_input_shape("64x48") == (3, 64, 48)
    assert parse_input_shape("32") == (3, 32, 32)
    for bad in ("3x0x4", "axb", "1x2x3x4", ""):
        with pytest.raises(InvalidInput, match="3x224x224"):
            parse_input_shape(bad)


def test_edits_move_remove_and_append():
    spec = "conv(8,k=3)|relu|maxpool(k=2)"
    assert move_layer(spec, 0, 1) == "relu|conv(8,k=3)|maxpool(k=2)"
    assert move_layer(spec, 2, -1) == "conv(8,k=3)|maxpool(k=2)|relu"
    assert move_layer(spec, 0, -1) == spec  # already first
    assert remove_layer(spec, 1) == "conv(8,k=3)|maxpool(k=2)"
    assert append_layers(spec, "gap | flatten") == spec + "|gap|flatten"
    with pytest.raises(CvlabError):
        append_layers(spec, "gapp")


# ---- rows ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESETS.names())
def test_every_preset_matches_real_torch_layers(name):
    preset = PRESETS.get(name)
    checked = frameworks.verify_chain(preset.input_shape, preset.layers)
    assert len(checked) == len(preset.layers)
    assert all(row.matches for row in checked), [row for row in checked if not row.matches]


def test_mixed_chain_matches_real_torch_layers_on_a_non_square_input():
    checked = frameworks.verify_chain((4, 23, 17), parse_chain(MIXED))
    assert all(row.matches for row in checked)
    assert checked[-1].torch_shape == (10,)


def test_preset_shapes_follow_the_lecture():
    def outputs(name):
        preset = PRESETS.get(name)
        return [row.output_shape for row in chain_rows(preset.input_shape, preset.layers)]

    assert outputs("resnet-stem")[0] == (64, 112, 112) and outputs("resnet-stem")[-1] == (64, 56, 56)
    assert outputs("exercise-3")[-1] == (64, 55, 55)
    vgg = outputs("vgg16-features")
    pools = [shape for shape, layer in zip(vgg, PRESETS.get("vgg16-features").layers) if isinstance(layer, MaxPool)]
    assert pools == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)]
    assert sum(isinstance(layer, Conv) for layer in PRESETS.get("vgg16-features").layers) == 13
    overview = outputs("overview")  # the lecture's flowchart, box by box
    for shape in [(64, 112, 112), (64, 56, 56), (128, 56, 56), (128, 28, 28), (512, 7, 7), (512, 1, 1), (1000,)]:
        assert shape in overview
    assert "our choice" in PRESETS.get("overview").note or "one of many" in PRESETS.get("overview").note


def test_vgg16_parameters_and_macs_match_torchvision():
    from torchvision.models import VGG16_Weights, vgg16

    preset = PRESETS.get("vgg16")
    rows = chain_rows(preset.input_shape, preset.layers)
    expected = sum(p.numel() for p in vgg16(weights=None).parameters())
    assert sum(row.params for row in rows) == expected == 138_357_544
    assert round(sum(row.macs for row in rows) / 1e9, 2) == VGG16_Weights.IMAGENET1K_V1.meta["_ops"]  # GMACs


def test_resnet_stem_parameters_match_torchvision_resnet18():
    from torchvision.models import resnet18

    model = resnet18(weights=None)
    expected = sum(p.numel() for module in (model.conv1, model.bn1) for p in module.parameters())
    preset = PRESETS.get("resnet-stem")
    assert sum(row.params for row in chain_rows(preset.input_shape, preset.layers)) == expected == 9536


@pytest.mark.parametrize(
    "spec, field, jump",
    [
        ("conv(8,k=3,p=1)*2", 5, 1),
        ("conv(8,k=3,p=1)*3", 7, 1),
        ("conv(64,k=7,s=2,p=3)|maxpool(k=3,s=2,p=1)", 11, 4),  # the ResNet stem
        ("conv(8,k=3,d=2)", 5, 1),
        ("conv(8,k=3,p=1)|maxpool(k=2)|conv(8,k=3,p=1)", 8, 2),
        ("conv(8,k=3,s=2)|convt(8,k=2,s=2)", 3, 1),  # k=2, s=2: each output comes from exactly one input
        ("conv(8,k=3,s=2)|convt(8,k=3,s=2)", 5, 1),
    ],
)
def test_receptive_field_and_jump(spec, field, jump):
    last = chain_rows((3, 64, 64), parse_chain(spec))[-1]
    assert (last.receptive_field, last.jump) == (field, jump)


def test_receptive_field_becomes_the_whole_input_after_gap_or_linear():
    rows = chain_rows((3, 32, 32), parse_chain("conv(8,k=3)|flatten|linear(4)"))
    assert rows[1].receptive_field == 3  # flatten keeps each value's own receptive field
    assert (rows[2].receptive_field, rows[2].jump) == (None, None)
    assert chain_rows((3, 32, 32), parse_chain("gap"))[0].receptive_field is None


def test_linear_infers_in_features_and_counts_params():
    rows = chain_rows((512, 7, 7), parse_chain("flatten|linear(4096)"))
    assert rows[-1].params == 25088 * 4096 + 4096 and rows[-1].macs == 25088 * 4096


@pytest.mark.parametrize(
    "spec, words",
    [
        ("conv(8,k=3)|linear(10)", ["Layer 2, linear(10), on a 8x30x30 input", "add flatten before linear"]),
        ("gap|linear(10)", ["Layer 2", "already 1x1"]),
        ("flatten|conv(8,k=3)", ["Layer 2", "move it before flatten"]),
        ("conv(8,k=3)|maxpool(k=4,p=3)", ["Layer 2", "padding <= 2"]),
        ("conv(8,k=3,g=2)", ["Layer 1", "groups=2 must divide both", "in_channels=3"]),
        ("maxpool(k=2)*6", ["Layer 6", "no window fits"]),
        ("conv(8,k=3,s=2,p=same)", ["Layer 1", "stride=1"]),
    ],
)
def test_impossible_layers_name_their_position_and_the_fix(spec, words):
    with pytest.raises(InvalidLayer) as caught:
        chain_rows((3, 32, 32), parse_chain(spec))
    for word in words:
        assert word in str(caught.value)


def test_bad_input_shape_for_rows():
    with pytest.raises(InvalidInput, match="C x H x W"):
        chain_rows((3, 0, 32), parse_chain("relu"))


def test_chain_table_has_one_type_per_column():
    rows = chain_rows((3, 32, 32), parse_chain("conv(8,k=3)|gap|flatten|linear(2)"))
    table = chain_table((3, 32, 32), rows)
    assert [row["output"] for row in table] == ["3x32x32", "8x30x30", "8x1x1", "8", "2"]
    assert [row["receptive field"] for row in table] == ["1", "3", "all", "all", "all"]
    for column in table[0]:
        assert len({type(row[column]) for row in table}) == 1, column


# ---- exported code -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, input_shape, spec", [
    *((n, PRESETS.get(n).input_shape, PRESETS.get(n).spec) for n in ("resnet-stem", "vgg16-features", "overview")),
    ("mixed", (4, 23, 17), MIXED),
])
def test_pytorch_code_builds_a_module_with_the_predicted_output(name, input_shape, spec):
    layers = parse_chain(spec)
    code = frameworks.pytorch_code(input_shape, layers)
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"<{name}>", "exec"), namespace)  # noqa: S102 - our own output, run as a student would
    rows = chain_rows(input_shape, layers)
    assert printed.getvalue().strip() == f"torch.Size([1, {', '.join(map(str, rows[-1].output_shape))}])"
    assert sum(p.numel() for p in namespace["model"].parameters()) == sum(row.params for row in rows)


def test_pytorch_code_says_when_there_are_no_activations():
    assert "No activations" in frameworks.pytorch_code((3, 224, 224), PRESETS.get("vgg16").layers)
    assert "No activations" not in frameworks.pytorch_code((3, 224, 224), PRESETS.get("resnet-stem").layers)


def test_keras_padding_choices():
    # ResNet's conv k7 s2 p3: 'same' gives 112 but pads 2 before, not 3.
    mode, zero_pad, note = frameworks.keras_padding("conv", (224, 224), 7, 2, 3)
    assert (mode, zero_pad) == ("valid", 3)
    assert "'valid' gives 109x109" in note and "'same' gives 112x112 but pads 2 before instead of 3" in note
    assert frameworks.keras_padding("conv", (56, 56), 3, 1, 1) == ("same", None, "")
    assert frameworks.keras_padding("conv", (56, 56), 4, 1, "same") == ("same", None, "")
    assert frameworks.keras_padding("maxpool", (112, 112), 2, 2, 0) == ("valid", None, "")
    assert frameworks.keras_padding("maxpool", (5, 5), 2, 2, 0, ceil_mode=True)[:2] == ("same", None)
    mode, _, note = frameworks.keras_padding("avgpool", (5, 5), 3, 2, 1, ceil_mode=True)
    assert mode == "same" and "count_include_pad" in note  # same windows, but Keras averages the edges differently
    mode, zero_pad, note = frameworks.keras_padding("avgpool", (6, 6), 3, 2, 1, ceil_mode=True)
    assert (mode, zero_pad) == ("valid", ((1, 2), (1, 2))) and "ceil_mode" in note


def test_keras_padding_always_reproduces_the_pytorch_size():
    for size in range(5, 40):
        for kernel, stride, padding, kind in [(3, 1, 1, "conv"), (7, 2, 3, "conv"), (3, 2, 1, "maxpool"),
                                              (2, 2, 0, "avgpool"), (5, 3, 2, "conv"), (3, 2, 1, "avgpool")]:
            torch_out = shapes.output_size(kind, size, kernel, stride, padding)
            mode, zero_pad, _ = frameworks.keras_padding(kind, (size, size), kernel, stride, padding)
            if mode == "same":
                assert -(-size // stride) == torch_out
            else:
                before, after = ((zero_pad, zero_pad) if isinstance(zero_pad, int)
                                 else zero_pad[0] if zero_pad else (0, 0))
                assert (size + before + after - kernel) // stride + 1 == torch_out


def test_keras_code_for_the_resnet_stem():
    code = frameworks.keras_code((3, 224, 224), PRESETS.get("resnet-stem").layers)
    assert "keras.Input(shape=(224, 224, 3))" in code
    assert "layers.ZeroPadding2D(padding=3)" in code and "layers.ZeroPadding2D(padding=1)" in code
    assert "layers.Conv2D(64, kernel_size=7, strides=2, padding='valid', use_bias=False),  # -> 112x112x64" in code
    assert "layers.MaxPooling2D(pool_size=3, strides=2, padding='valid'),  # -> 56x56x64" in code
    assert "-inf" in code  # max pooling pads differently
    overview = frameworks.keras_code((3, 224, 224), PRESETS.get("overview").layers)
    assert "layers.Conv2D(128, kernel_size=3, padding='same')" in overview
    assert "layers.GlobalAveragePooling2D(keepdims=True),  # -> 1x1x512" in overview
    assert "layers.Dense(1000),  # -> 1000" in overview


def test_keras_code_crops_a_transposed_convs_padding():
    code = frameworks.keras_code((8, 8, 8), parse_chain("convt(4,k=3,s=2,p=1,op=1)"))
    assert "layers.Conv2DTranspose(4, kernel_size=3, strides=2, padding='valid', output_padding=1)," in code
    assert "layers.Cropping2D(cropping=1),  # -> 16x16x4" in code


def test_torch_call_leaves_defaults_out():
    assert (frameworks.torch_call(Conv(64, 3, padding=1), (3, 8, 8))
            == ("Conv2d", (3, 64), {"kernel_size": 3, "padding": 1}))
    assert frameworks.torch_call(AvgPool(2), (3, 8, 8)) == ("AvgPool2d", (), {"kernel_size": 2})
    assert frameworks.torch_call(ConvTranspose(4, 2, 2), (3, 8, 8))[2] == {"kernel_size": 2, "stride": 2}
    assert frameworks.torch_call(GlobalAvgPool(), (3, 8, 8)) == ("AdaptiveAvgPool2d", (1,), {})
    assert frameworks.torch_call(Flatten(), (3, 8, 8)) == ("Flatten", (), {})
    assert layer_spec(Conv(64, 3, 2, "same", bias=False)) == "conv(64,k=3,s=2,p=same,bias=0)"


def test_importing_the_chain_modules_does_not_import_torch():
    code = ("import sys, cvlab.sizes.chain, cvlab.sizes.chain_text, cvlab.sizes.frameworks, "
            "cvlab.commands.sizes, cvlab.viz.shapes; print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("input_text, chain, limit", [
    ("3x224x224", "flatten | linear(100000)", "weights, over its limit"),  # 15 G weights: the server's memory
    ("3x60000x60000", "relu", "values, over its limit"),  # a 43 GB input tensor
    ("3x224x224", "conv(4096,k=3,p=1) | conv(4096,k=3,p=1)", "values, over its limit"),  # 205 M-value maps
])
def test_the_torch_check_refuses_what_would_not_fit_before_building_anything(input_text, chain, limit, monkeypatch):
    import torch

    from cvlab.sizes.chain_text import parse_chain, parse_input_shape
    from cvlab.sizes.frameworks import verify_chain

    def never(*args, **kwargs):
        raise AssertionError("a real tensor was made before the sizes were checked")

    monkeypatch.setattr(torch, "randn", never)
    with pytest.raises(InvalidInput, match=limit):
        verify_chain(parse_input_shape(input_text), parse_chain(chain))


@pytest.mark.parametrize("text", ["3x" + "9" * 5000 + "x2", "3x²x2", "3x100001x2", "0x2x2"])
def test_an_input_shape_out_of_range_is_refused_in_words(text):
    from cvlab.sizes.chain_text import parse_input_shape

    with pytest.raises(InvalidInput, match="whole numbers from 1 to 100,000"):
        parse_input_shape(text)
