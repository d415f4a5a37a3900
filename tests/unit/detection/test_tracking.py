"""Tracking through a clip: CLEAR MOT on hand-made cases, the shipped shapes model on the generated clip, the job."""

import json

import numpy as np
import pytest

from cvlab.data.shapes_clip import shapes_clip
from cvlab.detection.mot import FrameHypotheses, FrameTruth, clear_mot, score_shapes_clip
from cvlab.detection.tracking import result_from_dict, result_to_dict, track_clip
from cvlab.errors import InvalidInput
from tests.unit.zoo.test_zoo_measure import work_the_queue

A, B = [0, 0, 10, 10], [20, 0, 30, 10]



def test_a_perfect_tracker_scores_mota_one():
    truth = [FrameTruth([1, 2], np.array([A, B], np.float32)) for _ in range(3)]
    hyps = [FrameHypotheses([7, 8], np.array([A, B], np.float32)) for _ in range(3)]
    score = clear_mot(truth, hyps)
    assert (score.mota, score.id_switches, score.misses, score.false_positives, score.motp) == (1.0, 0, 0, 0, 1.0)


def test_an_identity_swap_is_counted_once_per_object_that_changes_id():
    truth = [FrameTruth([1, 2], np.array([A, B], np.float32)) for _ in range(2)]
    hyps = [FrameHypotheses([7, 8], np.array([A, B], np.float32)),
            FrameHypotheses([8, 7], np.array([A, B], np.float32))]  # the ids swapped between the frames
    score = clear_mot(truth, hyps)
    assert score.id_switches == 2 and score.mota == pytest.approx(1 - 2 / 4)


def test_misses_false_positives_and_ignored_objects():
    truth = [FrameTruth([1], np.array([A], np.float32), ignored_boxes=np.array([B], np.float32))]
    hyps = [FrameHypotheses([5, 6, 9], np.array([[40, 40, 50, 50], B, [60, 0, 70, 10]], np.float32))]
    score = clear_mot(truth, hyps)
    # the object is missed; the box on the ignored object counts for nothing; the other two are false positives
    assert (score.misses, score.false_positives, score.matches) == (1, 2, 0)
    assert score.mota == pytest.approx(1 - 3 / 1)


def test_a_match_below_the_iou_threshold_is_a_miss_and_a_false_positive():
    truth = [FrameTruth([1], np.array([A], np.float32))]
    hyps = [FrameHypotheses([1], np.array([[6, 0, 16, 10]], np.float32))]  # IoU 4/16 = 0.25
    score = clear_mot(truth, hyps)
    assert (score.misses, score.false_positives) == (1, 1)


@pytest.fixture(scope="module")
def clip():
    return shapes_clip(seed=0, frames=60, size=256, objects=5)  # the page's default clip


@pytest.fixture(scope="module")
def tracked(clip):
    return track_clip("shapes-yolo", clip.clip.frames, fps=clip.clip.fps)


def test_the_shapes_model_tracks_the_generated_clip_well(clip, tracked):
    assert len(tracked.frames) == 60 and tracked.imgsz == 192
    score = score_shapes_clip(clip, tracked)
    assert score.mota > 0.8 and score.motp > 0.8  # 0.907 and 0.856 when written
    assert score.tracks <= score.true_tracks + 3
    for frame in tracked.frames:
        assert frame.wall_ms >= frame.timings.inference > 0


def test_botsort_runs_and_ids_stay_whole_numbers(clip):
    result = track_clip("shapes-yolo", clip.clip.frames[:12], tracker="botsort")
    ids = {box.track_id for frame in result.frames for box in frame.boxes}
    assert ids and all(isinstance(i, int) and i >= 1 for i in ids)


def test_settings_are_checked_before_the_clip_runs(clip):
    with pytest.raises(InvalidInput, match="Unknown tracker"):
        track_clip("shapes-yolo", clip.clip.frames[:2], tracker="../../etc/passwd")
    with pytest.raises(InvalidInput, match="thresholds"):
        track_clip("shapes-yolo", clip.clip.frames[:2], conf=2.0)
    with pytest.raises(InvalidInput, match="uint8 RGB frames"):
        track_clip("shapes-yolo", np.zeros((2, 8, 8), np.uint8))


def test_a_result_survives_its_json_file(tracked):
    back = result_from_dict(json.loads(json.dumps(result_to_dict(tracked))))
    assert back == tracked


def test_a_long_clip_goes_through_the_job_queue_and_is_shared(monkeypatch, clip):
    from cvlab.detection import tracking_job, tracking_requests

    monkeypatch.setenv("CVLAB_START_WORKER", "never")  # the test plays the worker
    state = tracking_requests.start_tracking_job("shapes-yolo", {"tracker": "bytetrack"}, owner_id="browser:a",
                                            generated=(0, 60, 256, 5), frames=60)
    assert state.state == "queued" and state.total == 60
    again = tracking_requests.start_tracking_job("shapes-yolo", {"tracker": "bytetrack"}, owner_id="browser:b",
                                            generated=(0, 60, 256, 5), frames=60)
    assert again.job_id == state.job_id  # the same request is the same job, whoever asks
    assert work_the_queue() == 1  # one job queued, not two
    done = tracking_job.job_state(state.job_id)
    assert (done.state, done.done, done.total, done.error) == ("finished", 60, 60, None)
    result, webm, score = tracking_job.job_result(state.job_id)
    assert webm[:4] == b"\x1a\x45\xdf\xa3" and len(result.frames) == 60
    assert score.mota == pytest.approx(score_shapes_clip(clip, result).mota)


def test_an_owner_may_have_two_jobs_waiting(monkeypatch):
    from cvlab.detection.tracking_requests import TooManyJobs, start_tracking_job

    monkeypatch.setenv("CVLAB_START_WORKER", "never")
    for seed in (1, 2):
        start_tracking_job("shapes-yolo", {}, owner_id="browser:a", generated=(seed, 16, 96, 2), frames=16)
    with pytest.raises(TooManyJobs, match="limit is 2"):
        start_tracking_job("shapes-yolo", {}, owner_id="browser:a", generated=(3, 16, 96, 2), frames=16)
    other = start_tracking_job("shapes-yolo", {}, owner_id="browser:b", generated=(3, 16, 96, 2), frames=16)
    assert other.state == "queued"  # the limit is per owner


def test_an_upload_job_decodes_the_bytes_again_on_the_worker(monkeypatch):
    from cvlab.data.video import encode_webm
    from cvlab.detection import tracking_job, tracking_requests

    monkeypatch.setenv("CVLAB_START_WORKER", "never")
    small = shapes_clip(seed=5, frames=12, size=128, objects=2)
    data = encode_webm(small.clip.frames, small.clip.fps)
    state = tracking_requests.start_tracking_job("shapes-yolo", {}, owner_id="browser:a", upload=(data, "mine.webm"),
                                            frames=12)
    work_the_queue()
    done = tracking_job.job_state(state.job_id)
    assert done.state == "finished", done.error
    result, _, score = tracking_job.job_result(state.job_id)
    assert len(result.frames) == 12 and score is None


def test_the_assignment_only_pairs_boxes_within_the_threshold(monkeypatch):
    from cvlab.detection import mot

    # IoU of object 1 with boxes 7 and 8 is 0.5 and 0.9; of object 2, 0.45 and 0.5. Raw-IoU assignment takes
    # the 0.9 pair and leaves object 2 on 0.45; the thresholded one matches both.
    monkeypatch.setattr(mot, "box_iou", lambda a, b: np.array([[0.5, 0.9], [0.45, 0.5]]))
    truth = [FrameTruth([1, 2], np.array([A, B], np.float32))]
    hyps = [FrameHypotheses([7, 8], np.array([A, B], np.float32))]
    score = clear_mot(truth, hyps)
    assert (score.matches, score.misses, score.false_positives, score.mota) == (2, 0, 0, 1.0)


def test_an_object_found_again_after_a_gap_switches_only_if_its_id_changed():
    seen = FrameTruth([1], np.array([A], np.float32))
    same, other = (FrameHypotheses([id_], np.array([A], np.float32)) for id_ in (4, 5))
    gap = FrameHypotheses([], np.zeros((0, 4), np.float32))
    assert clear_mot([seen] * 3, [same, gap, same]).id_switches == 0
    score = clear_mot([seen] * 3, [same, gap, other])
    assert (score.id_switches, score.misses) == (1, 1)


def test_a_job_claimed_twice_tracks_once_and_a_restarted_job_ignores_the_old_attempt(monkeypatch):
    from cvlab.detection import tracking_job, tracking_requests

    monkeypatch.setenv("CVLAB_START_WORKER", "never")
    state = tracking_requests.start_tracking_job("shapes-yolo", {}, owner_id="browser:a", generated=(7, 16, 96, 2),
                                            frames=16)
    folder = tracking_job.jobs_root() / state.job_id
    assert tracking_job._claim(folder, 1)  # another worker got this attempt first
    tracking_job.run_tracking_job(state.job_id)
    assert tracking_job.job_state(state.job_id).state == "queued"  # this one left it alone
    record = tracking_job.read_record(folder)
    tracking_job.write_record(folder, {**record, "attempt": 2})
    tracking_job.run_tracking_job(state.job_id)
    done = tracking_job.job_state(state.job_id)
    assert done.state == "finished" and done.done == 16
    assert (folder / "attempt-2.claim").exists()


def test_a_job_no_worker_took_is_failed_after_the_limit_and_can_be_started_again(monkeypatch):
    from cvlab.detection import tracking_job, tracking_requests

    monkeypatch.setenv("CVLAB_START_WORKER", "never")
    state = tracking_requests.start_tracking_job("shapes-yolo", {}, owner_id="browser:a", generated=(8, 16, 96, 2),
                                            frames=16)
    folder = tracking_job.jobs_root() / state.job_id
    record = tracking_job.read_record(folder)
    tracking_job.write_record(folder, {**record, "queued_at": record["queued_at"] - tracking_job.QUEUED_LIMIT_S - 1})
    stale = tracking_job.job_state(state.job_id)
    assert stale.state == "failed" and "no worker took" in stale.error
    again = tracking_requests.start_tracking_job("shapes-yolo", {}, owner_id="browser:a", generated=(8, 16, 96, 2),
                                            frames=16)
    assert again.state == "queued" and tracking_job.read_record(folder)["attempt"] == 2
    work_the_queue()
    assert tracking_job.job_state(state.job_id).state == "finished"


def test_the_page_tracks_small_work_itself_and_queues_the_rest():
    from cvlab.ui.video import in_page

    assert in_page(90, 192, 3_011_823, on_gpu=False)  # the generated clip at its longest, shapes-yolo
    assert not in_page(91, 192, 3_011_823, on_gpu=False)
    assert not in_page(30, 640, 2_624_080, on_gpu=False)  # a COCO model at 640 px: 11 times the work a frame
    assert in_page(30, 640, 2_624_080, on_gpu=True)
