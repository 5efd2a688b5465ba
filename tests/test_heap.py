"""The heap layer against the runtime's own records: debug.WriteHeapDump's object list and the
MemStats the fixture program read just before it (facts.json)."""
import os
import subprocess

import pytest

import corpus
from helpers import run_json, target_args


def objects(case, paths):
    res = run_json(target_args(case, paths) + ["objects", "--limit", "0", "--pointers"], timeout=600)
    assert res["matched"] == res["shown"] == len(res["objects"])
    return res["objects"]


def test_objects_equal_heapdump(case, paths):
    ours = objects(case, paths)
    dump = corpus.heapdump_of(case)
    # The dump writes each object as its whole slot (header included, large objects page-rounded)
    # with pointer offsets from the slot start: compare goheap's slots with exactly that.
    mine = {int(o["slot"], 16): (o["slot_size"], tuple(o["pointers"])) for o in ours}
    theirs = {d.addr: (d.size, tuple(sorted(d.ptr_offsets))) for d in dump.live_objects()}
    assert all(o["pointers"] is not None for o in ours), "objects with unreadable pointer maps"
    missing = sorted(set(theirs) - set(mine))
    extra = sorted(set(mine) - set(theirs))
    assert not missing, "in the heap dump, not found by goheap: %s" % [hex(a) for a in missing[:10]]
    assert not extra, "found by goheap, not in the heap dump: %s" % [hex(a) for a in extra[:10]]
    wrong = [(hex(a), mine[a], theirs[a]) for a in sorted(mine) if mine[a] != theirs[a]]
    assert not wrong, "first objects whose size or pointer words differ (addr, goheap, dump): %s" % wrong[:3]
    # The object proper lies inside its slot: after the malloc header, exact size for large ones.
    for o in ours:
        a, s, slot, ss = int(o["address"], 16), o["size"], int(o["slot"], 16), o["slot_size"]
        assert slot <= a and a + s <= slot + ss


def test_stats_match_memstats(case, paths):
    st = run_json(target_args(case, paths) + ["stats"])["heap"]
    ms = case["facts"]["memstats"]
    # The program read MemStats after runtime.GC(), wrote facts.json, then ran GC again before the
    # heap dump and the crash: the objects are the same ones, so counts agree exactly.
    assert st["objects"] == ms["HeapObjects"]
    assert st["garbage_objects"] == 0  # GC and sweep finished before capture
    # HeapAlloc counts small objects by size class slot and large objects by their pages.
    assert st["slot_bytes"] == ms["HeapAlloc"]
    dump = corpus.heapdump_of(case)
    assert st["objects"] == len(dump.live_objects())


def expected_name_ok(fact_type, ours):
    """facts.json names objects as reflect does: a slice's backing array by the slice type, string
    bytes as "string", a map header by the map type. goheap names an array of T "[N]T" (or "T" for
    one element) and string bytes uint8 (possibly sharing a tiny-allocator block)."""
    if fact_type.startswith("[]"):
        elem = fact_type[2:]
        return ours == elem or (ours.startswith("[") and ours.split("]", 1)[1] == elem)
    if fact_type == "string":
        return ours in ("uint8", "tiny block (uint8 values)") or (ours.startswith("[") and ours.endswith("]uint8"))
    return ours == fact_type


def has_closure_layouts(exe):
    """Go 1.23+ DWARF places a closure's captured variables (DW_AT_go_closure_offset, 0x2907); before
    that nothing in the binary says what a closure context holds."""
    out = subprocess.run(["readelf", "--debug-dump=info", str(exe)], capture_output=True, text=True).stdout
    return "Unknown AT value: 2907" in out or "DW_AT_go_closure_offset" in out


def test_planted_objects_have_their_types(case, paths):
    samples = [s for p in case["facts"]["patterns"].values() for s in p["samples"]]
    assert samples
    res = run_json(target_args(case, paths) + ["object"] + [s["addr"] for s in samples])["objects"]
    closures = None
    wrong = []
    for s, o in zip(samples, res):
        assert int(o["address"], 16) == int(s["addr"], 16), (s, o)  # each sample is an object start
        if case["stripped"]:
            # Without DWARF only the heap's own records (malloc headers, map headers typed by their
            # bucket arrays) type objects: many stay untyped, but none is typed wrongly.
            if not o["type"].startswith("<unknown ") and not expected_name_ok(s["type"], o["type"]):
                wrong.append((s["addr"], s["type"], o["type"], s.get("note", "")))
            continue
        if "timer heap" in s.get("note", ""):
            # Held only by an AfterFunc closure: typed through DWARF closure layouts when the binary
            # has them, and reported untyped (not guessed) when it has not.
            if closures is None:
                closures = has_closure_layouts(paths["exe"])
            if not closures:
                if not o["type"].startswith("<unknown "):
                    wrong.append((s["addr"], "<unknown>", o["type"], s["note"]))
                continue
        if not expected_name_ok(s["type"], o["type"]):
            wrong.append((s["addr"], s["type"], o["type"], s.get("note", "")))
    assert not wrong, "planted objects typed wrongly (addr, expected, goheap): %s" % wrong[:8]


def test_typed_fraction(case, paths, record_property):
    """At least 95% of heap bytes are typed on executables with DWARF (docs/heap.md lists the figures)."""
    ty = run_json(target_args(case, paths) + ["stats"])["typing"]
    frac = float(ty["typed_fraction_of_bytes"].rstrip("%"))
    record_property("typed_fraction", frac)
    assert ty["type_conflicts"] == 0
    if not case["stripped"]:
        assert frac >= 95.0, "%s: only %.2f%% of heap bytes typed" % (case["name"], frac)


def test_threads_change_nothing(case, paths):
    """With a second thread, the heap's spans are enumerated in parts, typing sorts and applies
    proposals on one thread while it walks objects on the other, the graph passes split the objects,
    the dominators' reversed edges and the holders' edges are gathered and laid out in parts, typing
    runs beside the dominators (top --by object, maps), the dominators' search hands its kept edges
    to another thread, and the roots' labelling runs on both threads sharing work (top --by root,
    roots): every object, its type, every retained size and every map's owner and holders must be
    what one thread alone computes (GOHEAP_THREADS=1).
    GOHEAP_THREADS=2 forces the threaded paths even on one CPU."""
    args = target_args(case, paths)

    def results(threads):
        env = dict(os.environ, GOHEAP_THREADS=threads)
        objs = run_json(args + ["objects", "--limit", "0"], timeout=600, env=env)["objects"]
        top = run_json(args + ["top", "--by", "object", "-n", "50"], timeout=600, env=env)
        typing = run_json(args + ["stats"], env=env)["typing"]
        maps = run_json(args + ["maps"], timeout=600, env=env)["table"]
        by_root = run_json(args + ["top", "--by", "root", "-n", "50"], timeout=600, env=env)
        roots = run_json(args + ["roots", "-n", "0"], timeout=600, env=env)
        return {o["address"]: o["type"] for o in objs}, top, typing, maps, (by_root, roots)

    one, two = results("1"), results("2")
    diff = [(a, t, two[0].get(a)) for a, t in one[0].items() if two[0].get(a) != t]
    assert not diff and len(one[0]) == len(two[0]), diff[:8]
    assert one[1] == two[1]
    assert one[2] == two[2]
    assert one[3] == two[3]
    assert one[4] == two[4]
