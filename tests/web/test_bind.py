"""Where the web UI listens: loopback by default, another address only when named
explicitly (with a warning), and one error line for an address it cannot have."""

from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import run_cli
from viewcore.web import WebError, listen
from viewcore.web import server as web_server

from .conftest import heapkeeper_entry


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com"])
def test_non_loopback_is_refused_by_default(host):
    with pytest.raises(WebError, match="refusing to serve on"):
        listen(host, 0)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.2"])
def test_loopback_is_served(host):
    sock = listen(host, 0)
    try:
        addr, port = sock.getsockname()[:2]
        assert addr.startswith("127.") and port > 0
        assert web_server.url_of(sock) == f"http://{addr}:{port}/"
    finally:
        sock.close()


def test_ipv6_loopback_is_served():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        sock = listen("::1", 0)
    except WebError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    try:
        assert web_server.url_of(sock).startswith("http://[::1]:")
    finally:
        sock.close()


def test_explicit_remote_is_allowed():
    sock = listen("0.0.0.0", 0, allow_remote=True)
    try:
        assert sock.getsockname()[0] == "0.0.0.0"
    finally:
        sock.close()


def test_busy_port_and_bad_port_are_errors():
    held = listen("127.0.0.1", 0)
    try:
        port = held.getsockname()[1]
        with pytest.raises(WebError, match=f"cannot listen on 127.0.0.1:{port}"):
            listen("127.0.0.1", port)
    finally:
        held.close()
    with pytest.raises(WebError, match="not a TCP port"):
        listen("127.0.0.1", 70000)


def _case():
    entry = heapkeeper_entry()
    if entry is None:
        pytest.skip("no go1.22.10 crash fixture dump")
    from tests.conftest import Case
    return Case(entry)


def test_cli_busy_port_is_one_error_line(capsys):
    case = _case()
    held = listen("127.0.0.1", 0)
    try:
        port = held.getsockname()[1]
        status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "html", "--port", port)
    finally:
        held.close()
    assert status == 1 and out == ""
    lines = [ln for ln in err.splitlines() if not ln.startswith("viewcore: note:")]
    assert lines == [f"viewcore: error: cannot listen on 127.0.0.1:{port}: Address already in use "
                     "(--port 0 picks a free port)"]


def test_cli_explicit_host_warns_and_serves_until_ctrl_c(capsys, monkeypatch):
    """``--host 0.0.0.0`` warns; the URL goes to stderr; --open hands it to the browser;
    Ctrl-C (here raised by the stand-in for uvicorn's loop) ends with exit 0."""
    case = _case()
    opened, served = [], []

    def run(self):
        served.append(self.url)
        raise KeyboardInterrupt

    monkeypatch.setattr(web_server.WebServer, "run", run)
    monkeypatch.setattr("webbrowser.open", opened.append)
    status, out, err = run_cli(capsys, case.core, "--exe", case.exe, "--json", "html",
                               "--host", "0.0.0.0", "--port", "0", "--open")
    assert status == 0, err
    url = served[0]
    assert url.startswith("http://0.0.0.0:") and opened == [url]
    assert "viewcore: warning: serving on 0.0.0.0, not loopback" in err
    assert f"viewcore: serving {url} (Ctrl-C stops)" in err
    assert json.loads(out) == {"url": url, "stopped": True}
