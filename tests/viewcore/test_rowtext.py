"""RowText lays out the same bytes as Python's own formatting, row for row."""

import json

import numpy as np
import pytest

from viewcore.render.rowtext import RowText

NAMES = ["main.Record", "[]uint8", 'we"ird\u00e9', "unknown", ""]


def _columns(uniform: bool, n: int = 5000):
    rng = np.random.default_rng(7)
    if uniform:
        return (rng.integers(0xc000000000, 0xc100000000, n, dtype=np.uint64),
                np.full(n, 48), np.zeros(n, dtype=np.int64))
    a = rng.integers(0, 2**63, n, dtype=np.uint64)
    a[:6] = [0, 1, 9, 10, 9999, 2**64 - 1]
    return a, rng.integers(0, 10**7, n), rng.integers(0, len(NAMES), n)


@pytest.mark.parametrize("uniform", [True, False])
def test_json_rows(uniform):
    a, s, t = _columns(uniform)
    quoted = [json.dumps(x) for x in NAMES]
    got = (RowText(len(a)).literal('{"address":').number(a).literal(',"size":').number(s)
           .literal(',"type":').names(t, quoted).literal("},").bytes())
    want = "".join(f'{{"address":{x},"size":{y},"type":{quoted[z]}}},'
                   for x, y, z in zip(a.tolist(), s.tolist(), t.tolist()))
    assert got.decode() == want


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("aw,sw", [(0, 0), (22, 9), (3, 1)])
def test_text_rows(uniform, aw, sw):
    a, s, t = _columns(uniform)
    got = (RowText(len(a)).number(a, 16, "0x", aw, left=True).literal("  ").number(s, width=sw)
           .literal("  ").names(t, NAMES).literal("\n").bytes())
    want = "".join(f"{x:<#{aw}x}  {y:>{sw}}  {NAMES[z]}\n"
                   for x, y, z in zip(a.tolist(), s.tolist(), t.tolist()))
    assert got.decode() == want


def test_no_rows():
    assert RowText(0).literal("x").number(np.zeros(0, dtype=np.uint64)).bytes() == b""
