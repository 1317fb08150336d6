"""``mappings``: the address space as the dump describes it."""

from __future__ import annotations

from ..results import MappingRow, Rows

NEEDS_MEMORY = False  # answers from the dump's own records, even without full memory
HELP = "memory mappings: range, permissions, backing file, whether the dump holds the bytes"


def add_arguments(parser) -> None:
    """``mappings`` takes no arguments."""


def run(gp, args) -> Rows:
    """Return one row per mapping, in address order."""
    rows = [MappingRow(m.start, m.end, m.perms, m.file, m.file_offset, m.present) for m in gp.mappings()]
    return Rows("mappings", rows, list(gp.warnings))
