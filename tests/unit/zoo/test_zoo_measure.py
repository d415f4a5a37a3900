import dataclasses
import json
import time
import threading

import pytest
import torch
from torch import nn

from cvlab.zoo import measure_job as zoo_jobs

from cvlab.zoo import measuring

from cvlab.zoo import measure as zoo_measure
from cvlab.zoo.facts import library_versions

CPU = torch.device("cpu")
FAST = {"repeats": 3, "min_repeats": 2, "budget_s": 0.05}  # few passes: tests check sanity, not speed


def tiny_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 10))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLAB_HOME", str(tmp_path))
    monkeypatch.setenv("CVLAB_DEVICE", "cpu")
    return tmp_path


@pytest.fixture
def fake_measure(monkeypatch):
    """Replace the timing of one model by a tiny instant measurement; count the calls."""
    calls = []

    def fake(name, *, device=None, **options):
        calls.append(name)
        from cvlab.zoo.architectures import ARCHITECTURES

        return dataclasses.replace(SAMPLE, name=name, input_size=ARCHITECTURES.get(name).input_size)

    monkeypatch.setattr(zoo_measure, "measure", fake)
    return calls


SAMPLE = zoo_measure.Measurement(
    name="x", input_size=224, device="cpu", device_name="test CPU", dtype="float32", amp=False,
    channels_last=False, threads=1, latency_ms=1.0, latency_repeats=3, throughput=1000.0, throughput_batch=8,
    throughput_repeats=3, memory_mb=1.0, memory_source="test", versions={"torch": "test"})
NAMES = ["resnet18", "mobilenet_v3_small", "vgg16"]


def test_a_tiny_model_gives_sane_numbers_on_cpu():
    m = zoo_measure.measure_model(tiny_net(), 32, name="tiny", device=CPU, batch_sizes=(4, 2, 1), budget_s=1.0,
                                  repeats=5, min_repeats=2)
    assert m.latency_ms > 0 and m.throughput > 0 and m.memory_mb > 0
    assert m.throughput_batch in (4, 2, 1) and 2 <= m.latency_repeats <= 5 and m.throughput_repeats >= 2
    assert (m.dtype, m.amp, m.channels_last, m.device) == ("float32", False, False, "cpu")
    assert m.memory_source.startswith("estimate") and m.versions == library_versions()
    params = sum(p.numel() * 4 for p in tiny_net().parameters())
    assert m.memory_mb * 2**20 >= params + 3 * 32 * 32 * 4  # weights + at least the input image


def test_a_registered_model_is_measured_at_the_size_asked():
    m = zoo_measure.measure("mobilenet_v3_small", device=CPU, input_size=64, batch_sizes=(2, 1), **FAST)
    assert m.name == "mobilenet_v3_small" and m.input_size == 64 and m.latency_ms > 0 and m.throughput > 0
    assert m.memory_mb > 2.5 * 4 / 1.05  # 2.5 M fp32 parameters at least


def test_the_cache_file_is_keyed_by_versions_and_device(home, fake_measure):
    zoo_measure.measure_all(NAMES[:1])
    path = zoo_measure.cache_file(CPU)
    assert path.parent == home / "zoo" and path.exists()
    stored = json.loads(path.read_text())
    assert stored["_key"] == {**library_versions(), "device": zoo_measure.device_name(CPU)}
    assert "x" in stored["_key"]["device"]  # "<CPU model> x<N> cores"
    assert stored["resnet18@224"]["latency_ms"] == 1.0  # "<name>@<pixels>"
    assert path.name.startswith("measured-classification-cpu-")


def test_another_device_version_or_suite_gets_another_file(home, monkeypatch):
    before = zoo_measure.cache_file(CPU)
    assert len({before, zoo_measure.cache_file(CPU, suite="yolo"),
                zoo_measure.cache_file(CPU, suite="segmentation")}) == 3
    monkeypatch.setattr(zoo_measure, "device_name", lambda device: "another CPU x64 cores")
    assert zoo_measure.cache_file(CPU) != before
    monkeypatch.setattr(zoo_measure, "library_versions", lambda: {"torch": "9.9"})
    assert zoo_measure.cache_file(CPU) != before


def test_a_second_call_reads_the_cache_and_measures_nothing(home, fake_measure):
    first = zoo_measure.measure_all(NAMES)
    assert fake_measure == NAMES
    second = zoo_measure.measure_all(NAMES)
    assert fake_measure == NAMES and second == first
    assert zoo_measure.cached_measurements() == first


def test_a_partly_filled_cache_resumes_where_it_stopped(home, fake_measure):
    zoo_measure.measure_all(NAMES[:2])
    fake_measure.clear()
    table = zoo_measure.measure_all(NAMES)
    assert fake_measure == ["vgg16"] and list(table) == NAMES


def test_progress_is_called_before_each_model_and_at_the_end(home, fake_measure):
    zoo_measure.measure_all(NAMES[:1])
    seen = []
    zoo_measure.measure_all(NAMES, progress=lambda done, total, name: seen.append((done, total, name)))
    assert seen == [(1, 3, "mobilenet_v3_small"), (2, 3, "vgg16"), (3, 3, "")]


def test_a_stop_event_ends_the_run_between_models(home, fake_measure):
    stop = threading.Event()

    def progress(done, total, name):
        if done == 1:
            stop.set()

    table = zoo_measure.measure_all(NAMES, progress=progress, stop=stop)
    assert fake_measure == ["resnet18"] and list(table) == ["resnet18"]
    assert list(zoo_measure.cached_measurements()) == ["resnet18"]  # what finished was saved


def work_the_queue() -> int:
    """Take the queued jobs and run them here, as a worker's consumer thread would; returns how many ran."""
    from cvlab.jobs.queue import huey_and_task

    huey, _ = huey_and_task()
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


@pytest.fixture
def no_worker(monkeypatch):
    monkeypatch.setenv("CVLAB_START_WORKER", "never")  # the test plays the worker (work_the_queue)


def test_the_page_job_goes_through_the_queue_once_and_reports_its_progress(home, fake_measure, no_worker):
    job = measuring.start_measuring(NAMES)
    assert job.status().state == "queued" and job.running
    assert measuring.start_measuring(NAMES).job_id == job.job_id  # the same job while it waits
    from cvlab.jobs.queue import pending_count

    assert pending_count() == 1
    assert work_the_queue() == 1
    status = job.status()
    assert (status.done, status.total, status.running, status.error, status.current, status.state) == (
        3, 3, False, None, "", "finished")
    assert status.device  # the worker's device, named
    again = measuring.start_measuring(NAMES)
    assert again.job_id != job.job_id and work_the_queue() == 1  # a finished job is replaced; it reads the cache
    assert fake_measure == NAMES and again.status().state == "finished"


def test_a_worker_on_another_host_hands_the_job_back(home, fake_measure, no_worker, monkeypatch):
    from cvlab.jobs import queue

    job = measuring.start_measuring(["resnet18"])
    huey, _ = queue.huey_and_task()
    task = huey.dequeue()
    assert task.args[4] == __import__("socket").gethostname()  # the job names the host it describes
    monkeypatch.setattr(queue, "BOUNCE_DELAY_S", 0.0)
    with monkeypatch.context() as elsewhere:
        elsewhere.setattr(queue.socket, "gethostname", lambda: "gpu-box-7")  # this worker is on another host
        huey.execute(task)
    assert fake_measure == [] and queue.pending_count() == 1 and job.status().state == "queued"
    assert work_the_queue() == 1 and fake_measure == ["resnet18"]


def test_a_stopped_queued_job_never_measures(home, fake_measure, no_worker):
    job = measuring.start_measuring(["resnet18", "vgg16", "vgg19"])
    job.stop()
    assert job.status().state == "stopped" and not job.running
    work_the_queue()
    assert fake_measure == [] and job.status().done == 0


def test_a_stop_request_ends_a_running_job_between_models(home, monkeypatch, no_worker):
    calls = []

    def slow(name, **options):
        calls.append(name)
        if len(calls) == 1:
            zoo_jobs.current_job().stop()  # asked while the first model is being measured
        return dataclasses.replace(SAMPLE, name=name)

    monkeypatch.setattr(zoo_measure, "measure", slow)
    job = measuring.start_measuring(["resnet18", "vgg16", "vgg19"])
    work_the_queue()
    assert calls == ["resnet18"] and job.status().state == "stopped" and job.status().done == 1


def test_a_failure_is_reported_by_the_job_not_raised_in_the_worker(home, monkeypatch, no_worker):
    def broken(name, **options):
        raise RuntimeError("boom")

    monkeypatch.setattr(zoo_measure, "measure", broken)
    job = measuring.start_measuring(["resnet18"])
    assert work_the_queue() == 1  # the worker's task returned normally
    status = job.status()
    assert status.state == "failed" and "resnet18" in status.error and "boom" in status.error


def test_a_job_whose_worker_died_is_reported_and_can_be_started_again(home, fake_measure, no_worker):
    job = measuring.start_measuring(["resnet18"])
    folder = job.folder
    record = json.loads((folder / zoo_jobs.JOB_FILE).read_text())
    record.update(state="running", current="resnet18", updated=time.time() - zoo_jobs.JOB_STALE_S - 1)
    (folder / zoo_jobs.JOB_FILE).write_text(json.dumps(record))
    status = job.status()
    assert not status.running and "stopped answering" in status.error
    assert measuring.start_measuring(["resnet18"]).job_id != job.job_id


def test_the_zoo_command_measures_the_missing_networks_and_reports_their_latency(capsys):
    import json

    from cvlab.__main__ import main

    assert main(["zoo", "--family", "MobileNet", "--json"]) == 0
    assert all(row["latency_ms"] is None for row in json.loads(capsys.readouterr().out))
    assert main(["zoo", "--family", "MobileNet", "--measure", "--json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [row["name"] for row in rows] == ["mobilenet_v3_small", "mobilenet_v3_large"]
    assert all(row["latency_ms"] > 0 for row in rows)
    assert "measuring mobilenet_v3_small (1/2)" in captured.err


# ---- the YOLO and segmentation suites -----------------------------------------------------------------------


def test_every_suite_names_its_models_and_their_default_size():
    suites = zoo_measure.SUITES
    assert suites.names() == ["classification", "yolo", "segmentation"]
    yolo, seg = suites.get("yolo"), suites.get("segmentation")
    assert "yolov3u" in yolo.names() and "yolo26x" in yolo.names() and len(yolo.names()) == 44
    assert yolo.default_size("yolov8n") == 640 and seg.default_size("unet-resnet34") == 256
    assert "unet-resnet34" in seg.names() and "fuse" in yolo.note


def test_yolo_is_measured_fused_from_its_config_at_the_size_asked(home):
    m = zoo_measure.measure("yolov8n", suite="yolo", device=CPU, input_size=160, batch_sizes=(2, 1), **FAST)
    assert (m.name, m.input_size, m.device, m.dtype) == ("yolov8n", 160, "cpu", "float32")
    assert m.latency_ms > 0 and m.latency_repeats >= 2 and m.throughput > 0
    assert "ultralytics" in m.versions and m.memory_mb > 3.1 * 4  # 3.15 M fp32 parameters at least
    model = zoo_measure.SUITES.get("yolo").build("yolov8n")
    assert model.is_fused()  # what ultralytics' predictor runs


def test_a_unet_is_measured(home):
    m = zoo_measure.measure("unet-resnet34", suite="segmentation", device=CPU, input_size=64, batch_sizes=(1,),
                            **FAST)
    assert (m.input_size, m.throughput_batch) == (64, 1) and m.latency_ms > 0 and "smp" in m.versions


def test_measure_all_keeps_each_suite_and_size_apart(home, monkeypatch):
    calls = []

    def fake(name, *, device=None, input_size=None, suite="classification", **options):
        calls.append((suite, name, input_size))
        size = input_size or zoo_measure.SUITES.get(suite).default_size(name)
        return dataclasses.replace(SAMPLE, name=name, input_size=size, latency_ms=size / 10)

    monkeypatch.setattr(zoo_measure, "measure", fake)
    at_640 = zoo_measure.measure_all(["yolov8n", "yolo11n"], suite="yolo")
    at_320 = zoo_measure.measure_all(["yolov8n"], suite="yolo", input_size=320)
    seg = zoo_measure.measure_all(["unet-resnet34"], suite="segmentation")
    assert calls == [("yolo", "yolov8n", None), ("yolo", "yolo11n", None), ("yolo", "yolov8n", 320),
                     ("segmentation", "unet-resnet34", None)]
    assert at_640["yolov8n"].latency_ms == 64.0 and at_320["yolov8n"].latency_ms == 32.0
    assert seg["unet-resnet34"].input_size == 256
    assert set(zoo_measure.cached_measurements(suite="yolo")) == {"yolov8n", "yolo11n"}  # 640 by default
    assert set(zoo_measure.cached_measurements(suite="yolo", input_size=320)) == {"yolov8n"}
    assert zoo_measure.cached_measurements() == {}  # the classification table is another file
    zoo_measure.measure_all(["yolov8n", "yolo11n"], suite="yolo")
    assert len(calls) == 4  # all cached: nothing measured again


def test_the_background_job_runs_a_suite_and_says_which(home, monkeypatch, no_worker):
    seen = []
    monkeypatch.setattr(zoo_measure, "measure", lambda name, **options: seen.append(options) or dataclasses.replace(
        SAMPLE, name=name, input_size=options["input_size"]))
    job = measuring.start_measuring(["yolov8n"], suite="yolo", input_size=320)
    work_the_queue()
    status = job.status()
    assert (status.suite, status.input_size, status.done, status.total, status.error) == ("yolo", 320, 1, 1, None)
    assert seen[0]["suite"] == "yolo" and list(zoo_measure.cached_measurements(suite="yolo", input_size=320)) == [
        "yolov8n"]


def test_an_unknown_suite_lists_the_choices():
    from cvlab.errors import UnknownName

    with pytest.raises(UnknownName, match="classification, yolo, segmentation"):
        zoo_measure.measure_all(suite="detection")


def test_the_load_of_the_machine_is_recorded_and_a_busy_one_is_said():
    m = zoo_measure.measure_model(tiny_net(), 16, device=CPU, batch_sizes=(1,), **FAST)
    assert m.load_average is None or m.load_average >= 0
    quiet = dataclasses.replace(SAMPLE, threads=2, load_average=2.5)  # its own two threads and a little more
    busy = dataclasses.replace(SAMPLE, threads=2, load_average=10.4)
    gpu = dataclasses.replace(SAMPLE, device="cuda:0", load_average=10.4)  # a GPU timing does not mind
    old = dataclasses.replace(SAMPLE, load_average=None)  # measured before the load was recorded
    assert zoo_measure.busy_note([quiet, gpu, old], cores=2) is None
    note = zoo_measure.busy_note([quiet, busy, busy], cores=2)
    assert note.startswith("2 of these") and "up to 10.4 on 2 cores" in note and "again" in note


def test_forgetting_drops_only_the_models_and_size_asked(home, fake_measure):
    zoo_measure.measure_all(NAMES)
    zoo_measure.forget_measurements(["vgg16"])
    assert set(zoo_measure.cached_measurements()) == set(NAMES[:2])
    fake_measure.clear()
    zoo_measure.measure_all(NAMES)
    assert fake_measure == ["vgg16"]
    zoo_measure.forget_measurements()
    assert zoo_measure.cached_measurements() == {}
    assert "_key" in json.loads(zoo_measure.cache_file(CPU).read_text())  # the key stays with the file


def test_a_measuring_plan_guesses_first_then_goes_by_the_times_measured_here(home, monkeypatch):
    from cvlab.training import runs
    from cvlab.training.config import TrainConfig

    plan = zoo_jobs.plan_measuring(NAMES, device=CPU)
    assert (plan.models, plan.seconds, plan.device, plan.slots) == (3, 3 * zoo_jobs.FIRST_GUESS_S["cpu"], "cpu", 1)
    assert "first guess" in plan.basis and plan.duration == "36 s"
    text = plan.summary("classification networks")
    assert "about **36 s**" in text and "holds the only device slot" in text and "waits until it ends" in text

    took = {"resnet18": 8.0, "mobilenet_v3_small": 4.0}
    monkeypatch.setattr(zoo_measure, "measure", lambda name, **options: dataclasses.replace(
        SAMPLE, name=name, input_size=224, seconds=took[name]))
    zoo_measure.measure_all(list(took), device=CPU)
    plan = zoo_jobs.plan_measuring(NAMES, device=CPU)  # vgg16 not measured yet: the median of the others
    assert plan.seconds == 8.0 + 4.0 + 6.0 and "2 models of this suite measured here" in plan.basis
    assert zoo_jobs.plan_measuring(list(took), device=CPU).basis == "from the time each of them took here before"

    store = runs.RunStore()
    store.create(TrainConfig(data="shapes"), "ada")  # queued
    assert zoo_jobs.plan_measuring(["vgg16"], device=CPU).waiting_runs == 1
    monkeypatch.setenv("CVLAB_JOBS_PER_DEVICE", "2")
    two = zoo_jobs.plan_measuring(["vgg16"], device=CPU)
    assert two.slots == 2 and "one of the 2 device slots" in two.summary("x")
    assert "Now 0 training runs hold a slot and 1 wait; the measurement queues behind them" in two.summary("x")


def test_a_long_plan_reads_in_minutes():
    plan = zoo_jobs.MeasuringPlan(34, 7 * 60 + 5, "b", "cpu", "test CPU", 1, 1, 0)
    assert plan.duration == "8 min"
    assert "Now 1 training run holds a slot and 0 wait" in plan.summary("networks")
