"""The API on a stripped build (no DWARF): objects are typed from the runtime's own type
descriptors (malloc headers, Go 1.22+; the map types the code passes to the map runtime
calls), so their fields read back as heapkeeper set them: ``bigMap[i] = &Item{ID: 1000000 +
i, Weight: float64(i)}`` and ``smallMap[k] = &Item{ID: i, Weight: i / 2, Key: k}``
(fixtures/programs/heapkeeper)."""

from __future__ import annotations

import gocore
from tests.conftest import DUMPS

N_BIG_MAP = 10000     # heapkeeper's nBigMap
N_SMALL_MAP = 8       # heapkeeper's nSmallMap


def test_stripped_objects_typed_by_the_runtime():
    d = DUMPS / "go1.22.10"
    gp = gocore.open(str(d / "crash-stripped.core.zst"), exe=str(d / "exe-stripped.zst"))
    assert gp.dwarf is None
    assert list(gp.globals()) == []
    ids, weights = set(), set()
    for o in gp.objects("main.Item"):
        assert o.value.fields() == ["ID", "Weight", "Key"]
        ids.add(o["ID"].get())
        weights.add((o["ID"].get(), o["Weight"].get()))
    assert ids == set(range(1000000, 1000000 + N_BIG_MAP)) | set(range(N_SMALL_MAP))
    assert all(w == (i - 1000000 if i >= 1000000 else i / 2) for i, w in weights)
    for g in gp.goroutines():
        assert all(f.locals == {} for f in g.frames)        # no DWARF: no locals
