"""The web UI's server: a Starlette app on uvicorn, one process, bound to loopback.

``listen`` opens the socket and refuses an address that is not loopback unless the caller
passes ``allow_remote`` (the ``--host`` flag); nothing else can widen it. Requests of a
loopback server must name a loopback host in their ``Host`` header, so a web page that
rebinds its own DNS name to 127.0.0.1 cannot read the dump through the visitor's browser.
Pages are built one at a time under a lock: gocore's lazily built parts are not meant for
concurrent first use, and each page takes milliseconds once ``HeapView`` exists.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import gocore

from ..commands._heap import address
from . import graph
from .views import FIELDS, HeapView, NotFound

HERE = Path(__file__).resolve().parent
LOOPBACK_NAMES = ("localhost",)
SECURITY_HEADERS = {
    # everything the pages load comes from this server; no inline script
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class WebError(gocore.DumpError):
    """The web UI cannot start: an address refused, a port in use."""


class BadRequest(Exception):
    """A query parameter that is not what the page takes."""


def is_loopback(host: str) -> bool:
    """Return whether ``host`` (an IP address or ``localhost``) is a loopback address."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int, allow_remote: bool = False) -> socket.socket:
    """Return a listening TCP socket on ``host``:``port`` (0: a free port).

    Raises WebError for an address that is not loopback unless ``allow_remote``, and for
    one that cannot be bound (in use, not this machine's, not an address)."""
    if not is_loopback(host) and not allow_remote:
        raise WebError(f"refusing to serve on {host}: not a loopback address "
                       f"(--host {host} serves there explicitly)")
    if not 0 <= port <= 65535:
        raise WebError(f"port {port} is not a TCP port (0-65535)")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise WebError(f"cannot serve on {host}: {e.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    if not allow_remote and not is_loopback(sockaddr[0]):   # a name that is not loopback
        raise WebError(f"refusing to serve on {host} ({sockaddr[0]}): not a loopback address")
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise WebError(f"cannot listen on {host}:{port}: {e.strerror or e} (--port 0 picks a free port)") from None
    return sock


def url_of(sock: socket.socket) -> str:
    """Return the http URL of a listening socket."""
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


class HostCheck:
    """ASGI middleware: answer 421 to a request whose ``Host`` is not a loopback name
    (DNS rebinding), when the server listens on loopback only."""

    def __init__(self, app, loopback_only: bool):
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.loopback_only:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            name = host.rsplit("]", 1)[0] + "]" if host.startswith("[") else host.split(":", 1)[0]
            if not is_loopback(name):
                await PlainTextResponse("this server answers only to a loopback Host\n",
                                        status_code=421)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["hex"] = lambda v: "?" if v is None else f"{int(v):#x}"
    env.filters["size"] = human_size
    env.filters["pct"] = lambda f: "?" if f is None else f"{100 * f:.1f} %"
    env.filters["num"] = lambda n: "?" if n is None else f"{int(n):,}"
    env.filters["count"] = lambda n, word: f"{int(n):,} {word}{'' if n == 1 else 's'}"
    return env


def human_size(n: int | None) -> str:
    """Return ``n`` bytes as people read them (``1.5 MiB``)."""
    if n is None:
        return "?"
    x = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if x < 1024 or unit == "GiB":
            return f"{int(x)} B" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return str(n)


def _int(request: Request, name: str, default: int = 0) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw!r} is not a number") from None


def _addr(text: str) -> int:
    try:
        return address(text)
    except argparse.ArgumentTypeError as e:
        raise BadRequest(str(e)) from None


def make_app(view: HeapView, loopback_only: bool = True) -> HostCheck:
    """Return the ASGI app serving the pages of ``view``."""
    env = _templates()
    lock = threading.Lock()

    def render(name: str, status: int = 200, **ctx) -> HTMLResponse:
        html = env.get_template(name).render(go_version=view.summary.go_version, **ctx)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def page(template: str, build: Callable[[Request], dict]):
        def endpoint(request: Request) -> Response:
            t0 = time.perf_counter()
            with lock:
                try:
                    ctx = build(request)
                    resp = render(template, **ctx)
                except NotFound as e:
                    resp = render("error.html", status=404, title="Not found", message=str(e))
                except BadRequest as e:
                    resp = render("error.html", status=400, title="Bad request", message=str(e))
                except gocore.Error as e:     # the dump lacks what this page reads
                    resp = render("error.html", status=500, title="Unreadable", message=str(e))
            resp.headers["Server-Timing"] = f"page;dur={1000 * (time.perf_counter() - t0):.1f}"
            return resp
        return endpoint

    def find(request: Request) -> Response:
        text = request.query_params.get("addr", "").strip()
        try:
            return RedirectResponse(f"/object/{_addr(text):#x}", status_code=303)
        except BadRequest as e:
            return render("error.html", status=400, title="Bad request", message=str(e))

    def graph_page(request: Request) -> dict:
        addr = _addr(request.path_params["addr"])
        i = view.object_id(addr)
        if i is None:
            raise NotFound(f"{addr:#x} is not inside an allocated heap object")
        ref = view.obj_ref(i)
        try:
            return {"target": ref, "svg": graph.render_svg(graph.neighbourhood(view, i)), "problem": None}
        except graph.NoGraphviz as e:
            return {"target": ref, "svg": None, "problem": str(e)}

    def histogram_page(request: Request) -> dict:
        grouped = request.query_params.get("grouped") == "1"
        q, elem = request.query_params.get("q", ""), request.query_params.get("elem")
        return dict(view.histogram_rows(grouped, q, elem), grouped=grouped, q=q, elem=elem)

    routes = [
        Route("/", page("overview.html", lambda r: view.overview())),
        Route("/goroutines", page("goroutines.html", lambda r: view.goroutine_groups(_int(r, "page")))),
        Route("/goroutines/group/{k:int}", page("group.html", lambda r: view.goroutine_group(
            r.path_params["k"], _int(r, "page")))),
        Route("/goroutine/{gid:int}", page("goroutine.html", lambda r: view.goroutine(r.path_params["gid"]))),
        Route("/histogram", page("histogram.html", histogram_page)),
        Route("/type", page("type.html", lambda r: view.type_objects(r.query_params.get("name", ""),
                                                                     _int(r, "page")))),
        Route("/object/{addr}", page("object.html", lambda r: {"o": view.object(
            _addr(r.path_params["addr"]), _int(r, "out"), _int(r, "in"), _int(r, "fields", FIELDS))})),
        Route("/find", find),
        Route("/roots", page("roots.html", lambda r: view.roots(r.query_params.get("kind") or None,
                                                               _int(r, "page")))),
        Route("/suspects", page("suspects.html", lambda r: view.suspects())),
        Route("/graph/{addr}", page("graph.html", graph_page)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    return HostCheck(app, loopback_only)


class WebServer:
    """The uvicorn server of one HeapView on one listening socket."""

    def __init__(self, view: HeapView, sock: socket.socket):
        self.sock = sock
        self.url = url_of(sock)
        loopback_only = is_loopback(sock.getsockname()[0])
        config = uvicorn.Config(make_app(view, loopback_only), log_level="warning", access_log=False,
                                lifespan="off", workers=1)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve until Ctrl-C (or ``stop``); uvicorn handles the signals in the main thread."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def start(self) -> None:
        """Serve in a background thread (for tests); return once it accepts requests."""
        self._thread = threading.Thread(target=self.run, name="viewcore-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise WebError(f"the web server at {self.url} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop a server started with ``start`` and wait for its thread."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
