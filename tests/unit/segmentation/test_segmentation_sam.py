"""SAM's full prompt-to-mask path on randomly initialised models (no checkpoint here), and its cache."""

import io
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from cvlab.errors import InvalidInput
from cvlab.segmentation import sam
from cvlab.settings import get_settings

IMAGE = np.random.default_rng(0).integers(0, 255, (120, 180, 3), dtype=np.uint8)  # (H, W, 3), landscape


@pytest.fixture(scope="module")
def mobile_sam():
    return sam.build_sam_model("mobile_sam", device="cpu")


def test_without_a_checkpoint_the_model_is_random_and_says_where_the_file_goes(mobile_sam):
    weights = mobile_sam.weights
    assert weights.random and weights.path is None
    assert "RANDOM weights" in weights.message and "mobile_sam.pt" in weights.message
    assert "releases/download" in weights.message  # where to get it


def test_point_prompt_gives_three_masks_at_image_size_with_scores_and_timings(mobile_sam):
    result = mobile_sam.segment(IMAGE, sam.SamPrompt(points=((90, 60, True),)))
    assert result.masks.shape == (3, 120, 180) and result.masks.dtype == bool
    assert len(result.scores) == 3 and all(np.isfinite(result.scores))
    assert result.best == int(np.argmax(result.scores))
    assert result.encoder_seconds > 0 and result.decoder_seconds > 0
    assert result.random_weights and result.model == "mobile_sam"
    assert result.areas == tuple(int(m.sum()) for m in result.masks)


def test_the_embedding_is_computed_once_and_reused_across_clicks():
    model = sam.build_sam_model("mobile_sam", device="cpu")
    first = model.segment(IMAGE, sam.SamPrompt(points=((10, 10, True),)))
    assert model.encoder_calls == 1 and not first.embedding_cached
    prompts = [sam.SamPrompt(points=((10, 10, True), (150, 100, False))),
               sam.SamPrompt(box=(20, 10, 170, 110)),
               sam.SamPrompt(points=((50, 50, True),), box=(20, 10, 170, 110))]
    for prompt in prompts:
        again = model.segment(IMAGE, prompt, multimask=False)
        assert again.embedding_cached and again.masks.shape == (1, 120, 180)
        assert again.encoder_seconds == first.encoder_seconds  # the time it took once, reported again
    assert model.encoder_calls == 1
    model.segment(IMAGE[::-1].copy(), sam.SamPrompt(points=((10, 10, True),)))  # another image
    assert model.encoder_calls == 2
    encoded = model.encode(IMAGE)
    assert encoded.cached and model.encoder_calls == 2


def test_a_held_embedding_survives_eviction_so_a_click_never_runs_the_encoder(monkeypatch):
    model = sam.build_sam_model("mobile_sam", device="cpu")
    held = model.encode(IMAGE)  # what a page keeps in its user's session state
    for index in range(sam.EMBEDDINGS_KEPT):  # other users' images push it out of the shared cache
        model.encode(np.full((40, 60, 3), index, np.uint8))
    assert not model.encode(IMAGE[:, :-1].copy()).cached and model.encoder_calls == 1 + sam.EMBEDDINGS_KEPT + 1
    calls = model.encoder_calls

    def encoder_ran(*args, **kwargs):
        raise AssertionError("the image encoder ran inside a click")

    monkeypatch.setattr(sam.sam_backend, "encode", encoder_ran)
    result = model.segment(IMAGE, sam.SamPrompt(points=((90, 60, True),)), encoded=held)
    assert model.encoder_calls == calls and result.embedding_cached
    assert result.masks.shape == (3, 120, 180) and result.encoder_seconds == held.seconds
    with pytest.raises(AssertionError, match="encoder ran"):  # without the held embedding it would have
        model.segment(IMAGE, sam.SamPrompt(points=((90, 60, True),)))


def test_an_embedding_of_another_image_or_model_is_refused(mobile_sam):
    held = mobile_sam.encode(IMAGE)
    assert held.matches("mobile_sam", IMAGE) and not held.matches("mobile_sam", IMAGE[::-1].copy())
    assert not held.matches("sam_b", IMAGE)
    with pytest.raises(InvalidInput, match="not MobileSAM's of this image"):
        mobile_sam.segment(IMAGE[::-1].copy(), sam.SamPrompt(points=((10, 10, True),)), encoded=held)


def test_sam_prepares_ultralytics_before_importing_it(monkeypatch):
    from cvlab.detection import ultralytics_env

    prepared = []
    monkeypatch.setattr(ultralytics_env, "ultralytics_ready", lambda settings=None: prepared.append(settings))
    sam.build_sam_model("mobile_sam", device="cpu")
    assert prepared and prepared[0] is not None


def test_prompts_change_the_masks(mobile_sam):
    one = mobile_sam.segment(IMAGE, sam.SamPrompt(points=((20, 20, True),)), multimask=False).masks
    other = mobile_sam.segment(IMAGE, sam.SamPrompt(box=(100, 60, 170, 110)), multimask=False).masks
    assert not np.array_equal(one, other)


def test_concurrent_sessions_share_one_embedding(mobile_sam):
    image = IMAGE[:, ::-1].copy()
    calls_before = mobile_sam.encoder_calls
    results, errors = [], []

    def click(x):
        try:
            results.append(mobile_sam.segment(image, sam.SamPrompt(points=((x, 50, True),))))
        except Exception as err:  # noqa: BLE001 - the test reports any failure
            errors.append(err)

    threads = [threading.Thread(target=click, args=(x,)) for x in (30, 60, 90)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 3
    assert mobile_sam.encoder_calls == calls_before + 1


@pytest.mark.parametrize("prompt, words", [
    (sam.SamPrompt(), "Give SAM a prompt"),
    (sam.SamPrompt(points=((500, 10, True),)), "outside the 180x120 image"),
    (sam.SamPrompt(box=(50, 50, 40, 90)), "x0 < x1"),
])
def test_bad_prompts_are_refused_before_any_work(mobile_sam, prompt, words):
    with pytest.raises(InvalidInput, match=words):
        mobile_sam.segment(IMAGE, prompt)


def test_a_grey_or_float_image_is_refused(mobile_sam):
    with pytest.raises(InvalidInput, match="uint8 RGB"):
        mobile_sam.encode(np.zeros((10, 10), np.uint8))


def test_a_checkpoint_in_the_weights_folder_is_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path))
    from ultralytics.models.sam.build import build_mobile_sam

    torch.manual_seed(3)
    donor = build_mobile_sam().state_dict()
    torch.save(donor, tmp_path / "mobile_sam.pt")
    model = sam.build_sam_model("mobile_sam", device="cpu")
    assert not model.weights.random and model.weights.source == "local folder"
    loaded = dict(model._module.named_parameters())
    name = next(iter(loaded))
    assert torch.equal(loaded[name].detach(), donor[name])


def test_a_pickled_object_checkpoint_is_refused_without_the_admin_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path))
    torch.save({"model": object.__new__(threading.Thread)}, tmp_path / "mobile_sam.pt")
    model = sam.build_sam_model("mobile_sam", device="cpu")
    assert model.weights.random and "not a plain state dict" in model.weights.message


def test_sam2_answers_points_and_boxes():
    model = sam.build_sam_model("sam2_t", device="cpu")
    result = model.segment(IMAGE, sam.SamPrompt(points=((90, 60, True), (10, 10, False)), box=(40, 20, 160, 110)))
    assert result.masks.shape == (3, 120, 180) and len(result.scores) == 3
    boxed = model.segment(IMAGE, sam.SamPrompt(box=(40, 20, 160, 110)), multimask=False)
    assert boxed.masks.shape == (1, 120, 180) and model.encoder_calls == 1


def test_load_sam_shares_one_model_per_process():
    assert sam.load_sam("mobile_sam", device="cpu") is sam.load_sam("mobile_sam", device="cpu")


def test_points_and_boxes_as_text():
    points = sam.parse_points("120,80,+; 200, 90 ,-;5,6")
    assert points == ((120, 80, True), (200, 90, False), (5, 6, True))
    assert sam.parse_points(sam.format_points(points)) == points
    assert sam.parse_box("1,2,30,40") == (1, 2, 30, 40)
    for bad in ("1,x", "1;2", "1,2,3,4"):
        with pytest.raises(InvalidInput, match="x,y"):
            sam.parse_points(bad)
    with pytest.raises(InvalidInput, match="x0,y0,x1,y1"):
        sam.parse_box("1,2,3")


def test_mask_and_cutout_pngs():
    mask = np.zeros((120, 180), bool)
    mask[10:20, 30:50] = True
    black_white = np.asarray(Image.open(io.BytesIO(sam.mask_png(mask))))
    assert black_white.shape == (120, 180) and set(np.unique(black_white)) == {0, 255}
    cutout = np.asarray(Image.open(io.BytesIO(sam.cutout_png(IMAGE, mask))))
    assert cutout.shape == (120, 180, 4)
    assert (cutout[..., 3] == 255).sum() == mask.sum()
    assert np.array_equal(cutout[15, 40, :3], IMAGE[15, 40])
    assert get_settings().weights_dir.name == "weights"
