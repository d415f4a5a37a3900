"""Who may change a run: server-signed browser ids, the instructor secret, and a throttle on guessing it.

On a shared server a typed name or an address parameter is only a claim, so neither decides
whose run a session may change. The app gives each browser a random id signed with a key
that never leaves the server (``sign``/``verify``): the browser keeps the signed id, and a
user who does not know the key cannot make up someone else's. The instructor secret is
compared in constant time (``hmac.compare_digest``) and wrong guesses wait longer and longer
(``GuessThrottle``), per session and for the whole server, so a class cannot try a list of
words against it.
"""

from __future__ import annotations

import hmac
import os
import pwd
import secrets
import threading
import time
import tomllib
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Callable, Sequence

from cvlab.errors import CvlabError
from cvlab.settings import Settings

KEY_BYTES = 32
ID_CHARS = 24  # secrets.token_urlsafe(18): 144 random bits
_MAX_SIGNED = 128  # a cookie longer than this is not one of ours: refused before any work


class TooManyGuesses(CvlabError, PermissionError):
    """The instructor secret was guessed wrong too often; the message says when to try again."""


class WrongSecret(CvlabError, PermissionError):
    """The typed instructor secret is not the server's."""


# ---- the server's signing key and signed browser ids ----
def server_key(settings: Settings) -> bytes:
    """The key that signs browser ids: made once per data home, readable by the server's account only."""
    path = Path(settings.identity_key_file)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(secrets.token_bytes(KEY_BYTES))
    try:
        os.link(tmp, path)  # atomic and refuses to replace: two first visitors agree on one key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


def new_browser_id() -> str:
    return secrets.token_urlsafe(18)


def _signature(key: bytes, value: str) -> str:
    return hmac.new(key, f"cvlab-browser:{value}".encode(), sha256).hexdigest()[:32]


def sign(key: bytes, value: str) -> str:
    """``value.signature``: what the browser keeps."""
    return f"{value}.{_signature(key, value)}"


def verify(key: bytes, signed: str | None) -> str | None:
    """The id inside a signed value, or None when it was not signed with this key (or is not ours at all)."""
    if not signed or len(signed) > _MAX_SIGNED or "." not in signed:
        return None
    value, signature = signed.rsplit(".", 1)
    if len(value) != ID_CHARS or not value.replace("-", "").replace("_", "").isalnum():
        return None
    return value if hmac.compare_digest(signature.encode(), _signature(key, value).encode()) else None


def cookie_name(key: bytes) -> str:
    """Per data home, so two CV Labs on one host (cookies ignore the port) keep their own ids."""
    return f"cvlab_browser_{hmac.new(key, b'cookie-name', sha256).hexdigest()[:8]}"


def account_id() -> str:
    """The operating-system account running this process, as a run owner ("os:alice").

    Read from the password database, not from $USER or $LOGNAME, which anyone can set.
    """
    return f"os:{pwd.getpwuid(os.getuid()).pw_name}"


# ---- the instructor secret ----
def configured_instructor_secret(settings: Settings, *, search: Sequence[Path] | None = None) -> str:
    """``cvlab_instructor_secret`` from the Streamlit secrets files the app reads, else CVLAB_INSTRUCTOR_SECRET."""
    for path in search if search is not None else (Path(".streamlit/secrets.toml"),
                                                    Path.home() / ".streamlit" / "secrets.toml"):
        try:
            secret = tomllib.loads(path.read_text()).get("cvlab_instructor_secret")
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if secret:
            return str(secret)
    return settings.instructor_secret


MIN_SECRET_LENGTH = 16  # characters; guessing is throttled per browser, and a browser id is free to renew


def weak_secret_problem(secret: str) -> str:
    """Why ``secret`` is too weak to guard a shared server ("" when it is not)."""
    if len(secret) >= MIN_SECRET_LENGTH:
        return ""
    return (f"The instructor secret is shorter than {MIN_SECRET_LENGTH} characters, too easy to guess on a shared "
            "server, so instructor mode is off. Set a long random one, e.g. the output of "
            "python -c \"import secrets; print(secrets.token_urlsafe(24))\".")


def secret_matches(typed: str, secret: str) -> bool:
    """Constant time, so the time an answer takes says nothing about how much of the secret was right.

    A secret too short to be safe (``weak_secret_problem``) matches nothing."""
    return bool(secret) and not weak_secret_problem(secret) and hmac.compare_digest(typed.encode(), secret.encode())


@dataclass
class _Misses:
    count: int = 0
    last: float = 0.0


class GuessThrottle:
    """Wrong guesses by key: after ``free`` of them, a wait before the next try that doubles with each further one.

    A key is forgotten ``forget_after_s`` after its last wrong guess. One lock guards the
    check, the comparison and the count together, so threads guessing at once cannot all
    slip through before the first failure is counted.
    """

    def __init__(self, *, free: int, first_wait_s: float, max_wait_s: float, forget_after_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self.free, self.first_wait_s, self.max_wait_s = free, first_wait_s, max_wait_s
        self.forget_after_s, self.clock = forget_after_s, clock
        self._misses: dict[str, _Misses] = {}
        self._lock = threading.Lock()

    def wait_s(self, key: str) -> float:
        """Seconds before ``key`` may guess again (0 when it may now)."""
        misses = self._misses.get(key)
        if misses is None:
            return 0.0
        since = self.clock() - misses.last
        if since > self.forget_after_s:
            del self._misses[key]
            return 0.0
        over = misses.count - self.free  # the free-th wrong guess starts the first wait
        wait = 0.0 if over < 0 else min(self.max_wait_s, self.first_wait_s * 2 ** over)
        return max(0.0, wait - since)

    def attempt(self, keys: Sequence[str], check: Callable[[], bool]) -> bool:
        """Run ``check`` unless a key must wait (``TooManyGuesses``); count a False against every key."""
        with self._lock:
            wait = max((self.wait_s(key) for key in keys), default=0.0)
            if wait > 0:
                raise TooManyGuesses(
                    f"Too many wrong instructor secrets from here or on this server: try again in {_duration(wait)} "
                    f"(at {time.strftime('%H:%M:%S', time.localtime(time.time() + wait))})."
                )
            if check():
                if keys:  # the asker's own count starts again; the server's only decays
                    self._misses.pop(keys[0], None)
                return True
            for key in keys:
                misses = self._misses.setdefault(key, _Misses())
                misses.count += 1
                misses.last = self.clock()
            return False

    def reset(self) -> None:
        with self._lock:
            self._misses.clear()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
