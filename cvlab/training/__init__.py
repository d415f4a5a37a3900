"""Training: one engine, optimizer and scheduler registries, and the run store (the queue is ``cvlab.jobs``).

- ``config``: ``TrainConfig``, a run's settings with their limits (epochs, batch) named in the messages
- ``tasks``: classify, segment and detect: each task's recipe, settings, figures and trainer
- ``engine``: the lecture's loop for classification and segmentation; ``preparation``: what a run needs on its device
- ``validation``: a prepared run's input path (normalising, autocast) and the validation pass both the loop and the
  end use
- ``model_builder``: the network of a run, with a new head; ``optimizers``, ``schedulers``: the two registries
- ``checkpoints``: safetensors checkpoints (the newest and the best epoch); ``run_state``: where a run goes on from
- ``runs``: the run store (run.json, its lock, owners); ``metrics_log``: metrics.jsonl
- ``control``: the worker's side of pause, stop and a new rate, the release of a paused device, the time budget
- ``memory``: what a run will need, estimated on the meta device, refused before it is queued when it will not fit
- ``run_disk``: run folders on disk: a user's cap, ended runs removed after CVLAB_RUN_KEEP_DAYS, data linked
- ``lifecycle``: start and resume, for the page and the command line (jobs on ``cvlab.jobs``' queue)
- ``evaluation``: the final evaluation, previews, trained models and ONNX export; ``bench``: the loop's benchmark
"""
