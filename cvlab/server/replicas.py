"""Several ``streamlit run`` processes behind HAProxy, started, watched and stopped together.

``serve`` is what ``python -m cvlab serve --replicas N`` runs: it starts N Streamlit servers on
free loopback ports, waits until each answers its health check, writes HAProxy's configuration
(``cvlab.server.haproxy``) into the data home and runs HAProxy in the foreground in front of them.
A replica that dies is started again on its port (the proxy sends its browsers elsewhere
meanwhile); when the proxy dies, or on Ctrl-C or SIGTERM, everything is stopped, proxy first.

What each replica holds is its own: sessions, cached models, memory. What they share lives on
disk in the data home already: runs, the job queue, caches, the key that signs browser ids. All
replicas get one Streamlit cookie secret, so a form's XSRF token or a login cookie made by one is
honoured by another when the proxy has to move a browser.
"""

from __future__ import annotations

import ctypes
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cvlab.errors import InvalidInput
from cvlab.server import haproxy as proxy
from cvlab.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]  # where streamlit_app.py lives
START_TIMEOUT_S = 120.0  # a cold start imports streamlit, plotly and the pages' modules
STOP_GRACE_S = 10.0
_HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


class _Stop(Exception):
    """SIGTERM or SIGINT (Ctrl-C), turned into an exception so one cleanup runs for both."""


@dataclass(frozen=True)
class ServePlan:
    replicas: int
    port: int = 8501
    address: str = "0.0.0.0"
    tls: str | None = None  # None, "self-signed" or "CERT.pem:KEY.pem"
    names: tuple[str, ...] = ()  # host names for a self-signed certificate (default: this machine's)


@dataclass
class _Child:
    name: str
    command: list[str]
    log: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    restarts: int = 0
    started: float = field(default=0.0)

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.command, cwd=REPO_ROOT, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True,  # Ctrl-C reaches serve, which stops them
                                            preexec_fn=_die_with_parent)
        self.started = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _die_with_parent() -> None:
    """In the child: be sent SIGTERM when ``serve`` itself dies, even by SIGKILL (Linux only)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
            return reply.read() == b"ok"
    except OSError:
        return False


def _tls_pem(plan: ServePlan, folder: Path) -> Path | None:
    if plan.tls is None:
        return None
    if plan.tls == "self-signed":
        for name in plan.names:
            if not _HOST_NAME.match(name) and not proxy._is_address(name):
                raise InvalidInput(f"--name {name!r} is not a host name or an IP address (letters, digits, . and -).")
        names = list(dict.fromkeys([*plan.names, *proxy.server_names()]))  # the typed name first: the CN
        cert, key = proxy.self_signed_certificate(folder / "tls", names)
    else:
        cert_text, sep, key_text = plan.tls.partition(":")
        if not sep or not cert_text or not key_text:
            raise InvalidInput(f"--tls {plan.tls!r}: give `self-signed` or CERT.pem:KEY.pem.")
        cert, key = Path(cert_text).expanduser(), Path(key_text).expanduser()
    return proxy.combined_pem(cert, key, folder / "tls" / "haproxy.pem")


def addresses(plan: ServePlan) -> list[str]:
    """What to type in a browser: this machine's name (and localhost) with the proxy's port."""
    scheme = "https" if plan.tls else "http"
    hosts = [plan.address] if plan.address not in ("0.0.0.0", "::", "*") else [socket.gethostname(), "localhost"]
    return [f"{scheme}://{host}:{plan.port}" for host in hosts]


def _replicas(plan: ServePlan, folder: Path) -> list[tuple[proxy.Backend, _Child]]:
    env = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_urlsafe(32)}
    pairs = []
    for i in range(1, plan.replicas + 1):
        backend = proxy.Backend(f"r{i}", _free_port())
        command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(backend.port),
                   "--server.address", "127.0.0.1", "--server.headless", "true"]
        pairs.append((backend, _Child(backend.name, command, folder / "logs" / f"replica-{backend.name}.log", env)))
    return pairs


def _wait_healthy(pairs: list[tuple[proxy.Backend, _Child]]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = list(pairs)
    while waiting:
        for backend, child in list(waiting):
            if _healthy(backend.port):
                waiting.remove((backend, child))
            elif not child.alive() or time.monotonic() > deadline:
                raise proxy.ProxyFailed(f"Replica {child.name} did not start; its log is {child.log}.")
        time.sleep(0.3)


def _stop(children: list[_Child]) -> None:
    for child in children:
        if child.alive():
            child.process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def serve(plan: ServePlan, settings: Settings, say: Callable[[str], None] = print) -> dict:
    """Run the replicas and the proxy until Ctrl-C, SIGTERM or the proxy's end; returns what ran."""
    if plan.replicas < 1:
        raise InvalidInput(f"--replicas {plan.replicas}: serve at least 1 replica.")
    if not 1 <= plan.port <= 65535:
        raise InvalidInput(f"--port {plan.port} is not a TCP port (1-65535).")
    haproxy = proxy.find_haproxy()  # before anything starts: the message says how to install it
    folder = settings.data_home / "serve"
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    pem = _tls_pem(plan, folder)
    pairs = _replicas(plan, folder)
    config = folder / "haproxy.cfg"
    config.write_text(proxy.haproxy_config([b for b, _ in pairs], address=plan.address, port=plan.port, pem=pem))
    proxy.check_config(haproxy, config)
    front = _Child("proxy", [haproxy, "-db", "-f", str(config)], folder / "logs" / "haproxy.log", dict(os.environ))
    children = [child for _, child in pairs]
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    previous_int = signal.signal(signal.SIGINT, _raise_stop)  # even where a shell started us ignoring it
    try:
        for backend, child in pairs:
            child.start()
            say(f"replica {child.name}: pid {child.process.pid}, http://127.0.0.1:{backend.port} (log {child.log})")
        _wait_healthy(pairs)
        front.start()
        children.insert(0, front)
        time.sleep(0.5)
        if not front.alive():
            raise proxy.ProxyFailed(f"HAProxy stopped at once; its log is {front.log}.")
        say(f"proxy: pid {front.process.pid}, config {config}")
        say(f"CV Lab on {plan.replicas} replica(s): open {' or '.join(addresses(plan))}  (Ctrl-C stops it all)")
        if plan.tls == "self-signed":
            say(f"self-signed certificate {folder / 'tls' / 'self-signed.crt'}: browsers warn once; install it as "
                "trusted on the lab machines, or use --tls fullchain.pem:privkey.pem with a real certificate")
        _watch(pairs, front, say)
    except (KeyboardInterrupt, _Stop):
        say("stopping")
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        _stop(children)
    return {"replicas": plan.replicas, "addresses": addresses(plan), "config": str(config), "stopped": True}


def _raise_stop(signum, frame) -> None:
    raise _Stop()


def _watch(pairs: list[tuple[proxy.Backend, _Child]], front: _Child, say: Callable[[str], None]) -> None:
    """Until the proxy ends: start again a replica that died, on the same port."""
    while True:
        time.sleep(1.0)
        if not front.alive():
            raise proxy.ProxyFailed(f"HAProxy stopped (exit {front.process.returncode}); its log is {front.log}.")
        for backend, child in pairs:
            if not child.alive():
                if time.monotonic() - child.started >= 30:
                    child.restarts = 0  # a replica that ran a while and then died is not a crash loop
                elif child.restarts >= 3:
                    raise proxy.ProxyFailed(f"Replica {child.name} keeps stopping; its log is {child.log}.")
                child.restarts += 1
                say(f"replica {child.name} stopped (exit {child.process.returncode}); starting it again "
                    f"(restart {child.restarts}, log {child.log})")
                child.start()
                say(f"replica {child.name}: pid {child.process.pid}, http://127.0.0.1:{backend.port}")
