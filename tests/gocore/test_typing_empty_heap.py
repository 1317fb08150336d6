"""An empty object table (e.g. a minidump whose corrupt Memory64List leaves no heap bytes)
gives empty type answers, not an IndexError in the typing's object lookup."""

from __future__ import annotations

import numpy as np
import pytest

from ..conftest import dump_cases, go_case

CASES = [p for p in dump_cases(kinds=("crash",), stripped=False)
         if p.values[0] is None or p.values[0]["go_version"] == "go1.22.10"]


@pytest.mark.parametrize("entry", CASES)
def test_infer_types_on_empty_heap(entry):
    from gocore.heap.heapindex import _typed_roots
    from gocore.heap.typeinfer import TypeRegistry, infer_types
    from gocore.binary.rtype import runtime_types
    _, gp = go_case(entry)
    reg = TypeRegistry(runtime_types(gp), gp.dwarf.types)
    roots = _typed_roots(gp, reg, None)          # DWARF globals: pointers that hit no object
    assert roots
    empty = np.zeros(0, np.uint64)
    got = infer_types(gp, empty, np.zeros(0, np.uint32), roots, registry=reg,
                      header_types=None, noscan=np.zeros(0, bool))
    assert got.type_id.shape == (0,) and got.data_off.shape == (0,)
    assert got.from_header.shape == (0,)
