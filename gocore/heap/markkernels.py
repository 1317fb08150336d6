"""Compiled walks of the object graph: marking (breadth-first, level by level) and the
spread of types along plain pointers; with them the index build's two per-pointer passes
(pointer -> object id, first-come type assignment), which as numpy took a dozen
temporaries the size of their input.

Both are per object and per edge, which numpy can only do one BFS level at a time: on a
heap that is one long linked list (10 M nodes, one per level) that is 10 M numpy rounds,
hours. Compiled (numba, cached as ``domkernels`` explains) they are linear in objects plus
edges whatever the shape.
"""

from __future__ import annotations

import numpy as np

from .domkernels import njit


@njit(cache=True, nogil=True)
def bfs_mark(seeds, start, dst, reached, parent, root, order, fresh):
    """Mark from ``seeds`` (sorted object ids, already ``reached``, ``root`` set) one BFS
    level at a time: each level's objects are visited in ascending id, and an object's
    parent is the first edge reaching it in that order (as a whole-level numpy step
    would choose), so the pointer followed is the parent's first one to it
    (``edge_offset``). Fills ``reached``, ``parent``, ``root`` in place. ``order``
    (int32, one per object) takes every reached object once, level after level; ``fresh``
    (all false, one per object) the level being found, by id, when it is wide. The caller
    allocates both with numpy: its large arrays get huge pages, where numba's took 20 k
    page faults at 20 M objects (20 us each on a virtual machine)."""
    m = len(seeds)
    order[:m] = seeds
    a = 0
    while a < m:
        b = m
        lo, hi = len(reached), -1
        for i in range(a, b):
            u = order[i]
            ru = root[u]
            for e in range(start[u], start[u + 1]):
                d = dst[e]
                if not reached[d]:
                    reached[d] = True
                    parent[d] = u
                    root[d] = ru
                    order[m] = d
                    m += 1
                    lo = min(lo, d)
                    hi = max(hi, d)
        if m - b > 1 and hi - lo < 32 * (m - b):
            # a dense level: sorted by marking its ids and reading them back in id order,
            # linear in its range (numba's quicksort took 5.7 s on a 13 M-object level)
            _sort_dense(order, b, m, lo, hi, fresh)
        else:
            order[b:m].sort()
        a = b


@njit(cache=True, nogil=True)
def _sort_dense(order, b, m, lo, hi, fresh):
    """Sort ``order[b:m]``, distinct ids in ``[lo, hi]``, through the all-false ``fresh``
    (left all false)."""
    for i in range(b, m):
        fresh[order[i]] = True
    j = b
    for d in range(lo, hi + 1):
        if fresh[d]:
            fresh[d] = False
            order[j] = d
            j += 1


@njit(cache=True, nogil=True)
def _slot_from(slot_off, s, s_end, rel):
    """Return the first slot at or past byte offset ``rel``, from slot ``s`` on (offsets
    ascending; ``s_end`` when none): a walk of an object's edges against its type's slots."""
    while s < s_end and slot_off[s] < rel:
        s += 1
    return s


@njit(cache=True, nogil=True)
def spread_pointers(objs, tid, start, dst, off, delta, data_off, size, slot_start, slot_off,
                    slot_tgt, tsize, unknown, out_buf, work_buf):
    """Type, transitively, what the plain-pointer slots of typed objects ``objs`` point at.

    Type t's pointer slots are ``slot_off/slot_tgt[slot_start[t]:slot_start[t+1]]`` (byte
    offset from the data start, sorted; pointee type id); types beyond ``slot_start`` have
    none known here. Edge e points at the data start of its target when ``delta[e]``
    equals the target's ``data_off``. A pointee of type T is typed T when T fits its
    payload and not twice (see ``typeinfer._sized_types``). Returns the ids typed, in the
    order they were typed (each object's own pointers followed before the next object's),
    as the start of ``out_buf`` (int32, one per object); ``work_buf`` (int32, one per object
    and per ``objs`` entry) is its stack. Both come from numpy (huge pages), and only the
    pages written take memory."""
    ntypes = len(slot_start) - 1
    # at their bounds (each object is typed and pushed once at most): only the pages
    # written take memory, where growing by doubling copied and held both
    out = out_buf
    k = 0
    work = work_buf
    w = 0
    for i in range(len(objs) - 1, -1, -1):
        work[w] = objs[i]
        w += 1
    while w:
        w -= 1
        o = work[w]
        t = tid[o]
        if t < 0 or t >= ntypes or slot_start[t] == slot_start[t + 1]:
            continue
        s, s_end = slot_start[t], slot_start[t + 1]
        base = data_off[o]
        for e in range(start[o], start[o + 1]):
            rel = np.int64(off[e]) - base
            s = _slot_from(slot_off, s, s_end, rel)
            if s == s_end:
                break
            if slot_off[s] != rel:
                continue
            d = dst[e]
            if tid[d] != unknown or delta[e] != data_off[d]:
                continue
            el = slot_tgt[s]
            if el < 0 or el >= len(tsize):
                continue
            es = tsize[el]
            pay = np.int64(size[d]) - data_off[d]
            if es < 0 or _fit_count(es, pay, False) != 1:
                continue
            tid[d] = el
            out[k] = d
            k += 1
            work[w] = d
            w += 1
    return out[:k]


@njit(cache=True, nogil=True)
def slot_edges(objs, start, dst, off, delta, data_off, slot_off, slot_tgt, misses):
    """Return what the slots at ``slot_off`` (byte offsets from the data start, strictly
    ascending; targets ``slot_tgt``) of heap objects ``objs`` point at, read from their
    edges instead of the dump: (objects, target types) where a slot's pointer is an edge to
    another object's data start, in object then slot order, as reading the slots gives
    them; and, when ``misses``, (sources, edges) of the slots whose edge points inside an
    object past its data start."""
    bound = 0               # one result per edge at most: arrays at that bound take
    for i in range(len(objs)):      # memory only where written
        bound += np.int64(start[objs[i] + 1]) - np.int64(start[objs[i]])
    hit = np.empty(bound, dtype=np.int32)
    hit_t = np.empty(bound, dtype=np.int32)
    k = 0
    miss_o = np.empty(bound if misses else 0, dtype=np.int32)
    miss_e = np.empty(bound if misses else 0, dtype=np.int64)
    m = 0
    ns = len(slot_off)
    for i in range(len(objs)):
        o = objs[i]
        base = np.int64(data_off[o])
        s = 0
        for e in range(start[o], start[o + 1]):
            rel = np.int64(off[e]) - base
            s = _slot_from(slot_off, s, ns, rel)
            if s == ns:
                break
            if slot_off[s] != rel:
                continue
            d = dst[e]
            if delta[e] == data_off[d]:
                hit[k] = d
                hit_t[k] = slot_tgt[s]
                k += 1
            elif misses:
                miss_o[m] = o
                miss_e[m] = e
                m += 1
    return hit[:k], hit_t[:k], miss_o[:m], miss_e[:m]


@njit(cache=True, nogil=True)
def group_ascending_by_type(objs, tid, ntypes, fresh):
    """Return (distinct ids ``objs`` grouped by ascending type ``tid[o]`` in ``[0,
    ntypes)``, each type's ids ascending; the start of each type's run, ``ntypes + 1`` of
    them). A dense set of ids is read back in order through ``fresh`` (all false, one per
    object, left so), a sparse one sorted: where a two-key lexsort took 0.25 s a round at
    20 M objects."""
    starts = np.zeros(ntypes + 1, dtype=np.int64)
    lo, hi = len(tid), -1
    for i in range(len(objs)):
        o = objs[i]
        starts[tid[o] + 1] += 1
        lo = min(lo, o)
        hi = max(hi, o)
    for t in range(ntypes):
        starts[t + 1] += starts[t]
    pos = starts[:-1].copy()
    out = np.empty(len(objs), dtype=np.int32)
    if hi - lo < 32 * len(objs):
        for i in range(len(objs)):
            fresh[objs[i]] = True
        for d in range(lo, hi + 1):
            if fresh[d]:
                fresh[d] = False
                t = tid[d]
                out[pos[t]] = d
                pos[t] += 1
    else:
        for d in np.sort(objs):
            t = tid[d]
            out[pos[t]] = d
            pos[t] += 1
    return out, starts


@njit(cache=True, nogil=True)
def sized_codes(rank, esize, pay, arrays, code, keys, shift):
    """Write to ``code`` (int32, one per object) what each object's payload holds as its
    type: -2 one element (the element type), -1 nothing (it does not fit, or holds several
    and not ``arrays``), else the slot in ``keys`` of its (rank, count) pair: ``[count]elem``,
    count >= 2. ``rank`` indexes ``esize`` (element sizes) per object, or is one rank for
    all; ``pay`` is the payload in bytes. ``keys`` (int64, all -1, a power-of-two length)
    is an open-addressing table of ``rank << 32 | count``, hashed to its top bits (``shift``:
    64 - log2 of its length). Returns False (``code`` then unfinished) when more than half
    of ``keys`` would fill. One pass and no temporary per
    object, where a table over every possible (rank, count) and its bincount (as large as
    the types times the longest length) faulted 11 k fresh pages at 20 M objects."""
    nk = len(keys)
    used = 0
    one = len(rank) == 1
    for i in range(len(pay)):
        r = rank[0] if one else rank[i]
        c = _fit_count(np.int64(esize[r]), np.int64(pay[i]), arrays)
        if c == 0:
            code[i] = -1
            continue
        if c == 1:
            code[i] = -2
            continue
        k = (np.int64(r) << 32) | c
        h = np.int64((np.uint64(k) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(shift))
        while keys[h] != -1 and keys[h] != k:
            h = (h + 1) & (nk - 1)
        if keys[h] == -1:
            used += 1
            if 2 * used > nk:
                return False
            keys[h] = k
        code[i] = h
    return True


@njit(cache=True, nogil=True)
def apply_codes(code, elem, ids, unknown, out):
    """Write each object's type to ``out`` from its ``sized_codes`` code: ``elem[i]`` (or
    ``elem[0]`` for all when it holds one) for -2, ``unknown`` for -1, ``ids[code]`` else."""
    one = len(elem) == 1
    for i in range(len(code)):
        c = code[i]
        if c == -2:
            out[i] = elem[0] if one else elem[i]
        elif c < 0:
            out[i] = unknown
        else:
            out[i] = ids[c]


@njit(cache=True, nogil=True)
def _fit_count(es, p, arrays):
    """Return how many elements of ``es`` bytes a payload of ``p`` bytes holds as its type:
    1, n >= 2 (``[n]elem``, only when ``arrays``), or 0 (too small, or several and not
    ``arrays``: size classes are closer than 2x, so one ``new(T)`` never has room for two)."""
    if es > p:
        return np.int64(0)
    if es > 0 and p // es >= 2:
        return p // es if arrays else np.int64(0)
    return np.int64(1)


@njit(cache=True, nogil=True)
def group_by_type(objs, types, ntypes):
    """Return (``objs`` grouped by ascending type, each type's in their given order; the
    start of each type's run, ``ntypes + 1`` of them), types in ``[0, ntypes)``. A counting
    sort: 4 bytes per object, where an argsort and its gathers took 16."""
    starts = np.zeros(ntypes + 1, dtype=np.int64)
    for i in range(len(types)):
        starts[types[i] + 1] += 1
    for t in range(ntypes):
        starts[t + 1] += starts[t]
    pos = starts[:-1].copy()
    out = np.empty(len(objs), dtype=np.int32)
    for i in range(len(objs)):
        t = types[i]
        out[pos[t]] = objs[i]
        pos[t] += 1
    return out, starts


@njit(cache=True, nogil=True)
def edge_offset(start, dst, off, p, c):
    """Return the byte offset of object ``p``'s first pointer to object ``c`` (-1: none):
    the pointer marking followed from a parent to its child."""
    for e in range(start[p], start[p + 1]):
        if dst[e] == c:
            return np.int64(off[e])
    return np.int64(-1)


@njit(cache=True, nogil=True)
def root_chain(parent, start, dst, off, i):
    """Return (ids, offsets) of the marking's path to ``i``: from the root's object to
    ``i``, with the byte offset in each object of the pointer to the next (-1 on ``i``)."""
    n = 1
    cur = i
    while parent[cur] >= 0 and n <= len(parent):
        cur = parent[cur]
        n += 1
    ids = np.empty(n, dtype=np.int32)
    offs = np.empty(n, dtype=np.int64)
    cur = i
    offs[n - 1] = -1
    for k in range(n - 1, -1, -1):
        ids[k] = cur
        if k:
            p = parent[cur]
            offs[k - 1] = edge_offset(start, dst, off, p, cur)
            cur = p
    return ids, offs


@njit(cache=True, nogil=True)
def assign_first(objs, types, tid, unknown):
    """Type each untyped object of ``objs`` (-1: none) as the first of its ``types`` that
    is known, in order, in ``tid`` in place; return (objects typed, their types), in that
    order. Linear, where a sort-based first-occurrence pass over millions of pairs took six
    temporaries of their size."""
    got = np.empty(len(objs), dtype=np.int32)
    got_t = np.empty(len(objs), dtype=np.int32)
    k = 0
    for i in range(len(objs)):
        o = objs[i]
        t = types[i]
        if o < 0 or t == unknown or tid[o] != unknown:
            continue
        tid[o] = t
        got[k] = o
        got_t[k] = t
        k += 1
    return got[:k].copy(), got_t[:k].copy()


@njit(cache=True, nogil=True)
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(cache=True, nogil=True)
def _find_one(p, lo, shift, table, base, elemsize, nelems, slot0, bits, prefix, clip):
    """Return the object id of pointer ``p``, or -1 (``slot_find`` for one pointer)."""
    if p < lo:
        return -1
    pg = (p - lo) >> shift
    if pg >= np.uint64(len(table)):
        return -1
    row = table[pg]
    if row < 0:
        return -1
    rel = p - np.uint64(base[row])
    es = np.uint64(elemsize[row])
    slot = rel // es
    if slot >= np.uint64(nelems[row]):
        return -1
    if clip and rel - slot * es >= min(es, np.uint64(0xFFFFFFFF)):
        return -1
    return _slot_id(np.uint64(slot0[row]) + slot, bits, prefix)


@njit(cache=True, nogil=True)
def _slot_id(g, bits, prefix):
    """Return the object id of global slot ``g`` (the rank of its allocated bit), or -1
    when the slot is free."""
    one = np.uint64(1)
    w = g >> np.uint64(6)
    b = g & np.uint64(63)
    word = np.uint64(bits[w])
    if (word >> b) & one == np.uint64(0):
        return -1
    return prefix[w] + np.int32(_popcount(word & ((one << b) - one)))


@njit(cache=True, nogil=True)
def slot_find(ptrs, lo, shift, table, base, elemsize, nelems, slot0, bits, prefix, clip):
    """Return the object id of each pointer (-1: none), as ``heap._SlotIndex.find`` does
    with numpy: page -> span row, slot = offset // elemsize, id = rank of the slot's
    allocated bit. One pass per pointer instead of a dozen full-size numpy temporaries."""
    out = np.empty(len(ptrs), dtype=np.int32)
    for i in range(len(ptrs)):
        out[i] = _find_one(np.uint64(ptrs[i]), lo, shift, table, base, elemsize, nelems,
                           slot0, bits, prefix, clip)
    return out


@njit(cache=True, nogil=True)
def span_edges(rows, bitmap_at, used_words, cap, id_lo, id_hi, mem8, mem64, mem_start, addr,
               lo, shift, table, base, elemsize, nelems, slot0, bits, prefix, clip):
    """Return (sources, destinations, byte offsets, deltas) of the pointers held by the
    objects with ids in ``[id_lo, id_hi)`` of small-object spans ``rows``, each span and
    its heap bitmap wholly in one segment of the dump (``mem8``/``mem64``: its bytes and
    words, from address ``mem_start``). ``bitmap_at`` is each row's bitmap address (one bit
    per word, set for a pointer slot), ``used_words`` the words of its slots; ``cap`` bounds
    the pointers found. Sources ascend, and each object's pointers by offset: the CSR
    order. The edge scan's numpy steps (bitmap bits to words, words to slots, the reads,
    the lookups) fused into one pass, with no temporary per word."""
    src = np.empty(cap, dtype=np.int32)
    dst = np.empty(cap, dtype=np.int32)
    off = np.empty(cap, dtype=np.uint32)
    delta = np.empty(cap, dtype=np.uint8)
    k = 0
    word = np.uint64(8)
    for i in range(len(rows)):
        r = rows[i]
        b0 = np.uint64(base[r])
        es = np.uint64(elemsize[r])
        g0 = np.uint64(slot0[r])
        uw = np.int64(used_words[i])
        hb = np.int64(np.uint64(bitmap_at[i]) - mem_start)
        last_slot = np.uint64(1) << np.uint64(63)
        o = -1
        for j in range((uw + 7) // 8):
            byte = mem8[hb + j]
            if byte == 0:
                continue
            for t in range(8):
                if (byte >> t) & 1 == 0:
                    continue
                w = j * 8 + t
                if w >= uw:
                    break
                rel = np.uint64(w) * word
                slot = rel // es
                if slot != last_slot:
                    last_slot = slot
                    o = _slot_id(g0 + slot, bits, prefix)
                if o < id_lo or o >= id_hi:
                    continue
                p = np.uint64(mem64[np.int64((b0 + rel - mem_start) >> np.uint64(3))])
                d = _find_one(p, lo, shift, table, base, elemsize, nelems, slot0, bits,
                              prefix, clip)
                if d < 0 or d == o:
                    continue
                src[k] = o
                dst[k] = d
                off[k] = np.uint32(b0 + rel - np.uint64(addr[o]))
                delta[k] = np.uint8(min(p - np.uint64(addr[d]), np.uint64(255)))
                k += 1
    return src[:k].copy(), dst[:k].copy(), off[:k].copy(), delta[:k].copy()


@njit(cache=True, nogil=True)
def typed_edges(objs, row, first, nwords, elem_words, ptr_words, mask_off, bits, cap, mem64,
                mem_start, addr, lo, shift, table, base, elemsize, nelems, slot0, bits_alloc,
                prefix, clip):
    """Return (sources, destinations, byte offsets, deltas) of the pointers held by objects
    ``objs`` (ascending) whose type the runtime recorded (a malloc header or
    ``mspan.largeType``), each object wholly in the dump segment ``mem64`` (its words, from
    address ``mem_start``). Object i's words ``first[i]`` to ``nwords[i]`` tile its type (row
    ``row[i]``: ``elem_words`` words, pointers among the first ``ptr_words``, whose mask
    starts at ``mask_off`` in ``bits``); ``cap`` bounds the pointers found. In CSR order, as
    ``PointerMaps.slots`` and the numpy reads give them, without their per-word
    temporaries (the 8 KiB arrays of pointers of a 20 M-object heap: 6.7 M words)."""
    src = np.empty(cap, dtype=np.int32)
    dst = np.empty(cap, dtype=np.int32)
    off = np.empty(cap, dtype=np.uint32)
    delta = np.empty(cap, dtype=np.uint8)
    k = 0
    for i in range(len(objs)):
        o = objs[i]
        r = row[i]
        ew = max(np.int64(elem_words[r]), np.int64(1))
        pw = np.int64(ptr_words[r])
        mo = np.int64(mask_off[r])
        at = np.int64((np.uint64(addr[o]) - mem_start) >> np.uint64(3))
        f = np.int64(first[i])
        for w in range(f, np.int64(nwords[i])):
            j = (w - f) % ew
            if j >= pw or not bits[min(mo + j, len(bits) - 1)]:
                continue
            p = np.uint64(mem64[at + w])
            d = _find_one(p, lo, shift, table, base, elemsize, nelems, slot0, bits_alloc,
                          prefix, clip)
            if d < 0 or d == o:
                continue
            src[k] = o
            dst[k] = d
            off[k] = np.uint32(w * 8)
            delta[k] = np.uint8(min(p - np.uint64(addr[d]), np.uint64(255)))
            k += 1
    return src[:k].copy(), dst[:k].copy(), off[:k].copy(), delta[:k].copy()


@njit(cache=True, nogil=True)
def place_edges(src, dst, off, delta, id_lo, pos, out_dst, out_off, out_delta):
    """Copy one run of edges (sources ascending) to their CSR places: edge i of source o
    goes to ``pos[o - id_lo]``, which then moves on. ``pos`` starts at each source's first
    place, so runs of disjoint sources merge in CSR order without a sort or a
    concatenation."""
    for i in range(len(src)):
        j = np.int64(src[i]) - id_lo
        p = pos[j]
        pos[j] = p + 1
        out_dst[p] = dst[i]
        out_off[p] = off[i]
        out_delta[p] = delta[i]


@njit(cache=True, nogil=True)
def expand_slots(raw, rows, nbytes, base, elemsize, addr, size, span):
    """Fill (addr, size, span) with the allocated slots whose bits are set in ``raw`` (as
    many as the arrays hold): each row's ``nbytes`` bytes of (masked) alloc bits in turn,
    slot = bit index, addr = ``base + slot * elemsize`` of the row's span, sizes clipped
    to 32 bits. In address order when the rows are. The caller allocates the arrays with
    numpy, whose large arrays get huge pages: as numba's they took 80 k page faults at 20 M
    objects, 20 us each on a virtual machine."""
    pos = 0
    at = 0
    for i in range(len(rows)):
        r = rows[i]
        b = np.uint64(base[r])
        es = np.uint64(elemsize[r])
        clipped = np.uint32(min(es, np.uint64(0xFFFFFFFF)))
        for j in range(nbytes[i]):
            byte = raw[at + j]
            t = 0
            while byte:
                if byte & 1:
                    addr[pos] = b + np.uint64(j * 8 + t) * es
                    size[pos] = clipped
                    span[pos] = r
                    pos += 1
                byte >>= 1
                t += 1
        at += nbytes[i]
