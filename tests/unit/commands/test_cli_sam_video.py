"""``python -m cvlab sam-video``: masks written per frame, IoU only with real weights, bad input refused."""

import json

import numpy as np
import torch
from PIL import Image

from cvlab.__main__ import main
from cvlab.data.shapes_clip import shapes_clip
from cvlab.data.video import encode_webm

MADE = shapes_clip(0, 8, 256, 3)  # what shapes:0:8 gives


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def object_point(t: int) -> tuple[int, str]:
    track = MADE.present(t)[0]
    rows, cols = np.nonzero(MADE.mask(t, track))
    middle = len(rows) // 2
    return track, f"{cols[middle]},{rows[middle]}"


def test_the_generated_clip_gives_a_mask_file_per_frame_and_no_iou_with_random_weights(capsys, tmp_path):
    track, point = object_point(4)
    out = tmp_path / "masks"
    status, printed = run_cli(capsys, "sam-video", "shapes:0:8", "--point", point, "--frame", "4", "--correct",
                              "6:10,10,-", "--out", str(out), "--json")
    assert status == 0
    data = json.loads(printed)
    assert data["frames"] == 8 and len(data["frame_ms"]) == 8 and len(data["state_bytes"]) == 8
    assert data["prompted_frames"] == [4, 6] and data["passes"] == 2 and data["input_side"] == 256
    assert data["random_weights"] and data["iou"] is None and data["mean_iou"] is None
    assert data["track_id"] == track and data["peak_state_bytes"] > 0
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"mask_{t:04d}.png" for t in range(8)]
    first = np.array(Image.open(out / "mask_0000.png"))
    assert first.shape == (256, 256) and set(np.unique(first)) <= {0, 255}
    assert int((first == 255).sum()) == data["mask_pixels"][0]


def test_with_a_checkpoint_the_generated_clip_is_scored_per_frame(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_WEIGHTS_DIR", str(tmp_path))
    from ultralytics.models.sam.build import build_sam2_t

    torch.save(build_sam2_t().state_dict(), tmp_path / "sam2_t.pt")
    track, point = object_point(0)
    status, printed = run_cli(capsys, "sam-video", "shapes:0:8", "--point", point, "--json")
    data = json.loads(printed)
    assert status == 0 and not data["random_weights"] and data["weights"] == "sam2_t.pt"
    assert len(data["iou"]) == 8 and all(0.0 <= v <= 1.0 for v in data["iou"])
    assert data["mean_iou"] == sum(data["iou"]) / 8 and data["track_id"] == track


def test_a_video_file_with_a_box_in_text(capsys, tmp_path):
    clip = shapes_clip(seed=2, frames=8, size=128, objects=2).clip
    path = tmp_path / "mine.webm"
    path.write_bytes(encode_webm(clip.frames, clip.fps))
    status, printed = run_cli(capsys, "sam-video", str(path), "--box", "10,10,100,90", "--frame", "7")
    assert status == 0
    assert "8 frames of 128x128 px at 256 px on cpu" in printed and "random weights" in printed
    assert "peak state" in printed and "IoU" not in printed


def test_bad_input_is_refused_and_nothing_is_written_over(capsys, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    status, printed = run_cli(capsys, "sam-video", "shapes:0:8", "--point", "5,5", "--out", str(out), "--json")
    assert status == 2 and "holds other files (notes.txt)" in json.loads(printed)["error"]["message"]
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    fake = tmp_path / "lecture.mp4"
    fake.write_text("this is a text file, not a video\n" * 4)
    status, printed = run_cli(capsys, "sam-video", str(fake), "--point", "5,5", "--json")
    assert status == 2 and "not a video file" in json.loads(printed)["error"]["message"]
    status, printed = run_cli(capsys, "sam-video", "shapes:0:8", "--point", "5,5", "--correct", "x:1,1", "--json")
    assert status == 2 and "FRAME:x,y" in json.loads(printed)["error"]["message"]
    status, printed = run_cli(capsys, "sam-video", "shapes:0:8", "--frame", "3", "--json")
    assert status == 2 and "Give SAM a prompt" in json.loads(printed)["error"]["message"]
    status, printed = run_cli(capsys, "sam-video", "shapes:0:8", "--point", "5,5", "--frame", "8", "--json")
    assert status == 2 and "frames are 0 to 7" in json.loads(printed)["error"]["message"]
