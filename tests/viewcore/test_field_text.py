"""``object``'s value column is spelled in viewcore from gocore's typed FieldValue.

Hand-built values, one per kind, against the spelling docs/cli.md shows for ``object``.
"""

from __future__ import annotations

import pytest

from gocore.heap.fields import FieldValue
from viewcore.render.values import field_value_text


def fv(kind: str, value, **kw) -> FieldValue:
    return FieldValue("f", 0, "T", kind, value, **kw)


@pytest.mark.parametrize("field, text", [
    (fv("int", -5), "-5"),
    (fv("uint", 186041373), "186041373"),
    (fv("uintptr", 0xc000008000), "0xc000008000"),
    (fv("bool", True), "true"),
    (fv("bool", False), "false"),
    (fv("float", 0.5), "0.5"),
    (fv("ptr", 0xc000010000, pointer=0xc000010000), "0xc000010000"),
    (fv("map", 0), "nil"),
    (fv("string", "adx", length=3), "'adx' (len 3)"),
    (fv("string", "x" * 64, length=70, truncated=True), repr("x" * 64 + "...") + " (len 70)"),
    (fv("slice", 0xc000020000, length=3, capacity=8), "0xc000020000 len 3 cap 8"),
    (fv("eface", None, words=(0x4c6960, 0x4b1f00)), "(0x4c6960, 0x4b1f00)"),
    (fv("complex", bytes(range(16)), truncated=False), bytes(range(16)).hex()),
    (fv("array", b"\x01\x02", truncated=True), "0102..."),
    (fv("word", 0xc000030000), "0xc000030000"),
    (fv("word", None, readable=False), "?"),
    (fv("string", None, readable=False), "?"),
])
def test_each_kind_is_spelled_as_the_cli_shows_it(field, text):
    assert field_value_text(field) == text
