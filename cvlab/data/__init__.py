"""Data for the lab: sample photos, uploaded images and datasets, all loadable offline.

Modules, one job each:
- ``image_decoding``: untrusted image bytes to 8-bit RGB, limits checked from the header first.
- ``images``: the sample photos shipped inside installed packages, and conversions.
- ``archives``: zips and folder uploads unpacked without escaping their folder or filling the disk.
- ``in_place``: shared folders built by one thread or process at a time and renamed into place whole.
- ``uploads``: the upload store: what uploads keep on disk, per-user and server quotas, names for messages.
- ``datasets``: classification datasets as uint8 tensors (built-ins, folders, zips), and the pages' preview.
- ``arrays``: the in-memory dataset (``LabelledImages``) and the memory check and tensor helpers loaders share.
- ``image_folder``: an ImageFolder-layout folder checked and loaded.
- ``shapes``, ``digits``, ``cifar``: the built-in datasets; ``writers``: datasets written to disk.
- ``augment``, ``splits``: augmentations on the GPU, seeded stratified splits.
"""
