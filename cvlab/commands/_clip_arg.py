"""The VIDEO argument every clip command shares: a video file, or ``shapes:SEED[:FRAMES[:OBJECTS]]``."""

from __future__ import annotations

from cvlab.errors import InvalidInput

CLIP_HELP = "a video file, or shapes:SEED[:FRAMES[:OBJECTS]] for the generated clip of moving shapes"


def load_clip_argument(spec: str, frames: int, objects: int):
    """(Clip, ShapesClip or None): the generated clip (``frames`` and ``objects`` unless the spec gives them),
    or a video file under the pages' limits."""
    from cvlab.data.shapes_clip import shapes_clip
    from cvlab.data.video import read_video_file

    if spec.startswith("shapes:"):
        parts = spec.split(":")[1:]
        if not 1 <= len(parts) <= 3 or not all(p.isascii() and p.isdigit() for p in parts):
            raise InvalidInput(f"{spec!r}: write the generated clip as shapes:SEED, shapes:SEED:FRAMES or "
                               "shapes:SEED:FRAMES:OBJECTS (whole numbers).")
        numbers = [int(p) for p in parts]
        seed, frames, objects = numbers + [frames, objects][len(numbers) - 1:]
        made = shapes_clip(seed, frames, 256, objects)
        return made.clip, made
    return read_video_file(spec), None
