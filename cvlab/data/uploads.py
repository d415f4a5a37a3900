"""Uploads kept on the server: saved zips and folders and what is unpacked from them, under disk quotas.

Everything a user's upload puts on disk is an *entry*, one folder named by a content hash::

    <data home>/uploads/<hash>/<the file's own name>.zip    a zip, as uploaded
    <data home>/uploads/<hash>/<its top folder>/...         a folder upload
    <data home>/datasets/archives/<hash>/...                a zip unpacked for reading
    <data home>/upload-index/<area>--<hash>.json            who uploaded it, its name, its size

The index file's modification time is the entry's last use. Each user (the id that
uploaded it) has ``Settings.user_disk_quota`` bytes and the server ``Settings.disk_quota``
bytes for all entries together; an entry two users uploaded counts for both. Room for
a new entry is made by dropping the least recently used entries: first the user's
own (the entry is deleted once nobody holds it), then, for the server's quota, anyone's.
Never dropped: an entry used in the last ``IN_USE_GRACE_S`` (a page is reading it, a run
is starting on it) or one a queued, running, paused or interrupted run reads. Entries
unused for ``Settings.upload_keep_days`` go at the next upload. What cannot be made room
for is refused with the sizes, before a byte is written.

Two sessions (threads of one process) or the worker (another process) writing the
same content wait for each other (``content_lock``) and every entry is built aside
and renamed into place, so none ever sees a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cvlab.data.archives import (ArchiveLimits, check_free_space, check_upload_sizes, extract_once,
                                 save_uploaded_folder)
from cvlab.data.in_place import build_in_place, content_lock, write_atomically
from cvlab.errors import CvlabError
from cvlab.jobs.status import RunStatus
from cvlab.settings import Settings, get_settings

AREAS = ("uploads", "datasets/archives", "detection/datasets")  # the last: unpacked by earlier versions
IN_USE_GRACE_S = 15 * 60  # an entry used this recently is being read: never dropped to make room
PINNING_STATUSES = RunStatus.PINNING  # runs that will read their data again
_KEY = re.compile(r"[0-9a-f]{16,64}")


class DiskQuotaExceeded(CvlabError):
    """An upload that does not fit the user's or the server's disk quota; the message gives the sizes."""


@dataclass(frozen=True)
class Entry:
    area: str
    key: str
    folder: Path
    name: str  # what the user uploaded ("pets.zip", "pets/"), for messages
    owners: tuple[str, ...]
    size: int  # bytes on disk
    last_used: float  # seconds since the epoch
    source: str  # for an unpacked archive: the key of the upload it came from, else ""


def _mib(count: float) -> str:
    return f"{count / 2**20:,.0f} MiB"


class UploadStore:
    """The entries under one data home (see the module docstring)."""

    def __init__(self, settings: Settings | None = None, *, now: Callable[[], float] = time.time):
        self.settings = settings or get_settings()
        self.home = Path(self.settings.data_home)
        self.index = self.home / "upload-index"
        self.now = now

    # ---- adding ----
    def save_file(self, data: bytes, name: str, owner: str) -> Path:
        """An uploaded file kept as ``uploads/<hash>/<its name>``; the same bytes again reuse it (under a
        second name, a hard link: no second copy)."""
        key = hashlib.sha256(data).hexdigest()[:16]
        shown = _safe_name(name, "dataset.zip")
        folder = self.home / "uploads" / key
        with content_lock(self.home / "uploads", key):
            if not folder.is_dir():
                self._make_room(owner, len(data), shown)
                build_in_place(folder, lambda scratch: (scratch / shown).write_bytes(data))
            elif not (folder / shown).is_file():
                first = next((p for p in folder.iterdir() if p.is_file()), None)
                _link_or_copy(first, folder / shown, data)
            self._record("uploads", key, owner, shown, len(data))
        return folder / shown

    def save_folder(self, files: list, owner: str, limits: ArchiveLimits | None = None) -> Path:
        """A folder upload (objects with ``name``, ``size`` and ``getbuffer()``, as Streamlit gives them) kept as
        ``uploads/<hash>/``; sizes are checked before a byte is read."""
        limits = limits or self.folder_limits()
        total = check_upload_sizes(((f.name, f.size) for f in files), limits)
        digest = hashlib.sha256()
        for upload in sorted(files, key=lambda f: f.name):
            # Every name and content with its length first: run together, {a: "1", b: "2"} and a single file
            # a holding "1b\0" + "2" hashed alike, and a crafted folder could take another upload's place.
            name, content = upload.name.encode("utf-8", "surrogatepass"), upload.getbuffer()
            for part in (name, content):
                digest.update(len(part).to_bytes(8, "big"))
                digest.update(part)
        key = digest.hexdigest()[:16]
        tops = {Path(f.name).parts[0] for f in files if Path(f.name).parts}
        shown = f"{tops.pop()}/" if len(tops) == 1 else "the uploaded folder"
        folder = self.home / "uploads" / key
        with content_lock(self.home / "uploads", key):
            if not folder.is_dir():
                self._make_room(owner, total, shown)
                build_in_place(folder, lambda scratch: save_uploaded_folder(
                    ((f.name, f.getvalue()) for f in files), scratch, limits=limits))
            self._record("uploads", key, owner, shown, total)
        return folder

    def unpacked(self, archive: Path, owner: str | None = None, limits: ArchiveLimits = ArchiveLimits()) -> Path:
        """``archive`` unpacked once into ``datasets/archives/<hash>`` (see ``extract_once``), counted for
        ``owner``, or for whoever uploaded the archive when it is an upload."""
        archive = Path(archive)
        upload = self.entry_of(archive)
        owners = (owner,) if owner else (upload.owners if upload else ())
        shown = upload.name if upload else archive.name
        root, declared = self.home / "datasets" / "archives", []

        def make_room(size: int) -> None:
            declared.append(size)
            for who in owners or ("",):
                self._make_room(who, size, shown)

        folder = extract_once(archive, root, limits=limits, before=make_room)
        size = declared[0] if declared else (None if self.entry("datasets/archives", folder.name)
                                             else _disk_size(folder))
        for who in owners or ("",):
            self._record("datasets/archives", folder.name, who, shown, size, source=upload.key if upload else "")
        return folder

    def folder_limits(self) -> ArchiveLimits:
        return ArchiveLimits(max_total_bytes=self.settings.max_upload_bytes)

    # ---- reading ----
    def entries(self) -> list[Entry]:
        """Every entry with an index file, least recently used first."""
        found = []
        for file in self.index.glob("*.json") if self.index.is_dir() else ():
            entry = self._read(file)
            if entry is not None:
                found.append(entry)
        return sorted(found, key=lambda e: e.last_used)

    def entry(self, area: str, key: str) -> Entry | None:
        return self._read(self._index_file(area, key))

    def entry_of(self, path: Path) -> Entry | None:
        """The entry ``path`` lies in, or None for a path outside the store."""
        found = self.locate(Path(path))
        return self.entry(*found) if found else None

    def usage(self, owner: str) -> int:
        return sum(e.size for e in self.entries() if owner in e.owners)

    def display_name(self, path: Path | str) -> str:
        """The name the user knows for a path in the store (``pets.zip``, ``pets/train``), else the path as given.

        Under ``uploads/`` the names below the hash folder are the user's own; an unpacked
        archive is named after the zip it came from (``pets.zip: pets/cats``).
        """
        path = Path(path)
        found = self.locate(path)
        if found is None:
            return str(path)
        area, key = found
        entry = self.entry(area, key)
        inside = "/".join(Path(os.path.abspath(path)).relative_to(os.path.abspath(self.home / area / key)).parts)
        name = entry.name if entry else "your upload"
        if area == "uploads":
            return inside or name
        return f"{name}: {inside}" if inside else name

    def mark_used(self, path: Path | str) -> None:
        """Note that ``path`` (anything inside an entry) was just read; does nothing outside the store."""
        found = self.locate(Path(path))
        if found:
            try:
                os.utime(self._index_file(*found), (self.now(), self.now()))
            except FileNotFoundError:
                pass

    # ---- room ----
    def _make_room(self, owner: str, size: int, shown: str) -> None:
        """Drop least recently used entries until ``size`` more bytes fit both quotas, or refuse."""
        user_quota, server_quota = self.settings.user_disk_quota, self.settings.disk_quota
        with content_lock(self.index, "quota"):
            self._adopt_unindexed()
            self._drop_expired()
            check_free_space(self.home, size)
            if owner and size > user_quota:
                raise DiskQuotaExceeded(f"'{shown}' needs {_mib(size)} on the server; each user may keep "
                                        f"{_mib(user_quota)} of uploads. Upload a smaller dataset.")
            keep = self._pinned()
            if owner:
                self._free(lambda e: owner in e.owners, user_quota - size, keep, owner)
                if (used := self.usage(owner)) + size > user_quota:
                    raise DiskQuotaExceeded(
                        f"'{shown}' needs {_mib(size)}, but your uploads already take {_mib(used)} of your "
                        f"{_mib(user_quota)}, and they are in use (a run reads them, or they were used in the last "
                        f"{IN_USE_GRACE_S // 60} minutes). Wait for your runs to end, or upload a smaller dataset.")
            self._free(lambda e: True, server_quota - size, keep, None)
            used = sum(e.size for e in self.entries())
            if used + size > server_quota:
                raise DiskQuotaExceeded(
                    f"'{shown}' needs {_mib(size)}, but the uploads on this server already take {_mib(used)} of "
                    f"{_mib(server_quota)} and all of them are in use. Try again later, or ask the instructor.")

    def _free(self, mine: Callable[[Entry], bool], target: int, keep: set[str], owner: str | None) -> None:
        """Drop ``owner`` from (or delete, for None) the oldest matching entries until they take <= ``target``."""
        entries = [e for e in self.entries() if mine(e)]
        used = sum(e.size for e in entries)
        for entry in entries:  # least recently used first
            if used <= target:
                return
            if entry.key in keep or entry.source in keep or self.now() - entry.last_used < IN_USE_GRACE_S:
                continue
            if owner is not None and len(entry.owners) > 1:
                self._write(entry, owners=tuple(o for o in entry.owners if o != owner))
            else:
                self._delete(entry)
            used -= entry.size

    def _drop_expired(self) -> None:
        limit = self.now() - self.settings.upload_keep_days * 86400
        keep = None
        for entry in self.entries():
            if entry.last_used >= limit:
                break
            keep = self._pinned() if keep is None else keep
            if entry.key not in keep and entry.source not in keep:
                self._delete(entry)

    def _adopt_unindexed(self) -> None:
        """Folders written before the index existed join it, owned by nobody, last used when last written."""
        for area in AREAS:
            base = self.home / area
            for folder in base.iterdir() if base.is_dir() else ():
                if _KEY.fullmatch(folder.name) and folder.is_dir() and not self._index_file(area, folder.name).exists():
                    self._write(Entry(area, folder.name, folder, folder.name, (), _disk_size(folder),
                                      folder.stat().st_mtime, ""))

    def _pinned(self) -> set[str]:
        """Keys of the entries that runs not yet ended will read (their config's ``data``)."""
        pinned = set()
        for record_file in Path(self.settings.runs_dir).glob("*/run.json"):
            try:
                record = json.loads(record_file.read_text())
                data = Path(str(record.get("config", {}).get("data", "")))
            except (OSError, ValueError, AttributeError):
                continue
            if record.get("status") in PINNING_STATUSES and (found := self.locate(data)):
                pinned.add(found[1])
        return pinned

    # ---- the index ----
    def _index_file(self, area: str, key: str) -> Path:
        return self.index / f"{area.replace('/', '-')}--{key}.json"

    def locate(self, path: Path) -> tuple[str, str] | None:
        """(area, key) of the entry holding ``path``; None outside the store."""
        path = Path(os.path.abspath(path))
        for area in AREAS:
            base = Path(os.path.abspath(self.home / area))
            if path.is_relative_to(base) and len(path.relative_to(base).parts) >= 1:
                key = path.relative_to(base).parts[0]
                if _KEY.fullmatch(key):
                    return area, key
        return None

    def _read(self, file: Path) -> Entry | None:
        try:
            record = json.loads(file.read_text())
            last_used = file.stat().st_mtime
        except (OSError, ValueError):
            return None
        area, key = record.get("area"), record.get("key")
        if area not in AREAS or not _KEY.fullmatch(str(key)):
            return None
        return Entry(area, key, self.home / area / key, str(record.get("name", "")),
                     tuple(record.get("owners", ())), int(record.get("size", 0)), last_used,
                     str(record.get("source", "")))

    def _record(self, area: str, key: str, owner: str, name: str, size: int | None, source: str = "") -> None:
        """Add ``owner`` to the entry (created if new) and mark it used."""
        with content_lock(self.index, "quota"):
            old = self.entry(area, key)
            owners = tuple(dict.fromkeys((*(old.owners if old else ()), *((owner,) if owner else ()))))
            size = old.size if old and size is None else (size if size is not None else 0)
            entry = Entry(area, key, self.home / area / key, old.name if old else name, owners, size, self.now(),
                          old.source if old and not source else source)
            self._write(entry)

    def _write(self, entry: Entry, **changes) -> None:
        fields = {"area": entry.area, "key": entry.key, "name": entry.name, "owners": list(entry.owners),
                  "size": entry.size, "source": entry.source}
        fields.update({k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()})
        file = self._index_file(entry.area, entry.key)
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(file, json.dumps(fields))
        os.utime(file, (entry.last_used, entry.last_used))

    def _delete(self, entry: Entry) -> None:
        shutil.rmtree(entry.folder, ignore_errors=True)
        self._index_file(entry.area, entry.key).unlink(missing_ok=True)


def _safe_name(name: str, default: str) -> str:
    """The browser's file name as one harmless path component (never '', '.', '..', a folder or too long)."""
    base = Path(str(name).replace("\\", "/")).name
    if base in ("", ".", "..") or base.startswith("."):
        return default
    if len(base.encode("utf-8", "surrogatepass")) > 200:
        stem, suffix = os.path.splitext(base)
        base = stem[:100] + suffix[:20]
    return base


def _link_or_copy(first: Path | None, target: Path, data: bytes) -> None:
    """A second name for the same bytes: a hard link where the file system has them."""
    try:
        if first is None:
            raise OSError("no file to link to")
        os.link(first, target)
    except OSError:
        write_atomically(target, data)


def _disk_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def missing_source(source: str, what: str, settings: Settings | None = None) -> str:
    """The message for a dataset path that is not there (``what``: "a zip nor a folder", what it should have
    been): named as the user knows it, and, for an upload, why it may have gone."""
    store = UploadStore(settings)
    if store.locate(Path(source)) is None:
        return f"{source!r} is neither {what}: no such file or folder exists. Check the path."
    return (f"'{store.display_name(source)}' is no longer on the server: an upload unused for "
            f"{store.settings.upload_keep_days:g} days, or the least recently used one when the upload space is "
            "full, is deleted. Upload it again.")


def mark_used(path: Path | str, settings: Settings | None = None) -> None:
    """``UploadStore.mark_used`` for callers that only hold a path (loaders in the worker)."""
    UploadStore(settings).mark_used(path)


def display_name(path: Path | str, settings: Settings | None = None) -> str:
    """For messages: an upload's name as the user gave it, never a hash folder; any other path's last part."""
    store = UploadStore(settings)
    return store.display_name(path) if store.locate(Path(path)) else Path(path).name
