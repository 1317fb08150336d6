"""The browser UI (``viewcore DUMP html``): pages over the same heap index as the CLI.

``views.HeapView`` computes what every page shows, once per dump; ``server`` serves it with
Starlette on uvicorn, bound to loopback unless asked otherwise; ``graph`` draws an
object's neighbourhood with Graphviz.
"""

from .server import WebError, WebServer, is_loopback, listen
from .views import HeapView

__all__ = ["HeapView", "WebError", "WebServer", "is_loopback", "listen"]
