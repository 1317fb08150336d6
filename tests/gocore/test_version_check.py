"""Go releases outside what viewcore knows: refused (older) or warned about (newer)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import gocore
from tests.conftest import dump_cases, open_case


def _gp_claiming(entry, version: str):
    _case, proc = open_case(entry)
    proc.warnings.clear()
    gp = gocore.GoProcess(proc)
    gp.__dict__["build_info"] = SimpleNamespace(go_version=version)
    return gp


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",), stripped=False)[:1])
def test_older_than_119_is_refused_unless_asked(entry):
    gp = _gp_claiming(entry, "go1.18.10")
    with pytest.raises(gocore.UnsupportedGoVersion, match="unsupported Go version go1.18.10"):
        gocore.check_version(gp)
    gocore.check_version(gp, any_version=True)
    assert any("older than go1.19" in w for w in gp.warnings)
    gp.process.warnings.clear()


@pytest.mark.parametrize("entry", dump_cases(kinds=("crash",), stripped=False)[:1])
def test_newer_than_tested_warns(entry):
    gp = _gp_claiming(entry, "go1.29.2")
    gocore.check_version(gp)
    assert any("newer than any release" in w for w in gp.warnings)
    gp.process.warnings.clear()
