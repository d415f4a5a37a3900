"""The lab-server command's proxy: HAProxy's configuration, its TLS files, and what happens without HAProxy."""

from __future__ import annotations

import re
import stat
import subprocess

import pytest

from cvlab.__main__ import main
from cvlab.errors import InvalidInput
from cvlab.server import haproxy as proxy
from cvlab.server.haproxy import Backend, ProxyMissing, combined_pem, haproxy_config, self_signed_certificate

BACKENDS = [Backend("r1", 40001), Backend("r2", 40002), Backend("r3", 40003)]


def test_the_config_pins_a_browser_by_cookie_and_keeps_websockets_open():
    text = haproxy_config(BACKENDS, address="0.0.0.0", port=8501)
    assert re.search(r"^\s*cookie SERVERID insert indirect nocache httponly$", text, re.M)
    assert "balance source" not in text  # a lab behind NAT shares one address
    assert re.search(r"^\s*timeout tunnel 1h", text, re.M)
    servers = re.findall(r"^\s*server (\S+) (\S+) check cookie (\S+)$", text, re.M)
    assert servers == [("r1", "127.0.0.1:40001", "r1"), ("r2", "127.0.0.1:40002", "r2"),
                       ("r3", "127.0.0.1:40003", "r3")]
    assert re.search(r"^\s*bind 0\.0\.0\.0:8501$", text, re.M)  # plain http: no ssl on the bind line
    assert "X-Forwarded-Proto http\n" in text
    assert "option httpchk GET /_stcore/health" in text


def test_with_tls_the_bind_line_carries_the_certificate_and_the_cookie_is_secure(tmp_path):
    pem = tmp_path / "haproxy.pem"
    text = haproxy_config(BACKENDS[:2], address="127.0.0.1", port=8443, pem=pem)
    assert re.search(rf"^\s*bind 127\.0\.0\.1:8443 ssl crt {re.escape(str(pem))}$", text, re.M)
    assert re.search(r"cookie SERVERID insert indirect nocache httponly secure$", text, re.M)
    assert "X-Forwarded-Proto https" in text  # the app tells a secure context by it behind the proxy
    assert len(re.findall(r"^\s*server ", text, re.M)) == 2


def test_no_replicas_is_refused():
    with pytest.raises(InvalidInput, match="at least one replica"):
        haproxy_config([], address="0.0.0.0", port=8501)


def test_haproxy_itself_accepts_the_configs(tmp_path):
    cert, key = self_signed_certificate(tmp_path / "tls", ["lab-server", "127.0.0.1"])
    pem = combined_pem(cert, key, tmp_path / "tls" / "haproxy.pem")
    for name, tls in (("plain.cfg", None), ("tls.cfg", pem)):
        config = tmp_path / name
        config.write_text(haproxy_config(BACKENDS, address="127.0.0.1", port=8501, pem=tls))
        proxy.check_config(proxy.find_haproxy(), config)  # raises ProxyFailed with HAProxy's complaint


def test_without_haproxy_the_command_says_how_to_install_it_and_starts_nothing(monkeypatch, capsys):
    monkeypatch.setattr(proxy.shutil, "which", lambda name: None)
    monkeypatch.setattr(proxy.os, "access", lambda path, mode: False)
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a))
    assert main(["serve", "--replicas", "2", "--port", "18599"]) == 2
    err = capsys.readouterr().err
    assert "HAProxy is not installed" in err and "apt-get install -y haproxy" in err
    assert started == []
    with pytest.raises(ProxyMissing):
        proxy.find_haproxy()


@pytest.mark.parametrize("argv, message", [
    (["--replicas", "0"], "at least 1 replica"),
    (["--tls", "cert-only.pem"], "self-signed` or CERT.pem:KEY.pem"),
    (["--tls", "/nonexistent/c.pem:/nonexistent/k.pem"], "Cannot read the TLS certificate"),
])
def test_bad_arguments_are_refused_with_what_to_give(argv, message, capsys):
    assert main(["serve", "--port", "18599", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_certificate_and_key_become_one_private_pem(tmp_path):
    cert, key = self_signed_certificate(tmp_path / "tls", ["lab-server"])
    out = combined_pem(cert, key, tmp_path / "out" / "haproxy.pem")
    text = out.read_text()
    assert text.index("BEGIN CERTIFICATE") < text.index("PRIVATE KEY")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with pytest.raises(InvalidInput, match="PEM certificate then its PEM key"):
        combined_pem(key, cert, tmp_path / "swapped.pem")


def test_the_self_signed_certificate_names_the_hosts_and_is_kept_across_starts(tmp_path):
    folder = tmp_path / "tls"
    cert, key = self_signed_certificate(folder, ["lab-server", "10.0.0.5"])
    shown = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(cert)], capture_output=True,
                           text=True, check=True).stdout
    assert "DNS:lab-server" in shown and "IP Address:10.0.0.5" in shown
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = cert.read_bytes()
    assert self_signed_certificate(folder, ["lab-server", "10.0.0.5"])[0].read_bytes() == first  # trusted once, kept
    assert self_signed_certificate(folder, ["lab2"])[0].read_bytes() != first  # another name: a new certificate


def test_a_self_signed_certificate_names_the_typed_server_name_first_and_refuses_odd_names(tmp_path):
    from cvlab.server.replicas import ServePlan, _tls_pem

    pem = _tls_pem(ServePlan(replicas=1, tls="self-signed", names=("lab.example.edu",)), tmp_path)
    shown = subprocess.run(["openssl", "x509", "-noout", "-subject", "-ext", "subjectAltName",
                            "-in", str(tmp_path / "tls" / "self-signed.crt")], capture_output=True, text=True,
                           check=True).stdout
    assert "CN = lab.example.edu" in shown and "DNS:lab.example.edu" in shown and "DNS:localhost" in shown
    assert "IP Address:127.0.0.1" in shown and pem.exists()
    with pytest.raises(InvalidInput, match="not a host name"):
        _tls_pem(ServePlan(replicas=1, tls="self-signed", names=("lab,DNS:evil.example",)), tmp_path)
