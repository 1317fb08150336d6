"""One module per command; each has HELP, ``add_arguments(parser)`` and ``run(gp, args)``.

``run`` returns a result record from ``viewcore.results`` and prints nothing.
"""

from . import goroutine, goroutines, mappings, overview, threads

COMMANDS = {
    "overview": overview,
    "mappings": mappings,
    "threads": threads,
    "goroutines": goroutines,
    "goroutine": goroutine,
}
