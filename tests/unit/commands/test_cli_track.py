"""``python -m cvlab track``: the generated clip scored, a video file, the annotated clip written, bad input refused."""

import json

from cvlab.__main__ import main
from cvlab.data.shapes_clip import shapes_clip
from cvlab.data.video import decode_video, encode_webm


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_the_generated_clip_gives_an_object_per_frame_and_per_track_and_a_score(capsys, tmp_path):
    out = tmp_path / "tracked.webm"
    status, printed = run_cli(capsys, "track", "shapes:0:24:3", "--json", "--out", str(out))
    assert status == 0
    data = json.loads(printed.strip().splitlines()[-1])
    assert len(data["frames"]) == 24 and data["imgsz"] == 192 and data["tracker"] == "bytetrack"
    assert [f["index"] for f in data["frames"]] == list(range(24))
    boxes = [b for f in data["frames"] for b in f["boxes"]]
    assert boxes and {b["track_id"] for b in boxes} == {t["track_id"] for t in data["tracks"]}
    for track in data["tracks"]:
        assert track["frames"] == len(track["path"]) and track["first"] <= track["last"]
    assert 0 < data["score"]["motp"] <= 1 and data["score"]["objects"] > 0
    back = decode_video(out.read_bytes(), out.name)
    assert back.frames.shape == (24, 256, 256, 3)


def test_a_video_file_is_tracked_without_a_score(capsys, tmp_path):
    clip = shapes_clip(seed=2, frames=10, size=128, objects=2).clip
    path = tmp_path / "mine.webm"
    path.write_bytes(encode_webm(clip.frames, clip.fps))
    status, printed = run_cli(capsys, "track", str(path), "--tracker", "botsort", "--json")
    data = json.loads(printed.strip().splitlines()[-1])
    assert status == 0 and data["score"] is None and len(data["frames"]) == 10 and data["tracker"] == "botsort"


def test_a_text_file_named_mp4_and_a_malformed_clip_name_are_errors(capsys, tmp_path):
    fake = tmp_path / "lecture.mp4"
    fake.write_text("this is a text file, not a video\n" * 4)
    status, printed = run_cli(capsys, "track", str(fake), "--json")
    assert status == 2 and "not a video file" in json.loads(printed)["error"]["message"]
    status, printed = run_cli(capsys, "track", "shapes:one", "--json")
    assert status == 2 and "shapes:SEED" in json.loads(printed)["error"]["message"]
    status, printed = run_cli(capsys, "track", "shapes:1:16", "--out", str(tmp_path / "x.mp4"), "--json")
    assert status == 2 and "WebM" in json.loads(printed)["error"]["message"]
