"""Preparing a lab server: fetch the files of a manifest, check them, and put each where its loader looks.

Every file is streamed into a temporary file beside its destination, counted against
the manifest's size limit as it arrives (a larger response is cut off and deleted),
checked against the published checksum and a look at its first bytes, and only then
renamed into place, so a page never sees half a file. A CIFAR-10 tarball is unpacked
member by member, taking only the batch files it should hold. The file names come
from the manifest, never from the network (no Content-Disposition, no redirect target).

Offline, or with a host that does not answer within seconds, nothing waits: each
missing file is reported with its destination and its URL, so it can be fetched on
another machine and copied in (directly, or into one folder given as ``mirror``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence
from urllib.parse import quote, urlparse

from cvlab.errors import CvlabError, InvalidInput
from cvlab.settings import Settings, get_settings
from cvlab.weights_manifest import PREPARED_SNAPSHOT, Source

CHUNK = 1 << 20
TIMEOUT_S = 10.0  # to connect, and between two reads of a download
MEMBER_MAX_BYTES = 64 * 2**20  # one CIFAR-10 batch is 30.7 MB


class FetchFailed(CvlabError):
    """A file could not be fetched, or what came was not the published file; nothing was kept."""


@dataclass(frozen=True)
class Outcome:
    name: str
    kind: str
    status: str  # "present", "downloaded", "copied", "missing" (not tried) or "failed"
    destination: str  # where the loader looks
    url: str  # where the library downloads it from
    file_name: str  # its name in a mirror folder
    message: str = ""  # why it is missing or failed


@dataclass(frozen=True)
class PrepareReport:
    outcomes: tuple[Outcome, ...]

    @property
    def missing(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status in ("missing", "failed"))

    @property
    def present_count(self) -> int:
        return len(self.outcomes) - len(self.missing)


def origin_of(source: Source, mirror: str | None) -> str:
    """Where to fetch ``source`` from: its own URL, a mirror URL's folder, or a local folder."""
    if not mirror:
        return source.url
    if mirror.startswith(("http://", "https://")):
        return mirror.rstrip("/") + "/" + quote(source.file_name)
    folder = Path(mirror).expanduser()
    if not folder.is_dir():
        raise InvalidInput(f"--mirror {mirror}: give a folder holding the files, or an http(s):// address.")
    return str(folder / source.file_name)


def _reachable(url: str, timeout_s: float) -> tuple[bool, str]:
    """Whether the host of ``url`` accepts a connection within ``timeout_s`` (the name lookup included)."""
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    answer: list[bool] = []

    def connect() -> None:
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout_s):
                answer.append(True)
        except OSError:
            pass

    probe = threading.Thread(target=connect, daemon=True, name=f"reach-{parts.hostname}")
    probe.start()
    probe.join(timeout_s)  # a name lookup has no timeout of its own
    return (True, "") if answer else (False, f"{parts.hostname} cannot be reached")


def _chunks(origin: str, max_bytes: int, timeout_s: float) -> Iterator[bytes]:
    """The bytes at ``origin`` (an http(s) URL or a local file), refused when larger than ``max_bytes``."""
    if origin.startswith(("http://", "https://")):
        request = urllib.request.Request(origin, headers={"User-Agent": "cvlab-prepare"})
        handle: BinaryIO = urllib.request.urlopen(request, timeout=timeout_s)  # noqa: S310 (scheme checked)
        declared = handle.headers.get("Content-Length", "")
    else:
        handle = open(origin, "rb")
        declared = str(os.fstat(handle.fileno()).st_size)
    with handle:
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchFailed(f"{origin} is {int(declared):,} bytes, more than the {max_bytes:,} this file "
                              "may have; refused.")
        while chunk := handle.read(CHUNK):
            yield chunk


def _checksum_ok(checksum: str, digests: dict[str, "hashlib._Hash"]) -> bool:
    if not checksum:
        return True
    algorithm, _, expected = checksum.partition(":")
    return digests[algorithm].hexdigest().startswith(expected.lower())


def _looks_right(file_name: str, head: bytes) -> bool:
    """The first bytes of the format the name promises: an HTML error page saved as weights is refused."""
    if file_name.endswith((".pt", ".pth")):
        return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"  # torch.save's zip, or a legacy pickle
    if file_name.endswith(".safetensors"):
        size = int.from_bytes(head[:8], "little")
        return len(head) > 8 and 2 <= size < 100 * 2**20 and head[8:9] == b"{"
    if file_name.endswith(".tar.gz"):
        return head.startswith(b"\x1f\x8b")
    if file_name.endswith(".json"):
        return head.lstrip()[:1] == b"{"
    return True


def download(source: Source, origin: str, folder: Path, timeout_s: float = TIMEOUT_S) -> Path:
    """``origin``'s bytes in a new temporary file in ``folder``, checked; FetchFailed (file deleted) otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".partial-", suffix=".download", dir=folder)
    digests = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
    received, head = 0, b""
    try:
        with os.fdopen(descriptor, "wb") as out:
            for chunk in _chunks(origin, source.max_bytes, timeout_s):
                received += len(chunk)
                if received > source.max_bytes:
                    raise FetchFailed(f"{origin} sent more than the {source.max_bytes:,} bytes this file may "
                                      "have; refused and deleted.")
                head = head if len(head) >= 64 else (head + chunk)[:64]
                for digest in digests.values():
                    digest.update(chunk)
                out.write(chunk)
        if not _looks_right(source.file_name, head):
            raise FetchFailed(f"{origin} did not send a {Path(source.file_name).suffix} file (an error page?); "
                              "deleted.")
        if not _checksum_ok(source.checksum, digests):
            algorithm = source.checksum.partition(":")[0]
            raise FetchFailed(f"{source.file_name} from {origin} has the wrong checksum ({algorithm} "
                              f"{digests[algorithm].hexdigest()[:16]}..., expected {source.checksum}); the file "
                              "is damaged or not the published one, and was deleted.")
    except FetchFailed:
        os.unlink(temporary)
        raise
    except Exception as err:  # HTTP errors, a connection dropped mid-file, a full disk
        os.unlink(temporary)
        raise FetchFailed(f"Fetching {source.file_name} from {origin} failed ({type(err).__name__}: "
                          f"{str(err)[:200]}); nothing was kept.") from None
    return Path(temporary)


def _unpack(source: Source, tarball: Path) -> None:
    """Only the expected members of the archive's one folder, each bounded, moved into place once all are out."""
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=source.destination.parent))
    try:
        wanted = {f"{source.destination.name}/{member}": member for member in source.members}
        with tarfile.open(tarball, "r:gz") as archive:
            for info in archive:
                member = wanted.get(info.name.removeprefix("./"))
                if member is None or not info.isfile():
                    continue  # readme.html, folders, anything else: not needed, never written
                if info.size > MEMBER_MAX_BYTES:
                    raise FetchFailed(f"{info.name} in {source.file_name} is {info.size:,} bytes, more than a "
                                      "CIFAR-10 batch; refused.")
                with archive.extractfile(info) as data, open(staging / member, "wb") as out:
                    shutil.copyfileobj(data, out)
        absent = [member for member in source.members if not (staging / member).is_file()]
        if absent:
            raise FetchFailed(f"{source.file_name} lacks {', '.join(absent)}; it is not the published archive.")
        source.destination.mkdir(parents=True, exist_ok=True)
        for member in source.members:
            os.replace(staging / member, source.destination / member)
    except tarfile.TarError as err:
        raise FetchFailed(f"{source.file_name} is not a readable tar.gz ({err}); deleted.") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        tarball.unlink(missing_ok=True)


def install(source: Source, temporary: Path) -> None:
    """Put a checked download where the loader looks: a rename (atomic), or an archive unpacked."""
    if source.archive:
        _unpack(source, temporary)
        return
    os.replace(temporary, source.destination)
    if source.kind == "timm":  # huggingface_hub finds the snapshot through refs/main
        ref = source.destination.parents[2] / "refs" / "main"
        if not ref.is_file():
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text(PREPARED_SNAPSHOT)


def _outcome(source: Source, status: str, message: str = "") -> Outcome:
    return Outcome(source.name, source.kind, status, str(source.destination), source.url, source.file_name,
                   message)


def prepare(sources: Sequence[Source], settings: Settings | None = None, *, mirror: str | None = None,
            fetch: bool = True, timeout_s: float = TIMEOUT_S,
            on_outcome: Callable[[Outcome], None] | None = None) -> PrepareReport:
    """Fetch each missing source (from its URL, or ``mirror``), check it and install it; report every one.

    ``fetch=False`` only lists. Offline mode (``CVLAB_OFFLINE`` and friends) never touches the
    network, but a local mirror folder still works: that is how files copied in are installed.
    """
    settings = settings or get_settings()
    unreachable: dict[str, str] = {}  # host -> why, so a dead network costs seconds once, not per file
    outcomes: list[Outcome] = []
    for source in sources:
        first = next((o for o in outcomes if o.name == source.after), None)
        if fetch and first is not None and first.status in ("missing", "failed") and not source.present():
            outcome = _outcome(source, "missing", f"waits for {first.name}, which is missing")
        else:
            outcome = _prepare_one(source, settings, mirror, fetch, timeout_s, unreachable)
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    return PrepareReport(tuple(outcomes))


def _prepare_one(source: Source, settings: Settings, mirror: str | None, fetch: bool, timeout_s: float,
                 unreachable: dict[str, str]) -> Outcome:
    if source.present():
        return _outcome(source, "present")
    if not fetch:
        return _outcome(source, "missing")
    origin = origin_of(source, mirror)
    remote = origin.startswith(("http://", "https://"))
    if remote and settings.offline:
        return _outcome(source, "missing", "offline mode is on")
    if not remote and not Path(origin).is_file():
        return _outcome(source, "missing", f"{source.file_name} is not in {mirror}")
    host = urlparse(origin).netloc
    if remote and host not in unreachable:
        online, why = _reachable(origin, min(timeout_s, 3.0))
        if not online:
            unreachable[host] = why
    if remote and host in unreachable:
        return _outcome(source, "missing", unreachable[host])
    try:
        install(source, download(source, origin, source.destination.parent, timeout_s))
    except FetchFailed as err:
        return _outcome(source, "failed", str(err))
    return _outcome(source, "downloaded" if remote else "copied")


def copy_in_instructions(report: PrepareReport, selection_args: str = "") -> str:
    """For each missing file: the URL to fetch on a machine with internet, and the exact path to copy it to."""
    missing = report.missing
    if not missing:
        return ""
    lines = [f"{len(missing)} file(s) missing. On a machine with internet, download each URL below; then copy "
             "each file to the path shown, or put them all in one folder (under the names shown) and run "
             f"`python -m cvlab prepare {selection_args}--mirror FOLDER` here, which checks and installs them."]
    for outcome in missing:
        why = f" ({outcome.message})" if outcome.message else ""
        unpack = " (unpack it: its cifar-10-batches-py folder goes there)" if outcome.kind == "dataset" else ""
        lines += [f"- {outcome.name} [{outcome.kind}]{why}",
                  f"    from {outcome.url}  (save as {outcome.file_name})",
                  f"    to   {outcome.destination}{unpack}"]
    return "\n".join(lines)
