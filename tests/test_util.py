"""ext/util against plain implementations written in the tests.

rows.h (the reversed edges of the dominators, the holders and `why`) is driven by tests/c/rows_check.c,
linked against the objects of `make build` (or of the ASan or TSan build when the suite runs against it): every
row's offsets and values, in the order they were added, must be what a counting sort in the checker
computes, for graphs of one bucket and of hundreds, rows with many chunks, one thread or two, one
gathering or several laid out together, and pairs fed to another thread."""
import os
import subprocess

import pytest

import helpers

REPO = helpers.REPO


@pytest.fixture(scope="session")
def rows_check():
    kind = helpers.GOHEAP.parent.name if helpers.GOHEAP.parent.name in ("asan", "tsan") else ""
    base = REPO / "build" / kind
    flags = {"asan": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"],
             "tsan": ["-fsanitize=thread", "-fno-omit-frame-pointer"], "": []}[kind]
    objs = [str(base / "util" / o) for o in ("rows.o", "threads.o", "error.o")]
    assert all(os.path.exists(o) for o in objs), "build goheap first (make build)"
    out = base / "tests" / "rows_check"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name("rows_check.%d" % os.getpid())  # parallel workers: build apart, rename atomically
    subprocess.run(["gcc", "-O1", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"] + flags +
                   ["-o", str(tmp), str(REPO / "tests" / "c" / "rows_check.c")] + objs + ["-lpthread"], check=True)
    os.replace(tmp, out)
    return out


@pytest.mark.parametrize("room,nrows,npairs", [
    (100, 0, 0),                # nothing gathered
    (1, 1, 200_000),            # one row, five chunks
    (5_000, 5_000, 600_000),    # 5 buckets of several chunks each
    (50_000, 20_000, 300_000),  # fewer rows laid out than room was made for
    (3_000_000, 2_000_000, 3_000_000),  # 184 buckets of up to 16 Ki rows
])
@pytest.mark.parametrize("threads", ["1", "2"])
# 3: gathered apart in three runs, laid out together; feed: gathered on another thread (with two)
@pytest.mark.parametrize("gatherings", ["1", "3", "feed"])
def test_rows_match_a_counting_sort(rows_check, room, nrows, npairs, threads, gatherings):
    env = dict(os.environ, GOHEAP_THREADS=threads)
    p = subprocess.run([str(rows_check), str(room), str(nrows), str(npairs), "12345", gatherings],
                       capture_output=True, text=True, timeout=300, env=env)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr[-4000:]
    assert p.returncode == 0 and p.stdout.endswith(" ok\n"), p.stdout + p.stderr
