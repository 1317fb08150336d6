"""Wait reasons come from the program's own ``runtime.waitReasonStrings`` where DWARF or the
symbol table locates it, and from the table generated from each release's GOROOT otherwise.

Truth: the GOROOT source (gocore/generated/waitreasons.py, tools/gen_wait_reasons.py) and the
runtime's own traceback (test_goroutines.py checks every goroutine's bracketed status).
"""

from __future__ import annotations

import pytest

from gocore.binary.goversion import parse_go_version
from gocore.generated.waitreasons import WAIT_REASONS
from gocore.goroutines.goroutines import _wait_reasons
from tests.conftest import dump_cases, go_case


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",), stripped=False))
def test_read_from_the_executable_equals_the_goroot_table(entry):
    _case, gp = go_case(entry)
    assert "runtime.waitReasonStrings" in gp.dwarf.globals
    release = parse_go_version(gp.go_version).release
    assert _wait_reasons(gp) == WAIT_REASONS[release]


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",), stripped=True))
def test_stripped_builds_use_the_table_of_their_release(entry):
    _case, gp = go_case(entry)
    assert gp.dwarf is None and "runtime.waitReasonStrings" not in gp.process.exe.symbols
    release = parse_go_version(gp.go_version).release
    assert _wait_reasons(gp) == WAIT_REASONS[release]


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",), stripped=False)[:1])
def test_the_array_itself_is_read(entry, monkeypatch):
    """With the generated tables emptied, the strings still come from the executable."""
    _case, gp = go_case(entry)
    want = WAIT_REASONS[parse_go_version(gp.go_version).release]
    monkeypatch.setattr("gocore.goroutines.goroutines.WAIT_REASONS", {})
    assert _wait_reasons(gp) == want
