"""The Hugging Face source: tiny ViT and SegFormer saved in the Hub's format, read back through from_pretrained."""

import json

import numpy as np
import pytest
import torch
from transformers import SegformerConfig, SegformerForSemanticSegmentation, ViTConfig, ViTForImageClassification

from cvlab.cnn.inside_network import load_network, trace
from cvlab.errors import InvalidInput
from cvlab.segmentation.architectures import build_segmentation_model
from cvlab.segmentation.train import evaluate, segmentation_loss, train_step
from cvlab.training.config import TrainConfig
from cvlab.training.model_builder import build_model
from cvlab.weights import WeightsUnavailable
from cvlab.zoo import facts as zoo
from cvlab.zoo import huggingface
from cvlab.zoo.architectures import ARCHITECTURES
from cvlab.zoo.huggingface import SEGFORMER_B0, VIT_B16, TransformersMissing, load_pretrained, local_folder

VIT_NAME, SEGFORMER_NAME = "hf_vit_base_patch16_224", "hf_segformer_b0"
VIT_LABELS = {0: "tench", 1: "goldfish", 2: "great white shark"}


def tiny_vit_config() -> ViTConfig:
    """ViT-B/16's geometry (224 px, 16 px patches, 12 blocks: the stages Inside a CNN shows) at width 32."""
    return ViTConfig(image_size=224, patch_size=16, hidden_size=32, num_hidden_layers=12, num_attention_heads=2,
                     intermediate_size=64, num_labels=3, id2label=VIT_LABELS,
                     label2id={v: k for k, v in VIT_LABELS.items()})


def tiny_segformer_config(num_labels: int = 4) -> SegformerConfig:
    return SegformerConfig(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1],
                           decoder_hidden_size=16, num_labels=num_labels)


def save_tiny_vit(weights_dir) -> ViTForImageClassification:
    torch.manual_seed(0)
    model = ViTForImageClassification(tiny_vit_config()).eval()
    model.save_pretrained(weights_dir / "huggingface" / "google--vit-base-patch16-224", safe_serialization=True)
    return model


def save_tiny_segformer(weights_dir) -> SegformerForSemanticSegmentation:
    torch.manual_seed(0)
    model = SegformerForSemanticSegmentation(tiny_segformer_config()).eval()
    model.save_pretrained(weights_dir / "huggingface" / "nvidia--segformer-b0-finetuned-ade-512-512",
                          safe_serialization=True)
    return model


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no Hub cache to fall back on
    return tmp_path / "weights"


def photo(size: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_the_folder_is_named_after_the_hub_id(weights_dir):
    assert local_folder(VIT_B16) == weights_dir / "huggingface" / "google--vit-base-patch16-224"
    assert local_folder(SEGFORMER_B0).name == "nvidia--segformer-b0-finetuned-ade-512-512"


def test_a_saved_vit_loads_through_from_pretrained_with_its_weights_and_labels(weights_dir):
    reference = save_tiny_vit(weights_dir)
    loaded = load_pretrained(VIT_B16)
    assert loaded.source == "local folder" and loaded.categories == tuple(VIT_LABELS.values())
    assert sum(p.numel() for p in loaded.module.parameters()) == sum(p.numel() for p in reference.parameters())
    for name, tensor in reference.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[name], tensor), name
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(loaded.module.eval()(pixel_values=x).logits, reference(pixel_values=x).logits)


def test_without_a_folder_offline_the_error_says_which_folder_to_fill(weights_dir):
    with pytest.raises(WeightsUnavailable, match="google--vit-base-patch16-224.*random weights"):
        load_pretrained(VIT_B16)


def test_a_folder_without_safetensors_is_refused_even_with_a_pickle_beside_it(weights_dir):
    save_tiny_vit(weights_dir)
    folder = local_folder(VIT_B16)
    (folder / "model.safetensors").unlink()
    torch.save(ViTForImageClassification(tiny_vit_config()).state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(WeightsUnavailable, match="no model.safetensors: only safetensors"):
        load_pretrained(VIT_B16)


def test_a_config_naming_another_model_type_is_refused_before_anything_is_built(weights_dir, monkeypatch):
    save_tiny_vit(weights_dir)
    path = local_folder(VIT_B16) / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "model_type": "bert"}))
    monkeypatch.setattr(ViTForImageClassification, "from_pretrained",
                        classmethod(lambda *_a, **_k: pytest.fail("a refused config must build nothing")))
    with pytest.raises(InvalidInput, match="model_type 'bert'.*'vit' model"):
        load_pretrained(VIT_B16)


def test_a_huge_or_unreadable_config_is_refused(weights_dir):
    save_tiny_vit(weights_dir)
    path = local_folder(VIT_B16) / "config.json"
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match="not a readable JSON config"):
        load_pretrained(VIT_B16)
    path.write_text(" " * (huggingface.MAX_CONFIG_BYTES + 1))
    with pytest.raises(InvalidInput, match="a model config is a few kB"):
        load_pretrained(VIT_B16)


def test_a_broken_weights_file_is_refused_with_a_fix(weights_dir):
    save_tiny_vit(weights_dir)
    (local_folder(VIT_B16) / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(WeightsUnavailable, match="from_pretrained.*failed.*Replace the files"):
        load_pretrained(VIT_B16)


def test_missing_transformers_gives_the_install_command(monkeypatch):
    import importlib

    real_import = importlib.import_module

    def without_transformers(name, *args):
        if name == "transformers":
            raise ModuleNotFoundError("No module named 'transformers'")
        return real_import(name, *args)

    monkeypatch.setattr(huggingface.importlib, "import_module", without_transformers)
    with pytest.raises(TransformersMissing, match=r"pip install transformers==\d+\.\d+\.\d+"):
        ARCHITECTURES.get(VIT_NAME).build()
    with pytest.raises(TransformersMissing, match="every other model works without it"):
        build_segmentation_model(SEGFORMER_NAME, "resnet18", 1)


def test_cvlab_imports_without_transformers():
    """No cvlab module imports transformers at import time: a fresh interpreter that cannot find it."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['transformers'] = None\n"
            "import cvlab.zoo.architectures, cvlab.zoo.facts, cvlab.zoo.huggingface, cvlab.zoo.pretrained\n"
            "import cvlab.segmentation.architectures, cvlab.training.model_builder, cvlab.cnn.inside_network\n"
            "from cvlab.zoo.architectures import ARCHITECTURES; assert 'hf_vit_base_patch16_224' in ARCHITECTURES\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_three_vit_b16s_count_the_same_parameters_and_macs():
    """torchvision's, timm's and Hugging Face's ViT-B/16: one network, the same counts, torchvision's published."""
    hf, tv, timm = (zoo.facts(n) for n in (VIT_NAME, "vit_b_16", "vit_base_patch16_224"))
    assert hf.params == tv.params == timm.params == tv.published_params == 86_567_656
    assert hf.macs == tv.macs == timm.macs
    assert abs(hf.macs / tv.published_macs - 1) < 1e-3
    assert hf.weights == "google/vit-base-patch16-224" and hf.published_source == "Hugging Face Hub " + hf.weights
    assert hf.family == "ViT" and hf.block == tv.block


def test_inside_a_cnn_traces_the_pretrained_hf_vit_with_its_class_token_attention(weights_dir):
    save_tiny_vit(weights_dir)
    net = load_network(VIT_NAME)
    assert net.pretrained and "google/vit-base-patch16-224 (local folder)" in net.weights_note
    result = trace(net, photo())
    shapes = {s.name: s.shape for s in result.stages}
    assert shapes["hf.vit.embeddings.patch_embeddings.projection"] == (32, 14, 14)
    assert shapes["hf.vit.layers.5"] == (197, 32) and shapes["hf.classifier"] == (3,)
    assert result.stages[1].from_tokens and result.stages[1].maps.shape[1:] == (14, 14)
    assert result.attention.shape == (14, 14) and 0 < result.attention.sum() <= 1 + 1e-5
    assert {name for _, name, _ in result.top5} <= set(VIT_LABELS.values())


def test_inside_a_cnn_builds_the_hf_vit_at_full_size_with_random_weights(weights_dir):
    net = load_network(VIT_NAME)
    assert not net.pretrained and "google--vit-base-patch16-224" in net.weights_note
    result = trace(net, photo())
    assert {s.name: s.shape for s in result.stages}["hf.vit.layers.11"] == (197, 768)
    assert result.logits.shape == (1000,) and result.attention.shape == (14, 14)


def test_a_classifier_run_takes_the_pretrained_vit_at_the_datas_size_with_a_new_head(weights_dir):
    reference = save_tiny_vit(weights_dir)
    config = TrainConfig(model=VIT_NAME, pretrained=True, image_size=32)
    built = build_model(config, num_classes=4)
    assert "google/vit-base-patch16-224 (local folder)" in built.note
    assert built.head == ("hf.classifier.weight", "hf.classifier.bias")
    body = dict(built.module.named_parameters())
    assert torch.equal(body["hf.vit.layers.0.mlp.fc1.weight"], reference.vit.layers[0].mlp.fc1.weight)
    images = torch.randn(2, 3, 32, 32)  # a 2 x 2 patch grid: the position embeddings are interpolated to it
    logits = built.module(images)
    assert logits.shape == (2, 4)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 3])).backward()
    assert body["hf.vit.embeddings.position_embeddings"].grad is not None


def test_the_pretrained_segformer_gets_a_new_head_and_full_size_logits(weights_dir):
    reference = save_tiny_segformer(weights_dir)
    model = build_segmentation_model(SEGFORMER_NAME, "resnet18", 1, pretrained=True)
    assert model.num_classes == 1 and model.segmentation_head[0].out_channels == 1
    encoder = reference.segformer.state_dict()
    for name, tensor in model.hf.segformer.state_dict().items():
        assert torch.equal(tensor, encoder[name]), name
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    masks = torch.zeros(2, 64, 64, dtype=torch.long)
    masks[:, 16:40, 8:30] = 1
    loss = segmentation_loss("0.5*bce+0.5*dice")
    before = model.segmentation_head[0].weight.detach().clone()
    value = train_step(model, images, masks, loss, torch.optim.AdamW(model.parameters(), lr=1e-3))
    assert np.isfinite(value) and not torch.equal(before, model.segmentation_head[0].weight)
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 1, 64, 64)  # 16 x 16 logits, upsampled
    assert set(evaluate(model, images, masks, loss)) == {"loss", "iou", "dice"}


def test_a_segmentation_run_on_the_segformer_trains_everything_but_its_encoder_afresh(weights_dir):
    config = TrainConfig.for_task("segment", model=SEGFORMER_NAME, pretrained=False, binary_masks=False)
    built = build_model(config, num_classes=5)
    assert built.note.startswith("SegFormer-B0 (Hugging Face), random weights") and "encoder" not in built.note
    assert built.head and all(name.startswith("hf.decode_head.") for name in built.head)
    assert built.module.num_classes == 5
    # B0 with ADE20K's 150 classes has 3,752,694; a 1x1 classifier over 256 channels costs 257 a class
    assert sum(p.numel() for p in built.module.parameters()) == 3_752_694 - (150 - 5) * 257


def test_the_segformer_b0_counts_as_the_paper_gives_it():
    """SegFormer-B0 with ADE20K's 150 classes: 3.75 M parameters and 8.4 GMACs at 512 px (the paper: 3.8 M, 8.4 G)."""
    from cvlab.zoo.facts import flop_counter
    from cvlab.zoo.hub_modules import HubSegmenter

    with torch.device("meta"):
        model = HubSegmenter(huggingface.build_random(SEGFORMER_B0)).eval()
    assert sum(p.numel() for p in model.parameters()) == 3_752_694
    macs = flop_counter(model, torch.empty(1, 3, 512, 512, device="meta")).get_total_flops() // 2
    assert 8.3e9 < macs < 8.5e9
