"""The web UI served in-process, on a free loopback port, over one fixture dump.

The dump is go1.22.10's crash core of heapkeeper: its manifest names objects (``leak_first``,
``big``, ...) and the globals the program reached them through (heapkeeper/main.go), and its
goroutines (``main.parkChanRecv`` is goroutine 18, parked in ``chan receive``).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import fixture_index, go_case

WANT = ("go1.22.10", "crash")


def heapkeeper_entry() -> dict | None:
    """Return the index entry of go1.22.10's crash dump (with DWARF), or None."""
    return next((e for e in fixture_index() if (e["go_version"], e["kind"]) == WANT
                 and not e.get("stripped")), None)


@pytest.fixture(scope="session")
def served():
    """Yield (case, view, base URL) of a WebServer on 127.0.0.1, stopped afterwards."""
    entry = heapkeeper_entry()
    if entry is None:
        pytest.skip("no go1.22.10 crash fixture dump")
    from viewcore.web import HeapView, WebServer, listen
    case, gp = go_case(entry)
    view = HeapView(gp)
    server = WebServer(view, listen("127.0.0.1", 0))
    server.start()
    try:
        yield case, view, server.url.rstrip("/")
    finally:
        server.stop()


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, str]:
    """Return (status, headers, body) of a GET, errors included (no redirects followed)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


@pytest.fixture(scope="session")
def shots_dirs(tmp_path_factory) -> list[Path]:
    """Return the directories each screenshot is written to: one under pytest's tmp dir,
    and $VIEWCORE_WEB_SHOTS when it is set."""
    dirs = [tmp_path_factory.mktemp("web-shots")]
    extra = os.environ.get("VIEWCORE_WEB_SHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        dirs.append(Path(extra))
    return dirs
