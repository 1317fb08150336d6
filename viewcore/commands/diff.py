"""``diff BASE``: what grew between two dumps of a program.

``viewcore new.core --exe app diff old.core`` compares the dump being looked at with an
earlier one (``--base-exe`` when the executable differs, otherwise the same one): per type
(the backing arrays of one slice type in one row unless ``--by-slot``), objects and bytes in
each and the change, largest change first; the goroutines per stack (as ``goroutines
--group`` groups them) whose count changed; the roots whose retained bytes grew; and the
types the base does not hold.
"""

from __future__ import annotations

from collections import Counter

import gocore

from ..results import GoroutineDiffRow, GoroutineGroups, HeapDiff, HeapDiffRow, RootDiffRow, goroutine_row
from ._heap import heap_index, positive, wants_json

HELP = ("compare with an earlier dump BASE: objects and bytes per type, goroutines per stack, "
        "roots that retain more, new types")


def add_arguments(parser) -> None:
    """Take the base dump, its executable, how many rows to show, and --by-slot."""
    parser.add_argument("base", metavar="BASE", help="the earlier dump")
    parser.add_argument("--base-exe", help="the executable of BASE (default: the same as the dump's)")
    parser.add_argument("--top", type=positive, help="only the N largest changes of each list")
    parser.add_argument("--by-slot", action="store_true",
                        help="backing arrays per slot count ([1023]*main.Leak) instead of per slice type")
    parser.add_argument("--all", action="store_true",
                        help="with --json: one object with the type, goroutine, root and new-type "
                             "lists (without it --json is the list of type rows, by slot size)")


def _by_type(gp, by_slot: bool) -> dict[tuple[str, bool], tuple[int, int]]:
    heap_index(gp)
    out: dict[tuple[str, bool], list[int]] = {}
    for g in gp.type_groups(by_slot=by_slot):
        row = out.setdefault((g.type, g.backing_arrays), [0, 0])
        row[0] += g.count
        row[1] += g.bytes
    return {k: (v[0], v[1]) for k, v in out.items()}


def _goroutines(gp) -> tuple[dict[tuple, int], dict[tuple, object]]:
    groups = GoroutineGroups.of([goroutine_row(g) for g in gp.goroutines()], []).groups
    counts: Counter = Counter()
    first = {}
    for n, _ids, row in groups:
        key = row.stack_key()
        counts[key] += n
        first.setdefault(key, row)
    return counts, first


def _roots(gp) -> dict[str, tuple[str, int, int]]:
    dom = gp.dominators()
    out = {}
    for k in range(len(dom.group_row)):
        info = dom.group_info(k)
        out[info.name] = (info.kind, int(dom.group_retained[k]), int(dom.group_count[k]))
    return out


def run(gp, args) -> HeapDiff:
    """Return the changes: types, goroutine groups, roots that grew, new types."""
    base_exe = args.base_exe or args.exe or gp.executable_path
    base = gocore.open(args.base, exe=base_exe, use_cache=not args.no_cache,
                       any_version=args.any_version)
    gocore.require_full_memory(base)
    # --json without --all keeps the documented list of per-type rows (one per slot size)
    listed = wants_json(args) and not args.all
    by_slot = args.by_slot or listed
    new, old = _by_type(gp, by_slot), _by_type(base, by_slot)
    rows = [HeapDiffRow(t, *new.get((t, a), (0, 0)), *old.get((t, a), (0, 0)), backing_arrays=a)
            for t, a in set(new) | set(old)]
    rows.sort(key=lambda r: (-abs(r.bytes - r.base_bytes), -abs(r.count - r.base_count), r.type))
    total = len(rows)
    fresh = [r for r in rows if r.base_count == 0]
    fresh.sort(key=lambda r: (-r.bytes, r.type))
    gnew, grow = _goroutines(gp)
    gold, gorow = _goroutines(base)
    goroutines = []
    for key in set(gnew) | set(gold):
        if gnew[key] != gold[key]:
            r = grow.get(key) or gorow[key]
            goroutines.append(GoroutineDiffRow(r.status, r.wait_reason, [f.func for f in r.frames],
                                               gnew[key], gold[key]))
    goroutines.sort(key=lambda g: (-abs(g.count - g.base_count), g.frames))
    rnew, rold = _roots(gp), _roots(base)
    roots = []
    for name, (kind, ret, cnt) in rnew.items():
        _, bret, bcnt = rold.get(name, (kind, 0, 0))
        if ret > bret:
            roots.append(RootDiffRow(name, kind, ret, bret, cnt, bcnt))
    roots.sort(key=lambda r: (-(r.retained - r.base_retained), r.root))
    if args.top:
        rows, fresh, goroutines, roots = (rows[:args.top], fresh[:args.top], goroutines[:args.top],
                                          roots[:args.top])
    warnings = list(gp.warnings) + [f"base: {w}" for w in base.warnings]
    return HeapDiff(rows, total, goroutines, (sum(gnew.values()), sum(gold.values())), roots, fresh,
                    by_slot, warnings, listed=listed)
