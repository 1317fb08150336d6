"""JSON output: one document on stdout, the contract in ../shared/docs/cli-contract.md."""

from __future__ import annotations

import json


def render(result, stream) -> None:
    """Write ``result.to_json()`` to ``stream`` as one JSON document."""
    # Compact: the C encoder is ten times faster than an indented dump on big results.
    stream.write(json.dumps(result.to_json(), separators=(",", ":")))
    stream.write("\n")
