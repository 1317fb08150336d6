"""``print EXPR``: a Go expression over the globals (``main.cache["k"].Items[0]``), typed.

The value is turned into plain data here (``value_tree``: nested dicts, the JSON form) and
spelled in Go syntax by ``viewcore.render.walk``; pointers are followed ``--depth`` levels.
"""

from __future__ import annotations

from typing import Any

import gocore

from ..walkresults import PrintResult
from ._heap import positive

HELP = "print a Go expression over the globals: fields .F, index [i], map key [\"k\"], deref *p"
_SCALARS = ("bool", "int", "uint", "uintptr", "float", "string")
_POINTERS = ("ptr", "unsafe_ptr", "chan", "func")
MAX_STRING = 1024


def add_arguments(parser) -> None:
    """Take the expression, --depth and --limit."""
    parser.add_argument("expr", metavar="EXPR", nargs="+",
                        help='e.g. main.cache["k"].Items[0] (quote it for the shell)')
    parser.add_argument("--depth", type=positive, default=4,
                        help="levels of structs, elements and pointees shown (default 4)")
    parser.add_argument("--limit", type=positive, default=16,
                        help="elements of a slice, array or map shown (default 16)")


def value_tree(v: gocore.Value, depth: int, limit: int) -> dict[str, Any]:
    """Return ``v`` as plain data: ``type``, ``kind``, ``address`` and by kind ``value``
    (scalars), ``pointer`` and ``elem`` (pointers), ``fields`` (structs), ``len``,
    ``elems``/``entries`` and ``more`` (arrays, slices, maps), ``dynamic`` (interfaces);
    ``elided`` past ``depth``; ``error`` where the dump does not hold it."""
    node: dict[str, Any] = {"type": v.type_name, "kind": v.kind, "address": v.address}
    try:
        k = v.kind
        if k in _SCALARS:
            x = v.get()
            if k == "string" and len(x) > MAX_STRING:
                node["len"] = len(x)
                x = x[:MAX_STRING]
                node["truncated"] = True
            node["value"] = x
        elif k == "complex":
            c = v.get()
            node["value"] = [c.real, c.imag]
        elif k in _POINTERS:
            node["pointer"] = v.pointer()
            if k == "ptr" and v.elem_type is not None and node["pointer"] is not None:
                if depth > 0:
                    node["elem"] = value_tree(v.deref(), depth - 1, limit)
                else:
                    node["elided"] = True
        elif depth <= 0 and k in ("struct", "array", "slice", "map"):
            node["elided"] = True
            if k in ("array", "slice", "map"):
                node["len"] = len(v)
        elif k == "struct":
            node["fields"] = [{"name": n, "value": value_tree(v[n], depth - 1, limit)} for n in v.fields()]
        elif k in ("array", "slice"):
            n = len(v)
            node["len"] = n
            if k == "slice":
                node["pointer"] = v.pointer()
            if v.elem_type == "uint8":       # a []byte as its bytes, not one node per byte
                shown = min(n, limit * 4)
                data = v.get()[:shown] if k == "slice" else bytes(v[i].get() for i in range(shown))
                node["bytes"] = data.hex()
                node["more"] = n - shown
            else:
                node["elems"] = [value_tree(v[i], depth - 1, limit) for i in range(min(n, limit))]
                node["more"] = max(n - limit, 0)
        elif k == "map":
            node["pointer"] = v.pointer()
            node["len"] = len(v)
            entries = []
            for key, val in v.items():
                if len(entries) >= limit:
                    break
                entries.append({"key": value_tree(key, depth - 1, limit),
                                "value": value_tree(val, depth - 1, limit)})
            node["entries"] = entries
            node["more"] = max(node["len"] - len(entries), 0)
        elif k in ("iface", "eface"):
            d = v.dynamic()
            node["dynamic"] = None if d is None else value_tree(d, depth, limit)
    except (gocore.Error, TypeError, KeyError, IndexError, ValueError) as e:
        node["error"] = str(e)
    return node


def run(gp, args) -> PrintResult:
    """Return the value ``args.expr`` names; exit 1 (one line) when it names none."""
    text = " ".join(args.expr)
    v = gp.evaluate(text)
    return PrintResult(text, value_tree(v, args.depth, args.limit), list(gp.warnings))
