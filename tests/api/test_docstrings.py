"""Every public name of ``import gocore`` says what it returns (the reference page is made
from these docstrings), and the package ships its type information (``py.typed``)."""

from __future__ import annotations

import inspect
from pathlib import Path

import gocore

CLASSES = (gocore.Process, gocore.Object, gocore.Root, gocore.Value, gocore.Goroutine, gocore.Frame)


def test_every_public_name_has_a_docstring():
    missing = [n for n in gocore.__all__ if not isinstance(getattr(gocore, n), (tuple, str))
               and not inspect.getdoc(getattr(gocore, n))]
    for cls in CLASSES:
        for name, member in vars(cls).items():
            if name.startswith("_") or not (callable(member) or isinstance(member, property)):
                continue
            if not inspect.getdoc(member):
                missing.append(f"{cls.__name__}.{name}")
    assert missing == []


def test_contract_names_exist():
    for name in ("open", "Process", "Error"):
        assert hasattr(gocore, name)
    for name in ("go_version", "objects", "object_at", "roots", "goroutines", "globals", "value_at"):
        assert hasattr(gocore.Process, name)
    for name in ("address", "size", "type_name", "value", "pointers", "referrers", "retained"):
        assert hasattr(gocore.Object, name)
    for name in ("type_name", "get", "items", "deref", "object", "dynamic", "__len__", "__getitem__"):
        assert hasattr(gocore.Value, name)
    assert {"function", "locals"} <= set(dir(gocore.Frame))


def test_py_typed_is_shipped():
    assert (Path(gocore.__file__).parent / "py.typed").exists()
