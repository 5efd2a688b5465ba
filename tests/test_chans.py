"""Channels, timers and what goroutine stacks retain, against the fixture's own record (facts.json:
goroutines.list[].waits_on and holds_bytes, goroutines.channels, goroutines.timers and the AfterFunc
samples), on every case, stripped ones included.  Corrupted copies of a core (sudog lists, hchan
fields, timer heaps) must give counted warnings, never a crash or a hang (this suite also runs under
ASan)."""
import json
import shutil
import struct

import pytest

import corpus
import helpers
from helpers import run, run_json, target_args

_CACHE = {}


def out(case, paths, *args):
    key = (case["name"],) + args
    if key not in _CACHE:
        _CACHE[key] = run_json(target_args(case, paths) + list(args))
    return _CACHE[key]


def h(x):
    return int(x, 16)


def planted(case):
    return [g for g in case["facts"]["goroutines"]["list"] if g["planted"]]


def start_of(case):
    return {g["id"]: g["start_function"] for g in case["facts"]["goroutines"]["list"]}


# -- goroutines: the channels they wait on, what their stacks retain ----------------------------


def test_planted_goroutines_wait_on_exactly_their_channels(case, paths):
    rows = {r["id"]: r for r in out(case, paths, "goroutines")["goroutines"]}
    for g in planted(case):
        assert sorted(rows[g["id"]]["waits_on"]) == sorted(g.get("waits_on", [])), g["id"]


def test_goroutine_view_shows_its_channels_and_their_other_waiters(case, paths):
    chans = {c["addr"]: c for c in case["facts"]["goroutines"]["channels"]}
    starts = start_of(case)
    for fn in ("main.tickerLoop", "main.stuckSender"):
        g = next(g for g in planted(case) if g["start_function"] == fn)
        one = out(case, paths, "goroutine", str(g["id"]))
        assert sorted(one["waits_on"]) == sorted(g["waits_on"])
        assert sorted(c["address"] for c in one["channels"]) == sorted(g["waits_on"])
        for c in one["channels"]:
            want = chans[c["address"]]
            assert (c["len"], c["cap"], c["elem_type"]) == (want["len"], want["cap"], want["elem_type"])
            others = sorted(c["other_receivers"] + c["other_senders"])
            assert others == sorted(w for w in want["waiters"] if w != g["id"])
            assert c["op"] == ("send" if fn == "main.stuckSender" else "receive")
            assert all(starts[w] == "main.stuckSender" for w in c["other_senders"])


def test_goroutine_stacks_retain_the_buffers_they_hold(case, paths):
    """Each planted goroutine's buffer is referenced only by its stack, so the bytes its stack
    dominates are at least the buffer's size as the program made it (holds_bytes)."""
    rows = {r["id"]: r for r in out(case, paths, "goroutines")["goroutines"]}
    for g in planted(case):
        assert rows[g["id"]]["retained"] >= g["holds_bytes"], g["id"]
    # The same figure in the one-goroutine view, and summed per group.
    g = planted(case)[0]
    assert out(case, paths, "goroutine", str(g["id"]))["retained"] == rows[g["id"]]["retained"]
    groups = {r["start"]: r for r in out(case, paths, "goroutines", "--group-by", "start")["groups"]}
    for fn in case["facts"]["goroutines"]["planted_by_start_function"]:
        want = sum(x["holds_bytes"] for x in planted(case) if x["start_function"] == fn)
        assert groups[fn]["retained"] >= want, fn
        assert groups[fn]["retained"] == sum(rows[i]["retained"] for i in groups[fn]["ids"])


def test_retained_is_what_top_by_goroutine_ranks(case, paths):
    rows = {r["id"]: r["retained"] for r in out(case, paths, "goroutines")["goroutines"]}
    top = out(case, paths, "top", "--by", "goroutine", "-n", "0")["top"]
    ranked = {int(t["name"].split()[1]): t["retained"] for t in top}
    for gid, r in ranked.items():
        assert rows[gid] == r, gid


# -- chans ------------------------------------------------------------------------------------------


def test_chans_lists_each_planted_channel(case, paths):
    res = out(case, paths, "chans")
    by_addr = {c["address"]: c for c in res["channels"]}
    starts = start_of(case)
    tickers = {t["chan"]: t for t in out(case, paths, "timers")["timers"] if t["chan"]}
    for want in case["facts"]["goroutines"]["channels"]:
        c = by_addr.get(want["addr"])
        assert c, "%s (%s) not listed" % (want["name"], want["addr"])
        # The runtime's type names are reflect's: the fixture records reflect's String().
        assert (c["len"], c["cap"], c["elem_type"]) == (want["len"], want["cap"], want["elem_type"]), want["name"]
        assert c["closed"] is False
        assert sorted(c["receivers"] + c["senders"]) == sorted(want["waiters"]), want["name"]
        assert all(starts[w] == "main.stuckSender" for w in c["senders"]), want["name"]
        if want["name"].startswith("time.Ticker.C"):
            assert c["timer"] is not None and c["timer"] == tickers[want["addr"]]["address"]
        else:
            assert c["timer"] is None


# -- timers -----------------------------------------------------------------------------------------

# |reported delay - facts' delay_ns|: what separates them is the time between the timer's creation
# and goheap's "now", the latest runtime timestamp in the core.  With DWARF that is the last GC, which
# the fixture forces after it made the timers (so the reported delay is at most the fixture's); in
# stripped executables it is the latest g.waitsince, set by a GC after the planted goroutines blocked,
# before or after the timers were made.  Both lie inside the fixture's last seconds: measured -0.50 s
# to +0.01 s over the corpus; 5 s leaves room for a slow (qemu) run.
DELAY_TOLERANCE_NS = 5 * 10**9


def test_timers_find_every_planted_ticker_and_afterfunc(case, paths):
    res = out(case, paths, "timers")
    timers = res["timers"]
    assert res["ps"] == case["facts"]["gomaxprocs"]
    samples = {s["addr"]: s for _, s in corpus.all_samples(case["facts"])}
    created = []  # nanotime of each planted timer's creation: when - delay
    for want in case["facts"]["goroutines"]["timers"]:
        if want["kind"] == "ticker":
            m = [t for t in timers if t["kind"] == "ticker" and t["chan"] == want["chan"]]
            assert len(m) == 1, want
            t = m[0]
            assert t["period_ns"] == want["period_ns"]
            assert want["goroutine"] in t["goroutines"]
            assert t["function"] == "time.sendTime"
        else:
            # The closure's buffer is what the timer's argument (the closure) points at and retains.
            m = [t for t in timers if t["kind"] == "afterfunc" and want["holds"] in t["points_to"]]
            assert len(m) == 1, want
            t = m[0]
            assert t["period_ns"] == 0 and t["function"] == "time.goFunc"
            assert t["calls"].startswith("main.buildGoroutines.func")
            assert t["retained"] >= samples[want["holds"]]["size"]
        assert not t["stopped"]
        assert abs(t["delay_ns"] - want["delay_ns"]) <= DELAY_TOLERANCE_NS, (t, want)
        if res["now_from"] == "memstats.last_gc_nanotime":
            assert t["delay_ns"] <= want["delay_ns"]
        created.append((want["kind"], t["when"] - want["delay_ns"]))
    # Exact, without "now": the fixture starts its tickers before its AfterFuncs.
    assert max(c for k, c in created if k == "ticker") <= min(c for k, c in created if k == "afterfunc")
    assert sum(t["kind"] == "sleep" for t in timers) == \
        case["facts"]["goroutines"]["planted_by_start_function"]["main.sleeper"]


def test_allp_scan_finds_the_symbol(case, paths):
    """Stripped executables: the validated scan for runtime.allp lands where the DWARF build of the same
    release has the symbol (same link layout)."""
    if not case["stripped"]:
        pytest.skip("runtime.allp comes from the symbol table")
    sibling = corpus.case(case["name"].replace("-stripped", ""))
    sp = corpus.materialize(sibling)
    from test_goroutines import elf_symbol
    res = out(case, paths, "timers")
    assert res["ps_from"].startswith("scan of .bss")
    assert h(res["allp"]) == elf_symbol(sp["exe"], "runtime.allp")


# -- corrupted input ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def victim():
    c = corpus.case("go1.22-amd64")
    paths = corpus.materialize(c)
    info = run_json(["--core", paths["core"], "--exe", paths["exe"], "info"])
    layout = {e["name"]: e for e in info["runtime_layout"]["entries"]}
    rows = run_json(target_args(c, paths) + ["goroutines", "--no-retained"])["goroutines"]
    timers = run_json(target_args(c, paths) + ["timers", "--no-retained"])
    return c, paths, layout, {r["id"]: r for r in rows}, timers


def off(layout, name):
    return int(layout[name]["value"].lstrip("+"))


def q(v):
    return struct.pack("<Q", v & (2 ** 64 - 1))


def patched(tmp_path, core, writes):
    dst = tmp_path / "core"
    shutil.copyfile(core, dst)
    with open(dst, "r+b") as f:
        for addr, data in writes:
            f.seek(helpers.file_offset(str(dst), addr))
            f.write(data)
    return dst


def u64(mem, addr):
    b = mem.read(addr, 8)
    assert b is not None, hex(addr)
    return struct.unpack("<Q", b)[0]


DAMAGES = ["sendq-cycle", "sendq-self", "sendq-garbage", "waitlink-cycle", "waiting-garbage", "sudog-foreign-g",
           "hchan-garbage", "hchan-unreadable", "timer-heap-huge", "timer-heap-garbage", "timer-garbage"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_channels_and_timers(victim, tmp_path, damage):
    case, paths, layout, rows, timers = victim
    facts = case["facts"]["goroutines"]
    full = h(next(c["addr"] for c in facts["channels"] if c["name"] == "main.fullChan"))
    ticker_g = next(g for g in planted(case) if g["start_function"] == "main.tickerLoop")
    with corpus.CoreMemory(paths["core"]) as mem:
        sendq = full + off(layout, "hchan.sendq")
        s1 = u64(mem, sendq)
        s2 = u64(mem, s1 + off(layout, "sudog.next"))
        one = run_json(target_args(case, paths) + ["goroutine", str(ticker_g["id"]), "--no-retained"])
        g_addr = h(one["g"])
        waiting = u64(mem, g_addr + off(layout, "g.waiting"))
        w2 = u64(mem, waiting + off(layout, "sudog.waitlink"))
        allp = h(timers["allp"])
        p0 = u64(mem, u64(mem, allp))
        heap = p0 + off(layout, "p.timers")
        heap_array = u64(mem, heap)
        t0 = next(h(t["address"]) for t in timers["timers"] if t["p"] == 0)
    writes = {
        "sendq-cycle": [(s2 + off(layout, "sudog.next"), q(s1))],
        "sendq-self": [(sendq, q(s1)), (s1 + off(layout, "sudog.next"), q(s1))],
        "sendq-garbage": [(s2 + off(layout, "sudog.next"), q(0x4141414141414141))],
        "waitlink-cycle": [(w2 + off(layout, "sudog.waitlink"), q(waiting))],
        "waiting-garbage": [(g_addr + off(layout, "g.waiting"), q(0x7FFFFFFFFFF8))],
        "sudog-foreign-g": [(waiting + off(layout, "sudog.g"), q(g_addr + 8))],
        "hchan-garbage": [(full + off(layout, "hchan.qcount"), q(2 ** 40)), (full + off(layout, "hchan.closed"), q(7)),
                          (full + off(layout, "hchan.elemtype"), q(0x1234)),
                          (full + off(layout, "hchan.recvq"), q(full))],
        "hchan-unreadable": [(waiting + off(layout, "sudog.c"), q(0x4141414141414140))],
        "timer-heap-huge": [(heap + 8, q(2 ** 40)), (heap + 16, q(2 ** 40))],
        "timer-heap-garbage": [(heap_array, q(p0))],  # entry 0: the P itself, not one of its timers
        "timer-garbage": [(t0 + off(layout, "timer.f"), q(0x4141414141414140)),
                          (t0 + off(layout, "timer.arg") + 8, q(1)),
                          (t0 + off(layout, "timer.when"), q(2 ** 63 + 1))],  # when - now overflows
    }[damage]
    core = patched(tmp_path, paths["core"], writes)
    warnings = []
    for args in (["goroutines"], ["goroutine", str(ticker_g["id"])], ["goroutine", "all", "bt"], ["chans", "--all"],
                 ["timers"]):
        p = run(["--json", "--core", core, "--exe", paths["exe"]] + args, timeout=120)
        assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
        assert p.returncode == 0, (args, p.stderr)
        warnings += json.loads(p.stdout).get("warnings", [])
    want = {
        "sendq-cycle": "send queue ends in a cycle", "sendq-self": "send queue ends in a cycle",
        "sendq-garbage": "send queue ends in a misaligned", "waitlink-cycle": "g.waiting list ends in a cycle",
        "waiting-garbage": "g.waiting list ends in an unreadable sudog", "sudog-foreign-g": "belongs to g",
        "hchan-garbage": "exceeds the buffer size", "hchan-unreadable": "is unreadable",
        "timer-heap-huge": "timers claimed", "timer-heap-garbage": "is not a timer of this P",
        "timer-garbage": "timer",
    }[damage]
    assert any(want in w for w in warnings) or damage == "timer-garbage", warnings
    if damage == "timer-garbage":
        # The timer is still listed, with no function: its f is unreadable.
        res = run_json(["--core", core, "--exe", paths["exe"], "timers"])
        t = next(t for t in res["timers"] if h(t["address"]) == t0)
        assert t["function"] is None and t["kind"] == "other" and t["delay_ns"] is None
    if damage in ("sendq-cycle", "sendq-self"):
        res = run_json(["--core", core, "--exe", paths["exe"], "chans"])
        c = next(c for c in res["channels"] if h(c["address"]) == full)
        assert len(c["senders"]) == len(set(c["senders"]))  # a cycle's repeats are dropped
