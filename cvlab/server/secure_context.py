"""Whether the browser will let this page open its camera, told from the address it used.

Browsers give the camera (``getUserMedia``) only to a secure context: a page loaded over
https://, or from the machine itself (localhost, 127.0.0.1, ::1). A lab server reached as
``http://lab-server:8501`` is neither, so the browser refuses the camera without asking and
the page would show a camera that never opens. The address comes from the browser
(Streamlit's ``st.context.url``), else from the request headers; both are only read here to
choose a message, and only a cleaned-up host name is ever shown back.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

_SHOWABLE_HOST = re.compile(r"^[A-Za-z0-9.\-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$")


@dataclass(frozen=True)
class PageOrigin:
    scheme: str  # "http" or "https"
    host: str  # as the browser typed it, lower case
    port: int | None

    @property
    def secure(self) -> bool:
        """What the browser decides: https anywhere, or plain http on the machine itself."""
        return self.scheme == "https" or _is_loopback(self.host)

    @property
    def shown(self) -> str:
        """``http://lab-server:8501``, or a neutral phrase when the host has characters a name never has."""
        host = self.host if _SHOWABLE_HOST.match(self.host) else "this server"
        return f"{self.scheme}://{host}" + (f":{self.port}" if self.port else "")


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse(url: str | None) -> PageOrigin | None:
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # an address no browser would use; plain http is still plain http
        return PageOrigin("http", "", None) if url.strip().lower().startswith("http://") else None
    try:
        port = parts.port
    except ValueError:  # not a number: the host is odd too, and is not shown
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return PageOrigin(parts.scheme, host.lower(), port)


def page_origin(url: str | None, headers: Mapping[str, str] | None = None) -> PageOrigin | None:
    """Where the browser loaded the page from: its own URL, else the Origin header of the app's
    connection, else Host with the proxy's X-Forwarded-Proto; None when nothing says."""
    found = _parse(url)
    if found is not None:
        return found
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    found = _parse(headers.get("origin"))
    if found is not None:
        return found
    if headers.get("host"):
        scheme = headers.get("x-forwarded-proto", "http").split(",")[0].strip().lower()
        return _parse(f"{scheme}://{headers['host']}")
    return None


def camera_blocked(url: str | None, headers: Mapping[str, str] | None = None) -> PageOrigin | None:
    """The page's origin when the browser will refuse it the camera; None when it may ask (or nothing says)."""
    origin = page_origin(url, headers)
    return origin if origin is not None and not origin.secure else None


def https_help(origin: PageOrigin) -> str:
    """For whoever runs the server: how to serve CV Lab over HTTPS, the simplest way first (Markdown)."""
    host = origin.host if _SHOWABLE_HOST.match(origin.host) else "lab-server"
    name = host.strip("[]")
    try:
        ipaddress.ip_address(name)
        alt = f"IP:{name}"
    except ValueError:
        alt = f"DNS:{name}"
    return f"""\
**1. A self-signed certificate (the simplest).** On the server, make one for the name students type:

```
openssl req -x509 -newkey rsa:2048 -sha256 -days 365 \\
  -nodes -keyout cvlab.key -out cvlab.crt \\
  -subj "/CN={name}" -addext "subjectAltName={alt}"
```

Then let Streamlit speak HTTPS itself:

```
streamlit run streamlit_app.py \\
  --server.sslCertFile cvlab.crt --server.sslKeyFile cvlab.key
```

(or `sslCertFile` and `sslKeyFile` under `[server]` in `.streamlit/config.toml`). Students open
`https://{host}:8501` and accept the browser's warning once, or install `cvlab.crt` as trusted on the
lab machines so there is no warning. Streamlit's documentation advises TLS at a reverse proxy rather
than in Streamlit for production use.

**2. TLS at a reverse proxy (what a class server should run).** CV Lab's own lab-server command starts
HAProxy with TLS in front of several app processes (`sudo apt-get install -y haproxy` first):

```
python -m cvlab serve --replicas 2 --tls self-signed --name {name}
```

(`--tls fullchain.pem:privkey.pem` for a real certificate). Any other proxy works too if it holds the
certificate and passes the app's websocket through, e.g. nginx:

```
server {{
    listen 443 ssl;
    server_name {name};
    ssl_certificate     /etc/ssl/certs/cvlab.crt;
    ssl_certificate_key /etc/ssl/private/cvlab.key;
    location / {{
        proxy_pass http://127.0.0.1:8501;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header Host $host;
        proxy_read_timeout 86400;
    }}
}}
```

with Streamlit on `--server.address 127.0.0.1`, so only the proxy reaches it.

**3. A real certificate**, so no browser warns at all: ask your institution's IT for a certificate for the
server's DNS name, or, for a name reachable from the internet, get one from Let's Encrypt
(`certbot certonly --standalone -d lab.example.edu`) and point the proxy (or `sslCertFile` /
`sslKeyFile`) at its `fullchain.pem` and `privkey.pem`.
"""
