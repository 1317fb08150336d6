"""Go expressions over a dump's globals: ``main.cache["k"].Items[0]``, ``*main.p``, ``main.t.A[3]``.

The grammar is the small part of Go's that names memory (no calls, no arithmetic):

    expr    := '*' expr | postfix
    postfix := primary { '.' IDENT | '[' INT | STRING ']' }
    primary := GLOBAL | '(' expr ')'

A ``GLOBAL`` is a package-level variable as DWARF names it (``main.cache``,
``encoding/json.errPhase``): the longest run of dotted names that is a global, the rest
fields. Fields go through pointers and interfaces as Go's ``p.F`` does; ``[k]`` indexes an
array or slice, or looks a key up in a map (strings, integers, booleans). Our own parser:
Go's grammar needs none of a general library, and import paths (``a/b.v2.X``) are a
lexical rule of their own that Python's and Go's tokenisers both split apart.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from core import Error

from .errors import GoCoreError

if TYPE_CHECKING:
    from .process import GoProcess
    from .values import Value

_TOKEN = re.compile(r"""\s*(?:
    (?P<name>[A-Za-z_][\w/.\-]*[\w])|(?P<name1>[A-Za-z_])
   |(?P<int>-?(?:0[xX][0-9a-fA-F]+|\d+))
   |(?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)
   |(?P<op>[*.\[\]()])
)""", re.X)
_IDENT = re.compile(r"[A-Za-z_]\w*")


class ExprError(GoCoreError):
    """An expression that does not parse, or names what the dump does not hold."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExprError(f"cannot parse {text!r} at column {pos + 1}: {text[pos:pos + 10]!r}")
        kind = m.lastgroup
        out.append(("name" if kind == "name1" else kind, m[kind]))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent over the tokens into tuples: ("global", parts), ("deref", e),
    ("field", e, name), ("index", e, key)."""

    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.k = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.k] if self.k < len(self.toks) else None

    def take(self, want: str | None = None) -> tuple[str, str]:
        t = self.peek()
        if t is None or (want is not None and t[1] != want):
            got = "the end" if t is None else repr(t[1])
            raise ExprError(f"cannot parse {self.text!r}: expected {want or 'more'}, found {got}")
        self.k += 1
        return t

    def parse(self):
        e = self.expr()
        if self.peek() is not None:
            raise ExprError(f"cannot parse {self.text!r}: unexpected {self.peek()[1]!r}")
        return e

    def expr(self):
        if self.peek() == ("op", "*"):
            self.take()
            return ("deref", self.expr())
        return self.postfix()

    def postfix(self):
        t = self.peek()
        if t == ("op", "("):
            self.take()
            e = self.expr()
            self.take(")")
        elif t is not None and t[0] == "name":
            self.take()
            e = ("global", t[1])
        else:
            raise ExprError(f"cannot parse {self.text!r}: expected a global's name, "
                            f"found {'the end' if t is None else repr(t[1])}")
        while (t := self.peek()) is not None:
            if t == ("op", "."):
                self.take()
                name = self.take()
                if name[0] != "name":
                    raise ExprError(f"cannot parse {self.text!r}: expected a field after '.'")
                for part in name[1].split("."):
                    if not _IDENT.fullmatch(part):
                        raise ExprError(f"cannot parse {self.text!r}: {part!r} is no field name")
                    e = ("field", e, part)
            elif t == ("op", "["):
                self.take()
                key = self.take()
                self.take("]")
                e = ("index", e, _literal(self.text, key))
            else:
                break
        return e


def _literal(text: str, tok: tuple[str, str]):
    kind, s = tok
    if kind == "int":
        return int(s, 0)
    if kind == "str":
        if s[0] == "`":
            return s[1:-1]
        try:                     # Go's escapes in a "..." string are Python's, but for \x in UTF-8
            return ast.literal_eval(s)
        except (ValueError, SyntaxError) as e:
            raise ExprError(f"cannot parse {text!r}: bad string {s}: {e}") from None
    if kind == "name" and s in ("true", "false"):
        return s == "true"
    raise ExprError(f"cannot parse {text!r}: an index is an integer, a string or a bool, not {s!r}")


def parse(text: str):
    """Return the syntax tree of expression ``text`` (nested tuples); raises ExprError."""
    if not text.strip():
        raise ExprError("empty expression")
    return _Parser(text).parse()


def _global(gp: GoProcess, dotted: str) -> tuple[Value, list[str]]:
    """Return (the Value of the longest dotted prefix of ``dotted`` that names a global,
    the remaining names: fields)."""
    dw = gp.dwarf
    if dw is None:
        raise ExprError("print needs DWARF: the executable has no debug information")
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        g = dw.globals.get(name)
        if g is not None and g.type is not None and g.type >= 0:
            from .frames import value_types
            return value_types(gp).value(g.type, g.addr + gp.process.exe_bias), parts[n:]
    raise ExprError(f"no global named {dotted!r} (a package-level variable such as main.cache)")


def _concrete(v: Value) -> Value:
    """Return an interface's dynamic value (others as they are)."""
    if v.kind in ("iface", "eface"):
        d = v.dynamic()
        if d is None:
            raise ExprError(f"{v.type_name} at {v.address:#x} is nil")
        return d
    return v


def _field(v: Value, name: str) -> Value:
    v = _concrete(v)
    if v.kind == "ptr":
        target = v.deref()
        if target is None:
            raise ExprError(f"{v.type_name} at {v.address:#x} is nil: no field {name}")
        v = _concrete(target) if target.kind in ("iface", "eface") else target
    if v.kind != "struct":
        raise ExprError(f"{v.type_name} is not a struct: no field {name}")
    if name not in v.fields():
        raise ExprError(f"{v.type_name} has no field {name} (fields: {', '.join(v.fields())})")
    return v[name]


def _index(v: Value, key) -> Value:
    v = _concrete(v)
    if v.kind == "ptr" and v.elem_type and v.elem_type.startswith("["):
        v = v.deref() or v
    if v.kind == "map":
        for k, val in v.items():
            kk = _concrete(k)
            if kk.kind in ("string", "int", "uint", "uintptr", "bool") and kk.get() == key:
                return val
        raise ExprError(f"key {key!r} is not in the {v.type_name} at {v.address:#x}")
    if v.kind in ("array", "slice"):
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExprError(f"{v.type_name} is indexed by an integer, not {key!r}")
        n = len(v)
        if not 0 <= key < n:
            raise ExprError(f"index {key} out of range [0:{n}] of {v.type_name}")
        return v[key]
    raise ExprError(f"{v.type_name} ({v.kind}) cannot be indexed")


def _eval(gp: GoProcess, e) -> Value:
    op = e[0]
    if op == "global":
        v, rest = _global(gp, e[1])
        for name in rest:
            v = _field(v, name)
        return v
    if op == "field":
        return _field(_eval(gp, e[1]), e[2])
    if op == "index":
        return _index(_eval(gp, e[1]), e[2])
    v = _eval(gp, e[1])          # deref
    if v.kind != "ptr" or v.elem_type is None:
        raise ExprError(f"{v.type_name} is not a typed pointer: cannot dereference it")
    target = v.deref()
    if target is None:
        raise ExprError(f"{v.type_name} at {v.address:#x} is nil")
    return target


def evaluate(gp: GoProcess, text: str) -> Value:
    """Return the Value that Go expression ``text`` names in ``gp`` (a global, its fields,
    elements, map entries and pointees); raises ExprError for an expression that does not
    parse or names nothing the dump holds (a nil pointer, a missing key, unreadable memory)."""
    tree = parse(text)
    try:
        return _eval(gp, tree)
    except ExprError:
        raise
    except Error as e:          # memory the dump lacks, a header that cannot be
        raise ExprError(f"{text}: {e}") from e
    except (TypeError, KeyError, IndexError, ValueError) as e:
        raise ExprError(f"{text}: {e}") from e
