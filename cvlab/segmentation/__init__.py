"""Segmentation: smp architectures, the LOSSES registry, mask datasets, training steps and SAM prompts.

Modules, one job each:
- ``architectures``: the smp architectures and encoders offered, with their teaching facts; the builder.
- ``losses``: the LOSSES registry (BCE, cross-entropy, Dice, IoU, focal) and weighted sums of them.
- ``loss_explorer``: losses as curves over one pixel's probability, a toy mask pair, focal on imbalance.
- ``train``: the model builder, loss, metrics and one training step the training engine runs.
- ``unet_anatomy``: the encoder, bottleneck and decoder shapes of a real smp model at an input size.
- ``mask_data``: the shapes masks, or an uploaded zip of images and masks, validated and split.
- ``mask_files``: a folder of images and masks checked from the files' headers, then decoded pair by pair.
- ``sam``: Segment Anything through ultralytics' SAM family, the image embedding cached per image.
"""
