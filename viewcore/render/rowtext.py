"""Text of many rows at once: integers and names laid out by numpy, not by one f-string
per row.

``objects`` may list millions of rows; formatting each in Python took most of its time
(6.7 M rows: about 4 s). Here a run of rows is built column by column as one byte matrix
(a row per line) with the length each cell uses, and the used cells are read out in row
order by one boolean index. No library does this: numpy's ``savetxt`` formats row by row.
"""

from __future__ import annotations

import numpy as np

_SPACE = ord(" ")
_GROUP = 4  # digits made per division: a table of every 4-digit group turns 12 divisions into 3


def _group_table(base: int) -> np.ndarray:
    """Return the ASCII of every ``_GROUP``-digit group in ``base``, zero-padded: one row each."""
    n = np.arange(base ** _GROUP)
    cols = [(n // base ** k) % base for k in range(_GROUP - 1, -1, -1)]
    ascii_ = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[np.stack(cols, axis=1)]
    return np.ascontiguousarray(ascii_).view(np.uint32).ravel()  # a group's 4 bytes as one word


_TABLES = {10: _group_table(10), 16: _group_table(16)}


def _digits(v: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (ASCII digits of ``v`` (uint64) in ``base``, right-aligned in rows as wide as
    the widest value's; how many digits each value has, 0 having one)."""
    table, group = _TABLES[base], np.uint64(base ** _GROUP)
    blocks = []
    rest = v
    while True:
        rest, low = np.divmod(rest, group)
        blocks.append(low)
        if not rest.any():
            break
    words = np.empty((len(v), len(blocks)), dtype=np.uint32)
    for k, low in enumerate(blocks[::-1]):
        words[:, k] = table[low]
    powers = np.uint64(base) ** np.arange(1, _GROUP * len(blocks), dtype=np.uint64)
    count = 1 + np.searchsorted(powers, v, side="right")
    return words.view(np.uint8), count


def write_bytes(stream, data: bytes) -> None:
    """Write UTF-8 ``data`` to the text ``stream``: straight to its byte buffer where it
    has one (re-encoding hundreds of MB of rows through the text layer cost 1.5 s)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode())
        return
    stream.flush()
    buffer.write(data)


class RowText:
    """Rows under construction: add cells left to right, then ``bytes()``."""

    def __init__(self, rows: int):
        self.rows = rows
        # per cell: a (rows x w) byte matrix and, per row, where its used part starts and ends
        self._cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def _add(self, m: np.ndarray, start: np.ndarray | int, end: np.ndarray | int) -> RowText:
        self._cells.append((m, np.broadcast_to(start, (self.rows,)), np.broadcast_to(end, (self.rows,))))
        return self

    def literal(self, text: str) -> RowText:
        """Add the same text to every row."""
        b = np.frombuffer(text.encode(), dtype=np.uint8)
        return self._add(np.broadcast_to(b, (self.rows, len(b))), 0, len(b))

    def _pad(self, n: np.ndarray) -> None:
        w = int(n.max(initial=0))
        if w:
            self._add(np.full((self.rows, w), _SPACE, dtype=np.uint8), 0, n)

    def number(self, values: np.ndarray, base: int = 10, prefix: str = "", width: int = 0,
               left: bool = False) -> RowText:
        """Add non-negative integers in ``base`` (10 or 16) after ``prefix``, padded with
        spaces to ``width`` (on the right when ``left``, else on the left)."""
        digits, count = _digits(np.asarray(values).astype(np.uint64), base)
        pad = np.maximum(width - len(prefix) - count, 0)
        if not left:
            self._pad(pad)
        if prefix:
            self.literal(prefix)
        self._add(digits, digits.shape[1] - count, digits.shape[1])
        if left:
            self._pad(pad)
        return self

    def names(self, rows: np.ndarray, table: list[str]) -> RowText:
        """Add ``table[rows[i]]`` to row i."""
        encoded = [t.encode() for t in table] or [b""]
        widths = np.array([len(e) for e in encoded], dtype=np.int64)
        mat = np.zeros((len(encoded), int(widths.max())), dtype=np.uint8)
        for i, e in enumerate(encoded):
            mat[i, :len(e)] = np.frombuffer(e, dtype=np.uint8)
        r = np.asarray(rows, dtype=np.int64)
        if len(r) and (r == r[0]).all():
            return self.literal(table[r[0]])
        return self._add(mat[r], 0, widths[r])

    def bytes(self) -> bytes:
        """Return the rows' text, row after row (each row's cells in the order added)."""
        if not self.rows or not self._cells:
            return b""
        spans = [(int(a[0]), int(b[0])) if (a == a[0]).all() and (b == b[0]).all() else None
                 for _, a, b in self._cells]
        if None not in spans:
            # every row is laid out alike (one type, one size, addresses of one length: the
            # usual run of ``objects --type``): one template row, then the cells that vary
            # copied in as column blocks
            template = np.concatenate([m[0, a:b] for (m, _, _), (a, b) in zip(self._cells, spans)])
            out = np.broadcast_to(template, (self.rows, len(template))).copy()
            pos = 0
            for (m, _, _), (a, b) in zip(self._cells, spans):
                if m.strides[0]:  # not a literal (a literal's rows share their bytes)
                    out[:, pos:pos + b - a] = m[:, a:b]
                pos += b - a
            return out.tobytes()
        used = []
        for m, start, end in self._cells:
            cols = np.arange(m.shape[1])[None, :]
            used.append((cols >= start[:, None]) & (cols < end[:, None]))
        return np.hstack([m for m, _, _ in self._cells])[np.hstack(used)].tobytes()
