"""A goroutine frame's arguments and locals, from DWARF, as Values.

DWARF locates a Go variable relative to the frame's CFA (``DW_OP_call_frame_cfa``, the
caller's SP on amd64) at a link-time pc: the frame's pc where it was stopped by a trap,
else the call instruction (``pc - 1``: a return address already belongs to the next line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .values import Types, Value

if TYPE_CHECKING:
    from .goroutines.goroutines import Frame
    from .process import GoProcess


def value_types(gp: GoProcess) -> Types:
    """Return the Types Values outside the heap are read with: the heap index's registry
    when the index is built, else a registry of DWARF and runtime type descriptors alone
    (DWARF type ids are the same in both), built once without reading the heap."""
    got = gp.__dict__.get("_api_heap_types")
    if got is not None:
        return got
    got = gp.__dict__.get("_api_value_types")
    if got is None:
        from .binary.rtype import runtime_types
        from .heap.typeinfer import TypeRegistry
        dw = gp.dwarf
        reg = TypeRegistry(runtime_types(gp), dw.types if dw is not None else None)
        reg.layout = gp.layout
        got = gp.__dict__["_api_value_types"] = Types(gp, reg)
    return got


def frame_locals(gp: GoProcess, frame: Frame) -> dict[str, Value]:
    """Return {name: Value} of the parameters and locals of ``frame``'s function that DWARF
    places in the frame's memory at its pc; {} without DWARF, for an inlined call's frame
    and for a frame whose CFA is unknown. Variables held in registers or split into pieces
    in different places are left out (a non-innermost frame's registers are not saved)."""
    dw = gp.dwarf
    if dw is None or frame.inlined or not frame.fp:
        return {}
    pc = (frame.pc if frame.trap else frame.pc - 1) - gp.process.exe_bias
    fn = dw.function(pc=pc)
    if fn is None:
        return {}
    types = value_types(gp)
    out: dict[str, Value] = {}
    for v in fn.vars:
        if v.inlined or v.type is None or v.type < 0 or v.name in out:
            continue
        pieces = v.pieces_at(pc)
        if not pieces or any(p.kind != "cfa" for p in pieces):
            continue
        # pieces laid end to end in memory are the whole variable in one place
        at = pieces[0].value
        if any(p.value != at + sum(q.size or 0 for q in pieces[:k]) for k, p in enumerate(pieces)):
            continue
        out[v.name] = types.value(v.type, frame.fp + at)
    return out
