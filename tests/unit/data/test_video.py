"""Video in and out: the checks before decoding, the limits while decoding, and the generated clip's truth."""

import numpy as np
import pytest

from cvlab.data.shapes_clip import PRESENT_FRACTION, shapes_clip
from cvlab.data.video import BadVideo, VideoLimits, decode_video, encode_webm, read_video_file
from cvlab.errors import InvalidInput


@pytest.fixture(scope="module")
def clip():
    return shapes_clip(seed=3, frames=24, size=128, objects=4)


@pytest.fixture(scope="module")
def webm(clip):
    return encode_webm(clip.clip.frames, clip.clip.fps)


def test_a_webm_written_here_reads_back_frame_for_frame(clip, webm):
    back = decode_video(webm, "clip.webm")
    assert back.frames.shape == clip.clip.frames.shape
    assert back.fps == pytest.approx(clip.clip.fps)
    # lossy, but close: the mean error of VP8 at its default quality on these flat colours is a few grey levels
    assert np.abs(back.frames.astype(int) - clip.clip.frames).mean() < 8


def test_a_text_file_named_mp4_is_refused_before_any_decoder_sees_it():
    with pytest.raises(BadVideo, match="not a video file"):
        decode_video(b"print('hello')\n" * 10, "lecture.mp4")


def test_a_webm_named_mp4_is_refused_by_its_signature(webm):
    with pytest.raises(BadVideo, match="holds a WebM/MKV file"):
        decode_video(webm, "clip.mp4")


def test_a_cut_short_video_is_refused_with_a_message(webm):
    with pytest.raises(BadVideo):
        decode_video(webm[:200], "clip.webm")


def test_an_unknown_ending_is_refused():
    with pytest.raises(BadVideo, match="upload an mp4"):
        decode_video(b"\x00" * 64, "clip.exe")


def test_size_frame_and_length_limits_are_enforced(webm):
    with pytest.raises(BadVideo, match="the limit is"):
        decode_video(webm, "clip.webm", limits=VideoLimits(max_bytes=1000))
    with pytest.raises(BadVideo, match="too long"):
        decode_video(webm, "clip.webm", limits=VideoLimits(max_frames=10))
    with pytest.raises(BadVideo, match="too long"):
        decode_video(webm, "clip.webm", limits=VideoLimits(max_seconds=0.5))  # 24 frames at 15 fps is 1.6 s
    with pytest.raises(BadVideo, match="pixels a frame"):
        decode_video(webm, "clip.webm", limits=VideoLimits(max_header_pixels=100 * 100))


def test_large_frames_are_scaled_down_as_they_are_read(webm):
    small = decode_video(webm, "clip.webm", limits=VideoLimits(max_side=64))
    assert small.frames.shape[1:] == (64, 64, 3)
    assert any("scaled from 128x128 to 64x64" in note for note in small.notes)


def test_a_missing_file_on_the_command_line_gets_a_message(tmp_path):
    with pytest.raises(BadVideo, match="No video file"):
        read_video_file(tmp_path / "none.mp4")


def test_the_clip_is_the_same_for_one_seed_and_differs_for_another():
    a, b, c = shapes_clip(1, 10, 96, 3), shapes_clip(1, 10, 96, 3), shapes_clip(2, 10, 96, 3)
    assert np.array_equal(a.clip.frames, b.clip.frames) and np.array_equal(a.instances, b.instances)
    assert not np.array_equal(a.clip.frames, c.clip.frames)


def test_truth_boxes_come_from_the_visible_pixels(clip):
    for t in range(clip.clip.n_frames):
        present, boxes, ignored = clip.truth(t)
        assert not set(present) & set(ignored)
        for track_id, box in zip(present, boxes):
            rows, cols = np.nonzero(clip.instances[t] == track_id)
            assert box.tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
            assert clip.visible[t, track_id - 1] >= PRESENT_FRACTION


def test_the_first_two_shapes_cross_each_other_mid_clip():
    sc = shapes_clip(seed=0, frames=40, size=160, objects=3)
    x = [[clip_box[0] for clip_box in (sc.box(t, 1), sc.box(t, 2))] if sc.box(t, 1) is not None
         and sc.box(t, 2) is not None else None for t in range(40)]
    seen = [pair for pair in x if pair is not None]
    assert seen[0][0] < seen[0][1] and seen[-1][0] > seen[-1][1]  # 1 starts left of 2 and ends right of it


def test_shapes_leave_the_frame_and_impossible_settings_are_refused():
    sc = shapes_clip(seed=0, frames=60, size=128, objects=6)
    assert (sc.visible == 0).any(axis=0).any()  # some shape is out of view for part of the clip
    with pytest.raises(InvalidInput, match="frames must be"):
        shapes_clip(frames=100_000)


def test_huge_frames_and_a_pixel_budget_are_refused_from_the_header(tmp_path):
    import cv2

    path = tmp_path / "big.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (1200, 800))
    for _ in range(6):
        writer.write(np.zeros((800, 1200, 3), np.uint8))
    writer.release()
    data = path.read_bytes()
    with pytest.raises(BadVideo, match="pixels a frame"):
        decode_video(data, "big.avi", limits=VideoLimits(max_header_pixels=1000 * 800))
    with pytest.raises(BadVideo, match="and 4 frames at this frame size"):
        decode_video(data, "big.avi", limits=VideoLimits(max_total_pixels=4 * 1200 * 800))
    clip = decode_video(data, "big.avi")
    assert clip.frames.shape == (6, 320, 480, 3)  # scaled to 480 px wide on reading
