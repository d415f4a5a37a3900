"""Training: one engine, optimizer and scheduler registries, the run store, the job queue and its worker.

- ``config``: ``TrainConfig``, a run's settings with their limits (epochs, batch) named in the messages
- ``tasks``: classify, segment and detect: each task's recipe, settings, figures and trainer
- ``engine``: the lecture's loop for classification and segmentation; ``preparation``: what a run needs on its device
- ``models``, ``optimizers``, ``schedulers``: networks with a new head, and the two registries
- ``checkpoints``: safetensors checkpoints (the newest and the best epoch); ``run_state``: where a run goes on from
- ``runs``: the run store (run.json, its lock, owners); ``metrics_log``: metrics.jsonl
- ``control``: the worker's side of pause, stop and a new rate, the release of a paused device, the time budget
- ``memory``: what a run will need, estimated on the meta device, refused before it is queued when it will not fit
- ``lifecycle``: start and resume, for the page and the command line; ``queue``, ``worker``, ``device_slots``:
  the Huey queue, its worker process and the device slots the worker's threads share
- ``evaluation``: the final evaluation, previews, trained models and ONNX export; ``bench``: the loop's benchmark
"""
