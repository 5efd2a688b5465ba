"""The GDB front end prints what the CLI prints, on cores and on live processes."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import corpus
import helpers
from helpers import first_json, run, run_json, target_args

pytestmark = pytest.mark.skipif(helpers.SKIP_GDB, reason="GDB checks skipped in this run")

GOHEAP_PY = helpers.BUILD / "goheap.py"


def test_gdb_info_equals_cli(case, paths):
    cli = run_json(target_args(case, paths) + ["info"])
    out = helpers.gdb_batch(case["goarch"], paths["exe"], paths["core"],
                            commands=["source %s" % GOHEAP_PY, "goheap --json info"])
    assert first_json(out) == cli


def test_gdb_session_roots_then_dominators(case, paths):
    """One GDB session keeps one graph: what the roots retain, computed first without the dominator
    tree and again after a command that builds it, is what the CLI prints either way."""
    if case["name"] != "go1.23-amd64":
        pytest.skip("one fixture is enough: the path does not depend on the Go version")
    cli_roots = run_json(target_args(case, paths) + ["roots", "-n", "0"])
    cli_top = run_json(target_args(case, paths) + ["top", "--by", "object", "-n", "5"])
    out = helpers.gdb_batch(case["goarch"], paths["exe"], paths["core"], commands=[
        "source %s" % GOHEAP_PY, "goheap --json roots -n 0", "goheap --json top --by object -n 5",
        "goheap --json roots -n 0"])
    docs = helpers.all_json(out)
    assert docs == [cli_roots, cli_top, cli_roots], out[-3000:]


def test_reader_target_equals_cli(case, paths):
    """A target read through a callback (what a remote GDB target goes through: block reads, one
    thread) gives what the CLI gives on the core: the heap's totals, every object with its pointer
    words, and the global roots (the test's reader gives no threads, so running goroutines' frames
    and the threads' registers are not compared)."""
    if case["name"] != "go1.23-amd64":
        pytest.skip("one fixture is enough: the path does not depend on the Go version")
    sys.path.insert(0, str(helpers.BUILD))
    import _goheap
    files = [(p, [(vaddr, filesz, off) for vaddr, _, filesz, _, off in helpers.elf_load_headers(p) if filesz])
             for p in (paths["core"], paths["exe"])]
    handles = {p: open(p, "rb") for p, _ in files}

    def reader(addr, size):
        for p, loads in files:  # the core's contents first, then the executable's
            for vaddr, filesz, off in loads:
                if vaddr <= addr and addr + size <= vaddr + filesz:
                    handles[p].seek(off + addr - vaddr)
                    return handles[p].read(size)
        return None

    try:
        s = _goheap.Session(exe=paths["exe"], arch="amd64", reader=reader)
        def both(cmd):
            return json.loads(_goheap.run(cmd, json=True, session=s)), run_json(target_args(case, paths) + cmd)
        a, b = both(["stats"])
        assert a["heap"] == b["heap"] and a["heap"]["objects"] > 0
        a, b = both(["objects", "--limit", "0", "--pointers"])
        assert [(o["address"], o["size"], o["pointers"]) for o in a["objects"]] == \
            [(o["address"], o["size"], o["pointers"]) for o in b["objects"]]
        cmd = ["roots", "-n", "0", "--kind", "global"]
        names = [r["name"] for r in json.loads(_goheap.run(cmd, json=True, session=s))["roots"]]
        assert names and sorted(names) == sorted(r["name"] for r in run_json(target_args(case, paths) + cmd)["roots"])
    finally:
        for h in handles.values():
            h.close()


def test_gdb_help_and_errors(tmp_path):
    out = helpers.gdb_batch("amd64", None, commands=[
        "source %s" % GOHEAP_PY, "help goheap", "help goheap info", "goheap info", "goheap nosuchcommand"])
    assert "Find what holds a Go program's memory" in out
    assert "Go version and GOEXPERIMENTs" in out           # help goheap info
    assert "goheap: no target" in out                      # info with nothing loaded
    assert "goheap: unknown command 'nosuchcommand'" in out


def live_cases():
    # Native amd64 fixtures can run here; each runs in its wait mode.
    return [c for c in corpus.cases() if c["goarch"] == "amd64" and not c["stripped"]
            and c.get("expect", "supported") == "supported" and c.get("capture") == "gcore"]


@pytest.fixture(params=live_cases(), ids=[c["name"] for c in live_cases()])
def live(request, tmp_path):
    case = request.param
    paths = corpus.materialize(case)
    ready = tmp_path / "ready"
    proc = subprocess.Popen([paths["exe"], "-facts", str(tmp_path / "facts.json"), "-heapdump",
                             str(tmp_path / "heapdump"), "-mode", "wait", "-ready", str(ready)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert ready.exists(), "fixture did not become ready"
    yield case, paths, proc
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def tasks(pid):
    return {int(t) for t in os.listdir("/proc/%d/task" % pid)}


def assert_threads_of(info, before, after):
    """A running Go program may start a thread (a new M) at any time and never
    ends one, so goheap's stop must see every thread that existed before it
    and only threads that exist after it."""
    seen = {t["tid"] for t in info["threads"]}
    assert len(seen) == len(info["threads"]), "a thread listed twice"
    assert before <= seen, "threads missed: %s" % sorted(before - seen)
    assert seen <= after, "threads that do not exist: %s" % sorted(seen - after)


def test_pid_info(live):
    case, paths, proc = live
    before = tasks(proc.pid)
    info = run_json(["--pid", proc.pid, "info"])
    assert info["go"]["version"] == case["facts"]["go_version"]
    assert info["target"]["kind"] == "live process"
    assert_threads_of(info, before, tasks(proc.pid))
    # goheap resumed the process: it is not left in a tracing stop.
    state = open("/proc/%d/stat" % proc.pid).read().rsplit(")", 1)[1].split()[0]
    assert state in ("S", "R"), state
    with open("/proc/%d/status" % proc.pid) as f:
        assert "TracerPid:\t0" in f.read()


def test_gdb_attached_info(live):
    case, paths, proc = live
    out = helpers.gdb_batch("amd64", paths["exe"], pid=proc.pid, commands=[
        "source %s" % GOHEAP_PY, "goheap --json info", "thread apply all p/x $pc"])
    info = first_json(out)
    assert info["go"]["version"] == case["facts"]["go_version"]
    # Same stop, same threads: goheap's PCs are GDB's.
    import re
    gdb_pcs, lwp = {}, None
    for line in out.splitlines():
        m = re.match(r"Thread \d+ \(LWP (\d+)", line)
        if m:
            lwp = int(m.group(1))
        m = re.match(r"\$\d+ = (0x[0-9a-f]+)", line)
        if m and lwp:
            gdb_pcs[lwp] = int(m.group(1), 16)
    assert gdb_pcs and {t["tid"]: int(t["pc"], 16) for t in info["threads"]} == gdb_pcs
    # And the CLI on the same (now resumed) process agrees on version and threads.
    cli = run_json(["--pid", proc.pid, "info"])
    assert cli["go"]["version"] == case["facts"]["go_version"]
    assert_threads_of(cli, set(gdb_pcs), tasks(proc.pid))
    assert run(["--pid", proc.pid, "info"]).returncode == 0
