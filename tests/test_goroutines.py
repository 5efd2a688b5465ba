"""Goroutines, their frames, pointer slots and typed locals, against the runtime's own records: the
heap dump's goroutine and stack-frame records (heapdump.go dumpgoroutine / dumpframe, written in the
stop-the-world of debug.WriteHeapDump), the traceback the runtime printed when it crashed
(traceback.txt), the fixture's facts (facts.json) and GDB's thread list.  Corrupted copies of a core
must give warnings or one clean error, never a crash or a hang (this suite also runs under ASan)."""
import collections
import re
import shutil
import struct

import pytest

import corpus
import helpers
from helpers import gdb_oracle, run, run_json, target_args, SKIP_GDB

PRECISE = ("local", "arg", "stack-object")


def view(case, paths, what, **kw):
    res = run_json(target_args(case, paths) + ["goroutine", "all", what], **kw)
    return {g["id"]: g for g in res["goroutines"]}


_CACHE = {}


def frames_of(case, paths):
    key = (case["name"], "frames")
    if key not in _CACHE:
        _CACHE[key] = view(case, paths, "frames")
    return _CACHE[key]


def slots_of(case, paths):
    key = (case["name"], "slots")
    if key not in _CACHE:
        _CACHE[key] = view(case, paths, "slots")
    return _CACHE[key]


def h(x):
    return int(x, 16)


def writer_goid(dump):
    """The goroutine that wrote the dump: the only one 'dumping heap'; it ran on after the dump."""
    return {g.goid for g in dump.goroutines if g.waitreason == "dumping heap"}


def test_goroutine_set_equals_heapdump(case, paths):
    ours = frames_of(case, paths)
    dump = corpus.heapdump_of(case)
    assert set(ours) == {g.goid for g in dump.goroutines}
    planted = {g["id"] for g in case["facts"]["goroutines"]["list"] if g["planted"]}
    for g in dump.goroutines:
        o = ours[g.goid]
        assert h(o["gopc"]) == g.gopc, g.goid
        assert h(o["g"]) == g.addr, g.goid
        assert o["system"] == g.is_system, (g.goid, o["start_pc_function"])
        if g.goid in planted:  # parked since before the dump: identical state
            assert o["status_code"] == g.status & ~0x1000
            assert o["status"] == g.waitreason
            assert o["wait_since"] == g.waitsince
            assert h(o["stack_lo"]) <= g.sp < h(o["stack_hi"])


def test_planted_counts_equal_facts(case, paths):
    facts = case["facts"]["goroutines"]
    res = run_json(target_args(case, paths) + ["goroutines", "--group-by", "start"])
    by_start = {r["start"]: r["count"] for r in res["groups"]}
    for fn, n in facts["planted_by_start_function"].items():
        assert by_start.get(fn) == n, fn
    rows = run_json(target_args(case, paths) + ["goroutines"])["goroutines"]
    planted_fns = set(facts["planted_by_start_function"])
    waits = collections.Counter(r["status"] for r in rows if r["start"] in planted_fns)
    assert dict(waits) == facts["planted_by_wait_reason"]
    # Every goroutine the program listed, with its start function and wait reason.
    by_id = {r["id"]: r for r in rows}
    for g in facts["list"]:
        assert g["id"] in by_id
        assert by_id[g["id"]]["start"] == g["start_function"]
        if g["planted"]:
            assert by_id[g["id"]]["status"] == g["wait_reason"]
            assert by_id[g["id"]]["created_by"] == g["created_by"]


def dump_frame_pointers(dump, fr):
    """Absolute addresses (and their values) of the pointer fields of one dumped frame: dumpframe
    writes the frame's bytes from sp to fp, with offsets from sp (the callee's arguments, at the
    start of this frame, and this frame's locals)."""
    raw = dump.raw
    out = {}
    for off in fr.ptr_offsets:
        v, = struct.unpack_from("<Q", raw, fr.data_off + off)
        out[fr.sp + off] = v
    return out


def test_frames_and_slots_equal_heapdump(case, paths):
    frames = frames_of(case, paths)
    slots = slots_of(case, paths)
    dump = corpus.heapdump_of(case)
    planted = {g["id"] for g in case["facts"]["goroutines"]["list"] if g["planted"]}
    skip = writer_goid(dump)
    compared = 0
    for g in dump.goroutines:
        if g.goid in skip:
            continue
        ours = frames[g.goid]["frames"]
        if not ours or h(ours[0]["sp"]) != g.sp:
            # Runtime goroutines may have run between the dump and the capture; planted ones not.
            assert g.goid not in planted, "planted goroutine %d moved" % g.goid
            continue
        compared += 1
        theirs = sorted(g.frames, key=lambda f: f.depth)
        assert [(h(f["sp"]), h(f["pc"]), f["function"]) for f in ours] == \
               [(f.sp, f.pc, f.name) for f in theirs], "goroutine %d" % g.goid
        for f, d in zip(ours, theirs):
            assert h(f["fp"]) == f_end(d), (g.goid, f["function"])
            assert h(f["continpc"]) == d.continpc
        mine = [s for s in slots[g.goid]["slots"] if s["frame"] is not None]
        for i, (f, d) in enumerate(zip(ours, theirs)):
            lo, hi = d.sp, d.sp + d.size
            want = dump_frame_pointers(dump, d)
            have = {h(s["address"]): h(s["value"]) for s in mine
                    if lo <= h(s["address"]) < hi and s["kind"] in ("local", "arg", "conservative")}
            if "conservative" in f["flags"]:
                # The dump writes every word of a frame without a locals map; ours drops zero words.
                assert {a: v for a, v in want.items() if v} .items() <= have.items(), (g.goid, f["function"])
            else:
                assert have == want, "goroutine %d frame %d %s" % (g.goid, i, f["function"])
    assert compared >= len(planted)


def f_end(d):
    return d.sp + d.size


def test_goroutine_samples_are_held_by_their_frames(case, paths):
    slots = slots_of(case, paths)
    frames = frames_of(case, paths)
    samples = [s for s in case["facts"]["patterns"]["goroutines"]["samples"]
               if s.get("note", "").startswith("held by a stack frame of ")]
    assert len(samples) == case["facts"]["goroutines"]["planted_total"]
    locals_ = None if case["stripped"] else view(case, paths, "locals", timeout=600)
    for s in samples:
        fn = s["note"].rsplit(" ", 1)[1]
        goid = int(s["key"])
        addr = h(s["addr"])
        assert frames[goid]["start"] == fn
        held = [x for x in slots[goid]["slots"] if h(x["value"]) == addr and x["kind"] in PRECISE]
        assert held, "goroutine %d: no precise slot holds %s" % (goid, s["addr"])
        if locals_ is not None:
            typed = [l for l in locals_[goid]["locals"] if l["type"] == "[]uint8" and l["value"] == s["addr"]
                     and h(l["address"]) in {h(x["address"]) for x in held}]
            assert typed, "goroutine %d: no []uint8 local holds %s" % (goid, s["addr"])
            assert typed[0]["object"] == s["addr"]


def parse_traceback(text):
    """{goid: [(function, sp, pc)]} of the frames the runtime printed with fp/sp/pc."""
    out, cur, fn = {}, None, None
    for line in text.splitlines():
        m = re.match(r"goroutine (\d+) ", line)
        if m:
            cur = out.setdefault(int(m.group(1)), [])
            continue
        if cur is None:
            continue
        if not line.startswith("\t") and line and not line.startswith("created by"):
            fn = line[:line.rfind("(")] if "(" in line else line
            continue
        m = re.search(r"sp=(0x[0-9a-f]+) pc=(0x[0-9a-f]+)", line)
        if m and fn:
            cur.append((fn, int(m.group(1), 16), int(m.group(2), 16)))
            fn = None
    return out


def test_running_goroutine_matches_crash_traceback(case, paths):
    """The crash traceback is the runtime's own unwinding of every goroutine at the time of the crash,
    the running one from the signal context: our walk from the core's registers must agree."""
    if case["mode"] != "crash":
        pytest.skip("no crash traceback in wait mode")
    tb = parse_traceback(open(corpus.CASES_DIR / case["name"] / "traceback.txt").read())
    frames = frames_of(case, paths)
    running = [g for g in frames.values() if g["status"] == "running"]
    assert running, "no running goroutine in a crash core"
    for g in running:
        ours = [(f["function"], h(f["sp"]), h(f["pc"])) for f in g["frames"]]
        assert ours == tb[g["id"]], "goroutine %d" % g["id"]
        assert "interrupted" in g["frames"][0]["flags"] and "conservative" in g["frames"][0]["flags"]
    for goid, tframes in tb.items():
        if goid in frames and frames[goid]["status"] != "running":
            assert [(f["function"], h(f["sp"]), h(f["pc"])) for f in frames[goid]["frames"]] == tframes, goid


@pytest.mark.skipif(SKIP_GDB, reason="GOHEAP_SKIP_GDB")
def test_threads_are_core_threads(case, paths, tmp_path):
    rows = run_json(target_args(case, paths) + ["goroutines"])["goroutines"]
    oracle = gdb_oracle(case["goarch"], paths["exe"], paths["core"], tmp=tmp_path)
    tids = {t[0] for t in oracle["threads"]}
    on_thread = [r for r in rows if r["thread"] is not None]
    for r in on_thread:
        assert r["thread"] in tids, r
    if case["mode"] == "crash":
        assert any(r["status"] == "running" for r in on_thread)


# -- corrupted input ---------------------------------------------------------------------------


file_offset = helpers.file_offset


def patched(tmp_path, core, writes):
    out = tmp_path / "core"
    shutil.copyfile(core, out)
    with open(out, "r+b") as f:
        for addr, data in writes:
            f.seek(file_offset(str(out), addr))
            f.write(data)
    return out


@pytest.fixture(scope="module")
def victim():
    for c in corpus.cases():
        if c["name"] == "go1.22-amd64":
            paths = corpus.materialize(c)
            info = run_json(["--core", paths["core"], "--exe", paths["exe"], "info"])
            layout = {e["name"]: e for e in info["runtime_layout"]["entries"]}
            frames = view(c, paths, "frames")
            planted = next(g["id"] for g in c["facts"]["goroutines"]["list"] if g["planted"])
            return c, paths, layout, frames, planted
    pytest.skip("go1.22-amd64 not in the corpus")


def elf_symbol(path, name):
    """A symbol's value from the executable's .symtab, read without goheap."""
    data = open(path, "rb").read()
    shoff, = struct.unpack_from("<Q", data, 40)
    shentsize, shnum = struct.unpack_from("<HH", data, 58)
    secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for sh in secs:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strtab = secs[sh[6]]
        for k in range(sh[5] // 24):
            st_name, _, _, _, value, _ = struct.unpack_from("<IBBHQQ", data, sh[4] + 24 * k)
            end = data.index(b"\0", strtab[4] + st_name)
            if data[strtab[4] + st_name:end] == name.encode():
                return value
    raise AssertionError("no symbol " + name)


def off(layout, name):
    return int(layout[name]["value"].lstrip("+"))


def run_all(core, paths):
    out = []
    for args in (["goroutines"], ["goroutine", "all", "frames"], ["goroutine", "all", "slots"],
                 ["goroutine", "all", "locals"], ["goroutines", "--group-by", "stack"]):
        p = run(["--json", "--core", core, "--exe", paths["exe"]] + args, timeout=120)
        assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
        assert p.returncode in (0, 1), (args, p.returncode, p.stderr)
        if p.returncode == 1:
            assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        out.append(p)
    return out


def q(v):
    return struct.pack("<Q", v & (2 ** 64 - 1))


@pytest.mark.parametrize("damage", ["sched-garbage", "stack-absurd", "return-loop", "return-garbage",
                                    "allgs-entry-garbage", "allglen-huge", "stackmap-index"])
def test_damaged_goroutine(victim, tmp_path, damage):
    case, paths, layout, frames, goid = victim
    g = frames[goid]
    ga = h(g["g"])
    sched = ga + off(layout, "g.sched")
    fr = g["frames"]
    writes = []
    if damage == "sched-garbage":
        writes = [(sched + off(layout, "gobuf.sp"), q(0xDEADBEEF0)), (sched + off(layout, "gobuf.pc"), q(0x1234))]
    elif damage == "stack-absurd":
        writes = [(ga + off(layout, "g.stack_lo"), q(0x10)), (ga + off(layout, "g.stack_hi"), q(2 ** 63))]
    elif damage == "return-loop":
        # Frame 2's return address made its own PC: the walk climbs the same function up to the top
        # of the stack and stops there (SP strictly increases), never loops.
        writes = [(h(fr[2]["fp"]) - 8, q(h(fr[2]["pc"])))]
    elif damage == "return-garbage":
        writes = [(h(fr[1]["fp"]) - 8, q(0xFFFFFFFFFFFF0000))]
    elif damage == "allgs-entry-garbage":
        allgs = elf_symbol(paths["exe"], "runtime.allgs")
        with open(paths["core"], "rb") as f:
            f.seek(file_offset(paths["core"], allgs))
            arr, = struct.unpack("<Q", f.read(8))
        writes = [(arr + 8 * 3, q(0x4141414141414140)), (arr + 8 * 4, q(arr))]
    elif damage == "allglen-huge":
        allgs = elf_symbol(paths["exe"], "runtime.allgs")
        writes = [(allgs + 8, q(2 ** 40)), (allgs + 16, q(2 ** 40))]
    elif damage == "stackmap-index":
        # An absurd stack pointer inside the frame area: sp above fp of the innermost frame.
        writes = [(sched + off(layout, "gobuf.sp"), q(h(fr[-1]["fp"]) - 8))]
    core = patched(tmp_path, paths["core"], writes)
    res = run_all(core, paths)
    if damage == "allglen-huge":
        # Every entry past the real ones is garbage: counted, not followed, and not a hang.
        assert res[0].returncode in (0, 1)
        return
    assert res[0].returncode == 0, res[0].stderr
    lst = run_json(["--core", core, "--exe", paths["exe"], "goroutines"])
    ids = {r["id"] for r in lst["goroutines"]}
    if damage in ("stack-absurd", "allgs-entry-garbage"):
        assert lst.get("bad_entries", 0) >= 1
        if damage == "stack-absurd":
            assert goid not in ids
        return
    assert goid in ids
    one = run(["--json", "--core", core, "--exe", paths["exe"], "goroutine", str(goid), "frames"])
    assert one.returncode == 0, one.stderr
    warnings = __import__("json").loads(one.stdout).get("warnings", [])
    assert any(w.startswith("goroutine %d:" % goid) for w in warnings), warnings
