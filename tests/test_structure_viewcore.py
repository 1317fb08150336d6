"""viewcore uses the public faces of gocore and core only (issue 16).

Every import in viewcore/ of gocore or core is ``import gocore`` / ``import core`` or
``from gocore import X`` / ``from core import X`` with X in the package's ``__all__``, and
every attribute read off the package (``gocore.X``) is in ``__all__`` too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import core
import gocore

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = {"gocore": set(gocore.__all__), "core": set(core.__all__)}


def _viewcore_files() -> list[Path]:
    files = sorted((ROOT / "viewcore").rglob("*.py"))
    assert len(files) > 10, files
    return files


def _reaches(path: Path, root: Path = ROOT) -> list[str]:
    """Return one line per import or attribute of gocore/core in ``path`` that is not
    public, in source order."""
    tree = ast.parse(path.read_text(), str(path))
    bad: list[tuple[int, str]] = []
    where = path.relative_to(root)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                if top in PUBLIC and a.name != top:
                    bad.append((node.lineno, f"{where}:{node.lineno}: import {a.name}"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top not in PUBLIC:
                continue
            if node.module != top:
                bad.append((node.lineno, f"{where}:{node.lineno}: from {node.module} import ..."))
                continue
            for a in node.names:
                if a.name not in PUBLIC[top]:
                    bad.append((node.lineno, f"{where}:{node.lineno}: from {top} import {a.name} (not in __all__)"))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id in PUBLIC and node.attr not in PUBLIC[node.value.id]):
            bad.append((node.lineno, f"{where}:{node.lineno}: {node.value.id}.{node.attr} (not in __all__)"))
    return [line for _, line in sorted(bad)]


def test_viewcore_imports_only_public_names():
    bad = [line for f in _viewcore_files() for line in _reaches(f)]
    assert not bad, "\n".join(bad)


def test_the_check_sees_a_private_reach(tmp_path):
    """The checker itself: each kind of internal reach is reported."""
    src = tmp_path / "probe.py"
    src.write_text("import gocore.heap.dominators\n"
                   "from gocore.heap.refchains import reference_chains\n"
                   "from core import source\n"
                   "import gocore\n"
                   "gocore.process\n"
                   "from gocore import GoProcess\n")
    bad = _reaches(src, tmp_path)
    assert [b.split(": ", 1)[1] for b in bad] == [
        "import gocore.heap.dominators", "from gocore.heap.refchains import ...",
        "from core import source (not in __all__)", "gocore.process (not in __all__)"]
