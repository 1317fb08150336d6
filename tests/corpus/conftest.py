"""Run the corpus tests dump by dump, so each dump is loaded once (test_corpus caches
the last two loaded)."""

from __future__ import annotations


def pytest_collection_modifyitems(session, config, items):
    """Order tests/corpus items by (program, dump kind), keeping the order within each."""
    def key(item):
        params = getattr(getattr(item, "callspec", None), "params", {})
        return (params.get("name", ""), params.get("kind", ""))
    mine = [i for i in items if "tests/corpus/" in str(i.fspath)]
    if not mine:
        return
    first = items.index(mine[0])
    ids = {id(i) for i in mine}
    rest = [i for i in items if id(i) not in ids]
    items[:] = rest[:first] + sorted(mine, key=key) + rest[first:]
