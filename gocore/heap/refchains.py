"""Reference chains: the live heap charged to the path that keeps each object alive.

Every live object is reached by marking along one shortest path from a root. Its chain is
the types along that path, from the object up to the root's name (``main.Leak`` <-
``[1023]*main.Leak`` <- ``main.leak``). Objects with the same chain are summed. This is the
layout goref's profiles use: ``go tool pprof`` then shows, per root and per path, how many
objects and bytes hang there.

A frame root's chain ends in its variable under its function (``main.Request`` <-
``main.handle.r`` <- ``main.handle``), so a profile viewer ranks the function as a holder;
the chains of each goroutine are kept apart, its id in ``ChainTree.goroutine``.

Chains are interned as a tree of nodes ``(label, parent node)``, built level by level over
the marking tree with numpy. A run of objects of one type (a linked list) is one node, and
chains deeper than ``max_depth`` stop there, so the tree stays small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROOT_NODE = -1


@dataclass
class ChainTree:
    """Interned chains: node ``k`` is ``labels[label[k]]`` under node ``parent[k]``."""

    label: np.ndarray     # int64 per node: index into ``labels``
    parent: np.ndarray    # int64 per node: parent node, ROOT_NODE for a root's name
    count: np.ndarray     # int64 per node: live objects whose chain ends here
    bytes: np.ndarray     # int64 per node: their slot bytes
    labels: list[str]
    goroutine: np.ndarray  # int64 per node: the goroutine of its frame root, -1

    def chain(self, k: int) -> list[str]:
        """Return node ``k``'s chain, innermost (the objects' type) first."""
        out = []
        while k != ROOT_NODE:
            out.append(self.labels[int(self.label[k])])
            k = int(self.parent[k])
        return out


def reference_chains(hi, max_depth: int = 32) -> ChainTree:
    """Return the chain tree of the live heap of HeapIndex ``hi``."""
    reach, roots = hi.reach, hi.roots
    n = len(hi.heap)
    live = hi.live
    parent = reach.parent
    # Labels: object types first (type id + 1, 0 = unknown), then root names.
    # one label per type *name*: distinct ids can share a Go spelling (DWARF's per-map
    # ``map<K,V>`` structs are all ``internal/runtime/maps.Map``), and chains are read by name
    ntypes = int(hi.type_id.max(initial=-1)) + 2
    by_name: dict[str, int] = {}
    name_of = np.array([by_name.setdefault(hi.type_name(t - 1), len(by_name))
                        for t in range(ntypes)], dtype=np.int64)      # per type, not per object
    type_label = name_of[hi.type_id.astype(np.int64) + 1]
    # root names: only the rows that start a path are described, each text once, in row
    # order (one per root row used, not per object)
    used = np.unique(reach.root[live & (parent < 0)])
    texts: dict[str, int] = {}
    used_label = np.array([texts.setdefault(roots.describe(int(r)), len(texts))
                           for r in used.tolist()], dtype=np.int64)
    # a frame root's function, above its variable (one text per function)
    funcs = [roots.function_of(int(r)) for r in used.tolist()]
    used_func = np.array([-1 if f is None else texts.setdefault(f, len(texts)) for f in funcs],
                         dtype=np.int64)
    labels = list(by_name) + list(texts)
    root_label = np.zeros(len(roots), dtype=np.int64)
    root_label[used] = len(by_name) + used_label
    root_func = np.full(len(roots), -1, dtype=np.int64)
    root_func[used] = np.where(used_func >= 0, len(by_name) + used_func, -1)

    node_label: list[int] = []
    node_parent: list[int] = []
    node_depth: list[int] = []
    node_goro: list[int] = []
    interned: dict[int, int] = {}
    tops: dict[tuple[int, int], int] = {}

    nlabels = len(labels)
    arrays = {"label": np.zeros(0, np.int64), "depth": np.zeros(0, np.int64)}

    def intern(keys_label: np.ndarray, keys_parent: np.ndarray) -> np.ndarray:
        # one int64 key per (parent node, label): a flat unique is much cheaper than axis=0
        keys = (keys_parent + 1) * nlabels + keys_label
        uniq, inv = np.unique(keys, return_inverse=True)
        ids = np.empty(len(uniq), dtype=np.int64)
        for j, key in enumerate(uniq.tolist()):  # one per distinct chain, not per object
            k = interned.get(key)
            if k is None:
                k = len(node_label)
                interned[key] = k
                p, lab = key // nlabels - 1, key % nlabels
                node_label.append(lab)
                node_parent.append(p)
                node_depth.append(1 if p == ROOT_NODE else node_depth[p] + 1)
                node_goro.append(-1 if p == ROOT_NODE else node_goro[p])
            ids[j] = k
        if len(arrays["label"]) != len(node_label):
            arrays["label"] = np.array(node_label, dtype=np.int64)
            arrays["depth"] = np.array(node_depth, dtype=np.int64)
        return ids[np.asarray(inv).ravel()]

    node_of = np.full(n, ROOT_NODE, dtype=np.int64)
    level = np.flatnonzero(live & (parent < 0))
    if len(level):
        lr = reach.root[level]
        top = np.full(len(level), ROOT_NODE, dtype=np.int64)
        framed = root_func[lr] >= 0
        if framed.any():     # one function node per (function, goroutine)
            pairs, inv = np.unique(np.stack([root_func[lr[framed]], roots.goroutine[lr[framed]]],
                                            axis=1), axis=0, return_inverse=True)
            ids = np.empty(len(pairs), dtype=np.int64)
            for j, (lab, g) in enumerate(pairs.tolist()):   # one per frame root's goroutine
                k = tops.get((lab, g))
                if k is None:
                    k = tops[(lab, g)] = len(node_label)
                    node_label.append(lab)
                    node_parent.append(ROOT_NODE)
                    node_depth.append(1)
                    node_goro.append(g)
                ids[j] = k
            top[framed] = ids[np.asarray(inv).ravel()]
        name_nodes = intern(root_label[lr], top)
        node_of[level] = intern(type_label[level], name_nodes)
    # children of each object in the marking tree, as CSR
    kids = np.flatnonzero(live & (parent >= 0))
    order = kids[np.argsort(parent[kids], kind="stable")]
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(parent[kids], minlength=n), out=start[1:])
    while len(level):
        cnt = start[level + 1] - start[level]
        total = int(cnt.sum())
        if total == 0:
            break
        pos = np.repeat(start[level] - np.cumsum(cnt) + cnt, cnt) + np.arange(total)
        level = order[pos]
        pnode = node_of[parent[level]]
        lab = type_label[level]
        plab = arrays["label"][pnode]
        pdepth = arrays["depth"][pnode]
        same = (lab == plab) | (pdepth >= max_depth)   # a run of one type, or deep enough
        node_of[level[same]] = pnode[same]
        new = ~same
        if new.any():
            node_of[level[new]] = intern(lab[new], pnode[new])
    ids = np.flatnonzero(live)
    k = len(node_label)
    count = np.bincount(node_of[ids], minlength=k).astype(np.int64)
    nbytes = np.bincount(node_of[ids], weights=hi.heap.size[ids].astype(np.float64), minlength=k)
    return ChainTree(np.array(node_label, dtype=np.int64), np.array(node_parent, dtype=np.int64),
                     count, np.rint(nbytes).astype(np.int64), labels,
                     np.array(node_goro, dtype=np.int64))
