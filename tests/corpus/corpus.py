"""The corpus of real programs built by others (fixtures/make_corpus.py), made or reused
once per test session.

The default run covers the small programs (Debian's fzf and age, cgosleeper built with
Debian's Go); ``VIEWCORE_CORPUS=1`` covers every program. ``VIEWCORE_CORPUS_DIR``
overrides where the corpus lives (default ``~/.cache/viewcore/corpus``, remade only when
a binary or the script changed).
"""

from __future__ import annotations

import contextlib
import io
import os
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
def _prepared() -> dict[str, dict | FixtureError]:
    """Return, per selected program, its meta.json (made if needed) or why it was not made."""
    names = [p.name for p in selected()]
    try:
        check_core_pattern()  # also that gdb's gcore is installed
    except FixtureError as e:
        return dict.fromkeys(names, make_corpus.Unavailable(str(e)))
    with contextlib.redirect_stdout(io.StringIO()):  # progress lines would mix with CLI output
        return make_corpus.make_programs(selected(), corpus_dir())


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
    """Return the Dump of program ``name``, making the corpus entry if needed; skip when
    the program or a tool is not available here, fail when its run went wrong."""
    meta = _prepared()[name]
    if isinstance(meta, make_corpus.Unavailable):
        pytest.skip(str(meta))
    if isinstance(meta, FixtureError):
        pytest.fail(f"{name}: the corpus entry could not be made: {meta}")
    return Dump(meta, kind)
