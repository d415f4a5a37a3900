"""Unpack uploaded zip archives and folders without letting them write outside their folder or fill the disk.

Python 3.11.7's zipfile does not catch the overlapping-entry zip bomb (3.11.8+ does),
and ``extractall`` trusts declared sizes, so every entry is checked here first: its
path (no absolute path, drive letter or ``..``; it must land inside the target),
its type (no symlinks), the number of entries, the sum of declared sizes and each
entry's compression ratio. Then the bytes are streamed with a counter, so an entry
that inflates past what it declared, or past the total limit, stops the extraction.
Whatever the reason for a refusal, the target folder is left as it was found:
removed if we created it, emptied otherwise.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterable

from cvlab.errors import CvlabError, InvalidInput

CHUNK_BYTES = 64 * 1024
RATIO_CHECK_MIN_BYTES = 1 * 2**20  # small files (text, blank masks) compress well and harmlessly


class UnsafeArchive(CvlabError):
    """An archive or upload that breaks a safety rule; the message names the entry and the limit."""


class BadArchive(InvalidInput):
    """A file that is not a readable zip archive."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_files: int = 20_000  # entries, folders included
    max_total_bytes: int = 2 * 2**30  # uncompressed bytes of all files together
    max_ratio: float = 200.0  # uncompressed / compressed per entry; JPEGs ~1, BMPs ~10, zip bombs 1,000+


@dataclass(frozen=True)
class ExtractReport:
    dest: Path
    files: int  # files written
    total_bytes: int  # bytes written
    skipped: tuple[str, ...] = ()  # entries left out on purpose: __MACOSX/, dotfiles, folders


def safe_relative_path(name: str) -> PurePosixPath | None:
    """The entry's path relative to the target, None for entries to skip, or UnsafeArchive."""
    if "\x00" in name:
        raise UnsafeArchive(f"Entry {name!r} has a NUL byte in its name; refused. Re-create the archive.")
    clean = name.replace("\\", "/")  # archives made on Windows may use backslashes
    if clean.startswith("/"):
        raise UnsafeArchive(f"Entry '{name}' has an absolute path; refused, as it would write outside the "
                            "dataset folder. Zip the dataset folder itself so entries start with its name.")
    if re.match(r"^[A-Za-z]:", clean):
        raise UnsafeArchive(f"Entry '{name}' starts with a drive letter; refused. Zip the dataset folder itself "
                            "so entries are relative paths.")
    parts = [part for part in clean.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"Entry '{name}' climbs out of the folder with '..'; refused. Archives must only "
                            "hold paths inside the dataset folder.")
    if not parts or parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts):
        return None  # macOS resource forks, .DS_Store, hidden files: not data
    return PurePosixPath(*parts)


def _target(dest: Path, relative: PurePosixPath) -> Path:
    target = dest / relative
    if not target.resolve().is_relative_to(dest.resolve()):
        raise UnsafeArchive(f"Entry '{relative}' would land outside the dataset folder; refused.")
    return target


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _plan(archive: zipfile.ZipFile, dest: Path, limits: ArchiveLimits):
    """Check every entry before a byte is written: [(info, target path)] and the skipped names."""
    entries = archive.infolist()
    if len(entries) > limits.max_files:
        raise UnsafeArchive(f"The archive has {len(entries):,} entries; the limit is {limits.max_files:,}. "
                            "Upload fewer images (or a smaller sample of each class).")
    declared = sum(info.file_size for info in entries)
    if declared > limits.max_total_bytes:
        raise UnsafeArchive(f"The archive unpacks to {declared / 2**20:,.0f} MiB; the limit is "
                            f"{limits.max_total_bytes / 2**20:,.0f} MiB. Upload fewer or smaller images.")
    plan, skipped, seen = [], [], set()
    for info in entries:
        if _is_symlink(info):
            raise UnsafeArchive(f"Entry '{info.filename}' is a symbolic link; refused, as a link can point "
                                "anywhere on the server. Zip the files themselves.")
        if info.flag_bits & 0x1:
            raise BadArchive(f"Entry '{info.filename}' is encrypted; zip the dataset without a password.")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_MIN_BYTES and ratio > limits.max_ratio:
            raise UnsafeArchive(f"Entry '{info.filename}' expands {ratio:,.0f} times (limit {limits.max_ratio:,.0f}): "
                                "this looks like a zip bomb. Images barely compress; zip the image files only.")
        relative = safe_relative_path(info.filename)
        if relative is None or info.is_dir():
            skipped.append(info.filename)
            continue
        if str(relative) in seen:
            raise UnsafeArchive(f"Entry '{info.filename}' appears twice in the archive; refused. Re-create it.")
        seen.add(str(relative))
        plan.append((info, _target(dest, relative)))
    return plan, skipped


class _Budget:
    """Counts bytes as they are written and stops at the total limit."""

    def __init__(self, limits: ArchiveLimits):
        self.limits, self.total, self.files = limits, 0, 0

    def add(self, count: int, name: str) -> None:
        self.total += count
        if self.total > self.limits.max_total_bytes:
            raise UnsafeArchive(f"Unpacking passed {self.limits.max_total_bytes / 2**20:,.0f} MiB at '{name}'; "
                                "stopped and removed. Upload fewer or smaller images.")

    def count_file(self, name: str) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise UnsafeArchive(f"More than {self.limits.max_files:,} files at '{name}'; stopped and removed. "
                                "Upload fewer images.")


def _copy_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: _Budget) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with archive.open(info) as source, open(target, "xb") as out:  # "x": never overwrite, never follow a link
        while chunk := source.read(CHUNK_BYTES):
            written += len(chunk)
            if written > info.file_size:
                raise UnsafeArchive(f"Entry '{info.filename}' is larger than it declares ({info.file_size:,} "
                                    "bytes); refused as a zip bomb.")
            budget.add(len(chunk), info.filename)
            out.write(chunk)


def _prepare_dest(dest: Path) -> Path | None:
    """Create ``dest`` and return the topmost folder created for it, or None for an existing empty folder."""
    if dest.exists():
        if not dest.is_dir() or any(dest.iterdir()):
            raise InvalidInput(f"{dest} must be a new or empty folder to unpack into.")
        return None
    top = dest
    while not top.parent.exists():
        top = top.parent
    dest.mkdir(parents=True)
    return top


def _undo(dest: Path, created: Path | None) -> None:
    """Leave the disk as it was: remove every folder we created, or empty the one we were given."""
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return
    for child in dest.iterdir():
        shutil.rmtree(child, ignore_errors=True) if child.is_dir() and not child.is_symlink() else child.unlink()


def _open_zip(archive: Path | str | bytes | BinaryIO) -> zipfile.ZipFile:
    source = io.BytesIO(archive) if isinstance(archive, (bytes, bytearray)) else archive
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise BadArchive(f"This is not a readable .zip archive ({err}). Zip the dataset folder and upload the "
                         ".zip file.") from None


def safe_extract(archive: Path | str | bytes | BinaryIO, dest: Path, *,
                 limits: ArchiveLimits = ArchiveLimits()) -> ExtractReport:
    """Unpack a zip into ``dest`` (a new or empty folder) under every check above."""
    dest = Path(dest)
    with _open_zip(archive) as zipped:
        plan, skipped = _plan(zipped, dest, limits)
        created = _prepare_dest(dest)
        budget = _Budget(limits)
        try:
            for info, target in plan:
                budget.count_file(info.filename)
                _copy_entry(zipped, info, target, budget)
        except UnsafeArchive:
            _undo(dest, created)
            raise
        except Exception as err:  # BadZipFile (bad CRC), zlib.error, EOFError, NotImplementedError...
            _undo(dest, created)
            raise BadArchive(f"The archive is damaged ({type(err).__name__}: {err}); nothing was kept. "
                             "Zip the dataset again and upload the new file.") from None
    return ExtractReport(dest, budget.files, budget.total, tuple(skipped))


def save_uploaded_folder(files: Iterable[tuple[str, bytes]], dest: Path, *,
                         limits: ArchiveLimits = ArchiveLimits()) -> ExtractReport:
    """Write a browser's folder upload ((relative name, bytes) pairs) into ``dest`` under the same rules."""
    dest = Path(dest)
    created = _prepare_dest(dest)
    budget, skipped, seen = _Budget(limits), [], set()
    try:
        for name, data in files:
            relative = safe_relative_path(str(name))
            if relative is None:
                skipped.append(str(name))
                continue
            if str(relative) in seen:
                raise UnsafeArchive(f"'{name}' was uploaded twice; refused. Upload the folder again.")
            seen.add(str(relative))
            budget.count_file(str(name))
            budget.add(len(data), str(name))
            target = _target(dest, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as out:
                out.write(data)
    except Exception:
        _undo(dest, created)
        raise
    return ExtractReport(dest, budget.files, budget.total, tuple(skipped))


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in chunks (archives can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def extract_once(archive: Path, root: Path, *, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Unpack ``archive`` into ``root/<content hash>`` unless an earlier call already did; returns that folder.

    Unpacking goes to a temporary sibling that is renamed when complete, so a crash
    midway never leaves a half folder that a later call would take for finished.
    """
    dest = Path(root) / file_digest(Path(archive))[:20]
    if dest.is_dir():
        return dest
    partial = Path(root) / f".partial-{dest.name}-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    safe_extract(archive, partial, limits=limits)
    try:
        partial.rename(dest)
    except OSError:  # another process finished the same archive first
        shutil.rmtree(partial, ignore_errors=True)
    return dest
