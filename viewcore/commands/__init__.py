"""One module per command; each has HELP, ``add_arguments(parser)`` and ``run(gp, args)``.

``run`` returns a result record from ``viewcore.results`` and prints nothing.
"""

from . import (breakdown, diff, goroutine, goroutines, histogram, mappings, object, objects, objgraph, overview, pprof,
               reachable, read, threads, top)
from . import globals as globals_, print as print_, referrers, suspects  # heap walking (issue 12)
from . import html  # the web UI (viewcore/web)
from . import report  # crash pipelines: one document per dump
from . import sql  # DuckDB over the heap index

COMMANDS = {
    "overview": overview,
    "mappings": mappings,
    "threads": threads,
    "goroutines": goroutines,
    "goroutine": goroutine,
    "histogram": histogram,
    "objects": objects,
    "object": object,
    "reachable": reachable,
    "breakdown": breakdown,
    "read": read,
    "pprof": pprof,
    "objgraph": objgraph,
    "top": top,
    "referrers": referrers,
    "globals": globals_,
    "print": print_,
    "suspects": suspects,
    "diff": diff,
    "html": html,
    "report": report,
    "sql": sql,
}

# Short names, in the shell and on the command line: `hist` for `histogram`.
ALIASES = {
    "hist": "histogram",
    "gs": "goroutines",
}
