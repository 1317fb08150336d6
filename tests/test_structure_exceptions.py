"""No catch-all handler hides a bug (issue 16, the developers' guide).

A handler of ``Exception``, ``BaseException`` or everything (a bare ``except:``) in core/,
gocore/ or viewcore/ either re-raises what it caught (cleanup on the way out) or says on
its own line why catching everything is right there (the CLI's and the shell's one
boundary for bugs, which report them as one "internal error" line).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATCH_ALL = {"Exception", "BaseException"}


def _catches_all(handler: ast.ExceptHandler) -> bool:
    t = handler.type
    if t is None:
        return True
    names = t.elts if isinstance(t, ast.Tuple) else [t]
    return any(isinstance(n, ast.Name) and n.id in CATCH_ALL for n in names)


def _reraises(handler: ast.ExceptHandler) -> bool:
    """Return whether the handler's last statement is a bare ``raise``."""
    last = handler.body[-1]
    return isinstance(last, ast.Raise) and last.exc is None


def _unjustified(path: Path, root: Path = ROOT) -> list[str]:
    """Return one line per catch-all handler of ``path`` that neither re-raises nor carries
    a comment on its ``except`` line."""
    text = path.read_text()
    lines = text.splitlines()
    out = []
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.ExceptHandler) and _catches_all(node) and not _reraises(node):
            if "#" not in lines[node.lineno - 1]:
                out.append(f"{path.relative_to(root)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return out


def _sources() -> list[Path]:
    files = [p for d in ("core", "gocore", "viewcore") for p in sorted((ROOT / d).rglob("*.py"))]
    assert len(files) > 40, files
    return files


def test_catch_all_handlers_reraise_or_say_why():
    bad = [line for p in _sources() for line in _unjustified(p)]
    assert not bad, "\n".join(bad)


def test_the_check_sees_a_silent_catch_all(tmp_path):
    """The check itself: a swallowed ``except Exception`` is found, a commented one and a
    re-raising one are not."""
    src = tmp_path / "m.py"
    src.write_text("try:\n    pass\nexcept Exception:\n    pass\n"
                   "try:\n    pass\nexcept Exception:  # the one boundary\n    pass\n"
                   "try:\n    pass\nexcept BaseException:\n    cleanup()\n    raise\n"
                   "try:\n    pass\nexcept:\n    pass\n")
    assert [ln.split(":")[1] for ln in _unjustified(src, tmp_path)] == ["3", "16"]
