"""JSON output: one document on stdout, the contract in ../shared/docs/cli-contract.md."""

from __future__ import annotations

import json

from .rowtext import write_bytes


def render(result, stream) -> None:
    """Write ``result.to_json()`` to ``stream`` as one JSON document and a newline."""
    write(result, stream)
    stream.write("\n")


def write(result, stream) -> None:
    """Write ``result.to_json()`` to ``stream`` (in pieces for results that stream:
    ``json_chunks``), without a newline."""
    chunks = getattr(result, "json_chunks", None)
    if chunks is not None:
        for piece in chunks():
            if isinstance(piece, bytes):
                write_bytes(stream, piece)
            else:
                stream.write(piece)
        return
    # Compact: the C encoder is ten times faster than an indented dump on big results.
    stream.write(json.dumps(result.to_json(), separators=(",", ":")))
