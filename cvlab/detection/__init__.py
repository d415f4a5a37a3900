"""Object detection for the lab: YOLO through ultralytics, IoU and NMS worked out, YOLO datasets.

- ``boxes``: IoU, GIoU, the IoU loss and greedy NMS step by step (numpy, matching torchvision.ops)
- ``catalogue``: the detector catalogue (pretrained, random-weights, shipped and trained models) and loading
- ``stored``: the pickle-free model format (safetensors + a known architecture's name + class names)
- ``facade``: inference returning cvlab dataclasses, with a bounded, locked per-process model cache; without
  an input size, each model sees the size it was trained at
- ``mean_ap``: mAP at one IoU threshold in numpy (VOC matching), independent of ultralytics' validator
- ``yolo_data``: validation of YOLO-format datasets (folders or zip archives)
- ``train``: ``train_yolo``, ultralytics training with per-epoch reports, exported as safetensors
- ``training_run``: a detection run in a run folder (the queue's and ``cvlab train --task detect``'s), live
- ``resume``: where an interrupted run goes on from (a cut-off ``last.pt`` falls back to ``best.pt``)
- ``train_shapes_model``: the recipe of the shipped ``shapes-yolo``
- ``ultralytics_env``: ultralytics kept offline-safe (no pip installs, no analytics, logs on stderr)

Importing this package is cheap: torch and ultralytics load only when a model does.
"""
