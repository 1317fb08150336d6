"""The graph view: an object's neighbourhood drawn by Graphviz as SVG, nodes linking to
their object pages.

The neighbourhood is the end of the object's root path (the root and up to ``ANCESTORS``
objects before it), the objects that point to it and those it points to (up to
``NEIGHBOURS`` each), and one more level below it; at most about 60 nodes, so ``dot``
lays it out in a fraction of a second.
"""

from __future__ import annotations

import re

import graphviz

ANCESTORS = 4
NEIGHBOURS = 12
GRANDCHILDREN = 3
LABEL = 44              # characters of a type name in a node; the full name is its tooltip
_XML_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)


class NoGraphviz(Exception):
    """Graphviz's ``dot`` is not installed (or failed): the page says so instead."""


def _short(name: str) -> str:
    """Return ``name`` cut to LABEL characters in the middle (generic instantiations of
    long package paths would otherwise shrink the whole drawing to fit the page)."""
    if len(name) <= LABEL:
        return name
    keep = LABEL - 1
    return name[:keep - keep // 3] + "…" + name[-(keep // 3):]


def _escape(text: str) -> str:
    # Graphviz reads backslash escapes in labels: a type name must not make one
    return text.replace("\\", "\\\\")


def _label(ref: dict) -> str:
    return _escape(f"{_short(ref['type'])}\n{ref['address']:#x}\n{ref['size']} B")


def neighbourhood(view, i: int) -> graphviz.Digraph:
    """Return the DOT graph around object id ``i`` of ``view`` (a HeapView)."""
    hi = view.hi
    dot = graphviz.Digraph("neighbourhood", graph_attr={"rankdir": "LR", "bgcolor": "transparent"},
                           node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "white",
                                      "fontname": "Helvetica", "fontsize": "10"},
                           edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    seen: set[int] = set()

    def node(j: int, **attrs) -> str:
        if j not in seen:
            seen.add(j)
            ref = view.obj_ref(j)
            dot.node(f"o{j}", _label(ref), URL=f"/object/{ref['address']:#x}", target="_top",
                     tooltip=_escape(ref["type"]), **attrs)
        return f"o{j}"

    def field(j: int, off: int) -> str:
        tid = int(hi.type_id[j])
        name = hi.field_path(tid, off - int(hi.data_off[j])) if tid >= 0 else None
        return name or f"+{off:#x}"

    node(i, fillcolor="gold", penwidth="2", id="target")     # app.js scrolls it into view
    got = hi.path(i) if hi.live[i] else None
    if got is not None:
        root, steps = got                    # steps[-1] is the object itself
        before = steps[:-1][-ANCESTORS:]
        if len(steps) - 1 <= ANCESTORS:
            dot.node("root", _escape(f"{_short(root.name)}\n({root.kind})"), tooltip=_escape(root.name),
                     shape="box", style="filled", fillcolor="lightgrey")
            prev = "root"
        else:
            dot.node("more", _escape(f"... {len(steps) - 1 - ANCESTORS} more from {_short(root.name)}"),
                     tooltip=_escape(root.name), shape="plaintext")
            prev = "more"
        label = ""                           # a step's field names its pointer to the next step
        for s in before:
            cur = node(s.id)
            dot.edge(prev, cur, label=label)
            prev, label = cur, s.field or ""
        dot.edge(prev, f"o{i}", label=label)
    rev = hi.referrers()
    src = sorted(set(rev.dst[int(rev.start[i]):int(rev.start[i + 1])].tolist()))
    for s in [s for s in src if hi.live[s] and s not in seen][:NEIGHBOURS]:
        dot.edge(node(s, fillcolor="lightcyan"), f"o{i}", style="dashed")
    dst, off = hi.edges.out(i)
    for d, o in list(zip(dst.tolist(), off.tolist()))[:NEIGHBOURS]:
        fresh = d not in seen
        dot.edge(f"o{i}", node(d), label=field(i, o))
        if fresh:
            gd, go = hi.edges.out(d)
            for d2, o2 in list(zip(gd.tolist(), go.tolist()))[:GRANDCHILDREN]:
                dot.edge(f"o{d}", node(d2, fillcolor="whitesmoke"), label=field(d, o2))
    return dot


def render_svg(dot: graphviz.Digraph) -> str:
    """Return ``dot`` laid out as an SVG element (no XML prolog); raises NoGraphviz when
    Graphviz's ``dot`` is missing or fails."""
    try:
        svg = dot.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound as e:
        raise NoGraphviz("Graphviz's dot is not installed (apt-get install graphviz)") from e
    except (graphviz.CalledProcessError, OSError) as e:
        raise NoGraphviz(f"dot failed: {e}") from e
    return _XML_PROLOG.sub("", svg, count=1)
