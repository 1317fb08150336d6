"""``--json-envelope``: any command's JSON document inside a versioned envelope.

The documents of the contract keep their shapes (list-shaped ones stay lists: old scripts
index them); a script that wants a schema version and a place for ``partial`` on every
command asks for the envelope instead::

    {"schema": 1, "command": "histogram", "partial": false, "warnings": [], "data": <document>}

``data`` is exactly what ``--json`` prints. Documents made since (``report``, ``sql``,
``fleet``) carry ``schema`` at their top level themselves.
"""

from __future__ import annotations

import json

from . import jsonout

SCHEMA = 1


def render(result, command: str, warnings: list[str], stream) -> None:
    """Write ``result``'s JSON document to ``stream`` inside the envelope."""
    head = {"schema": SCHEMA, "command": command, "partial": bool(warnings), "warnings": list(warnings)}
    stream.write(json.dumps(head, separators=(",", ":"))[:-1] + ',"data":')
    jsonout.write(result, stream)
    stream.write("}\n")
