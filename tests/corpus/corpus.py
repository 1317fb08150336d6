"""The corpus of real programs built by others (fixtures/make_corpus.py), made or reused
once per test session.

The default run covers the small Debian programs (fzf, age); ``VIEWCORE_CORPUS=1`` covers
every program. ``VIEWCORE_CORPUS_DIR`` overrides where the corpus lives (default
``~/.cache/viewcore/corpus``, remade only when a binary or the script changed).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fixtures"))
import make_corpus  # noqa: E402
from make_dumps import FixtureError, check_core_pattern  # noqa: E402

KINDS = ("kernel", "gcore")


def corpus_dir() -> Path:
    """Return the corpus directory the tests use."""
    return Path(os.environ.get("VIEWCORE_CORPUS_DIR") or make_corpus.default_out())


def selected() -> list[make_corpus.Program]:
    """Return the programs this run covers: all with VIEWCORE_CORPUS=1, else the small ones."""
    return make_corpus.select("all" if os.environ.get("VIEWCORE_CORPUS") == "1" else "small")


@lru_cache(maxsize=1)
def _prepared() -> dict[str, dict | str]:
    """Return, per selected program, its meta.json (made if needed) or why it cannot be made."""
    names = [p.name for p in selected()]
    try:
        check_core_pattern()
    except FixtureError as e:
        return dict.fromkeys(names, str(e))
    if shutil.which("gdb") is None:
        return dict.fromkeys(names, "gdb is not installed (scripts/test.sh installs it as root)")
    with contextlib.redirect_stdout(io.StringIO()):  # progress lines would mix with CLI output
        got = make_corpus.make_programs(selected(), corpus_dir())
    return {n: str(r) if isinstance(r, FixtureError) else r for n, r in got.items()}


class Dump:
    """One corpus dump: a program's kernel core or gcore, its executable and its truth."""

    def __init__(self, meta: dict, kind: str):
        self.meta, self.kind = meta, kind
        base = corpus_dir() / meta["name"]
        self.core = base / meta["dumps"][kind]
        self.exe = base / meta["exe"]
        self.stderr = (base / meta["stderr"]).read_text(errors="replace")
        self.gc = meta["gc"][kind]

    @property
    def traceback(self) -> str:
        """Return the SIGQUIT traceback (what follows ``SIGQUIT: quit`` on stderr)."""
        return self.stderr[self.stderr.index("SIGQUIT: quit"):]


def dump_params() -> list:
    """Return pytest params (program, kind) for the programs this run covers."""
    return [pytest.param(p.name, kind, id=f"{p.name}-{kind}") for p in selected() for kind in KINDS]


def open_dump(name: str, kind: str) -> Dump:
    """Return the Dump of program ``name``, making the corpus entry if needed (else skip)."""
    meta = _prepared()[name]
    if isinstance(meta, str):
        pytest.skip(meta)
    return Dump(meta, kind)
