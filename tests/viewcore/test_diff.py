"""``diff BASE``: per-type change between two dumps, checked against both manifests."""

from __future__ import annotations

import json

from tests.conftest import Case, fixture_index
from tests.gocore.test_histogram import KNOWN_GAPS, NOT_OBJECTS
from viewcore.cli import main


def _pair(version: str):
    by = {e["kind"]: Case(e) for e in fixture_index() if e["go_version"] == version and not e["stripped"]}
    return by["gcore"], by["crash"]


def test_diff_between_two_runs_of_the_program(capsys):
    new, base = _pair("go1.26.6")
    assert main([str(new.core), "--exe", str(new.exe), "--json", "diff", str(base.core),
                 "--base-exe", str(base.exe)]) == 0
    rows = {r["type"]: r for r in json.loads(capsys.readouterr().out)}
    for t, want in new.manifest["counts"].items():
        if t in NOT_OBJECTS or t in KNOWN_GAPS:
            continue
        assert rows[t]["count"] == want and rows[t]["base_count"] == base.manifest["counts"][t], t
        assert rows[t]["delta_count"] == want - base.manifest["counts"][t]
    totals = []
    for case in (new, base):
        assert main([str(case.core), "--exe", str(case.exe), "--json", "overview"]) == 0
        totals.append(json.loads(capsys.readouterr().out)["heap"])
    assert sum(r["delta_bytes"] for r in rows.values()) == totals[0]["bytes"] - totals[1]["bytes"]
    assert sum(r["delta_count"] for r in rows.values()) == totals[0]["objects"] - totals[1]["objects"]


def test_diff_base_missing_is_one_error_line(capsys, tmp_path):
    new, _ = _pair("go1.26.6")
    assert main([str(new.core), "--exe", str(new.exe), "diff", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("viewcore: error: ") and "does not exist" in err[0]
