"""Unsigned LEB128 varints, as DWARF, the Go build info and the runtime's type names use them."""

from __future__ import annotations


def uvarint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Return ``(value, next position)`` of the varint at ``pos``; IndexError past the end."""
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
