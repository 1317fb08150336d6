"""``suspects``: the roots and objects that each alone keep a large share of the heap alive.

From gocore's leak suspects (``GoProcess.suspects``): each with what it retains, its
accumulation point (where the memory spreads over many children: a map's groups, a slice's
backing array), the types held there and the path from its root to that point.
"""

from __future__ import annotations

import argparse

from ..walkresults import SuspectsResult
from ._heap import heap_index, positive

HELP = ("leak suspects: roots and objects that each retain over a share of the live heap "
        "(10 percent by default), with where the memory accumulates and what it is")


def share(text: str) -> float:
    """Parse a share of the heap: ``0.1``, ``10%`` or ``10`` (percent when above 1)."""
    t = text.strip().rstrip("%")
    try:
        v = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a share: {text!r} (e.g. 10% or 0.1)") from None
    if text.strip().endswith("%") or v > 1:
        v /= 100
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"a share is between 0 and 100 %: {text!r}")
    return v


def add_arguments(parser) -> None:
    """Add --share and --n."""
    parser.add_argument("--share", type=share, default=0.10,
                        help="report what retains more than this share of the live heap (default 10%%)")
    parser.add_argument("--n", type=positive, default=10, help="at most N suspects (default 10)")


def run(gp, args) -> SuspectsResult:
    """Return the suspects, largest first."""
    heap_index(gp)                  # indexing, with its progress line
    return SuspectsResult.of(gp, gp.suspects(args.share, args.n))
