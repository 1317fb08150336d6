"""The fuzz findings (tests/fuzz/regressions.py) replayed: each must end with a project
error on one line, or an answer: never another exception, a hang or a memory peak."""

from __future__ import annotations

import pytest

from tests.fuzz.campaign import Worker, outcome_class
from tests.fuzz.regressions import ALL
from tests.fuzz.seeds import SEED_FILES, available

pytestmark = pytest.mark.skipif(not all(available(s) for s in SEED_FILES), reason="fixture dumps absent")


@pytest.fixture(scope="module")
def worker():
    w = Worker(cpu_limit=3.0)   # a fixed reader answers in well under a second of CPU
    yield w
    w.stop()


# Fixed on the parsers' and decoders' branches; strict once merged.
@pytest.mark.parametrize("name", sorted(ALL))
def test_fuzz_regression(worker, name):
    recipe = ALL[name]()
    got = worker.run_one(recipe, wall_limit=60)
    assert outcome_class(got) is None, f"{recipe.describe()}: {got}"
    assert got["outcome"] in ("ok", "error")
    if got["outcome"] == "error":
        assert "\n" not in got["message"] and got["message"]
