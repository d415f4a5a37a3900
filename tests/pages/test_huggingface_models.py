"""The Hugging Face models on the pages: counted in the Architectures table, traced by Inside a CNN, and trained
for an epoch from the Training page through the job queue and a real worker."""

from cvlab.training import runs
from tests.pages.apptest import run_script
from tests.pages.test_task_training_pages import wait_until_ended, workers  # noqa: F401  (a fixture)
from tests.unit.zoo.test_huggingface import save_tiny_segformer, save_tiny_vit, weights_dir  # noqa: F401

TRAINING = "pages/training/live_training.py"
HF_VIT, HF_SEGFORMER = "hf_vit_base_patch16_224", "hf_segformer_b0"


def start_run(app) -> runs.RunInfo:
    app.text_input(key="user").input("ada").run()
    assert not app.exception, app.exception
    app.button(key="start").click().run()
    assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
    [info] = runs.RunStore().list()
    return info


def test_the_architectures_table_counts_the_hf_vit_next_to_timms_and_torchvisions():
    app = run_script("pages/architectures/architecture_zoo.py", timeout=180, fam=["ViT"])
    table = app.dataframe[0].value.set_index("name")
    assert {"vit_b_16", "vit_base_patch16_224", HF_VIT} <= set(table.index)
    assert round(table.loc[HF_VIT, "params (M)"], 2) == round(table.loc["vit_b_16", "params (M)"], 2) == 86.57
    assert table.loc[HF_VIT, "GMACs"] == table.loc["vit_b_16", "GMACs"] == table.loc["vit_base_patch16_224", "GMACs"]
    assert table.loc[HF_VIT, "family"] == "ViT" and table.loc[HF_VIT, "weights"] == "google/vit-base-patch16-224"


def test_the_architectures_segmentation_table_counts_the_hf_segformer():
    app = run_script("pages/architectures/architecture_zoo.py", timeout=180, section="Segmentation")
    frames = [frame.value for frame in app.dataframe if "model" in frame.value.columns]
    rows = [frame.set_index("model") for frame in frames if "segformer-b0-hf" in set(frame["model"])]
    assert rows, "the segmentation table lists the Hugging Face SegFormer"
    assert 3.5 < float(rows[0].loc["segformer-b0-hf", "params (M)"]) < 4.0
    assert {"unet-resnet34", "segformer-b0-hf"} <= set(rows[0].index)  # beside smp's models
    assert any("Hugging Face SegFormer-B0" in c.value for c in app.caption)


def test_inside_a_cnn_shows_the_pretrained_hf_vit_with_its_attention(weights_dir):  # noqa: F811
    save_tiny_vit(weights_dir)
    app = run_script("pages/foundations/inside_cnn.py", timeout=180, section="Through a network", arch=HF_VIT)
    assert not app.error, [e.value for e in app.error]
    assert any("ViT-B/16 (Hugging Face): pretrained google/vit-base-patch16-224 (local folder)" in s.value
               for s in app.success)


def test_the_hf_vit_trains_an_epoch_from_the_training_page(workers, weights_dir):  # noqa: F811
    save_tiny_vit(weights_dir)
    app = run_script(TRAINING, timeout=120, section="New run", data="shapes", model=HF_VIT, pretrained="true",
                     limit="96", epochs="1", batch="16", size="32", aug="none")
    info = start_run(app)
    assert info.config.model == HF_VIT and info.config.pretrained and info.config.epochs == 1
    ended = wait_until_ended(info.run_id)
    assert ended.status == "finished", ended
    assert "google/vit-base-patch16-224 (local folder)" in str(ended.record)
    results = run_script(TRAINING, timeout=120, section="Results", user="ada")
    [accuracy] = [m for m in results.metric if m.label == "Validation accuracy"]
    assert accuracy.value.endswith("%")


def test_the_hf_segformer_trains_an_epoch_from_the_training_page(workers, weights_dir):  # noqa: F811
    save_tiny_segformer(weights_dir)
    app = run_script(TRAINING, timeout=120, section="New run", task="Segmentation", segment_model=HF_SEGFORMER,
                     segment_pretrained="true", segment_limit="32", segment_epochs="1", segment_batch="8",
                     segment_size="64")
    info = start_run(app)
    assert info.config.task == "segment" and info.config.model == HF_SEGFORMER
    ended = wait_until_ended(info.run_id)
    assert ended.status == "finished", ended
    assert "nvidia/segformer-b0-finetuned-ade-512-512" in str(ended.record)
    results = run_script(TRAINING, timeout=120, section="Results", user="ada")
    [iou] = [m for m in results.metric if m.label == "Validation IoU"]
    assert 0 <= float(iou.value) <= 1
