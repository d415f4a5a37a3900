"""Who is asking, as the server knows it: the login when the server has one, else an id it gave this browser.

A run records two things about whoever started it: ``owner``, a name typed for the others to
read, and ``owner_id``, the identity that may change it. The name box, and ``?user=`` in a
shared address, only ever set the first.

- With login configured (an ``[auth]`` section in ``.streamlit/secrets.toml``), the id is
  ``login:<issuer>|<subject>`` from ``st.user``, which the identity provider vouches for;
  until someone logs in they may watch but not start or change runs.
- Without it, the id is ``browser:<random>``: issued by the server on the first visit, kept
  in the session (it survives reruns and page changes), and handed to the browser as a cookie
  signed with the server's key (``cvlab.server.access``), so it survives reloads, new tabs and
  restarts of the app for ``COOKIE_MAX_AGE_S``. A cookie that is not signed with that key is
  ignored: nobody can pick the id of another browser. Clearing the browser's cookies, or
  another browser, is another identity; the instructor can still change such runs.

The instructor secret is compared by ``cvlab.server.access`` in constant time; wrong guesses wait
longer and longer, per browser or login (``GUESSES``), never server-wide.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Callable
from hashlib import sha256

import streamlit as st

from cvlab.server import access
from cvlab.settings import get_settings

COOKIE_MAX_AGE_S = 180 * 24 * 3600  # a term and a half
NAME_KEY = "user"  # the display-name box
_BROWSER_KEY = "_cvlab_browser_id"
_SESSION_KEY = "_cvlab_session_id"
_INSTRUCTOR_KEY = "_cvlab_instructor"  # a fingerprint of the secret this session proved it knows
_MESSAGE_KEY = "_cvlab_instructor_message"

# Every Streamlit session is a thread of this one process, so this throttle sees every guess made
# through this server. Per session: three free tries, then 5 s, 10 s, 20 s ... up to 15 min. For the
# server: twenty free wrong guesses an hour among everyone, then the same doubling for everyone.
GUESSES = access.GuessThrottle(free=3, first_wait_s=5.0, max_wait_s=900.0, forget_after_s=3600.0)


@dataclass(frozen=True)
class Identity:
    owner_id: str  # what a run records and what the checks compare; "" when this session may not start runs
    name: str  # shown beside runs; typed, so never trusted
    via_login: bool

    @property
    def may_start(self) -> bool:
        return bool(self.owner_id and self.name)

    @property
    def missing(self) -> str:
        """What to do before starting a run."""
        if not self.owner_id:
            return "Log in at the top to start runs; anyone may watch."
        return "" if self.name else "Type your name at the top to start runs."


# ---- login ----
def login_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all: Streamlit raises instead of answering
        return False


def _login_identity() -> Identity | None:
    """The provider's own subject id (with its issuer: two providers may reuse one), never a typed field."""
    if not getattr(st.user, "is_logged_in", False):
        return None
    subject = str(st.user.get("sub") or "").strip()
    email = str(st.user.get("email") or "").strip()
    if not subject and not email:
        return None
    owner_id = f"login:{st.user.get('iss') or ''}|{subject}" if subject else f"login:{email.lower()}"
    return Identity(owner_id, str(st.user.get("name") or email or subject)[:64], True)


# ---- the browser id ----
def _key() -> bytes:
    return access.server_key(get_settings())


def _browser_cookies() -> dict[str, str]:
    """The cookies the browser sent when this session opened (a reload opens a new session)."""
    return dict(st.context.cookies)


def browser_id() -> str:
    """This browser's id: the session's, else the one in a cookie the server signed, else a new one."""
    if _BROWSER_KEY not in st.session_state:
        key = _key()
        from_cookie = access.verify(key, _browser_cookies().get(access.cookie_name(key)))
        st.session_state[_BROWSER_KEY] = from_cookie or access.new_browser_id()
    return st.session_state[_BROWSER_KEY]


def remember_browser() -> None:
    """Hand the browser its signed id as a cookie, unless it sent that very cookie when the session opened.

    The script holds only server-made characters (the id is URL-safe base64, the signature hex).
    """
    key, value = _key(), browser_id()
    name = access.cookie_name(key)
    if access.verify(key, _browser_cookies().get(name)) == value:
        return
    cookie = f"{name}={access.sign(key, value)}; Max-Age={COOKIE_MAX_AGE_S}; Path=/; SameSite=Strict"
    st.sidebar.html(f"<script>document.cookie = '{cookie}' + (location.protocol === 'https:' ? '; Secure' : '');"
                    "</script>", unsafe_allow_javascript=True)


# ---- who is asking ----
def owner_id() -> str:
    """Who is asking, without the name box: what a per-user quota or record should key on ("" before a login)."""
    if login_configured():
        found = _login_identity()
        return found.owner_id if found else ""
    remember_browser()
    return f"browser:{browser_id()}"


def who_is_asking(newest_name: Callable[[str], str] | None = None) -> Identity:
    """The login, or this browser's id with the name box (filled with the name of its newest run, if any)."""
    if login_configured():
        found = _login_identity()
        if found is not None:
            st.caption(f"Signed in as **{plain_markdown(found.name)}**.")
            return found
        st.button("Log in", key="login", on_click=st.login, icon=":material/login:",
                  help="Log in to start runs and change your own; anyone may watch.")
        return Identity("", "", True)
    owner_id = f"browser:{browser_id()}"
    remember_browser()
    if NAME_KEY not in st.session_state and newest_name is not None:  # once a session: a reload keeps the name
        st.session_state[NAME_KEY] = newest_name(owner_id)
    name = st.text_input("Your name", key=NAME_KEY, max_chars=32,
                         help="Shown beside your runs. Only this browser (or the instructor) may change the runs "
                              "it starts, whatever name is typed.")
    return Identity(owner_id, " ".join(name.split()), False)


def plain_markdown(text: str) -> str:
    """Text shown in Markdown as typed: a name cannot become a link, a heading or bold text."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]()<>#+-.!|~$:" else c for c in text)


# ---- the instructor ----
def instructor_secret() -> str:
    """The secret from the server's Streamlit secrets (``cvlab_instructor_secret``) or CVLAB_INSTRUCTOR_SECRET."""
    try:
        secret = st.secrets.get("cvlab_instructor_secret", "")
    except Exception:  # no secrets.toml at all: Streamlit raises instead of returning the default
        secret = ""
    return str(secret or get_settings().instructor_secret)


def _fingerprint(secret: str) -> str:
    return hmac.new(_key(), f"instructor:{secret}".encode(), sha256).hexdigest()


def _check_typed() -> None:
    """On a change of the secret box: one guess, counted once however often the page reruns afterwards."""
    typed = st.session_state.get("instructor_typed", "")
    st.session_state["instructor_typed"] = ""
    secret = instructor_secret()
    if not typed or not secret:
        return
    # counted per browser (its signed id survives reloads) or login, never server-wide: a count every student
    # adds to would let any one of them lock the instructor out; a long secret makes guessing hopeless anyway
    asker = owner_id() or st.session_state.setdefault(_SESSION_KEY, secrets.token_hex(8))
    try:
        ok = GUESSES.attempt([asker], lambda: access.secret_matches(typed, secret))
    except access.TooManyGuesses as err:
        st.session_state[_MESSAGE_KEY] = str(err)
        return
    if ok:
        st.session_state[_INSTRUCTOR_KEY] = _fingerprint(secret)
    else:
        st.session_state[_MESSAGE_KEY] = "That is not the instructor secret."


def _leave() -> None:
    st.session_state.pop(_INSTRUCTOR_KEY, None)


def instructor_box() -> bool:
    """The secret box, or "Instructor mode" once this session typed the secret; True in instructor mode."""
    secret = instructor_secret()
    if not secret:
        return False
    if problem := access.weak_secret_problem(secret):
        st.caption(problem)
        return False
    if st.session_state.get(_INSTRUCTOR_KEY) == _fingerprint(secret):  # a changed secret ends the mode
        st.button("Leave instructor mode", key="instructor_leave", on_click=_leave, icon=":material/logout:",
                  help="Instructor mode: you may pause, stop, change or delete anyone's run.")
        return True
    st.text_input("Instructor secret", type="password", key="instructor_typed", on_change=_check_typed,
                  help="Lets the instructor pause, stop, change or delete anyone's run.")
    if message := st.session_state.pop(_MESSAGE_KEY, None):
        st.error(message, icon=":material/lock:")
    return False
