"""``read ADDRESS [N]``: raw bytes of the dump."""

from __future__ import annotations

from ..results import MemoryRead
from ._heap import address, positive

HELP = "raw memory: N bytes (default 64) at ADDRESS, as a hex dump"
MAX_READ = 1 << 20


def add_arguments(parser) -> None:
    """Take the address and the count."""
    parser.add_argument("address", type=address, help="hex (with or without 0x) or decimal")
    parser.add_argument("n", type=positive, nargs="?", default=64, help=f"bytes (default 64, at most {MAX_READ})")


def run(gp, args) -> MemoryRead:
    """Return the bytes; exit 1 when they are not in the dump."""
    n = min(args.n, MAX_READ)
    return MemoryRead(args.address, gp.read_memory(args.address, n), list(gp.warnings))
