"""JSON output: one document on stdout, the contract in ../shared/docs/cli-contract.md."""

from __future__ import annotations

import json


def render(result, stream) -> None:
    """Write ``result.to_json()`` to ``stream`` as one JSON document."""
    json.dump(result.to_json(), stream, indent=1)
    stream.write("\n")
