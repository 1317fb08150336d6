"""``diff BASE``: what grew between two dumps of a program, type by type.

``viewcore new.core --exe app diff old.core`` compares the live heap of the dump being
looked at with an earlier one (``--base-exe`` when the executable differs, otherwise the
same one): per type, objects and bytes in each and the change, largest change first.
"""

from __future__ import annotations

from collections import defaultdict

import gocore

from ..results import HeapDiff, HeapDiffRow
from ._heap import heap_index, positive

HELP = "compare the live heap with an earlier dump BASE: objects and bytes per type, and the change"


def add_arguments(parser) -> None:
    """Take the base dump, its executable and how many rows to show."""
    parser.add_argument("base", metavar="BASE", help="the earlier dump")
    parser.add_argument("--base-exe", help="the executable of BASE (default: the same as the dump's)")
    parser.add_argument("--top", type=positive, help="only the N largest changes")


def _by_type(gp) -> dict[str, tuple[int, int]]:
    names, _sizes, counts, nbytes = heap_index(gp).histogram()
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for n, c, b in zip(names, counts.tolist(), nbytes.tolist()):
        out[n][0] += c
        out[n][1] += b
    return {k: (v[0], v[1]) for k, v in out.items()}


def run(gp, args) -> HeapDiff:
    """Return one row per type present in either dump, largest byte change first."""
    base_exe = args.base_exe or args.exe or gp.executable_path
    base = gocore.open(args.base, exe=base_exe, use_cache=not args.no_cache,
                       any_version=args.any_version)
    gocore.require_full_memory(base)
    new, old = _by_type(gp), _by_type(base)
    rows = [HeapDiffRow(t, *new.get(t, (0, 0)), *old.get(t, (0, 0))) for t in set(new) | set(old)]
    rows.sort(key=lambda r: (-abs(r.bytes - r.base_bytes), -abs(r.count - r.base_count), r.type))
    total = len(rows)
    if args.top:
        rows = rows[:args.top]
    warnings = list(gp.warnings) + [f"base: {w}" for w in base.warnings]
    return HeapDiff(rows, total, warnings)
