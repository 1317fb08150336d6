"""``HeapIndex.fields`` gives values as data (``gocore.heap.fields.FieldValue``).

Truth is the fixture program (fixtures/programs/heapkeeper/main.go) and its manifest:
``big`` is ``&BigObj{Child: &BigChild{Magic: bigMagic, Note: "child-of-big"}}`` with
``bigMagic`` printed in ``magic.big_child``; ``iface`` is ``&Thing{ID: 77, Label:
"the-thing"}`` (``objects.iface_thing``); every ``main.Item`` is ``{ID: i, Weight: i/2}``
(smallMap) or ``{ID: 1000000+i, Weight: i}`` (bigMap).
"""

from __future__ import annotations

import numpy as np
import pytest

from ..conftest import dump_cases, go_case

DWARF = dump_cases(kinds=("crash",), stripped=False)


def _fields(gp, addr: int, limit: int = 256) -> dict:
    hi = gp.heap_index()
    i = hi.find(addr)
    assert i >= 0
    fields, cut = hi.fields(i, limit)
    assert not cut
    return {f.path: f for f in fields}


@pytest.mark.parametrize("entry", DWARF)
def test_integer_string_and_pointer_fields_read_back_as_set(entry):
    case, gp = go_case(entry)
    objs, magic = case.manifest["objects"], case.manifest["magic"]
    child = _fields(gp, objs["big_child"])
    assert child["Magic"].kind == "uint" and child["Magic"].value == magic["big_child"]
    note = child["Note"]
    assert (note.kind, note.value, note.length, note.truncated) == ("string", "child-of-big", 12, False)
    assert note.pointer is not None and note.readable
    big = _fields(gp, objs["big"], limit=40001)                 # Data [40000]byte, then Child
    assert big["Child"].kind == "ptr" and big["Child"].value == objs["big_child"]
    assert big["Child"].pointer == objs["big_child"] and big["Child"].target_type == "main.BigChild"
    thing = _fields(gp, objs["iface_thing"])
    assert thing["ID"].value == 77 and type(thing["ID"].value) is int
    assert thing["Label"].value == "the-thing" and thing["Label"].length == 9


@pytest.mark.parametrize("entry", DWARF)
def test_float_fields_are_floats(entry):
    case, gp = go_case(entry)
    hi = gp.heap_index()
    items = [i for i in np.flatnonzero(hi.live).tolist() if hi.name_of(i) == "main.Item"][:50]
    assert len(items) == 50
    for i in items:
        by = {f.path: f for f in hi.fields(i)[0]}
        ident, weight = by["ID"].value, by["Weight"].value
        assert type(weight) is float and by["Weight"].kind == "float"
        assert weight == (ident / 2 if ident < 1000000 else float(ident - 1000000))
