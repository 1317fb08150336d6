"""What ``gocore.heap.allocsites`` reads from the code of the DWARF build of ``globalkeeper/``
(built with real Go toolchains, as test_typing_globals.py does) agrees with that build's
DWARF, the truth for the types of package variables.

The code is read the same with or without symbols: a variable ``global_sites`` types as
holding a ``*T`` has, in DWARF, the type ``*T`` (or one DWARF says less about:
``unsafe.Pointer``, a func value); a map variable ``global_uses`` names has DWARF's map
type. Go 1.19 writes package variables through ``LEAQ v(SB), DI``, the value put in a
register, ``CALL runtime.gcWriteBarrier<R>`` (src/runtime/asm_amd64.s): not an escape of
``v``'s address, so ``sync.expunged`` (src/sync/map.go: ``unsafe.Pointer(new(any))``,
stored so in init) is read as holding an ``interface {}``.
"""

from __future__ import annotations

import re

import pytest

from .test_typing_globals import VERSIONS, _globalkeeper

# DWARF types that say less than the code: the word points at a T the code knows
_LESS_SAID = ("unsafe.Pointer", "func(")


def _short(name: str) -> str:
    """Return a type name with its package paths cut to the last element, as the runtime's
    descriptors spell it (DWARF: ``regexp/syntax.charGroup``, descriptor: ``syntax.charGroup``)."""
    return re.sub(r"(?:[\w.-]+/)+", "", name)


def _dwarf_globals(gp) -> dict[int, tuple[str, str]]:
    """Return {address: (name, DWARF type name)} of the package variables."""
    return {v.address: (name, v.type_name) for name, v in gp.globals()}


@pytest.mark.parametrize("version", VERSIONS)
def test_global_sites_agree_with_dwarf(version, tmp_path_factory):
    from gocore.binary.rtype import runtime_types
    from gocore.heap.allocsites import global_sites
    gd, _ = _globalkeeper(version, False, tmp_path_factory)
    rts, dwarf = runtime_types(gd), _dwarf_globals(gd)
    sites = global_sites(gd)
    assert sites, "no package variable typed from the code"
    named = {}
    for slot, desc in sites.items():
        assert slot in dwarf, hex(slot)        # a package variable's own word
        name, typ = dwarf[slot]
        got = rts.try_get(desc)
        assert got is not None, (name, hex(desc))
        named[name] = got.name
        if not typ.startswith(_LESS_SAID):
            assert _short(typ) == "*" + got.name, (name, typ, got.name)
    if version == "1.19":
        assert named.get("sync.expunged") == "interface {}", named


@pytest.mark.parametrize("version", VERSIONS)
def test_global_uses_agree_with_dwarf(version, tmp_path_factory):
    import numpy as np

    from gocore.binary.rtype import runtime_types
    from gocore.heap.allocsites import global_uses
    gd, _ = _globalkeeper(version, False, tmp_path_factory)
    rts, dwarf = runtime_types(gd), _dwarf_globals(gd)
    uses = global_uses(gd, np.array(sorted(dwarf), dtype=np.uint64))
    assert uses.maps and uses.receivers
    for slot, desc in uses.maps.items():
        name, typ = dwarf[slot]
        assert _short(typ) == rts.try_get(desc).name, (name, typ)
    for slot, (recv, _method) in uses.receivers.items():
        name, typ = dwarf[slot]
        assert typ == recv, (name, typ, recv)
