"""viewcore's commands on linux/arm64 cores (fixtures/dumps-arm64), with the amd64 suite's
own checks: reachable paths name the program's globals (and, for the object only a
goroutine's local holds, that goroutine's frame), pprof totals equal the live heap.

Truth: the MANIFEST the program printed (addresses of its globals and objects, the
goroutine id of each parked function) and the words read along each path from the dump.
"""

from __future__ import annotations

import pytest

from tests.conftest import ARM64_DUMPS, dump_cases, go_case
from tests.viewcore import test_heap_cli as heap_cli
from tests.viewcore import test_pprof as pprof

CRASH = dump_cases(kinds=("crash",), root=ARM64_DUMPS)
DWARF_CRASH = dump_cases(kinds=("crash",), stripped=False, root=ARM64_DUMPS)


@pytest.mark.parametrize("entry", CRASH)
def test_reachable_paths_start_at_the_programs_globals(entry):
    heap_cli.test_reachable_paths_start_at_the_programs_globals(entry)


@pytest.mark.parametrize("entry", DWARF_CRASH)
def test_reachable_all_and_field_names(entry):
    heap_cli.test_reachable_all_and_field_names(entry)


@pytest.mark.parametrize("entry", DWARF_CRASH)
def test_local_only_is_held_by_its_goroutines_frame(entry):
    """main.LocalOnly is held only by local `lo` of main.parkLocalOnly: its path starts at
    a frame root of the goroutine the manifest names, in that function."""
    case, gp = go_case(entry)
    addr = case.manifest["objects"]["local_only"]
    root = heap_cli._check_path(gp, heap_cli._reach(gp, addr), addr)
    assert root["kind"] == "frame"
    assert root["goroutine"] == case.manifest["goroutines"]["main.parkLocalOnly"]["goid"]
    assert "main.parkLocalOnly" in root["root"]


@pytest.mark.parametrize("entry", DWARF_CRASH)
def test_profile_totals_and_chains(entry, tmp_path, capsys):
    pprof.test_profile_totals_and_chains(entry, tmp_path, capsys)
