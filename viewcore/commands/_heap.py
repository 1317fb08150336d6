"""Shared by the heap commands: address arguments and the indexing progress."""

from __future__ import annotations

import argparse

from ..progress import report

_HEX = set("abcdefABCDEF")


def address(text: str) -> int:
    """Parse an address: ``0x``-prefixed or containing a-f is hex, otherwise decimal.

    Go heap addresses (``c000012345``) always hold a hex letter, so hex without ``0x`` works.
    """
    t = text.strip().replace("_", "")
    try:
        if t.lower().startswith("0x"):
            v = int(t[2:], 16)
        elif _HEX & set(t):
            v = int(t, 16)
        else:
            v = int(t, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address: {text!r}") from None
    if not 0 <= v < 1 << 64:
        raise argparse.ArgumentTypeError(f"address out of range: {text!r}")
    return v


def positive(text: str) -> int:
    """Parse a count of at least 1."""
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return v


def heap_index(gp):
    """Return ``gp``'s heap index, reporting progress (``viewcore.progress``) while it is built."""
    return gp.heap_index(report)


def wants_json(args) -> bool:
    """Return whether the command's document is printed as JSON (``--json`` or
    ``--json-envelope``), whose rows keep the documented shape."""
    return bool(getattr(args, "json", False) or getattr(args, "json_envelope", False))
