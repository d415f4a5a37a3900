"""The ``--image`` argument every image command shares: a sample name or a file path."""

from __future__ import annotations

import argparse
from pathlib import Path

from cvlab.errors import InvalidInput


def add_image_argument(parser: argparse.ArgumentParser, default: str = "chelsea") -> None:
    parser.add_argument("--image", default=default, help="a sample photo name (see the page) or an image file")
    parser.add_argument("--max-side", type=int, default=512, help="shrink the image to at most this many pixels")


def load_image_argument(args: argparse.Namespace):
    """The LoadedImage for ``--image``: a file when the path exists, else a sample by name."""
    from cvlab.data.images import SAMPLE_IMAGES, decode_image, load_sample

    path = Path(args.image)
    if path.is_file():
        return decode_image(path.read_bytes(), path.name, max_side=args.max_side)
    if args.image in SAMPLE_IMAGES:
        return load_sample(args.image, args.max_side)
    raise InvalidInput(f"--image {args.image!r} is neither a file nor a sample. Samples: "
                       f"{', '.join(SAMPLE_IMAGES.names())}.")
