"""--timings: where a command's time went, phase by phase, without changing what it prints."""
import json
import time

import pytest

import helpers
from helpers import run, target_args

# Phases each command must report: what it computes, and nothing it does not.
DOMINATORS = ["dominators: search", "dominators: semidominators", "dominators: tree, sizes"]
EXPECTED = {
    "stats": (["open", "command", "heap", "typing", "typing: propagation", "output"],
              ["graph: edges", "retained by roots"] + DOMINATORS),
    "top --by root": (["open", "heap", "graph: roots", "retained by roots", "output"],
                      ["typing", "graph: edges"] + DOMINATORS),
    "top --by object": (["open", "heap", "typing", "graph: roots", "graph: edges", "output"] + DOMINATORS,
                        ["retained by roots"]),
    "maps": (["typing", "graph: edges", "maps: decoded", "holders", "maps: rows, owners"] + DOMINATORS,
             ["retained by roots", "maps: rows"]),
    "maps --no-owners": (["typing", "maps: decoded", "maps: rows"],
                         ["graph: roots", "graph: edges", "holders", "maps: rows, owners"] + DOMINATORS),
}


def one_fixture(case):
    if case["name"] != "go1.23-amd64":
        pytest.skip("one fixture is enough: the phases do not depend on the Go version")


@pytest.mark.parametrize("command", sorted(EXPECTED))
def test_timings_json(case, paths, command):
    one_fixture(case)
    args = target_args(case, paths) + command.split()
    plain = run(["--json"] + args)
    t0 = time.monotonic()
    timed = run(["--json", "--timings"] + args)
    wall = time.monotonic() - t0
    assert plain.returncode == 0 and timed.returncode == 0, timed.stderr
    assert plain.stderr == "", plain.stderr                      # nothing without the option
    assert json.loads(timed.stdout) == json.loads(plain.stdout)  # the output is the same
    t = json.loads(timed.stderr)
    names = [p["phase"] for p in t["phases"]]
    want, unwanted = EXPECTED[command]
    assert not [n for n in want if n not in names], names
    assert not [n for n in unwanted if n in names], names
    assert len(names) == len(set(names)), names                  # each computed once
    assert 0 < t["seconds"] <= wall                              # within the process's own lifetime
    starts = [p["start"] for p in t["phases"]]
    assert starts == sorted(starts)
    for p in t["phases"]:
        assert p["seconds"] >= 0 and p["start"] >= 0, p
        assert p["start"] + p["seconds"] <= t["seconds"] + 1e-6, p
        assert p["anon_bytes"] > 0, p
    by = {p["phase"]: p for p in t["phases"]}
    # Each part of the command runs inside it; the heap is enumerated before anything uses it.
    cmd = by["command"]
    for n in want:
        if n not in ("open", "command", "output"):
            assert cmd["start"] <= by[n]["start"] and \
                by[n]["start"] + by[n]["seconds"] <= cmd["start"] + cmd["seconds"] + 1e-6, (n, by[n], cmd)
            if n != "heap":
                assert by[n]["start"] >= by["heap"]["start"] + by["heap"]["seconds"] - 1e-6, (n, by[n])
    assert by["output"]["start"] >= cmd["start"] + cmd["seconds"] - 1e-6
    assert t["phases_not_recorded"] == 0


def test_timings_text(case, paths):
    one_fixture(case)
    p = run(["--timings"] + target_args(case, paths) + ["stats"])
    assert p.returncode == 0, p.stderr
    lines = p.stderr.splitlines()
    assert lines[0].startswith("timings ("), p.stderr
    assert lines[1].split() == ["phase", "start", "seconds", "anon", "MiB"]
    rows = {ln[:30].strip(): ln[30:].split() for ln in lines[2:]}
    assert "heap" in rows and "typing: propagation" in rows and "total" in rows, p.stderr
    total = float(rows["total"][1])
    assert 0 < float(rows["heap"][1]) <= total
    assert "heap:" in p.stdout  # the output itself, on stdout as without the option


@pytest.mark.skipif(helpers.SKIP_GDB, reason="GDB checks skipped in this run")
def test_timings_in_gdb(case, paths):
    """In GDB the option is the same (also after the command's name); the phases go to the error stream."""
    one_fixture(case)
    cli = json.loads(run(["--json"] + target_args(case, paths) + ["stats"]).stdout)
    out = helpers.gdb_batch(case["goarch"], paths["exe"], paths["core"], commands=[
        "source %s" % (helpers.BUILD / "goheap.py"), "goheap stats --json --timings"])
    assert helpers.first_json(out) == cli
    line = next((ln for ln in out.splitlines() if ln.startswith('{"seconds"')), None)
    assert line, out[-3000:]
    names = [p["phase"] for p in json.loads(line)["phases"]]
    assert "heap" in names and "typing" in names and "output" in names, names
    assert "open" not in names  # GDB's session opened the target before the command
