"""``html [--port N] [--host ADDR] [--open]``: the browser UI on a local web server.

Indexes the heap (and its dominator tree) first, with progress on stderr, then serves
until Ctrl-C. The server listens on 127.0.0.1 only; ``--host`` names another address
explicitly, with a warning when it is not loopback.
"""

from __future__ import annotations

import sys
import time
import webbrowser
from dataclasses import dataclass, field
from typing import Any

from ..render import text
from ..progress import finish, report

HELP = "browse the dump in a web browser: a local web UI on 127.0.0.1 (--port N, --open)"
DEFAULT_HOST = "127.0.0.1"


def add_arguments(parser) -> None:
    """Take the port, the address and --open."""
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0: a free one)")
    parser.add_argument("--host", metavar="ADDR",
                        help="listen on ADDR instead of 127.0.0.1 (a warning unless it is loopback: "
                             "anyone who reaches it reads the dump's memory)")
    parser.add_argument("--open", action="store_true", help="open the UI in the default browser")


@dataclass
class Served:
    """What ``html`` served, once it stops."""

    url: str
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the URL the UI was served at."""
        return {"url": self.url, "stopped": True}


@text.render.register
def _(result: Served, console) -> None:
    console.print(f"stopped serving {result.url}")


def _say(message: str) -> None:
    print(f"viewcore: {message}", file=sys.stderr, flush=True)


def run(gp, args) -> Served:
    """Index the dump, then serve its pages until interrupted; return where it served."""
    # imported here: the other commands start without loading the web stack
    from ..web import HeapView, WebServer, is_loopback, listen

    host = args.host or DEFAULT_HOST
    sock = listen(host, args.port, allow_remote=args.host is not None)   # refuse before indexing
    try:
        if not is_loopback(sock.getsockname()[0]):
            _say(f"warning: serving on {host}, not loopback: anyone who can reach this machine "
                 "can read the dump's memory through it")
        t0 = time.monotonic()
        view = HeapView(gp, say=lambda stage: _say(f"note: {stage}"), progress=report)
        finish()
        _say(f"note: ready in {time.monotonic() - t0:.1f} s")
        server = WebServer(view, sock)
    except BaseException:
        sock.close()
        raise
    _say(f"serving {server.url} (Ctrl-C stops)")
    if args.open:
        webbrowser.open(server.url)
    try:
        server.run()
    except KeyboardInterrupt:   # uvicorn stops gracefully on Ctrl-C, then re-raises it
        pass
    return Served(server.url, list(gp.warnings))
