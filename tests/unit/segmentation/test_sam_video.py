"""SAM 2 through a clip on a randomly initialised SAM 2 tiny (no checkpoint here): shapes, order, corrections,
refusals, and the pieces around it (IoU against the truth, the object under a prompt, the masks' zip)."""

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from cvlab.data.shapes_clip import shapes_clip
from cvlab.data.video import Clip
from cvlab.errors import InvalidInput
from cvlab.segmentation import sam_video as sv

MADE = shapes_clip(seed=1, frames=8, size=128, objects=2)
CLIP = MADE.clip
MIDDLE = 4


def centre_of(track: int, t: int) -> tuple[float, float, bool]:
    rows, cols = np.nonzero(MADE.mask(t, track))
    return float(cols.mean()), float(rows.mean()), True


@pytest.fixture(scope="module")
def first_track() -> int:
    return MADE.present(MIDDLE)[0]


@pytest.fixture(scope="module")
def propagated(first_track):
    seen = []
    result = sv.propagate(CLIP, sv.FramePrompt(MIDDLE, points=(centre_of(first_track, MIDDLE),)), device="cpu",
                          progress=lambda done, total: seen.append((done, total)))
    return result, seen


def test_a_prompt_on_a_middle_frame_reaches_every_frame_with_masks_at_the_clip_size(propagated):
    result, seen = propagated
    assert result.masks.shape == (8, 128, 128) and result.masks.dtype == bool and result.n_frames == 8
    assert len(result.frame_ms) == 8 and all(ms > 0 for ms in result.frame_ms)  # each frame tracked, both ways
    assert seen == [(i, 8) for i in range(1, 9)]  # one pass, one step per frame
    assert result.prompted_frames == (MIDDLE,) and result.passes == 1
    assert result.input_side == 256 and result.device == "cpu"  # a CPU runs SAM 2 at 256 px
    assert result.random_weights and result.weights_label == "random weights: masks are meaningless"


def test_the_state_memory_is_measured_from_its_tensors_and_stays_bounded(propagated):
    result, _ = propagated
    assert len(result.state_bytes) == 8 and all(b > 0 for b in result.state_bytes)
    # the prompt frame, tracked first, holds less than frame 0, tracked last (going backward)
    assert result.state_bytes[MIDDLE] < result.state_bytes[0] == result.peak_state_bytes < 64 * 2**20
    assert result.peak_rss_bytes > 100 * 2**20 and result.peak_cuda_bytes is None


def test_tracking_runs_forward_to_the_end_then_backward_to_the_start():
    assert sv._order(3, 6) == [(3, False), (4, False), (5, False), (2, True), (1, True), (0, True)]
    assert sv._order(0, 3) == [(0, False), (1, False), (2, False)]  # a prompt on the first frame: forward only


def test_a_correction_on_a_later_frame_is_decoded_with_its_tracked_mask_and_the_clip_goes_through_again(
        first_track, monkeypatch):
    from cvlab.settings import get_settings

    torch.manual_seed(0)  # the random model this test builds, the same on every run
    tracker = sv.video_tracker(get_settings(), "cpu")
    calls = []
    real_add = tracker.predictor.add_new_prompts

    def spying(*args, **kwargs):  # (frame, had it been tracked already?) per prompt SAM 2 is given
        state = tracker.predictor.inference_state
        calls.append((kwargs["frame_idx"], kwargs["frame_idx"] in state["frames_already_tracked"]))
        return real_add(*args, **kwargs)

    monkeypatch.setattr(tracker.predictor, "add_new_prompts", spying)
    decoded = []  # per prompted decode: (frame, the points given, was a tracked mask given with them?)
    real_single = tracker.predictor._run_single_frame_inference

    def spying_single(*args, **kwargs):
        if kwargs.get("point_inputs") is not None:
            decoded.append((kwargs["frame_idx"], kwargs["point_inputs"]["point_coords"].shape[1],
                            kwargs.get("prev_sam_mask_logits") is not None))
        return real_single(*args, **kwargs)

    monkeypatch.setattr(tracker.predictor, "_run_single_frame_inference", spying_single)
    prompt = sv.FramePrompt(MIDDLE, points=(centre_of(first_track, MIDDLE),))
    plain = sv.propagate(CLIP, prompt, device="cpu")
    corrected = sv.propagate(CLIP, prompt, (sv.FramePrompt(6, points=((5.0, 5.0, True), (120.0, 120.0, False))),),
                             device="cpu")
    # the first prompt starts tracking; the correction comes after frame 6 was tracked, so SAM 2's decoder takes
    # the mask tracked there with the new clicks, and frame 6 becomes a conditioning frame
    assert calls == [(MIDDLE, False), (MIDDLE, False), (6, True)]
    assert corrected.prompted_frames == (MIDDLE, 6) and corrected.passes == 2 and plain.passes == 1
    assert corrected.masks.shape == (8, 128, 128) and all(ms > 0 for ms in corrected.frame_ms)
    assert decoded == [(MIDDLE, 1, False), (MIDDLE, 1, False), (6, 2, True)]  # frame 6: its mask and two clicks


def test_corrections_on_one_frame_reach_sam_2_together():
    merged = sv.merged_by_frame((sv.FramePrompt(6, ((1, 1, True),)), sv.FramePrompt(2, box=(0, 0, 5, 5)),
                                 sv.FramePrompt(6, ((3, 4, False),))))
    assert merged == (sv.FramePrompt(2, box=(0, 0, 5, 5)), sv.FramePrompt(6, ((1, 1, True), (3, 4, False))))


def test_a_box_alone_is_a_prompt():
    result = sv.propagate(CLIP, sv.FramePrompt(0, box=(20, 20, 90, 100)), device="cpu")
    assert result.masks.shape == (8, 128, 128) and result.prompted_frames == (0,)


@pytest.mark.parametrize("prompt, corrections, words", [
    (sv.FramePrompt(2), (), "Give SAM a prompt"),
    (sv.FramePrompt(2, points=((130, 10, True),)), (), "outside the 128x128"),
    (sv.FramePrompt(8, points=((10, 10, True),)), (), "frames are 0 to 7"),
    (sv.FramePrompt(-1, points=((10, 10, True),)), (), "frames are 0 to 7"),
    (sv.FramePrompt(2, box=(50, 50, 20, 90)), (), "x0 < x1"),
    (sv.FramePrompt(2, points=((10, 10, True),)), (sv.FramePrompt(9, points=((1, 1, True),)),), "frames are 0 to 7"),
    (sv.FramePrompt(2, points=((10, 10, True),)), (sv.FramePrompt(2, points=((1, 1, True),)),), "holds the first"),
    (sv.FramePrompt(2, points=((10, 10, True),)), tuple(sv.FramePrompt(3, ((1, 1, True),)) for _ in range(9)),
     "more than 8"),
])
def test_bad_prompts_are_refused_before_any_frame_is_encoded(prompt, corrections, words, monkeypatch):
    monkeypatch.setattr(sv, "video_tracker", lambda *a, **k: pytest.fail("the model was reached"))
    with pytest.raises(InvalidInput, match=words):
        sv.propagate(CLIP, prompt, corrections)


def test_a_clip_too_long_for_the_cpu_is_refused_with_what_fits():
    long_clip = Clip(np.zeros((24, 64, 64, 3), np.uint8), 10.0, "long", "file")
    with pytest.raises(InvalidInput, match=r"too long for SAM 2 on this CPU: 24 frames at 1024 px.*264 s.*"
                                           r"Trim it to 16 frames, or run SAM 2 at 256 px"):
        sv.check_work(long_clip, 1024, "cpu")
    with pytest.raises(InvalidInput, match="2 passes with the corrections"):
        sv.check_work(long_clip, 256, "cpu", passes=2, max_cpu_seconds=10)
    sv.check_work(long_clip, 1024, "cuda")  # a GPU is not held to the CPU's clock
    with pytest.raises(InvalidInput, match="256, 512, 1024 px"):
        sv.check_work(long_clip, 300, "cpu")
    assert sv.estimated_cpu_seconds(24, 256) == pytest.approx(7.2)


def test_mask_iou_per_frame_counts_overlap_and_empty_frames():
    truth = np.zeros((3, 4, 4), bool)
    truth[0, :2] = True  # 8 px
    truth[1, 0, 0] = True
    masks = np.zeros_like(truth)
    masks[0, :1] = True  # 4 of the 8
    masks[2, 3, 3] = True  # something where there is nothing
    np.testing.assert_allclose(sv.mask_iou_per_frame(masks, truth), [0.5, 0.0, 0.0])
    assert sv.mask_iou_per_frame(np.zeros((1, 2, 2), bool), np.zeros((1, 2, 2), bool))[0] == 1.0
    with pytest.raises(InvalidInput, match="differ in shape"):
        sv.mask_iou_per_frame(masks, truth[:2])


def test_the_object_under_a_prompt_is_read_from_the_instance_map(first_track):
    x, y, _ = centre_of(first_track, MIDDLE)
    assert sv.track_under_prompt(MADE.instances, sv.FramePrompt(MIDDLE, points=((x, y, True),))) == first_track
    background = np.argwhere(MADE.instances[MIDDLE] == 0)[0]
    assert sv.track_under_prompt(MADE.instances, sv.FramePrompt(MIDDLE, points=(
        (float(background[1]), float(background[0]), True),))) is None
    x0, y0, x1, y1 = MADE.box(MIDDLE, first_track)
    assert sv.track_under_prompt(MADE.instances, sv.FramePrompt(MIDDLE, box=(x0, y0, x1, y1))) == first_track


def test_masks_zip_holds_one_png_per_frame():
    masks = np.zeros((3, 5, 6), bool)
    masks[1, 2, 3] = True
    with zipfile.ZipFile(io.BytesIO(sv.masks_zip(masks))) as archive:
        assert archive.namelist() == ["mask_0000.png", "mask_0001.png", "mask_0002.png"]
        second = np.array(Image.open(io.BytesIO(archive.read("mask_0001.png"))))
    assert second.shape == (5, 6) and second[2, 3] == 255 and second.sum() == 255


def test_tensor_bytes_counts_each_storage_once():
    joint = torch.zeros(4, 10)  # 160 bytes
    tree = {"a": joint, "views": [joint[:1], (joint[2:],)], "other": {"b": torch.zeros(3, dtype=torch.float16)}}
    assert sv.tensor_bytes(tree) == 160 + 6


def test_a_checkpoint_in_the_weights_folder_is_named_instead_of_random(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path))
    from ultralytics.models.sam.build import build_sam2_t

    torch.save(build_sam2_t().state_dict(), tmp_path / "sam2_t.pt")
    result = sv.propagate(CLIP, sv.FramePrompt(7, points=((60, 60, True),)), device="cpu")
    assert not result.random_weights and result.weights_label == "sam2_t.pt"
    assert result.masks.shape == (8, 128, 128)
