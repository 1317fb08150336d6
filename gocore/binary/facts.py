"""Named facts about the Go release that built the program; the only module comparing versions.

Each fact is decided by the shape of the runtime first (a field, its size, a constant, a
type), as read through ``Layout`` (so it works the same from DWARF and from the built-in
tables), and by the version number only when the shape says nothing (devel and GOEXPERIMENT
builds keep working). Each detector names the GOROOT file that shows the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from .goversion import GoVersion, as_go_version

if TYPE_CHECKING:
    from .layout import Layout


@dataclass(frozen=True)
class Facts:
    """What differs between Go releases in ways DWARF offsets alone do not tell."""

    version: tuple[int, int] | None
    # Objects carry their type: a malloc header word for small objects with pointers,
    # mspan.largeType for large ones; the per-arena heap bitmap is gone. go1.22
    malloc_headers: bool
    # mspan.nelems / freeindex / allocCount are uint16. go1.22
    span_counts_u16: bool
    # special.offset is a uintptr (was uint16). go1.24
    special_offset_uintptr: bool
    # maps are swiss tables (internal/runtime/maps.Map), not runtime.hmap. go1.24
    swiss_maps: bool
    # small-object spans keep their mark bits inline at the span's end (green tea GC). go1.26
    inline_mark_bits: bool
    # "stored directly in an interface" is abi.TFlagDirectIface, not a kind bit. go1.26
    direct_iface_in_tflag: bool
    # the runtime keeps the heap bitmap in heapArena.bitmap (+ noMorePtrs). before go1.22
    arena_heap_bitmap: bool
    # a type's GC mask may be built lazily (abi.TFlagGCMaskOnDemand). go1.24
    gc_mask_on_demand: bool
    # a type's GC data may be a GC program (kindGCProg). before go1.24
    gc_programs: bool
    # spelling of the runtime type descriptor: "runtime._type" or "internal/abi.Type"
    rtype_type: str
    # spelling of the itab: "runtime.itab" (to go1.22) or "internal/abi.ITab" (go1.23+)
    itab_type: str
    # the per-module itab list is moduledata.itablinks (to go1.26) rather than itaboffset/itabsize
    itablinks: bool
    # the map type descriptor: "bucket" (maptype/OldMapType), "swiss" (SwissMapType, go1.24),
    # "split" (MapType with separate key and elem arrays per group, go1.27)
    map_layout: str
    # on link-register machines a conservatively scanned injected-call frame (sigpanic,
    # asyncPreempt, debugCall) also covers the small frame (*sigctxt).pushCall pushed the
    # caller's LR into. go1.26
    conservative_scan_covers_pushed_lr: bool

    def as_dict(self) -> dict:
        """Return the facts as a plain dict (for ``--debug`` output and JSON)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _since(version: tuple[int, int] | None, minor: int, default: bool = False) -> bool:
    return default if version is None else version >= (1, minor)


def detect(layout: Layout, go_version: GoVersion | str | None = None) -> Facts:
    """Decide every fact for the program whose runtime layout is ``layout``."""
    parsed = as_go_version(go_version) or layout.go_version
    v = (parsed.major, parsed.minor) if parsed is not None else None
    L = layout

    # src/runtime/mbitmap.go (go1.22: "minSizeForMallocHeader"), src/runtime/mheap.go heapArena
    if L.has_const("runtime.minSizeForMallocHeader") or L.has("runtime.mspan", "largeType"):
        malloc_headers = True
    elif L.has("runtime.heapArena", "bitmap"):
        malloc_headers = False
    else:
        malloc_headers = _since(v, 22, True)

    # src/runtime/mheap.go: type mspan struct { ... nelems uint16 ... } (go1.22)
    if L.has("runtime.mspan", "nelems"):
        span_counts_u16 = L.field_size("runtime.mspan", "nelems") == 2
    else:
        span_counts_u16 = _since(v, 22, True)

    # src/runtime/mheap.go: type special struct { ... offset uintptr ... } (go1.24)
    if L.has("runtime.special", "offset"):
        special_offset_uintptr = L.field_size("runtime.special", "offset") == L.ptr_size
    else:
        special_offset_uintptr = _since(v, 24, True)

    # src/internal/runtime/maps/map.go (go1.24); src/runtime/map.go hmap before
    if L.has("internal/runtime/maps.Map"):
        swiss_maps = True
    elif L.has("runtime.hmap"):
        swiss_maps = False
    else:
        swiss_maps = _since(v, 24, True)

    # src/runtime/mgcmark_greenteagc.go: type spanInlineMarkBits (go1.25 experiment, go1.26 default)
    if L.has("runtime.spanInlineMarkBits"):
        inline_mark_bits = True
    elif L.source == "DWARF":
        inline_mark_bits = False
    else:
        inline_mark_bits = _since(v, 26, True)

    # src/internal/abi/type.go: TFlagDirectIface (go1.26); KindDirectIface before
    if L.has_const("internal/abi.TFlagDirectIface"):
        direct_iface_in_tflag = True
    elif L.has_const("internal/abi.KindDirectIface"):
        direct_iface_in_tflag = False
    else:
        direct_iface_in_tflag = _since(v, 26, True)

    # src/runtime/mbitmap.go: heapArena.bitmap / noMorePtrs (to go1.21)
    arena_heap_bitmap = L.has("runtime.heapArena", "bitmap")

    # src/internal/abi/type.go: TFlagGCMaskOnDemand (go1.24)
    if L.has_const("internal/abi.TFlagGCMaskOnDemand"):
        gc_mask_on_demand = True
    elif L.source == "DWARF":
        gc_mask_on_demand = False
    else:
        gc_mask_on_demand = _since(v, 24, True)

    # src/internal/abi/type.go: KindGCProg (removed in go1.24)
    if L.has_const("internal/abi.KindGCProg"):
        gc_programs = True
    elif L.source == "DWARF" and _since(v, 24, False):
        gc_programs = False
    else:
        gc_programs = not _since(v, 24, True)

    rtype_type = L.struct_name("runtime._type") or (
        "internal/abi.Type" if _since(v, 21, True) else "runtime._type")
    itab_type = L.struct_name("runtime.itab") or (
        "internal/abi.ITab" if _since(v, 23, True) else "runtime.itab")

    # src/runtime/symtab.go: moduledata.itablinks (removed in go1.27: itaboffset/itabsize)
    if L.has("runtime.moduledata", "itablinks"):
        itablinks = True
    elif L.has("runtime.moduledata", "itaboffset"):
        itablinks = False
    else:
        itablinks = not _since(v, 27, False)

    # src/internal/abi/map.go: MapType.KeysOff (go1.27); map_swiss.go SwissMapType.SlotSize (go1.24)
    if not swiss_maps:
        map_layout = "bucket"
    elif L.has("internal/abi.MapType", "KeysOff"):
        map_layout = "split"
    elif L.has("internal/abi.MapType", "SlotSize"):
        map_layout = "swiss"
    else:
        map_layout = "split" if _since(v, 27, False) else "swiss"

    # src/runtime/mgcmark.go scanframeworker: "Also include the small frame injected by
    # (*sigctxt).pushCall" (go1.26; not in go1.22 nor go1.25); no type or field shows it
    conservative_scan_covers_pushed_lr = _since(v, 26, True)

    return Facts(
        version=v, malloc_headers=malloc_headers, span_counts_u16=span_counts_u16,
        special_offset_uintptr=special_offset_uintptr, swiss_maps=swiss_maps,
        inline_mark_bits=inline_mark_bits, direct_iface_in_tflag=direct_iface_in_tflag,
        arena_heap_bitmap=arena_heap_bitmap, gc_mask_on_demand=gc_mask_on_demand,
        gc_programs=gc_programs, rtype_type=rtype_type, itab_type=itab_type, itablinks=itablinks,
        map_layout=map_layout, conservative_scan_covers_pushed_lr=conservative_scan_covers_pushed_lr,
    )


# ---- which table or release a version is read as ----

def nearest_release(version: GoVersion, releases: Iterable[str]) -> str | None:
    """Return the newest of ``releases`` (``"1.22"`` keys of a generated table) that is not
    newer than ``version``'s release, or None when every one is newer."""
    older = [r for r in releases if _release_key(r) <= (version.major, version.minor)]
    return max(older, key=_release_key, default=None)


def newest_release(releases: Iterable[str]) -> str:
    """Return the newest of ``releases`` (``"1.22"`` keys of a generated table)."""
    return max(releases, key=_release_key)


def _release_key(release: str) -> tuple[int, int]:
    major, minor = release.split(".")
    return int(major), int(minor)


def release_support(version: GoVersion | None, oldest: tuple[int, int],
                    newest: tuple[int, int]) -> str:
    """Return how ``version`` stands against the supported range ``oldest``..``newest``:
    ``"unknown"`` (no release number), ``"older"``, ``"newer"`` or ``"supported"``."""
    if version is None:
        return "unknown"
    release = (version.major, version.minor)
    if release < oldest:
        return "older"
    if release > newest:
        return "newer"
    return "supported"
