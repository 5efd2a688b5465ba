"""Checks the committed core-file corpus itself (corefiles/cases/).

Needs only the committed files, Python 3.11 and the zstd tool; no Go, no goheap.
Tolerances are explained in docs/fixtures.md ("What the tests check").
"""
import bisect
import json
import os
import re

import pytest

import corpus
import heapdump

ALL = corpus.cases()
SUPPORTED = [c for c in ALL if c["expect"] == "supported"]
UNSUPPORTED = [c for c in ALL if c["expect"] == "unsupported"]

# The set of cases make-corefiles produces; all must be committed.
EXPECTED_CASES = {
    "go1.%d-%s%s" % (v, arch, s) for v in (21, 22, 23, 24, 26, 27) for arch in ("amd64", "arm64")
    for s in ("", "-stripped")
} | {"go1.22-amd64-noallocheaders", "go1.24-amd64-noswissmap", "go1.26-amd64-nogreenteagc",
     "go1.22-amd64-gcore", "go1.26-amd64-gcore", "go1.19-amd64-unsupported"}


def ids(cs):
    return [c["name"] for c in cs]


def test_corpus_complete():
    assert {c["name"] for c in ALL} == EXPECTED_CASES


def test_corpus_size():
    total = 0
    for root, _, files in os.walk(corpus.REPO / "corefiles"):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    assert total < 150 * 1024 * 1024


@pytest.mark.parametrize("c", ALL, ids=ids(ALL))
def test_case_json(c):
    for k in corpus.CASE_KEYS:
        assert k in c, k
    assert c["schema"] == 1
    assert os.path.basename(c["dir"]) == c["name"]
    m = re.fullmatch(r"go(1\.\d+)-(amd64|arm64)(-.*)?", c["name"])
    assert m and m.group(1) == c["go"] and m.group(2) == c["goarch"]
    assert c["stripped"] == c["name"].endswith("-stripped")
    assert c["capture"] in ("crash", "qemu", "gcore")
    assert (c["capture"] == "qemu") == (c["goarch"] == "arm64")
    assert c["mode"] == ("wait" if c["capture"] == "gcore" else "crash")
    assert c["elf_machine"] == corpus.ELF_MACHINE[c["goarch"]]
    for kind in corpus.KINDS:
        f = c["files"][kind]
        assert os.path.isfile(os.path.join(c["dir"], f["file"]))
        assert re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) and f["size"] > 0
    assert "-trimpath" in c["build"]["args"]
    assert ("-ldflags=-s -w" in c["build"]["args"]) == c["stripped"]
    assert "GOARCH=%s" % c["goarch"] in c["build"]["env"]
    assert "GOEXPERIMENT=%s" % c["goexperiment"] in c["build"]["env"]


@pytest.mark.parametrize("c", ALL, ids=ids(ALL))
def test_exe_and_core_are_elf_of_the_right_machine(c):
    p = corpus.materialize(c, kinds=("exe", "core"))
    exe = corpus.elf_header(p["exe"])
    core = corpus.elf_header(p["core"])
    for h in (exe, core):
        assert h["class"] == 64 and h["little_endian"]
        assert h["machine"] == corpus.ELF_MACHINE[c["goarch"]]
    assert exe["type"] == corpus.ET_EXEC
    assert core["type"] == corpus.ET_CORE


@pytest.mark.parametrize("c", ALL, ids=ids(ALL))
def test_no_machine_identifying_strings(c):
    p = corpus.materialize(c)
    files = list(p.values()) + [os.path.join(c["dir"], "facts.json"), os.path.join(c["dir"], "case.json")]
    if c["traceback"]:
        files.append(os.path.join(c["dir"], c["traceback"]))
    for f in files:
        assert corpus.find_strings(f) == {}, f


@pytest.mark.parametrize("c", UNSUPPORTED, ids=ids(UNSUPPORTED))
def test_unsupported_case_is_old_go(c):
    assert corpus.go_minor(c) < 21
    assert c["facts"]["go_version"].startswith("go" + c["go"])


# ---------------------------------------------------------------------------
# Supported cases: facts.json schema, versions, heap dump.


@pytest.mark.parametrize("c", SUPPORTED, ids=ids(SUPPORTED))
def test_facts_schema(c):
    f = c["facts"]
    for k in corpus.FACTS_KEYS:
        assert k in f, k
    assert f["schema"] == 1 and f["program"] == "leaky" and f["goos"] == "linux" and f["ptr_size"] == 8
    assert f["mode"] == c["mode"]
    assert 1 <= f["settle_rounds"] <= 10
    assert set(f["patterns"]) == set(corpus.PATTERN_NAMES)
    for name, p in f["patterns"].items():
        for k in corpus.PATTERN_KEYS:
            assert k in p, (name, k)
        assert p["retained_bytes"] > 0 and p["retained_objects"] > 0, name
        assert p["samples"], name
        for s in p["samples"]:
            for k in corpus.SAMPLE_KEYS:
                assert k in s, (name, k)
            assert re.fullmatch(r"0x[0-9a-f]+", s["addr"]), s
    g = f["goroutines"]
    for k in corpus.GOROUTINES_KEYS:
        assert k in g, k
    for x in g["list"]:
        for k in corpus.GOROUTINE_KEYS:
            assert k in x, k
    ms = f["memstats"]
    for k in heapdump.MEMSTATS_FIELDS + ("HeapObjects", "HeapAlloc", "NumGC", "BySize", "PauseNs"):
        assert k in ms, k


@pytest.mark.parametrize("c", SUPPORTED, ids=ids(SUPPORTED))
def test_facts_counts(c):
    p = c["facts"]["patterns"]
    assert p["cache"]["counts"]["len"] == 2500
    assert p["cache"]["counts"]["payload_values"] == 2000
    assert p["index"]["counts"]["maps_total"] == 221
    assert p["sessions"]["counts"]["max_len"] == 50000
    assert p["sessions"]["counts"]["len"] == 10
    assert p["sessions"]["counts"]["deleted"] == 49990
    r = p["registry"]["counts"]
    assert r["len"] == r["stored"] - r["deleted"] + r["load_or_store_stored"]
    assert p["shared_map"]["counts"]["len"] == 300
    g = c["facts"]["goroutines"]
    assert g["observed_matches_expected"]
    assert g["planted_total"] == p["goroutines"]["counts"]["goroutines"] == 19
    assert g["planted_by_start_function"] == {"main.blockedWorker": 8, "main.stuckSender": 4,
                                              "main.tickerLoop": 3, "main.lockWaiter": 2, "main.sleeper": 2}
    assert g["planted_by_wait_reason"] == {"chan receive": 8, "chan send": 4, "select": 3,
                                           "sync.Mutex.Lock": 2, "sleep": 2}
    assert g["num_goroutine"] == 20  # planted + main


@pytest.mark.parametrize("c", SUPPORTED, ids=ids(SUPPORTED))
def test_versions_match(c):
    f = c["facts"]
    ver, exps = heapdump.parse_version(f["go_version"])
    assert "%d.%d" % ver == c["go"]
    assert f["go_version"] == c["go_version"]
    assert f["goarch"] == c["goarch"]
    assert exps == {e for e in c["goexperiment"].split(",") if e}


@pytest.mark.parametrize("c", SUPPORTED, ids=ids(SUPPORTED))
def test_heapdump_parses(c):
    d = corpus.heapdump_of(c)
    assert d.params.version == c["facts"]["go_version"]
    assert d.params.arch == c["goarch"]
    assert d.params.ptr_size == 8 and not d.params.big_endian
    assert d.memstats is not None and d.data is not None and d.bss is not None
    assert len(d.objects) > 10000
    assert d.itabs and d.os_threads and d.frames and d.types
    # Every goroutine the facts saw (user goroutines) is in the dump with its wait reason.
    by_id = {g.goid: g for g in d.goroutines}
    for g in c["facts"]["goroutines"]["list"]:
        if g["planted"]:
            assert by_id[g["id"]].waitreason == g["wait_reason"], g
    planted = c["facts"]["goroutines"]["planted_by_start_function"]
    assert len(d.goroutines) >= sum(planted.values()) + 1
    for fr in d.frames:
        assert fr.goroutine is not None


@pytest.mark.parametrize("c", SUPPORTED, ids=ids(SUPPORTED))
def test_heapdump_objects_match_memstats(c):
    """Reserved tail slots dropped, the dump's objects are exactly MemStats' (0 tolerance)."""
    d = corpus.heapdump_of(c)
    live = d.live_objects()
    n, b = len(live), sum(o.size for o in live)
    assert (n, b) == (d.memstats["HeapObjects"], d.memstats["HeapAlloc"])
    ms = c["facts"]["memstats"]
    assert (n, b) == (ms["HeapObjects"], ms["HeapAlloc"])
    s = c["heapdump_summary"]
    assert (s["records"], s["reserved"], s["objects"], s["bytes"]) == (len(d.objects), len(d.objects) - n, n, b)


@pytest.mark.parametrize("c", SUPPORTED, ids=ids(SUPPORTED))
def test_reserved_slots_only_where_expected(c):
    d = corpus.heapdump_of(c)
    rule = heapdump.reserved_slot_params(d.params.version)
    reserved = d.reserved_objects()
    if not rule["allocheaders"] and not rule["greentea"]:
        assert reserved == []
        return
    assert 0 < len(reserved) < 0.05 * len(d.objects)
    for o in reserved:
        assert o.size <= 512
        base = o.addr & ~(heapdump.PAGE_SIZE - 1)
        # the slot overlaps the reserved tail (at most 256 bytes) of its page
        assert o.addr + o.size > base + heapdump.PAGE_SIZE - 256


@pytest.mark.parametrize("c", SUPPORTED, ids=ids(SUPPORTED))
def test_samples_are_live_heap_objects(c):
    d = corpus.heapdump_of(c)
    live = sorted(d.live_objects(), key=lambda o: o.addr)
    starts = [o.addr for o in live]
    checked = 0
    for name, s in corpus.all_samples(c["facts"]):
        a = corpus.parse_addr(s["addr"])
        i = bisect.bisect_right(starts, a) - 1
        assert i >= 0, (name, s)
        o = live[i]
        assert o.addr <= a < o.addr + o.size, (name, s)
        assert a + s["size"] <= o.addr + o.size, (name, s)
        checked += 1
    assert checked > 50


@pytest.mark.parametrize("c", SUPPORTED, ids=ids(SUPPORTED))
def test_case_summary_recorded(c):
    s = c["heapdump_summary"]
    assert s["exact"] is True
    assert s["version"] == c["facts"]["go_version"] and s["arch"] == c["goarch"]


def test_json_files_are_valid():
    for c in ALL:
        for fn in ("case.json", "facts.json"):
            with open(os.path.join(c["dir"], fn)) as f:
                json.load(f)


@pytest.mark.parametrize("c", SUPPORTED, ids=ids(SUPPORTED))
def test_core_holds_the_dumped_heap(c):
    """The objects holding the samples have the same bytes in the core as in the heap dump.

    Nothing the fixture planted changes between WriteHeapDump and the capture.
    """
    d = corpus.heapdump_of(c)
    live = sorted(d.live_objects(), key=lambda o: o.addr)
    starts = [o.addr for o in live]
    p = corpus.materialize(c, kinds=("core",))
    compared = 0
    with corpus.CoreMemory(p["core"]) as mem:
        for name, s in corpus.all_samples(c["facts"]):
            a = corpus.parse_addr(s["addr"])
            o = live[bisect.bisect_right(starts, a) - 1]
            got = mem.read(o.addr, o.size)
            assert got is not None, (name, s)
            assert got == o.contents(d), (name, s)
            compared += 1
    assert compared > 50
