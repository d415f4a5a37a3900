"""Untrusted video bytes in, a bounded clip of RGB frames out; frames in, a clip a browser plays out.

Every clip in the lab, upload or generated, becomes a ``Clip``. The checks run in the
order that bounds the work before it starts: the byte size, then the container's
signature (the first bytes must be what the file name's ending promises, so a text file
named ``.mp4`` never reaches FFmpeg), then the stream's own header (frame size, rate
and length, as FFmpeg's probe of the first packets reports them), then the decode, which
stops one frame past the limit whatever the header claimed. Frame size times length is
bounded too (``max_total_pixels``): decoding time follows pixels, not bytes. Frames larger than
``max_side`` are scaled down as they are read, so memory is bounded by
``max_frames * max_side**2 * 3`` bytes, never by what the file holds.

Annotated clips go back to the browser as WebM (VP8), which every current browser plays
and which OpenCV's own FFmpeg writes without extra packages.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from cvlab.errors import InvalidInput

VIDEO_TYPES = ("mp4", "webm", "avi", "mov", "mkv")  # file name endings the uploader takes


@dataclass(frozen=True)
class VideoLimits:
    # Decoded, a clip is at most max_frames * max_side**2 * 3 bytes (166 MB; 124 MB for 16:9), held while it is
    # tracked: on a shared server several students can do that at once.
    max_bytes: int = 50 * 2**20  # a 20 s phone clip at 1080p is about 40 MB
    max_seconds: float = 20.0
    max_frames: int = 240
    max_side: int = 480  # px: larger frames are scaled down on reading; the lab's detectors work at 192-640 px
    max_header_pixels: int = 3840 * 2160  # a stream claiming larger frames (4K UHD) is refused before decoding
    # Decoding costs about its pixels: 8 s of 1080p at 30 fps is 500 megapixels, a few seconds of CPU. A small
    # file of a few huge frames compresses well and decodes slowly; both are refused from the header.
    max_total_pixels: int = 500_000_000


DEFAULT_LIMITS = VideoLimits()
# Decodes at once in this process: each holds up to a clip's frames and keeps a core busy, so a class uploading
# together waits its turn instead of sharing the server's memory and cores among thirty decodes.
_DECODING = threading.BoundedSemaphore(2)


class BadVideo(InvalidInput):
    """A clip that cannot be used; the message names the file, the problem and the fix."""


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class Clip:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB, read-only
    fps: float
    name: str
    source: str  # "upload", "shapes", "file"
    notes: tuple[str, ...] = ()  # every change made on the way (scaled down, frame rate assumed ...)
    content_hash: str = field(init=False)  # caches key on it, computed once

    def __post_init__(self) -> None:
        frames = np.ascontiguousarray(self.frames)
        frames.setflags(write=False)
        object.__setattr__(self, "frames", frames)
        digest = hashlib.sha256(f"{frames.shape}{self.fps}".encode())
        digest.update(memoryview(frames).cast("B"))
        object.__setattr__(self, "content_hash", digest.hexdigest()[:24])

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in px."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    @property
    def seconds(self) -> float:
        return self.n_frames / self.fps


# The container each ending promises, and how its first bytes say so.
_FAMILIES = {"mp4": "iso", "mov": "iso", "webm": "matroska", "mkv": "matroska", "avi": "riff"}
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")  # a QuickTime/MP4 file opens with one


def container_of(head: bytes) -> str | None:
    """'iso' (MP4/MOV), 'matroska' (WebM/MKV), 'riff' (AVI) from a file's first 12 bytes, or None."""
    if len(head) >= 8 and head[4:8] in _ISO_BOXES:
        return "iso"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "riff"
    return None


def _suffix(name: str) -> str:
    return Path(name).suffix.lower().lstrip(".")


def check_video_bytes(data: bytes, name: str, limits: VideoLimits = DEFAULT_LIMITS) -> None:
    """Refuse by size, ending and signature, before any decoder sees the bytes."""
    suffix = _suffix(name)
    if suffix not in _FAMILIES:
        raise BadVideo(f"{name!r} is not a video this lab reads: upload an {', '.join(VIDEO_TYPES[:-1])} or "
                       f"{VIDEO_TYPES[-1]} file.")
    if len(data) > limits.max_bytes:
        raise BadVideo(f"{name!r} is {len(data) / 2**20:.0f} MB; the limit is {limits.max_bytes / 2**20:.0f} MB. "
                       f"Trim it to a few seconds or lower its resolution.")
    if len(data) < 32:
        raise BadVideo(f"{name!r} is empty or cut short ({len(data)} bytes): upload the whole file.")
    found = container_of(data[:12])
    if found is None:
        raise BadVideo(f"{name!r} is not a video file: its first bytes are not an MP4, MOV, WebM, MKV or AVI "
                       f"header (is it another kind of file renamed to .{suffix}?).")
    if found != _FAMILIES[suffix]:
        raise BadVideo(f"{name!r} is named .{suffix} but holds a {_CONTAINER_WORDS[found]} file: give it its "
                       f"real ending.")


_CONTAINER_WORDS = {"iso": "MP4/MOV", "matroska": "WebM/MKV", "riff": "AVI"}


def _scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = max_side / max(width, height)
    if scale >= 1.0:
        return width, height
    return max(2, round(width * scale)) // 2 * 2, max(2, round(height * scale)) // 2 * 2  # even: codecs want it


def decode_video(data: bytes, name: str, *, limits: VideoLimits = DEFAULT_LIMITS, source: str = "upload") -> Clip:
    """The frames of an untrusted video file, within ``limits``, or a BadVideo that says what to do."""
    import cv2  # OpenCV ships with ultralytics; imported here so cvlab.data stays light

    check_video_bytes(data, name, limits)
    with _DECODING, tempfile.TemporaryDirectory(prefix="cvlab-video-") as folder:
        path = Path(folder) / f"clip.{_suffix(name)}"  # our name, never the uploader's
        path.write_bytes(data)
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        try:
            return _read_frames(capture, name, limits, source)
        finally:
            capture.release()


def _read_frames(capture, name: str, limits: VideoLimits, source: str) -> Clip:
    import cv2

    if not capture.isOpened():
        raise BadVideo(f"{name!r} could not be opened as a video: the file is damaged or its codec is not one "
                       f"FFmpeg reads. Re-export it as H.264 MP4 or VP8/VP9 WebM.")
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if width <= 0 or height <= 0:
        raise BadVideo(f"{name!r} has no readable video stream (frame size {width}x{height}).")
    if width * height > limits.max_header_pixels:
        raise BadVideo(f"{name!r} claims {width}x{height} frames; the most this lab decodes is "
                       f"{limits.max_header_pixels:,} pixels a frame. Export it at a lower resolution.")
    notes = []
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    if not math.isfinite(fps) or not 1.0 <= fps <= 240.0:
        notes.append(f"the file gives no usable frame rate ({fps:g}); 30 fps assumed")
        fps = 30.0
    declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    max_frames = min(limits.max_frames, int(limits.max_seconds * fps),
                     max(1, limits.max_total_pixels // (width * height)))
    if declared > max_frames:
        raise BadVideo(_too_long(name, declared, fps, limits, width * height))
    target = _scaled_size(width, height, limits.max_side)
    if target != (width, height):
        notes.append(f"scaled from {width}x{height} to {target[0]}x{target[1]} px")
    # Allocated once, at the most the limits allow for what the header says: no list of frames and stacked copy.
    frames = np.empty((declared if 0 < declared <= max_frames else max_frames, target[1], target[0], 3), np.uint8)
    count = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if count == max_frames:  # the header understated its length: stop one frame past the limit
            raise BadVideo(_too_long(name, None, fps, limits, width * height))
        if frame is None or frame.ndim != 3 or frame.shape[2] != 3:
            raise BadVideo(f"{name!r}: frame {count} is not a colour picture.")
        if (frame.shape[1], frame.shape[0]) != (width, height):
            raise BadVideo(f"{name!r} changes its frame size mid-stream, which this lab does not follow.")
        if target != (width, height):
            frame = cv2.resize(frame, target, interpolation=cv2.INTER_AREA)
        if count == len(frames):  # more frames than the header said, still within the limits
            frames = np.concatenate([frames, np.empty((min(max_frames, 2 * count) - count, *frames.shape[1:]),
                                                      np.uint8)])
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB, dst=frames[count])
        count += 1
    if count == 0:
        raise BadVideo(f"{name!r} holds no frame that could be decoded: the file is damaged or cut short.")
    return Clip(frames[:count], fps, name, source, tuple(notes))


def _too_long(name: str, declared: int | None, fps: float, limits: VideoLimits, frame_pixels: int) -> str:
    length = f"{declared} frames ({declared / fps:.1f} s at {fps:g} fps)" if declared else "more frames than that"
    by_pixels = limits.max_total_pixels // frame_pixels
    at_size = f", and {by_pixels} frames at this frame size" if by_pixels < limits.max_frames else ""
    return (f"{name!r} is too long: {length}. This lab takes up to {limits.max_frames} frames and "
            f"{limits.max_seconds:g} s{at_size}; trim it or lower its resolution.")


def read_video_file(path: str | Path, *, limits: VideoLimits = DEFAULT_LIMITS) -> Clip:
    """A clip from a file on disk (the command line), under the same checks as an upload."""
    path = Path(path)
    if not path.is_file():
        raise BadVideo(f"No video file at {str(path)!r}.")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise BadVideo(f"{path.name!r} is {size / 2**20:.0f} MB; the limit is {limits.max_bytes / 2**20:.0f} MB.")
    return decode_video(path.read_bytes(), path.name, limits=limits, source="file")


def encode_webm(frames: Sequence[np.ndarray] | np.ndarray, fps: float) -> bytes:
    """RGB frames as a VP8 WebM file's bytes, which a browser's <video> plays."""
    import cv2

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[3] != 3:
        raise InvalidInput(f"encode_webm wants (T, H, W, 3) frames, got shape {frames.shape}.")
    height, width = frames.shape[1:3]
    with tempfile.TemporaryDirectory(prefix="cvlab-video-") as folder:
        path = Path(folder) / "clip.webm"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), float(fps), (int(width), int(height)))
        if not writer.isOpened():
            raise InvalidInput("This OpenCV build cannot write WebM video (no VP8 encoder in its FFmpeg).")
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
        return path.read_bytes()
