import os
import subprocess
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


@pytest.fixture(scope="session")
def domcheck():
    """tests/c/domcheck.c built: the independent check of retained sizes."""
    exe = helpers.BUILD / "tests" / "domcheck"
    exe.parent.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name("domcheck.%d" % os.getpid())  # parallel workers: build apart, rename atomically
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(tmp),
                    str(helpers.REPO / "tests" / "c" / "domcheck.c")], check=True)
    os.replace(tmp, exe)
    return exe


def roots_freed(domcheck, graph_file):
    """What removing each root frees, sorted, by domcheck --roots on a `graph --output` file."""
    p = subprocess.run([str(domcheck), str(graph_file), "--roots"], capture_output=True, text=True, timeout=600)
    return p, sorted(int(line.split()[2]) for line in p.stdout.splitlines() if line.startswith("root "))
