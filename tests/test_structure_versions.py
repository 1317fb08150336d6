"""Structure: Go-version comparisons happen only in gocore/binary/facts.py (issue 16).

Everything else asks a named fact (``gp.facts.swiss_maps``, ``facts.nearest_release``...).
The scan walks the AST of every gocore module (generated tables aside) for an ordering or
equality comparison one of whose sides is a Go version: a tuple literal ``(1, N...)``, a
name or attribute spelled like a version (``go_version``, ``facts.version``,
``layout.go_version``, ``release``, a GoVersion's ``major``/``minor``/``patch``) or a
call of the version parser.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOCORE = ROOT / "gocore"
ALLOWED = {GOCORE / "binary" / "facts.py"}
SKIPPED_DIRS = {GOCORE / "generated"}

_VERSION_NAMES = {"go_version", "release", "go_release", "version_tuple"}
_VERSION_PARTS = {"major", "minor", "patch"}
_PARSERS = {"parse_go_version", "as_go_version", "GoVersion"}
# DWARF compilation units have a version of their own (4 or 5): not Go's.
_NOT_GO = {"cu.version", "version"}


def _spelling(node: ast.AST) -> str:
    """Return ``a.b.c`` for a name or attribute chain, "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _spelling(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return ""


def _is_go_version(node: ast.AST) -> bool:
    """Return whether expression ``node`` is (or reads) a Go version."""
    if isinstance(node, ast.Tuple) and len(node.elts) >= 2 and all(
            isinstance(e, ast.Constant) and isinstance(e.value, int) for e in node.elts):
        return node.elts[0].value == 1
    if isinstance(node, ast.Call):
        return _spelling(node.func).rsplit(".", 1)[-1] in _PARSERS
    if isinstance(node, ast.Subscript):
        return _is_go_version(node.value)
    name = _spelling(node)
    if not name or name in _NOT_GO:
        return False
    last = name.rsplit(".", 1)[-1]
    if last in _VERSION_NAMES:
        return True
    if last == "version":  # facts.version, layout.version, gp.version ...
        return True
    return last in _VERSION_PARTS and "." in name


def version_comparisons(source: str, filename: str = "<source>") -> list[str]:
    """Return ``file:line: text`` for every Go-version comparison in ``source``."""
    tree = ast.parse(source, filename)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq))
                   for op in node.ops):
            continue
        sides = [node.left, *node.comparators]
        if any(_is_go_version(s) for s in sides):
            found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def _modules() -> list[Path]:
    return sorted(p for p in GOCORE.rglob("*.py")
                  if p not in ALLOWED and not any(d in p.parents for d in SKIPPED_DIRS))


def test_the_scan_finds_version_comparisons():
    """The scan is not vacuous: each spelling of a version comparison is caught."""
    src = "\n".join([
        "split = facts.version is not None and facts.version >= (1, 27)",
        "old = v[:2] < OLDEST",
        "if parse_go_version(gp.go_version) > (1, 26): pass",
        "if gp.layout.go_version == want: pass",
        "if version.minor >= 24: pass",
        "if key < (1, 19): pass",
    ])
    got = version_comparisons(src)
    assert sorted(line.split(":")[1] for line in got) == ["1", "3", "4", "5", "6"], got
    # v[:2] < OLDEST names no version by its spelling: a reviewer's job, not this scan's
    assert not version_comparisons("if cu.version < 5: pass\nif n >= (2, 3): pass")


def test_no_go_version_comparison_outside_facts():
    assert len(_modules()) > 30  # the whole package is scanned
    found = [hit for p in _modules()
             for hit in version_comparisons(p.read_text(), str(p.relative_to(ROOT)))]
    assert not found, "Go-version comparisons outside gocore/binary/facts.py:\n" + "\n".join(found)


def test_facts_is_where_versions_are_compared():
    """facts.py itself holds the comparisons (the scan would find them there)."""
    facts = GOCORE / "binary" / "facts.py"
    assert version_comparisons(facts.read_text(), "facts.py")
