"""Unpack uploaded zip archives and folders without letting them write outside their folder or fill the disk.

Python 3.11.7's zipfile does not catch the overlapping-entry zip bomb (3.11.8+ does),
and ``extractall`` trusts declared sizes, so every entry is checked here first: its
path (no absolute path, drive letter or ``..``; it must land inside the target; no
name longer than the file system allows), its type (no symlinks), the number of
entries, the sum of declared sizes against the limit and the free disk, and the
compression ratio of each entry and of the whole archive (two thousand 1 MiB entries
of zeros are 2 GiB from a 2 MB zip, though no single entry looks like a bomb). Then
the bytes are streamed with a counter, so an entry that inflates past what it
declared, or past the total limit, stops the extraction. Whatever the reason for a
refusal, the target folder is left as it was found: removed if we created it,
emptied otherwise.

Streamlit sessions are threads of one process and the worker is another process, so
a shared result (``extract_once``) is built aside under a lock per content hash and
renamed into place only when complete (``cvlab.data.in_place``).
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterable

from cvlab.data.in_place import build_in_place, content_lock
from cvlab.errors import CvlabError, InvalidInput

CHUNK_BYTES = 64 * 1024
RATIO_CHECK_MIN_BYTES = 64 * 2**10  # one small file (a label, a blank mask) may compress well; a big one may not
ARCHIVE_RATIO_MIN_BYTES = 2**20  # below 1 MiB unpacked, a whole archive is harmless whatever its ratio
MAX_NAME_BYTES = 255  # one file or folder name, in UTF-8 bytes (ext4, APFS, NTFS)
MAX_PATH_CHARS = 1024  # a whole relative path; Linux refuses paths past 4096 bytes with a bare OSError
DISK_RESERVE_BYTES = 512 * 2**20  # an upload never leaves the data disk with less free than this


class UnsafeArchive(CvlabError):
    """An archive or upload that breaks a safety rule; the message names the entry and the limit."""


class BadArchive(InvalidInput):
    """A file that is not a readable zip archive."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_files: int = 20_000  # entries, folders included
    max_total_bytes: int = 2 * 2**30  # uncompressed bytes of all files together
    max_ratio: float = 200.0  # uncompressed / compressed, per entry and overall; JPEGs ~1, BMPs ~10, bombs 1,000+


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
    _check_name_lengths(name, parts)
    return PurePosixPath(*parts)


def _check_name_lengths(name: str, parts: list[str]) -> None:
    """Names the file system would refuse with a bare OSError ("File name too long"), refused in words."""
    shown = name if len(name) <= 80 else f"{name[:40]}...{name[-30:]}"
    for part in parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise UnsafeArchive(f"'{shown}' has a file or folder name of {len(part):,} characters; names may be at "
                                f"most {MAX_NAME_BYTES} bytes long. Rename it to something shorter and upload again.")
    if len(name) > MAX_PATH_CHARS:
        raise UnsafeArchive(f"'{shown}' is a path of {len(name):,} characters; at most {MAX_PATH_CHARS:,} are "
                            "allowed. Use fewer nested folders or shorter names and upload again.")


def _target(dest: Path, relative: PurePosixPath) -> Path:
    target = dest / relative
    if not target.resolve().is_relative_to(dest.resolve()):
        raise UnsafeArchive(f"Entry '{relative}' would land outside the dataset folder; refused.")
    return target


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _check_packed_sizes(entries: list[zipfile.ZipInfo], data_end: int) -> None:
    """Every entry's packed size must fit the bytes between its header and the next one's.

    The ratio checks divide by these sizes, which the archive itself declares: an entry of
    zeros claiming ten times its real packed size would pass them (Python 3.11.7's zipfile
    reads on regardless). Entries that overlap (one data region read by several entries,
    the classic zip bomb) fail here too.
    """
    ordered = sorted(entries, key=lambda info: info.header_offset)
    for info, following in zip(ordered, ordered[1:] + [None]):
        end = following.header_offset if following is not None else data_end
        if info.header_offset + info.compress_size > end:
            raise UnsafeArchive(f"Entry '{info.filename}' claims {info.compress_size:,} packed bytes where the "
                                f"archive holds at most {max(end - info.header_offset, 0):,}, or overlaps the next "
                                "entry: the archive is damaged or crafted. Re-create it with an ordinary zip tool.")


def _check_totals(entries: list[zipfile.ZipInfo], dest: Path, limits: ArchiveLimits) -> None:
    """The whole archive: entry count, unpacked size, overall compression ratio, and room on the disk."""
    if len(entries) > limits.max_files:
        raise UnsafeArchive(f"The archive has {len(entries):,} entries; the limit is {limits.max_files:,}. "
                            "Upload fewer images (or a smaller sample of each class).")
    declared = sum(info.file_size for info in entries)
    if declared > limits.max_total_bytes:
        raise UnsafeArchive(f"The archive unpacks to {declared / 2**20:,.0f} MiB; the limit is "
                            f"{limits.max_total_bytes / 2**20:,.0f} MiB. Upload fewer or smaller images.")
    packed = sum(info.compress_size for info in entries)
    ratio = declared / max(packed, 1)
    if declared > ARCHIVE_RATIO_MIN_BYTES and ratio > limits.max_ratio:
        raise UnsafeArchive(f"The archive expands {ratio:,.0f} times as a whole ({packed / 2**20:,.1f} MiB to "
                            f"{declared / 2**20:,.0f} MiB; limit {limits.max_ratio:,.0f}): this looks like a zip "
                            "bomb. Images barely compress; zip the image files only.")
    check_free_space(dest, declared)


def check_free_space(dest: Path, needed: int) -> None:
    """Refuse a write of ``needed`` bytes that would leave the disk under ``dest`` nearly full."""
    existing = Path(dest)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if needed > free - DISK_RESERVE_BYTES:
        raise UnsafeArchive(f"Unpacking needs {needed / 2**20:,.0f} MiB but the server's disk has only "
                            f"{max(free - DISK_RESERVE_BYTES, 0) / 2**20:,.0f} MiB to spare. Upload a smaller "
                            "dataset, or ask the instructor to free space.")


def _plan(archive: zipfile.ZipFile, dest: Path, limits: ArchiveLimits):
    """Check every entry before a byte is written: [(info, target path)] and the skipped names."""
    entries = archive.infolist()
    _check_packed_sizes(entries, archive.start_dir)  # start_dir: where the central directory begins
    _check_totals(entries, dest, limits)
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


def _create(target: Path, name: str):
    """``target`` opened for writing, never overwriting nor following a link; an OSError in words."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return open(target, "xb")  # "x": never overwrite, never follow a link
    except FileExistsError:
        raise UnsafeArchive(f"'{name}' clashes with another file or folder of the same name; refused. "
                            "Rename one of them and upload again.") from None
    except OSError as err:  # a name this file system refuses: too long, a reserved character...
        raise UnsafeArchive(f"'{name}' cannot be written here ({err.strerror or err}). Rename it (short names, "
                            "letters, digits, - and _) and upload again.") from None


def _copy_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: _Budget) -> None:
    written = 0
    with archive.open(info) as source, _create(target, info.filename) as out:
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
            raise InvalidInput(f"The folder '{dest.name}' to unpack into already holds files; give a new or "
                               "empty folder.")
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
        except OSError as err:
            if err.errno is None:  # raised by a decompressor, not by the disk: a damaged archive
                raise _damaged(err, dest, created) from None
            _undo(dest, created)  # the disk: full, or a quota of the file system
            raise UnsafeArchive(f"The dataset could not be written on the server ({err.strerror or err}); "
                                "nothing was kept. Try a smaller dataset, or ask the instructor.") from None
        except Exception as err:  # BadZipFile (bad CRC), zlib.error, EOFError, NotImplementedError...
            raise _damaged(err, dest, created) from None
    return ExtractReport(dest, budget.files, budget.total, tuple(skipped))


def _damaged(err: Exception, dest: Path, created: Path | None) -> BadArchive:
    _undo(dest, created)
    return BadArchive(f"The archive is damaged ({type(err).__name__}: {err}); nothing was kept. "
                      "Zip the dataset again and upload the new file.")


def check_upload_sizes(files: Iterable[tuple[str, int]], limits: ArchiveLimits = ArchiveLimits()) -> int:
    """Count and total size of a folder upload ((name, bytes) pairs) against the limits, before any
    file's bytes are read or copied; returns the total in bytes."""
    count = total = 0
    for _name, size in files:
        count, total = count + 1, total + int(size)
        if count > limits.max_files:
            raise UnsafeArchive(f"The folder holds more than {limits.max_files:,} files; the limit is "
                                f"{limits.max_files:,}. Upload a smaller sample of it.")
    if total > limits.max_total_bytes:
        raise UnsafeArchive(f"The folder holds {total / 2**20:,.0f} MiB in {count:,} files; the limit is "
                            f"{limits.max_total_bytes / 2**20:,.0f} MiB. Upload fewer or smaller images, or a zip.")
    return total


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
            with _create(_target(dest, relative), str(name)) as out:
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


def declared_size(archive: Path | str | bytes | BinaryIO) -> int:
    """The bytes an archive says it unpacks to (its central directory; nothing is inflated)."""
    with _open_zip(archive) as zipped:
        return sum(info.file_size for info in zipped.infolist())


def extract_once(archive: Path, root: Path, *, limits: ArchiveLimits = ArchiveLimits(),
                 before: Callable[[int], None] | None = None) -> Path:
    """Unpack ``archive`` into ``root/<content hash>`` unless an earlier call already did; returns that folder.

    Calls for the same content wait for each other (a lock per hash), and the folder
    appears only complete, so no caller ever sees or keeps a half-unpacked dataset.
    ``before(declared bytes)`` runs under the lock just before unpacking (a quota check).
    """
    key = file_digest(Path(archive))[:20]
    dest = Path(root) / key
    if dest.is_dir():
        return dest
    with content_lock(Path(root), key):
        if dest.is_dir():  # another thread or process finished it while we waited
            return dest
        if before is not None:
            before(declared_size(archive))
        return build_in_place(dest, lambda scratch: safe_extract(archive, scratch, limits=limits))
