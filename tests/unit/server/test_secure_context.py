"""Whether the browser will give the page its camera, told from the address it used."""

import pytest

from cvlab.server.secure_context import camera_blocked, https_help, page_origin


@pytest.mark.parametrize("url", ["http://lab-server:8501/", "http://10.0.0.5:8501/detection",
                                 "http://lab.example.edu/"])
def test_plain_http_to_another_machine_is_refused_the_camera(url):
    blocked = camera_blocked(url, {})
    assert blocked is not None and not blocked.secure and blocked.shown == url.split("/d")[0].rstrip("/")


@pytest.mark.parametrize("url", ["https://lab-server:8501/", "http://localhost:8501/", "http://127.0.0.1:8501/",
                                 "http://127.0.1.1/", "http://[::1]:8501/", "http://cvlab.localhost/"])
def test_https_or_the_machine_itself_may_ask_for_the_camera(url):
    assert camera_blocked(url, {}) is None


def test_without_the_browsers_url_the_connection_headers_tell():
    assert camera_blocked(None, {"Origin": "http://lab-server:8501"}).shown == "http://lab-server:8501"
    assert camera_blocked(None, {"Host": "lab-server", "X-Forwarded-Proto": "https"}) is None  # TLS at a proxy
    assert camera_blocked(None, {"host": "lab-server:8501"}).shown == "http://lab-server:8501"
    assert camera_blocked(None, {}) is None and page_origin("not a url", {}) is None  # nothing says: no warning


def test_a_hostile_host_is_never_shown_back():
    blocked = camera_blocked("http://a`b*c](http://evil)x:8501/", {})
    assert blocked is not None and blocked.shown in ("http://this server:8501", "http://this server")
    assert "evil" not in https_help(blocked) and "CN=lab-server" in https_help(blocked)


def test_the_https_help_names_the_server_and_streamlits_own_tls_options():
    text = https_help(page_origin("http://lab-server:8501/", {}))
    assert 'subjectAltName=DNS:lab-server' in text and "openssl req -x509" in text
    assert "--server.sslCertFile cvlab.crt --server.sslKeyFile cvlab.key" in text
    assert "proxy_set_header Upgrade $http_upgrade" in text and "https://lab-server:8501" in text
    assert "subjectAltName=IP:10.0.0.5" in https_help(page_origin("http://10.0.0.5:8501/", {}))


def test_the_https_help_offers_the_lab_server_command_with_tls_at_the_proxy():
    text = https_help(page_origin("http://lab-server:8501/", {}))
    assert "python -m cvlab serve --replicas 2 --tls self-signed --name lab-server" in text
    assert "--tls fullchain.pem:privkey.pem" in text and "apt-get install -y haproxy" in text
    hostile = https_help(page_origin("http://ev<il>:8501/", {}))
    assert "--name lab-server" in hostile and "ev<il>" not in hostile
