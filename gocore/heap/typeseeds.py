"""Types that untyped memory states in the runtime's own words: interfaces, channels, goroutines,
closures, finalizers.

Without DWARF nothing says what a global, a stack slot or a small heap object (no malloc
header) holds. Some words there still name a type, because the runtime wrote them:

* an interface: a type descriptor (eface) or an itab (iface), then the data word. The GC
  masks mark the data word and never the type word (cmd/compile/internal/typebits: "the
  first word of an interface is a pointer, but we don't treat it as such"), so the pair is
  a non-pointer word followed by a pointer word in the module's masks (data, bss) or in
  the object's heap bits; in goroutine frames it precedes a root word. The type word must be a readable descriptor in the
  module's type section; an itab must have an interface descriptor in ``inter``, a
  descriptor in ``_type`` and ``hash == _type.hash`` (src/runtime/iface.go ``getitab``
  copies it). The data word must be the start of a heap object that is exactly what the
  runtime allocates for the dynamic type: for a boxed T ``mallocgc(T.size, T)`` (convT,
  src/runtime/iface.go), for a direct ``*T`` ``new(T)``: the slot is the size class of
  the size (``gocore.heap.sizeclasses``) and the span is pointer-free exactly when T is.
  Pointer-free values under 16 bytes share tiny blocks and are never typed. A map value
  goes through ``MapInternals``; a channel through ``gocore.heap.chans``.
* an hchan: checked against makechan's three shapes (``gocore.heap.chans``) among the untyped
  objects, and its buffer typed from its ``elemtype``;
* ``runtime.allgs``: the runtime's ``[]*g``, each g made by ``new(g)``;
* a closure context: a pointerful object whose first word is the entry pc of a function
  the compiler makes for closures and method values (``pkg.f.func1``, ``pkg.T.M-fm``)
  is a funcval of that function (only funcvals store such an entry; a named function's
  funcval is static), typed by ``typeinfer.ClosureTypes``;
* a finalizer record (``runtime.specialfinalizer``, every release): ``ot`` is the ``*T``
  type SetFinalizer was called with, so the object at the record's offset (the start of
  its allocation, src/runtime/mfinal.go) is a T when its slot fits T as above.

* a package variable the code stored a map in just after handing that map, with its type,
  to a map runtime function or getting it from ``makemap`` (``mapflows.map_flows``): its
  header, as for the map variables the map calls use (``allocsites.global_uses``);
* a package variable the code fills, along every path, only with a fresh ``new(T)`` kept
  elsewhere before its store, with ``makeslice(E, ...)``'s array or with ``makemap_small``'s
  header (``storeflows.fresh_stores``): a T, an ``[N]E``, a map header;
* a package variable whose address the code passes as the receiver of a pointer method
  ``(*T).M`` (``allocsites.addressed_receivers``) holds a T there, when the module's
  pointer mask over its words is T's GC mask: that memory is typed as a root, and what
  T's pointers reach spreads from it;
* a struct whose own slice points at an array inside it (``regexp/syntax.Regexp``'s
  ``Rune`` at its ``Rune0``: ``gocore.heap.inlinestorage``).

Where two records give one object different types, the object stays untyped. Interfaces
inside typed objects need none of this: propagation reads them with the object's type.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from .allocsites import (addressed_receivers, closure_function, closure_sites, global_sites,
                         global_uses)
from .chans import Channels
from .inlinestorage import inline_storage_objects
from .mapflows import map_flows
from .storeflows import MAP_HEADER, fresh_stores
from ..errors import GoCoreError
from .typeinfer import ClosureTypes
from .roots import FRAME, GLOBAL, RootTable, finalizer_records, section_pointer_mask
from ..binary.rtype import CHAN, INTERFACE, MAP, POINTER
from .sizeclasses import alloc_slots, check_against_spans
from .spans import U64, ragged_arange

if TYPE_CHECKING:
    from ..process import GoProcess
    from .edges import Edges
    from .heap import Heap
    from .ptrmaps import PointerMaps

log = logging.getLogger(__name__)

UNKNOWN = -1


class UntypedFacts:
    """The sources above for one heap; called by ``infer_types`` as its ``seeds``."""

    def __init__(self, gp: GoProcess, heap: Heap, edges: Edges, pmaps: PointerMaps, roots: RootTable | None,
                 live: np.ndarray | None = None):
        """``live`` (bool per object, when marking is done) limits the scans of untyped
        objects to the live ones: unreachable objects are shown nowhere."""
        self.gp = gp
        self.live = live
        self.heap = heap
        self.edges = edges
        self.pmaps = pmaps
        self.roots = roots
        sp = heap.spans
        use = sp.in_use
        self.sizes_ok = check_against_spans(sp.sizeclass[use], sp.elemsize[use])
        if not self.sizes_ok:
            gp.process.warn("heap: span sizes differ from the runtime's size classes; "
                            "untyped interfaces, channels and finalizers are not typed")

    def __call__(self, h, reg, maps) -> None:
        if not self.sizes_ok:
            return
        self.reg, self.h, self.maps = reg, h, maps
        rts = reg.rts
        self.lo, self.hi = np.uint64(rts.types_base), np.uint64(rts.types_end)
        L = self.gp.layout
        self.itab_inter = L.offset("runtime.itab", "inter")
        self.itab_type = L.offset("runtime.itab", "_type")
        self.itab_hash = L.offset("runtime.itab", "hash")
        self.type_hash = L.offset("runtime._type", "hash")
        self.chans = Channels(self.gp, reg, UNKNOWN)
        self._dyn: dict[int, tuple[str, int, int, int]] = {}
        self._slots = self._untyped_global_slots()
        self._uses = global_uses(self.gp, self._slots)
        self._fresh = fresh_stores(self.gp, self._slots)
        self._ct: ClosureTypes | None = None
        objs, tids = [], []
        for got in (self._finalizers(), self._interfaces(), self._package_variables(),
                    inline_storage_objects(self.gp, self.h, reg, self.pmaps, self.live)):
            objs.append(got[0])
            tids.append(got[1])
        self._assign(np.concatenate(objs), np.concatenate(tids))
        self._map_variables()
        self._fresh_map_headers()
        self._fresh_arrays()
        self._addressed_variables()
        self._channels()
        self._goroutines()
        self._closures()

    # ---- helpers ----

    def _assign(self, objs: np.ndarray, tids: np.ndarray) -> None:
        """Type untyped ``objs`` as ``tids``, except objects two records disagree on."""
        keep = (objs >= 0) & (tids != UNKNOWN)
        objs, tids = objs[keep].astype(np.int64), tids[keep].astype(np.int64)
        if not len(objs):
            return
        pair = np.unique(np.stack([objs, tids], axis=1), axis=0)
        o, n = np.unique(pair[:, 0], return_counts=True)
        single = np.isin(pair[:, 0], o[n == 1])
        self.h.assign(pair[single, 0], pair[single, 1].astype(np.int32))

    def _in_types(self, w: np.ndarray) -> np.ndarray:
        return (w >= self.lo) & (w < self.hi) & (w % np.uint64(8) == 0)

    def _fits(self, objs: np.ndarray, size: np.ndarray, scan: np.ndarray) -> np.ndarray:
        """Return whether each object (id, -1: none) is an untyped, header-less slot that
        ``mallocgc(size)`` of a type with (``scan``) or without pointers would give."""
        h = self.h
        ok = objs >= 0
        o = np.where(ok, objs, 0)
        ok &= (h.tid[o] == UNKNOWN) & (h.data_off[o] == 0)
        ok &= h.size[o].astype(np.int64) == alloc_slots(size, scan, self.gp.facts.malloc_headers)
        ok &= h.noscan[o] == ~scan
        return ok

    def _dynamic(self, taddr: int) -> tuple[str, int, int, int]:
        """Return (what, type id, size, has pointers) of what an interface of dynamic type
        ``taddr`` points at: ("obj", T) for a boxed T or a direct *T's T, ("map", map type),
        ("chan", hchan), or ("", UNKNOWN) when the data word says nothing certain."""
        got = self._dyn.get(taddr)
        if got is not None:
            return got
        reg, rts = self.reg, self.reg.rts
        rt = rts.try_get(taddr)
        got = ("", UNKNOWN, 0, 0)
        if rt is not None and rt.size > 0:
            if not rt.direct_iface:
                got = ("obj", reg.of_rtype(taddr), rt.size, int(rt.ptrdata > 0))
            elif rt.kind == POINTER and rt.elem:
                e = rts.try_get(rt.elem)
                if e is not None and e.size > 0:
                    got = ("obj", reg.of_rtype(rt.elem), e.size, int(e.ptrdata > 0))
            elif rt.kind == MAP:
                t = reg.of_rtype(taddr)
                got = ("map", t, 0, 1) if t != UNKNOWN else got
            elif rt.kind == CHAN:
                got = ("chan", reg.hchan_type(), 0, 1)
        self._dyn[taddr] = got
        return got

    # ---- interfaces ----

    def _pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (type word, data word) of the candidate interfaces in untyped memory: data
        and bss, untyped heap objects (a non-pointer word, then a pointer word, by the GC
        masks) and goroutine frames (the word before a root word)."""
        gp, h = self.gp, self.h
        md, bias = gp.moduledata, gp.process.exe_bias
        w0s, w1s = [], []
        for which in ("data", "bss"):
            mask = section_pointer_mask(gp, which)
            if mask is None or len(mask) < 2:
                continue
            k = np.flatnonzero(~mask[:-1] & mask[1:]).astype(U64)
            a = U64(getattr(md, which) + bias) + k * U64(8)
            w0, ok0 = h.read(a)
            w1, ok1 = h.read(a + U64(8))
            keep = ok0 & ok1 & (w0 != 0) & (w1 != 0)
            w0s.append(w0[keep])
            w1s.append(w1[keep])
        # untyped heap objects: an edge whose previous word is not a pointer word
        e = self.edges
        scan = (h.tid == UNKNOWN) & (e.start[1:] > e.start[:-1])
        if self.live is not None:
            scan &= self.live
        untyped = np.flatnonzero(scan)
        cum = np.cumsum(e.start[untyped + 1] - e.start[untyped])
        a = 0
        while a < len(untyped):          # batches of about 1M edges: bounded temporaries
            b = max(int(np.searchsorted(cum, (cum[a - 1] if a else 0) + (1 << 20))), a + 1)
            w0, w1 = self._object_pairs(untyped[a:b])
            w0s.append(w0)
            w1s.append(w1)
            a = b
        # goroutine frames: the root word and the word before it
        r = self.roots
        slots = (r.slot[(r.kind == FRAME) & (r.slot != 0)] if r is not None
                 else np.zeros(0, U64))
        if len(slots):
            w0, ok0 = h.read(slots - U64(8))
            w1, ok1 = h.read(slots)
            keep = ok0 & ok1 & (w0 != 0)
            w0s.append(w0[keep])
            w1s.append(w1[keep])
        if not w0s:
            return np.zeros(0, U64), np.zeros(0, U64)
        return np.concatenate(w0s), np.concatenate(w1s)

    def _object_pairs(self, objs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (type word, data word) of the candidate interfaces in untyped objects
        ``objs`` (ascending): an edge whose previous word is a type or itab word and not a
        pointer word of the object."""
        e, heap, h = self.edges, self.heap, self.h
        owner, k = ragged_arange(e.start[objs + 1] - e.start[objs])
        eid = e.start[objs][owner] + k
        s, o = objs[owner], e.off[eid].astype(np.int64)
        del owner, k, eid
        keep = o >= 8
        s, o = s[keep], o[keep]
        wa = heap.addr[s] + o.astype(U64)
        w0, ok0 = h.read(wa - U64(8))
        w1, ok1 = h.read(wa)
        good = ok0 & ok1 & (w0 != 0) & (w0 % U64(8) == 0)
        good &= self._in_types(w0) | (heap.find(w0) < 0)   # itabs are never heap objects
        s, o, w0, w1 = s[good], o[good], w0[good], w1[good]
        t = self._valid_type_words(w0)
        s, o, w0, w1 = s[t], o[t], w0[t], w1[t]
        if not len(s):
            return w0, w1
        ptr = ~self._pointer_words(s, o // 8 - 1)     # s ascending: edges come by source
        return w0[ptr], w1[ptr]

    def _pointer_words(self, objs: np.ndarray, words: np.ndarray,
                       batch: int = 1 << 13) -> np.ndarray:
        """Return whether word ``words[i]`` (from the slot start) of object ``objs[i]`` is a
        pointer word by its heap bits; ``objs`` ascending. Slots are asked for in batches
        of objects, so memory stays bounded by the batch."""
        out = np.zeros(len(objs), dtype=bool)
        want = objs.astype(np.int64) << 32 | words.astype(np.int64)
        uniq = objs[np.r_[True, objs[1:] != objs[:-1]]]
        for a in range(0, len(uniq), batch):
            part = uniq[a:a + batch]
            lo = np.searchsorted(objs, part[0], side="left")
            hi = np.searchsorted(objs, part[-1], side="right")
            ps, pk = self.pmaps.slots(part)
            if not len(ps):
                continue
            # slots come by object, then word: their keys are sorted
            have = ps.astype(np.int64) << 32 | pk.astype(np.int64)
            at = np.minimum(np.searchsorted(have, want[lo:hi]), len(have) - 1)
            out[lo:hi] = have[at] == want[lo:hi]
        return out

    def _valid_type_words(self, w0: np.ndarray) -> np.ndarray:
        """Return whether each word is a type descriptor or an itab (see the module doc)."""
        ok = np.zeros(len(w0), dtype=bool)
        dyn = self._dynamic_types(w0)
        ok[dyn != 0] = True
        return ok

    def _dynamic_types(self, w0: np.ndarray) -> np.ndarray:
        """Return the dynamic type address each type word names (0: not a type nor an itab)."""
        out = np.zeros(len(w0), dtype=U64)
        rts = self.reg.rts
        eface = self._in_types(w0)
        if eface.any():
            u, inv = np.unique(w0[eface], return_inverse=True)
            good = np.array([rts.try_get(int(a)) is not None for a in u], dtype=bool)
            out[eface] = np.where(good[np.asarray(inv).ravel()], w0[eface], 0)
        # itabs (in the type section from go1.27; in rodata or persistentalloc'd memory
        # before): a word that reads as both a descriptor and an itab says neither
        both = out != 0
        it = np.flatnonzero((w0 != 0) & (w0 % U64(8) == 0))
        if len(it):
            h = self.h
            a = w0[it]
            inter, ok1 = h.read(a + U64(self.itab_inter))
            typ, ok2 = h.read(a + U64(self.itab_type))
            hsh, ok3 = h.read(a + U64(self.itab_hash))
            good = ok1 & ok2 & ok3 & self._in_types(inter) & self._in_types(typ)
            it, inter, typ, hsh = it[good], inter[good], typ[good], hsh[good] & U64(0xFFFFFFFF)
            if len(it):
                ui, iinv = np.unique(inter, return_inverse=True)
                iface = np.array([_is_iface(rts.try_get(int(x))) for x in ui], dtype=bool)
                ut, tinv = np.unique(typ, return_inverse=True)
                hashes = np.array([_hash_of(rts.try_get(int(x))) for x in ut], dtype=np.int64)
                good = iface[np.asarray(iinv).ravel()] & \
                    (hashes[np.asarray(tinv).ravel()] == hsh.astype(np.int64))
                amb = both[it[good]]
                out[it[good]] = np.where(amb, U64(0), typ[good])
        return out

    def _interfaces(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (object ids, type ids) of the data objects of untyped interfaces."""
        w0, w1 = self._pairs()
        none = (np.zeros(0, np.int64), np.zeros(0, np.int32))
        if not len(w0):
            return none
        h = self.h
        objs = h.find(w1)
        keep = objs >= 0
        w0, objs = w0[keep], objs[keep]
        dyn = self._dynamic_types(w0)
        keep = dyn != 0
        dyn, objs = dyn[keep], objs[keep]
        if not len(dyn):
            return none
        u, inv = np.unique(dyn, return_inverse=True)
        inv = np.asarray(inv).ravel()
        info = [self._dynamic(int(a)) for a in u]            # per distinct dynamic type
        what = np.array([i[0] for i in info], dtype=object)[inv]
        tid = np.array([i[1] for i in info], dtype=np.int32)[inv]
        size = np.array([i[2] for i in info], dtype=np.int64)[inv]
        scan = np.array([i[3] for i in info], dtype=bool)[inv]
        obj = (what == "obj") & self._fits(objs, size, scan)
        ch = np.flatnonzero(what == "chan")
        if len(ch):
            good = self.chans.check(h, objs[ch]).ok
            obj[ch[good]] = True
        mp = np.flatnonzero(what == "map")
        if len(mp):
            mo, mt = objs[mp], tid[mp]
            self.maps.follow(h, np.where(self._map_headers(mo), mo, -1), mt)
        return objs[obj], tid[obj]

    def _map_headers(self, objs: np.ndarray) -> np.ndarray:
        """Return whether each object is a slot ``new(hmap)`` / ``new(maps.Map)`` gives."""
        L = self.gp.layout
        name = "internal/runtime/maps.Map" if self.gp.facts.swiss_maps else "runtime.hmap"
        if not L.has(name):
            return np.zeros(len(objs), dtype=bool)
        n = len(objs)
        return self._fits(objs, np.full(n, L.size(name)), np.ones(n, dtype=bool))

    # ---- channels ----

    def _channels(self) -> None:
        """Type the untyped objects that are hchans as makechan made them."""
        h = self.h
        hchan = self.reg.hchan_type()
        if hchan == UNKNOWN or h.noscan is None:
            return
        cand = (h.tid == UNKNOWN) & (h.size >= np.uint32(self.chans.size)) & (h.data_off == 0)
        if self.live is not None:
            cand &= self.live
        cand = np.flatnonzero(cand)
        if not len(cand):
            return
        # the elemtype word first: one gather, then the full check on the few that pass
        et, ok = h.read(h.base(cand) + np.uint64(self.chans.off["elemtype"]))
        cand = cand[ok & self._in_types(et)]
        good = self.chans.check(h, cand).ok
        h.assign(cand[good], np.full(int(good.sum()), hchan, dtype=np.int32))

    # ---- goroutines ----

    def _goroutines(self) -> None:
        """Type ``runtime.allgs`` (a ``[]*g``) and the g objects it holds: ``malg`` makes
        every g with ``new(g)`` (src/runtime/proc.go), dead ones kept for reuse included."""
        gp, h, reg = self.gp, self.h, self.reg
        from .typeinfer import _named_type, _types_for
        allgs = gp.global_address("runtime.allgs")
        if allgs is None or not gp.layout.has("runtime.g"):
            return
        (ptr, n), ok = h.read(np.array([allgs, allgs + 8], dtype=U64))
        if not ok.all() or not ptr or not 0 < n < 50_000_000:
            return
        g = _named_type(reg, gp.layout, "runtime.g")
        gptr = _named_type(reg, gp.layout, "*runtime.g")
        if g == UNKNOWN or gptr == UNKNOWN:
            return
        arr = h.find(np.array([ptr], dtype=U64))
        h.assign(arr, _types_for(reg, arr, np.array([gptr], dtype=np.int32), h.size,
                                 h.data_off, sized=True))
        gs, gok = h.read(U64(int(ptr)) + np.arange(int(n), dtype=U64) * U64(8))
        objs = h.find(np.where(gok, gs, 0))
        size = np.full(len(objs), gp.layout.size("runtime.g"))
        fit = self._fits(objs, size, np.ones(len(objs), dtype=bool))
        h.assign(objs[fit], np.full(int(fit.sum()), g, dtype=np.int32))

    # ---- closures ----

    def _closures(self) -> None:
        """Type the untyped pointerful objects whose first word is the entry of a closure
        function (see ``closure_function``; types from the run's ``ClosureTypes``) and whose slot is what
        ``newobject`` gives for the context's size (any slot for a context known only by
        its function). Pointer-free objects are left alone: arrays of return pcs
        (``runtime.Callers``) are pointer-free and a return pc may equal the next function's
        entry."""
        gp, h, reg = self.gp, self.h, self.reg
        if h.noscan is None or h.closures is None:
            return
        cand = (h.tid == UNKNOWN) & ~h.noscan & (h.data_off == 0) & (h.size >= np.uint32(16))
        if self.live is not None:
            cand &= self.live
        cand = np.flatnonzero(cand)
        if not len(cand):
            return
        pc, ok = h.read(h.base(cand))
        bias = U64(gp.process.exe_bias)
        pt = gp.pclntab
        ok &= (pc >= bias + U64(pt.min_pc)) & (pc < bias + U64(pt.max_pc))
        cand, pc = cand[ok], pc[ok]
        fi = pt.find_index(pc - bias)
        ok = (fi >= 0) & (pt.entries[np.maximum(fi, 0)] == pc - bias)
        cand, pc, fi = cand[ok], pc[ok], fi[ok]
        if not len(cand):
            return
        uf, inv = np.unique(fi, return_inverse=True)
        inv = np.asarray(inv).ravel()
        closure = np.array([closure_function(pt.func(int(f)).name) for f in uf], dtype=bool)[inv]
        cand, pc = cand[closure], pc[closure]
        if not len(cand):
            return
        ct = h.closures(pc)
        size = _sizes_of(reg, ct)
        prefix = np.isin(ct, np.fromiter(reg.prefix_types, np.int32)) if reg.prefix_types \
            else np.zeros(len(ct), dtype=bool)
        fit = (ct != UNKNOWN) & (prefix | self._fits(cand, size, np.ones(len(cand), dtype=bool)))
        h.assign(cand[fit], ct[fit].astype(np.int32))

    # ---- package variables the code fills with new(T) ----

    def _package_variables(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (object ids, type ids) of what package variables point at when the code
        only ever stores a fresh ``new(T)`` there (``allocsites.global_sites``) or calls a
        method of ``*T`` on them (``allocsites.global_uses``); not for a word that follows a
        type descriptor or itab (an interface's data word)."""
        none = (np.zeros(0, np.int64), np.zeros(0, np.int32))
        if not len(self._slots):          # every variable's object is typed already
            return none
        contexts = set(closure_sites(self.gp).values())     # named by _closures instead
        wanted = set(self._slots.tolist())
        sites = {k: v for k, v in global_sites(self.gp).items() if v not in contexts and k in wanted}
        for slot, val in self._fresh.items():           # stored along every path (storeflows)
            if val[0] == "new" and val[1] not in contexts and sites.setdefault(slot, val[1]) != val[1]:
                sites[slot] = 0                  # two sources disagree: neither is used
        for slot, (recv, method) in self._uses.receivers.items():
            rt = self._closure_types().pointer_receiver(recv, method)
            if rt is not None and rt.elem:
                if sites.setdefault(slot, rt.elem) != rt.elem:
                    sites[slot] = 0              # two sources disagree: neither is used
        sites = {k: v for k, v in sites.items() if v}
        if not sites:
            return none
        slots = np.fromiter(sites.keys(), dtype=U64, count=len(sites))
        taddr = np.fromiter(sites.values(), dtype=U64, count=len(sites))
        ptr, ok = self.gp.process.gather.words(slots)
        ok &= self._not_interface_data(slots)
        objs = np.where(ok, self.h.find(np.where(ok, ptr, 0)), -1)
        keep = objs >= 0
        objs, taddr = objs[keep], taddr[keep]
        if not len(objs):
            return none
        rts, reg = self.reg.rts, self.reg
        u, inv = np.unique(taddr, return_inverse=True)
        inv = np.asarray(inv).ravel()
        info = []
        for a in u.tolist():
            rt = rts.try_get(a)
            # pointer-free values under 16 bytes go to tiny blocks: never a slot of their own
            good = rt is not None and rt.size > 0 and (rt.ptrdata > 0 or rt.size >= 16)
            info.append((reg.of_rtype(a), rt.size, rt.ptrdata > 0) if good else (UNKNOWN, 0, False))
        tid = np.array([i[0] for i in info], dtype=np.int32)[inv]
        size = np.array([i[1] for i in info], dtype=np.int64)[inv]
        scan = np.array([i[2] for i in info], dtype=bool)[inv]
        fit = (tid != UNKNOWN) & self._fits(objs, size, scan)
        return objs[fit], tid[fit]

    def _not_interface_data(self, slots: np.ndarray) -> np.ndarray:
        """Return whether each word at ``slots`` is not an interface's data word: the word
        before it holds no type descriptor or itab (a type assertion's use of the data word
        says nothing of what the interface holds later)."""
        prev, ok = self.gp.process.gather.words(slots - U64(8))
        return ~(ok & self._valid_type_words(np.where(ok, prev, 0)))

    def _untyped_global_slots(self) -> np.ndarray:
        """Return the data and bss words (run-time addresses) pointing at the start of an
        untyped live object: the variables the code may still name."""
        r, h = self.roots, self.h
        if r is None or not len(r):
            return np.zeros(0, U64)
        o = r.obj.astype(np.int64)
        sel = (r.kind == GLOBAL) & (h.tid[o] == UNKNOWN) & (h.base(o) == r.ptr)
        if self.live is not None:
            sel &= self.live[o]
        return np.unique(r.slot[sel])

    def _closure_types(self) -> ClosureTypes:
        """Return a ``ClosureTypes`` over this registry (its typelinked-name lookups)."""
        if self._ct is None:
            self._ct = ClosureTypes(None, self.reg, self.gp.pclntab, self.gp.process.exe_bias)
        return self._ct

    def _map_variables(self) -> None:
        """Follow the map headers package variables point at, typed by the map runtime
        calls that use them (``allocsites.global_uses``) or that were handed the map just
        before the code stored it there (``mapflows.map_flows``); two sources naming two
        types leave the variable out."""
        uses = dict(self._uses.maps)
        for slot, t in map_flows(self.gp, self._slots).items():
            if uses.setdefault(slot, t) != t:
                uses[slot] = 0
        uses = {k: v for k, v in uses.items() if v}
        if not uses:
            return
        slots = np.fromiter(uses.keys(), dtype=U64, count=len(uses))
        taddr = np.fromiter(uses.values(), dtype=U64, count=len(uses))
        ok = self._not_interface_data(slots)
        ptr, got = self.gp.process.gather.words(slots)
        ok &= got
        objs = np.where(ok, self.h.find(np.where(ok, ptr, 0)), -1)
        mt = np.array([self._map_type(int(a)) for a in taddr.tolist()], dtype=np.int32)
        objs = np.where((mt != UNKNOWN) & (objs >= 0), objs, -1)
        if not np.any(objs >= 0):
            return
        self.maps.follow(self.h, np.where(self._map_headers(np.maximum(objs, 0)) & (objs >= 0), objs, -1),
                         mt)

    def _fresh_map_headers(self) -> None:
        """Type as the runtime's map header the untyped objects of the package variables
        the code fills only with ``makemap_small``'s fresh header (``storeflows``; the map
        type unnamed there: an empty map, or one whose groups stay untyped)."""
        header = self.maps.header
        slots = np.array(sorted(k for k, v in self._fresh.items() if v == MAP_HEADER), dtype=U64)
        if header == UNKNOWN or not len(slots):
            return
        ptr, ok = self.gp.process.gather.words(slots)
        ok &= self._not_interface_data(slots)
        objs = np.where(ok, self.h.find(np.where(ok, ptr, 0)), -1)
        objs = objs[objs >= 0]
        objs = objs[self._map_headers(objs)]
        self.h.assign(objs, np.full(len(objs), header, dtype=np.int32))

    def _fresh_arrays(self) -> None:
        """Type as ``[N]E`` (N from the slot) the untyped objects of the package variables
        the code fills only with ``runtime.makeslice(E, …)``'s array (``storeflows``), when
        the span holds pointers exactly when E does; pointer-free slots of 16 bytes or less
        may be tiny blocks shared with other values and are left alone."""
        from .typeinfer import _types_for
        got = sorted((k, v[1]) for k, v in self._fresh.items() if v[0] == "slice")
        if not got or self.h.noscan is None:
            return
        h, reg, rts = self.h, self.reg, self.reg.rts
        slots = np.array([k for k, _ in got], dtype=U64)
        elem = {a: rts.try_get(a) for _, a in got}
        tid = np.array([reg.of_rtype(a) if elem[a] is not None and elem[a].size > 0 else UNKNOWN
                        for _, a in got], dtype=np.int32)
        scan = np.array([elem[a] is not None and elem[a].ptrdata > 0 for _, a in got], dtype=bool)
        ptr, ok = self.gp.process.gather.words(slots)
        ok &= self._not_interface_data(slots) & (tid != UNKNOWN)
        objs = np.where(ok, h.find(np.where(ok, ptr, 0)), -1)
        o = np.maximum(objs, 0)
        ok &= (objs >= 0) & (h.tid[o] == UNKNOWN) & (h.data_off[o] == 0) & (h.noscan[o] == ~scan)
        ok &= ~(h.noscan[o] & (h.size[o] <= 16))
        objs, tid = objs[ok], tid[ok]
        h.assign(objs, _types_for(reg, objs, tid, h.size, h.data_off, sized=True))

    def _addressed_variables(self) -> None:
        """Type as T the memory of the package variables whose address the code passes as
        the receiver of a ``(*T).M`` call (``allocsites.addressed_receivers``), when the
        module's pointer mask over those words is T's own GC mask (the linker wrote the
        mask from the variable's type): what T's pointers reach then spreads from there."""
        found = addressed_receivers(self.gp, self._slots)
        if not found:
            return
        gp, rts, reg = self.gp, self.reg.rts, self.reg
        md, bias, ps = gp.moduledata, gp.process.exe_bias, gp.process.ptr_size
        masks = {w: (int(getattr(md, w)) + bias, section_pointer_mask(gp, w)) for w in ("data", "bss")}
        ct = self._closure_types()
        for v, (recv, method) in sorted(found.items()):
            rt = ct.pointer_receiver(recv, method)
            e = rts.try_get(rt.elem) if rt is not None and rt.elem else None
            if e is None or e.ptrdata <= 0 or e.size % ps:
                continue
            for lo, mask in masks.values():
                k = (v - lo) // ps
                if mask is None or v < lo or (v - lo) % ps or k + e.size // ps > len(mask):
                    continue
                try:
                    want = rts.gc_mask(e)
                except GoCoreError:
                    break
                if np.array_equal(mask[k:k + len(want)], want):
                    tid = reg.of_rtype(e.addr)
                    if tid != UNKNOWN:
                        self.h.memory.append((v, tid))
                break

    def _map_type(self, taddr: int) -> int:
        rt = self.reg.rts.try_get(taddr)
        return self.reg.of_rtype(taddr) if rt is not None and rt.kind == MAP else UNKNOWN

    # ---- finalizers ----

    def _finalizers(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (object ids, type ids) of objects with a finalizer, from ``ot``."""
        h = self.h
        none = (np.zeros(0, np.int64), np.zeros(0, np.int32))
        records = [r for r in finalizer_records(self.gp, self.heap) if r.ot]
        ptrs, ots = [r.obj for r in records], [r.ot for r in records]
        if not ptrs:
            return none
        rts = self.reg.rts
        elem = {}
        for ot in set(ots):
            rt = rts.try_get(ot) if rts.in_types(ot) else None
            e = rts.try_get(rt.elem) if rt is not None and rt.kind == POINTER and rt.elem else None
            elem[ot] = (self.reg.of_rtype(rt.elem), e.size, int(e.ptrdata > 0)) \
                if e is not None and e.size > 0 else (UNKNOWN, 0, 0)
        objs = h.find(np.array(ptrs, dtype=U64))
        tid = np.array([elem[o][0] for o in ots], dtype=np.int32)
        size = np.array([elem[o][1] for o in ots], dtype=np.int64)
        scan = np.array([elem[o][2] for o in ots], dtype=bool)
        ok = self._fits(objs, size, scan)
        return objs[ok], tid[ok]


def _sizes_of(reg, tids: np.ndarray) -> np.ndarray:
    """Return the size of each type id (0 for UNKNOWN), one lookup per distinct type."""
    u, inv = np.unique(tids, return_inverse=True)
    sz = np.array([reg.table[int(t)].size if t != UNKNOWN else 0 for t in u], dtype=np.int64)
    return sz[np.asarray(inv).ravel()]


def _is_iface(rt) -> bool:
    return rt is not None and rt.kind == INTERFACE and len(rt.imethods) > 0


def _hash_of(rt) -> int:
    return -1 if rt is None else int(rt.hash)
