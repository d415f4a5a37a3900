"""The architecture comparison: every network the lecture names, counted, timed and set side by side.

- ``architectures``: the ``ARCHITECTURES`` registry (builders without a download, stages, Grad-CAM layer, weights)
- ``lecture_nets``: the lecture's own CIFAR-10 nets (``VGGBlock``, ``ResidualBlock``)
- ``facts``: parameters and MACs counted here beside what the weights publish
- ``task_families``: the YOLO generations and the smp U-Nets, counted the same way
- ``timing``: how one model is timed here (latency, throughput, peak memory)
- ``measure``: the measured columns of a whole suite, cached; ``measure_job``: that measurement as a queued job
- ``anatomy``: one architecture layer by layer, with the blocks the lecture teaches
- ``scaling``: EfficientNet's compound scaling against the real B0..B7
- ``tokens``: ViT patches against Swin windows, and what attention costs as images grow
- ``claims``: the lecture's numbers as data, each checked against what is counted here
- ``chooser``: an architecture for hard limits (size, latency, accuracy) and the amount of data
"""
