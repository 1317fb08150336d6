"""What each page of the web UI shows, as plain data for its template.

``HeapView`` is made once per dump, before the server answers: it builds the heap index,
the dominator tree, the histogram, the goroutine groups and the root ranking, so that a
page afterwards only slices numpy arrays and makes Python objects for what it shows
(100 rows a page, pointers and referrers capped with a "more" link).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import gocore

from ..render.values import field_value_text
from ..results import GoroutineGroups, goroutine_row
from ..walkresults import suspect_rows

PAGE = 100              # objects, roots, ids per page
EDGES = 100             # pointers out / referrers in per page
CHILDREN = 50           # dominator children shown
FIELDS = 48             # typed leaves shown before a "more fields" link
MAX_FIELDS = 1024       # ... and at most, whatever the link asks
PATH_ENDS = 30          # a long root path shows its first and last PATH_ENDS objects
HISTOGRAM_ROWS = 2000   # rows a histogram page holds; the filter (?q=) searches them all
SUSPECT_SHARE = 0.10    # a suspect retains over 10 % of the live heap (as `suspects`)
SUSPECTS = 10


class NotFound(Exception):
    """The page names something the dump does not hold (an address, a goroutine)."""


@dataclass
class Pager:
    """Where a page is in a list of ``total`` items shown ``per`` at a time."""

    page: int
    per: int
    total: int

    @property
    def pages(self) -> int:
        """Return the number of pages (at least 1)."""
        return max(1, -(-self.total // self.per))

    @property
    def start(self) -> int:
        """Return the index of the first item on this page."""
        return self.page * self.per

    @property
    def stop(self) -> int:
        """Return one past the index of the last item on this page."""
        return min(self.start + self.per, self.total)


def pager(page: int, per: int, total: int) -> Pager:
    """Return the Pager of ``page`` (clamped to the pages there are)."""
    p = Pager(0, per, total)
    p.page = min(max(page, 0), p.pages - 1)
    return p


def value_text(v: gocore.Value) -> tuple[str, int | None]:
    """Return (the text of a Value, the address it points at or None) for a frame local."""
    try:
        k = v.kind
        if k == "struct":
            names = v.fields()
            return "{" + ", ".join(names[:6]) + (", ..." if len(names) > 6 else "") + "}", None
        if k == "array":
            return f"[{len(v)}]{v.elem_type or '?'}", None
        if k == "map":
            p = v.pointer()
            return ("nil" if p is None else f"{p:#x} ({len(v)} entries)"), p
        if k == "slice":
            p = v.pointer()
            return f"{p or 0:#x} len {len(v)}", p
        if k in ("iface", "eface"):
            d = v.dynamic()
            return ("nil" if d is None else f"{d.type_name} {v.pointer() or 0:#x}"), v.pointer()
        x = v.get()
        if k == "string":
            return repr(x[:64] + ("..." if len(x) > 64 else "")) + f" (len {len(x)})", v.pointer()
        if k in ("ptr", "unsafe_ptr", "chan", "func"):
            return ("nil" if x is None else f"{x:#x}"), x
        if isinstance(x, bool):
            return ("true" if x else "false"), None
        return (f"{x:#x}" if k == "uintptr" else str(x)), None
    except (gocore.Error, TypeError, IndexError, KeyError, ValueError) as e:
        return f"? ({type(e).__name__})", None


def _histogram_rows(groups) -> list[dict]:
    """Return gocore's TypeGroups (``GoProcess.type_groups``, as ``histogram`` has them) as
    the histogram page's rows; ``members`` counts the array sizes of a ``[]T`` group."""
    return [{"type": g.type, "size": g.size, "count": g.count, "bytes": g.bytes,
             "members": g.members if g.backing_arrays else 0, "slice": g.slice} for g in groups]


def _top_frame(row) -> str | None:
    """Return the innermost frame's function outside the runtime (else the innermost)."""
    for f in row.frames:
        if not f.func.startswith("runtime."):
            return f.func
    return row.frames[0].func if row.frames else None


class HeapView:
    """The data of every page, over one process's index, computed once up front."""

    def __init__(self, gp: gocore.GoProcess, say: Callable[[str], None] = lambda _: None,
                 progress: Callable[[str, float], None] | None = None):
        self.gp = gp
        say("indexing the heap")
        self.hi = gp.heap_index(progress)
        say("referrers (reverse pointer edges)")
        self.hi.referrers()        # the referrers' CSR, built on first use: now, not on a page
        self.live_bytes = self.hi.live_bytes      # a sum over every live object: once
        say("dominator tree (retained sizes)")
        self.dom = gp.dominators()
        say("histogram, types, goroutines")
        # one row per type and slot size (distinct runtime types may print alike: several
        # runtime.hmap of 48 bytes are one row), and the backing arrays by slice type
        self.histogram = _histogram_rows(gp.type_groups(by_slot=True))
        self.histogram_grouped = _histogram_rows(gp.type_groups())
        gp.objects_page(self.histogram[0]["type"] if self.histogram else "", 0, 0)  # groups by type
        self.summary = gp.summary()
        self._by_id = {g.id: g for g in gp.goroutines()}
        rows = [goroutine_row(g) for g in self._by_id.values()]
        self.goroutines = {r.id: r for r in rows}
        self.groups = GoroutineGroups.of(rows, []).groups
        self.root_order = self.dom.top_groups(len(self.dom.group_retained))
        self.group_kind = self._group_kinds()
        self._suspects = self._find_suspects()

    # ---- helpers ----

    def _group_kinds(self) -> np.ndarray:
        """Return the kind (``global``, ``frame``, ...) of each root group, asking the
        index once per distinct kind code rather than once per group."""
        codes = self.hi.roots.kind[self.dom.group_row]
        out = np.empty(len(codes), dtype=object)
        for c in np.unique(codes).tolist():
            first = int(np.flatnonzero(codes == c)[0])
            out[codes == c] = self.dom.group_info(first).kind
        return out

    def obj_ref(self, i: int) -> dict:
        """Return what a link to object ``i`` shows: address, type, size."""
        hi = self.hi
        return {"address": int(hi.heap.addr[i]), "type": hi.name_of(i), "size": int(hi.heap.size[i])}

    def object_id(self, addr: int) -> int | None:
        """Return the id of the allocated object containing ``addr``, or None."""
        i = self.hi.find(addr) if 0 <= addr < 1 << 64 else -1
        return i if i >= 0 else None

    def _root(self, info) -> dict:
        return {"name": info.name, "kind": info.kind, "goroutine": info.goroutine,
                "function": info.function, "type": info.type, "address": info.address}

    def _path(self, i: int) -> dict | None:
        got = self.hi.path(i)
        if got is None:
            return None
        root, steps = got
        items = [{"address": s.address, "type": s.type, "size": s.size, "field": s.field} for s in steps]
        cut = 0
        if len(items) > 2 * PATH_ENDS:
            cut = len(items) - 2 * PATH_ENDS
            items = items[:PATH_ENDS] + [None] + items[-PATH_ENDS:]
        return {"root": self._root(root), "steps": items, "cut": cut, "length": len(steps)}

    # ---- pages ----

    def overview(self) -> dict:
        """Return the overview: the summary, the largest types and retainers, warnings."""
        hi = self.hi
        return {"summary": self.summary, "live_objects": hi.live_count, "live_bytes": self.live_bytes,
                "types": self.histogram[:10], "suspects": self.suspects()["rows"][:5],
                "ngroups": len(self.groups), "warnings": list(self.gp.warnings)}

    def goroutine_groups(self, page: int) -> dict:
        """Return the goroutines grouped by identical stack, largest group first, 100
        groups a page."""
        p = pager(page, PAGE, len(self.groups))
        groups = [{"index": k, "count": n, "ids": ids[:20], "more": max(0, n - 20), "row": r,
                   "top": _top_frame(r)}
                  for k, (n, ids, r) in enumerate(self.groups[p.start:p.stop], start=p.start)]
        return {"groups": groups, "total": len(self.goroutines), "ngroups": len(self.groups), "pager": p}

    def goroutine_group(self, k: int, page: int) -> dict:
        """Return one group of goroutines: its stack and its ids, a page at a time."""
        if not 0 <= k < len(self.groups):
            raise NotFound(f"no goroutine group {k}")
        n, ids, r = self.groups[k]
        p = pager(page, PAGE * 5, n)
        return {"index": k, "count": n, "row": r, "ids": ids[p.start:p.stop], "pager": p}

    def goroutine(self, gid: int) -> dict:
        """Return one goroutine: status, creator, every frame with its locals."""
        row = self.goroutines.get(gid)
        if row is None:
            raise NotFound(f"no goroutine {gid} in the dump")
        g = self._by_id[gid]
        frames = []
        for f in g.frames:
            locals_ = []
            for name, v in f.locals.items():
                text, ptr = value_text(v)
                target = self.object_id(ptr) if ptr else None
                locals_.append({"name": name, "type": v.type_name, "text": text,
                                "target": self.obj_ref(target) if target is not None else None})
            frames.append({"func": f.function, "file": f.file, "line": f.line, "pc": f.pc,
                           "sp": f.sp, "inlined": f.inlined, "locals": locals_})
        return {"g": row, "frames": frames}

    def histogram_rows(self, grouped: bool, q: str, elem: str | None) -> dict:
        """Return the histogram rows (filtered by substring ``q``; backing arrays ``[N]T``
        merged as ``[]T`` when ``grouped``; only the arrays of ``elem`` when it is given)."""
        rows = self.histogram
        if elem is not None:
            rows = [r for r in rows if r["slice"] == f"[]{elem}"]
        elif grouped:
            rows = self.histogram_grouped
        if q:
            rows = [r for r in rows if q in r["type"]]
        return {"rows": rows[:HISTOGRAM_ROWS], "nrows": len(rows), "count": sum(r["count"] for r in rows),
                "bytes": sum(r["bytes"] for r in rows)}

    def type_objects(self, type_name: str, page: int) -> dict:
        """Return one page of the live objects of ``type_name``, with retained sizes."""
        _, total = self.gp.objects_page(type_name, 0, 0)
        p = pager(page, PAGE, total)
        objs, _ = self.gp.objects_page(type_name, p.start, PAGE)
        ret, cnt = self.dom.retained, self.dom.retained_count
        rows = [{"address": o.address, "size": o.size, "retained": int(ret[o.id]),
                 "retained_objects": int(cnt[o.id])} for o in objs]
        nbytes = sum(r["bytes"] for r in self.histogram if r["type"] == type_name)
        return {"type": type_name, "rows": rows, "pager": p, "total": total, "bytes": nbytes}

    def object(self, addr: int, out_page: int, in_page: int, nfields: int = FIELDS) -> dict:
        """Return the object containing ``addr``: fields, pointers out and in, root path,
        retained size, dominator and dominator children."""
        i = self.object_id(addr)
        if i is None:
            raise NotFound(f"{addr:#x} is not inside an allocated heap object")
        hi, dom = self.hi, self.dom
        live = bool(hi.live[i])
        tid = int(hi.type_id[i])
        data_off = int(hi.data_off[i])
        nfields = min(max(nfields, 1), MAX_FIELDS)
        fields, cut = hi.fields(i, nfields)
        field_rows = []
        for f in fields:
            t = self.object_id(f.pointer) if f.pointer else None
            field_rows.append({"path": f.path, "offset": f.offset, "type": f.type,
                               "value": field_value_text(f), "target": self.obj_ref(t) if t is not None else None})
        dst, off = hi.edges.out(i)
        po = pager(out_page, EDGES, len(dst))
        outs = [dict(self.obj_ref(d), offset=o,
                     field=hi.field_path(tid, o - data_off) if tid >= 0 else None)
                for d, o in zip(dst[po.start:po.stop].tolist(), off[po.start:po.stop].tolist())]
        rev = hi.referrers()
        src = np.unique(rev.dst[int(rev.start[i]):int(rev.start[i + 1])])
        src = src[hi.live[src]]
        pi = pager(in_page, EDGES, len(src))
        ins = [self.obj_ref(s) for s in src[pi.start:pi.stop].tolist()]
        root_rows = np.flatnonzero(hi.roots.obj == i)
        roots = [self._root(hi.root_info(int(r))) for r in root_rows[:EDGES].tolist()]
        out = {"address": int(hi.heap.addr[i]), "query": addr, "type": hi.name_of(i),
               "size": int(hi.heap.size[i]), "live": live, "data_offset": data_off,
               "fields": field_rows, "fields_cut": cut, "nfields": nfields, "max_fields": MAX_FIELDS,
               "out": outs, "out_pager": po,
               "in": ins, "in_pager": pi, "roots": roots, "roots_more": max(0, len(root_rows) - EDGES),
               "path": None, "retained": None, "retained_objects": None, "idom": None,
               "holder": None, "shared": False, "children": [], "nchildren": 0}
        if not live:
            return out
        out["path"] = self._path(i)
        out["retained"] = int(dom.retained[i])
        out["retained_objects"] = int(dom.retained_count[i])
        out["share"] = out["retained"] / max(self.live_bytes, 1)
        d = int(dom.idom[i])
        if d >= 0:
            out["idom"] = self.obj_ref(d)
        else:
            h = dom.holder_of(i)
            out["shared"] = h < 0
            out["holder"] = self._root(dom.group_info(h)) if h >= 0 else None
        kids = np.flatnonzero(dom.idom == i)
        out["nchildren"] = len(kids)
        if len(kids) > CHILDREN:
            kids = kids[np.argpartition(-dom.retained[kids].astype(np.float64), CHILDREN)[:CHILDREN]]
        kids = kids[np.lexsort((kids, -dom.retained[kids].astype(np.float64)))]
        out["children"] = [dict(self.obj_ref(k), retained=int(dom.retained[k]),
                                retained_objects=int(dom.retained_count[k])) for k in kids.tolist()]
        return out

    def roots(self, kind: str | None, page: int) -> dict:
        """Return the roots (globals, goroutine frames, finalizers, other words), each group
        with what it alone keeps alive, the most retained first, a page at a time."""
        dom, hi = self.dom, self.hi
        order = self.root_order
        if kind:
            order = order[self.group_kind[order] == kind]
        p = pager(page, PAGE, len(order))
        rows = []
        for k in order[p.start:p.stop].tolist():
            info = dom.group_info(k)
            o = int(hi.roots.obj[dom.group_row[k]])
            rows.append(dict(self._root(info), retained=int(dom.group_retained[k]),
                             retained_objects=int(dom.group_count[k]),
                             object=self.obj_ref(o) if 0 <= o < len(hi.live) and hi.live[o] else None))
        return {"rows": rows, "pager": p, "kind": kind, "live_bytes": self.live_bytes,
                "shared_bytes": dom.shared_retained, "shared_objects": dom.shared_count}

    def suspects(self) -> dict:
        """Return the leak suspects of ``GoProcess.suspects`` (the rows of ``suspects``
        and ``report``): the roots and shared objects retaining over 10 % of the live heap,
        or, when none does, the 10 that retain the most; each with its accumulation point,
        the types held there and the root path to the point."""
        return self._suspects

    def _find_suspects(self) -> dict:
        found = self.gp.suspects(SUSPECT_SHARE, SUSPECTS)
        rows = []
        for s, row in zip(found.rows, suspect_rows(self.hi, found)):
            # path and graph to the accumulation point, else to the example object the
            # suspect's path ends at (the largest the root holds)
            at = s.point if s.point >= 0 else \
                self.object_id(row.path[-1]["address"]) if len(row.path) > 1 else None
            rows.append(dict(row.to_json(), root_ref={"name": row.root, "kind": row.kind, "goroutine": row.goroutine},
                             point_path=self._path(at) if at is not None else None,
                             graph=int(self.hi.heap.addr[at]) if at is not None else None))
        return {"rows": rows, "over": found.over, "live_bytes": self.live_bytes,
                "threshold": found.share}
