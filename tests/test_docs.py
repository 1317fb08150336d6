"""The Python example in docs/api.md runs and prints what the dump's traceback says."""

from __future__ import annotations

import contextlib
import io
import re

from tests.conftest import ROOT


def test_api_example_runs(monkeypatch):
    text = (ROOT / "docs" / "api.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/api.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines[0] == "go1.22.10"
    assert any(re.match(r"^\d+ waiting chan receive runtime.gopark main.parkAll$", ln) for ln in lines)
