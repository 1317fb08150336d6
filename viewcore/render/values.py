"""The text of a field's value (``object``): gocore gives the value as data, this spells it.

The spelling is the CLI contract's, the same in the table and in JSON's ``value``: integers
in decimal (``uintptr`` and pointers in hex, nil pointers ``nil``), ``true``/``false``,
floats as Python's ``repr``, strings quoted with their length, slices as array pointer,
length and capacity, interfaces as their two words, other kinds as hex bytes, and ``?``
for a field the dump does not hold.
"""

from __future__ import annotations

# Kinds (gocore's Kind values) whose value is one pointer word.
_POINTER_KINDS = frozenset({"ptr", "unsafe_ptr", "map", "chan", "func"})
_ELLIPSIS = "..."


def field_value_text(f) -> str:
    """Return the text of ``f`` (a gocore FieldValue) as ``object`` shows it."""
    if not f.readable:
        return "?"
    kind, v = f.kind, f.value
    if kind == "word":
        return f"{v:#x}"
    if kind in _POINTER_KINDS:
        return f"{v:#x}" if v else "nil"
    if kind == "string":
        return repr(v + (_ELLIPSIS if f.truncated else "")) + f" (len {f.length})"
    if kind == "slice":
        return f"{v:#x} len {f.length} cap {f.capacity}"
    if kind in ("iface", "eface"):
        w0, w1 = f.words
        return f"({w0:#x}, {w1:#x})"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:#x}" if kind == "uintptr" else str(v)
    if isinstance(v, float):
        return repr(v)
    return v.hex() + (_ELLIPSIS if f.truncated else "")
