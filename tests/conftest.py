import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
import helpers  # noqa: E402


def pytest_generate_tests(metafunc):
    """`case` parametrizes over every supported fixture; `any_case` includes unsupported ones."""
    if "case" in metafunc.fixturenames:
        cs = [c for c in corpus.cases() if c.get("expect", "supported") == "supported"]
        metafunc.parametrize("case", cs, ids=[c["name"] for c in cs])


@pytest.fixture
def paths(case):
    return corpus.materialize(case)


@pytest.fixture(scope="session")
def goheap_built():
    assert helpers.GOHEAP.exists(), "build goheap first (make build)"
    return helpers.GOHEAP
