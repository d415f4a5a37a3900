"""The reverse proxy in front of several Streamlit processes: HAProxy's configuration and its TLS files.

Why a proxy, and why these lines. One Streamlit process runs scripts on one core; a class needs
several processes, and a student's browser must keep talking to the one that holds its session
(``st.session_state``, its websocket). The proxy pins a browser to a replica with a cookie it
inserts itself (``SERVERID``), not by client address: a whole lab often reaches the server from
one address behind NAT, and would all land on one replica. A Streamlit page lives on one long
websocket, which HAProxy passes through as a tunnel: ``timeout tunnel`` (not ``timeout client``)
is how long an idle open tab keeps it.

TLS ends at the proxy (``bind ... ssl crt``): browsers give the camera only to a secure context,
and HAProxy wants the certificate and its key in one PEM file, written here readable by the
server's account only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from cvlab.data.in_place import write_atomically
from cvlab.errors import CvlabError, InvalidInput

INSTALL_COMMAND = "sudo apt-get install -y haproxy"
COOKIE = "SERVERID"
TUNNEL_TIMEOUT = "1h"  # an open tab that says nothing for an hour loses its websocket (Streamlit reconnects)
CERT_DAYS = 825  # the longest validity browsers accept for a certificate


class ProxyMissing(CvlabError):
    """HAProxy is not installed; the message gives the install command."""


class ProxyFailed(CvlabError):
    """A replica or the proxy did not start or stopped; the message names its log."""


@dataclass(frozen=True)
class Backend:
    name: str  # also the SERVERID cookie value: "r1", "r2", ...
    port: int  # on 127.0.0.1 only: nothing but the proxy reaches a replica


def haproxy_config(backends: Sequence[Backend], *, address: str, port: int, pem: Path | None = None) -> str:
    """HAProxy's configuration: one frontend on ``address:port`` (TLS when ``pem``), sticky by cookie."""
    if not backends:
        raise InvalidInput("Serving needs at least one replica.")
    tls = f" ssl crt {pem}" if pem else ""
    servers = "\n".join(f"    server {b.name} 127.0.0.1:{b.port} check cookie {b.name}" for b in backends)
    return f"""\
# Written by python -m cvlab serve; rewritten at every start.
global
    maxconn 4096

defaults
    mode http
    option forwardfor
    option redispatch          # a browser pinned to a replica that is down goes to one that is up
    retries 2
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout tunnel {TUNNEL_TIMEOUT}         # the websocket of an open page, once upgraded

frontend cvlab
    bind {address}:{port}{tls}
    http-request set-header X-Forwarded-Proto {"https" if pem else "http"}
    default_backend streamlit

backend streamlit
    balance leastconn          # websockets are long: count open ones, not requests
    cookie {COOKIE} insert indirect nocache httponly{" secure" if pem else ""}
    option httpchk GET /_stcore/health
    http-check expect status 200
    default-server inter 2s fall 2 rise 1
{servers}
"""


def find_haproxy() -> str:
    """The haproxy executable, or ProxyMissing with the command that installs it."""
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None)
    if not found:
        raise ProxyMissing(
            "HAProxy is not installed, and serving several replicas needs it in front. Install it with "
            f"`{INSTALL_COMMAND}` (Debian, Ubuntu), or serve one process with `streamlit run streamlit_app.py`.")
    return found


def check_config(haproxy: str, config: Path) -> None:
    """HAProxy's own check of a written configuration (``-c``), its complaint in the error."""
    done = subprocess.run([haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
    if done.returncode != 0:
        raise ProxyFailed(f"HAProxy refused {config}: {(done.stderr or done.stdout).strip()[-600:]}")


def _private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by this account only (a private key goes in it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, data, mode=0o600)  # its temp file is 0o600 from the start (mkstemp)


def combined_pem(cert: Path, key: Path, out: Path) -> Path:
    """The certificate (with its chain) and its key in one file, as ``bind ... ssl crt`` reads them."""
    texts = []
    for what, path in (("certificate", cert), ("key", key)):
        try:
            texts.append(Path(path).read_bytes())
        except OSError as err:
            raise InvalidInput(f"Cannot read the TLS {what} {path}: {err.strerror}. "
                               "Give --tls CERT.pem:KEY.pem.") from None
    if b"CERTIFICATE-----" not in texts[0] or b"PRIVATE KEY-----" not in texts[1]:
        raise InvalidInput(f"--tls wants a PEM certificate then its PEM key (CERT.pem:KEY.pem); {cert} or {key} "
                           "is not one. A Let's Encrypt pair is fullchain.pem:privkey.pem.")
    _private_file(out, texts[0].rstrip(b"\n") + b"\n" + texts[1])
    return out


def server_names() -> list[str]:
    """The names and addresses a student may type for this machine, for a self-signed certificate."""
    names = [socket.gethostname(), socket.getfqdn(), "localhost"]
    addresses = ["127.0.0.1", "::1"]
    try:  # the address of the interface that routes outwards; a UDP connect sends no packet
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.254.254.254", 1))
            addresses.append(probe.getsockname()[0])
    except OSError:
        pass
    return list(dict.fromkeys(n for n in names + addresses if n))


def self_signed_certificate(folder: Path, names: Sequence[str]) -> tuple[Path, Path]:
    """A certificate for ``names`` and its key under ``folder``, kept while it is valid for 30 more days and
    names the same hosts, so a browser told to trust it once keeps trusting it across restarts."""
    cert, key, listed = folder / "self-signed.crt", folder / "self-signed.key", folder / "self-signed.names"
    wanted = "\n".join(names)
    if cert.exists() and key.exists() and listed.exists() and listed.read_text() == wanted:
        still_valid = subprocess.run(["openssl", "x509", "-checkend", str(30 * 86400), "-noout", "-in", str(cert)],
                                     capture_output=True)
        if still_valid.returncode == 0:
            return cert, key
    if not shutil.which("openssl"):
        raise ProxyMissing("openssl is needed to make a self-signed certificate: `sudo apt-get install -y openssl`.")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    alt = ",".join(f"IP:{n}" if _is_address(n) else f"DNS:{n}" for n in names)
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", str(CERT_DAYS), "-nodes",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={alt}"],
        capture_output=True, text=True)
    if made.returncode != 0:
        raise ProxyFailed(f"openssl could not make a certificate: {made.stderr.strip()[-400:]}")
    os.chmod(key, 0o600)
    listed.write_text(wanted)
    return cert, key


def _is_address(name: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, name)
            return True
        except OSError:
            pass
    return False
