"""Maps and sync.Map (docs/maps.md) against what the fixture built (corefiles/src/leaky/main.go,
facts.json) and against GDB reading the runtime's own map headers through DWARF.

Expected values never come from goheap: entry keys and values follow from the fixture source,
lengths from facts.json, capacities, overflow buckets and tombstones from the runtime's own
counters read by GDB (hmap.B and hmap.noverflow; swiss table capacity, used and growthLeft)."""
import json
import os
import re
import struct
import subprocess
import textwrap

import pytest

import corpus
from helpers import (GOHEAP, REPO, SKIP_GDB, file_offset, gdb_batch, root_of, run, run_json, symbol_at, target_args,
                     twin_symbols)

PLANTED = {  # facts sample path -> pattern
    "main.cache": "cache",
    "main.index": "index",
    "main.sessions": "sessions",
    "main.holderA.m": "shared_map",
}


def header(case, path):
    """(address, type) of a planted map header, from facts.json."""
    for pat in case["facts"]["patterns"].values():
        for s in pat["samples"]:
            if s["path"] == path and "map header" in s.get("note", ""):
                return int(s["addr"], 16), s["type"]
    raise AssertionError("no map header %s in facts" % path)


def entries(case, paths, path, extra=()):
    addr, typ = header(case, path)
    res = run_json(target_args(case, paths) + ["map", hex(addr), "--limit", "0"] + list(extra))
    assert res["type"] == typ
    assert res["shown"] == len(res["entries"]) == res["len"]
    return res, {e["key"]: e.get("value") for e in res["entries"]}


def q(s):
    return '"%s"' % s


# ---- what the fixture built (main.go) ----

def expected_cache():
    exp = {}
    for i in range(2000):
        exp[q("user:%d" % i)] = ("prefix", "*main.Payload(0x")
    for i in range(200):
        s = ("string value %d " % i) * (4 + i % 20)
        text = 'string("%s"' % s[:200] + ('... (len %d))' % len(s) if len(s) > 200 else ")")
        exp[q("name:%d" % i)] = ("exact", text)
    for i in range(200):
        n = 64 + (i * 31) % 900
        exp[q("blob:%d" % i)] = ("prefix", "[]uint8(len %d cap " % n)
    for i in range(100):
        exp[q("count:%d" % i)] = ("exact", "int(%d)" % (1000 + i * 7))
    return exp


def check(got, exp):
    assert set(got) == set(exp), "keys differ: missing %s, extra %s" % (
        sorted(set(exp) - set(got))[:5], sorted(set(got) - set(exp))[:5])
    for k, (how, v) in exp.items():
        if how == "exact":
            assert got[k] == v, (k, got[k], v)
        else:
            assert got[k].startswith(v), (k, got[k], v)


def test_cache_entries(case, paths):
    res, got = entries(case, paths, "main.cache")
    assert res["len"] == case["facts"]["patterns"]["cache"]["counts"]["len"]
    check(got, expected_cache())
    for e in res["entries"]:  # pointers name the object they point at
        if e["key"].startswith('"user:'):
            assert e["value"].endswith("main.Payload)"), e


def test_index_entries(case, paths):
    res, got = entries(case, paths, "main.index")
    assert res["len"] == case["facts"]["patterns"]["index"]["counts"]["len"]
    check(got, {q("region-%d" % i): ("prefix", "0x") for i in range(20)})
    assert all(v.endswith("map[string]map[string]int (len 10)") for v in got.values())
    _, leaf = entries(case, paths, 'main.index["region-3"]["host-7"]')
    check(leaf, {q("metric-%d" % k): ("exact", str(370 + k)) for k in range(10)})
    _, mid = entries(case, paths, 'main.index["region-3"]')
    check(mid, {q("host-%d" % j): ("prefix", "0x") for j in range(10)})


def test_map_as_type(case, paths):
    """`map ADDR --as TYPE` decodes a header as the type given, whatever goheap typed it as."""
    for path in ("main.sessions", 'main.index["region-3"]["host-7"]'):
        addr, typ = header(case, path)
        res = run_json(target_args(case, paths) + ["map", hex(addr), "--as", typ, "--keys-only", "--limit", "0"])
        assert res["type"] == typ and res["len"] == len(res["entries"]) > 0, (path, res["type"], res["len"])
    addr, typ = header(case, "main.sessions")
    p = run(target_args(case, paths) + ["map", hex(addr), "--as", "map[string]int"])
    # a wrong type is reported (bucket maps: an error; swiss tables: warnings per group), not decoded silently
    assert (p.returncode != 0 and p.stderr.startswith("goheap: ")) or "warning: map %#x" % addr in p.stdout, p


def test_sessions_and_shared_entries(case, paths):
    res, got = entries(case, paths, "main.sessions")
    c = case["facts"]["patterns"]["sessions"]["counts"]
    assert res["len"] == c["len"] == c["max_len"] - c["deleted"]
    check(got, {str(k): ("prefix", "0x") for k in range(0, 50000, 5000)})
    assert all(v.endswith("-> main.Session") for v in got.values())
    assert res["empty"] + res["deleted"] + res["len"] == res["capacity"]
    res, got = entries(case, paths, "main.holderA.m", ["--keys-only"])
    assert res["len"] == case["facts"]["patterns"]["shared_map"]["counts"]["len"]
    assert set(got) == {q("rec-%d" % i) for i in range(300)}


def test_maps_listing(case, paths):
    res = run_json(target_args(case, paths) + ["maps", "--no-owners"], timeout=300)
    assert all("owner" not in r and "holders" not in r for r in res["table"])
    assert "undecodable" not in res, res.get("warnings")  # everything typed as a map is a header
    rows = {int(r["address"], 16): r for r in res["table"]}
    facts = case["facts"]["patterns"]
    for path, pat in PLANTED.items():
        addr, typ = header(case, path)
        r = rows[addr]
        assert r["type"] == typ and r["len"] == facts[pat]["counts"]["len"], r
        assert r["capacity"] >= r["len"] and r["bytes"] > 0
    sess = rows[header(case, "main.sessions")[0]]
    assert "never-shrunk" in sess["flags"].split(",")
    assert not any("never-shrunk" in rows[header(case, p)[0]]["flags"] for p in ("main.cache", "main.holderA.m"))
    idx = rows[header(case, "main.index")[0]]
    ic = facts["index"]["counts"]
    assert idx["depth"] == 3 and "nested" in idx["flags"]
    assert idx["inner_maps"] == ic["maps_total"] - 1
    level2 = [r for r in res["table"] if r["type"] == "map[string]map[string]int"]
    assert len(level2) == ic["maps_level2"] and all(r["depth"] == 2 and r["inner_maps"] == 10 for r in level2)
    assert idx["inner_bytes"] == sum(r["bytes"] for r in level2) + sum(r["inner_bytes"] for r in level2)
    # sorted by bytes, largest first; --type and --min-bytes filter
    assert [r["bytes"] for r in res["table"]] == sorted((r["bytes"] for r in res["table"]), reverse=True)
    only = run_json(target_args(case, paths) + ["maps", "--type", r"^map\[int64\]", "--min-bytes", "4096"])
    assert [int(r["address"], 16) for r in only["table"]] == [header(case, "main.sessions")[0]]


def shared_map_holders(case):
    """The globals the fixture stores its shared map in: those its description names, as many as it
    counts ("shared by main.holderA (struct), main.holderB (*struct) and main.holderC (struct)")."""
    pat = case["facts"]["patterns"]["shared_map"]
    names = sorted(set(re.findall(r"\b(main\.\w+) \(", pat["description"])))
    assert len(names) == pat["counts"]["holders"], pat["description"]
    return names


def path_root(text, syms):
    """The global a holder or owner path starts from ("main.holderA.m", "main.holderB -> .m"); a
    stripped executable's roots are named by address ("bss 0x5e5f60 -> .m"): the DWARF twin's
    symbols name them."""
    m = re.match(r"(?:data|bss) (0x[0-9a-f]+)", text or "")
    if m:
        return symbol_at(syms, int(m.group(1), 16)) if syms else None
    return root_of((text or "").split(" ")[0])


def test_maps_owners_and_shared(case, paths):
    """The map the fixture shares between three globals is flagged shared and names each of them as a
    holder; the maps one global holds are not shared, and their owner path starts at that global."""
    res = run_json(target_args(case, paths) + ["maps"], timeout=300)
    rows = {int(r["address"], 16): r for r in res["table"]}
    syms = twin_symbols(case)
    shared = rows[header(case, "main.holderA.m")[0]]
    assert "shared" in shared["flags"].split(",") and shared["owner"] is None, shared
    assert sorted(path_root(h, syms) for h in shared["holders"]) == shared_map_holders(case), shared
    for path in ("main.sessions", "main.cache", "main.index"):
        r = rows[header(case, path)[0]]
        holder = case["facts"]["patterns"][PLANTED[path]]["holder"]
        assert "shared" not in r["flags"].split(",") and r["holders"] == [], r
        assert path_root(r["owner"], syms) == holder, r


def test_registry_syncmap(case, paths):
    if case["stripped"]:
        pytest.skip("sync.Map globals are found by name (DWARF)")
    want = {q("svc-%d" % i) for i in list(range(4000, 5000)) + list(range(3750, 4000))}
    res = run_json(target_args(case, paths) + ["syncmap", "main.registry", "--limit", "0"])
    c = case["facts"]["patterns"]["registry"]["counts"]
    assert res["len"] == c["len"] == len(want) == len(res["entries"])
    keys = {e["key"] for e in res["entries"]}
    assert keys == {"string(%s)" % k for k in want}
    assert all(e["value"].startswith("*main.RegEntry(0x") for e in res["entries"])
    trie = "synchashtriemap" not in case["go_version"] and int(case["go"].split(".")[1]) >= 24
    assert res["implementation"] == ("HashTrieMap" if trie else "read/dirty")
    # `map` recognises a sync.Map by its shape, given its address
    res2 = run_json(target_args(case, paths) + ["map", res["address"], "--keys-only", "--limit", "0"])
    assert res2["type"] == "sync.Map" and {e["key"] for e in res2["entries"]} == keys


# ---- the runtime's own counters, read by GDB from DWARF ----

GDB_ORACLE = textwrap.dedent(r'''
    import gdb, json
    inf = gdb.selected_inferior()
    def u(addr, n):
        return int.from_bytes(bytes(inf.read_memory(addr, n)), "little")
    def off(t, name):
        for f in t.strip_typedefs().fields():
            if f.name == name:
                return f.bitpos // 8
        raise KeyError(name)
    out = {}
    for expr in %s:
        v = gdb.parse_and_eval(expr)
        hdr = int(v)
        t = v.type.strip_typedefs().target().strip_typedefs()
        names = [f.name for f in t.fields()]
        r = {"addr": hdr}
        if "B" in names:
            h = v.dereference()
            B, nov = int(h["B"]), int(h["noverflow"])
            r.update(kind="buckets", count=int(h["count"]), B=B, noverflow=nov, growing=int(h["oldbuckets"]) != 0)
            bt = h["buckets"].type.strip_typedefs().target().strip_typedefs()
            bsize, ovo = bt.sizeof, off(bt, "overflow")
            deleted = chained = 0
            for i in range(1 << B):
                b = int(h["buckets"]) + i * bsize
                first = True
                while b:
                    deleted += sum(1 for x in bytes(inf.read_memory(b, 8)) if x == 1)
                    chained += 0 if first else 1
                    first = False
                    b = u(b + ovo, 8)
            r.update(deleted=deleted, chained=chained)
        else:
            m = v.dereference()
            used, dirp, dirlen = int(m["used"]), int(m["dirPtr"]), int(m["dirLen"])
            r.update(kind="swiss", count=used, dirlen=dirlen)
            if dirlen == 0:
                r.update(capacity=8 if dirp else 0, tombstones=0, tables=0)
            else:
                tt = m["dirPtr"].type.strip_typedefs().target().strip_typedefs().target().strip_typedefs()
                tabs = sorted({u(dirp + 8 * i, 8) for i in range(dirlen)})
                cap = tomb = 0
                for a in tabs:
                    tv = gdb.Value(a).cast(tt.pointer()).dereference()
                    c, tu, gl = int(tv["capacity"]), int(tv["used"]), int(tv["growthLeft"])
                    maxgrowth = c - 1 if c <= 8 else c * 7 // 8  # table.resetGrowthLeft
                    cap += c
                    tomb += maxgrowth - tu - gl
                r.update(capacity=cap, tombstones=tomb, tables=len(tabs))
        out[expr] = r
    print("GH-MAPS-JSON")
    print(json.dumps(out))
''')


def gdb_maps(case, paths, tmp_path, exprs):
    script = tmp_path / "maps_oracle.py"
    script.write_text(GDB_ORACLE % json.dumps(exprs))
    out = gdb_batch(case["goarch"], oracle_exe(case, paths), paths["core"], script=script)
    at = out.find("GH-MAPS-JSON")
    assert at >= 0, out[-3000:]
    return json.loads(out[at:].splitlines()[1])


def oracle_exe(case, paths):
    """The executable GDB reads the core with: a stripped case's DWARF twin (the same program built
    with the same toolchain, identical layout: see twin_symbols), since GDB needs DWARF for the
    headers; goheap itself is given the stripped one."""
    if not case["stripped"]:
        return paths["exe"]
    import corpus
    name = case["name"].replace("-stripped", "")
    return corpus.materialize([c for c in corpus.cases() if c["name"] == name][0])["exe"]


@pytest.mark.skipif(SKIP_GDB, reason="GOHEAP_SKIP_GDB")
def test_capacity_and_deleted_match_runtime(case, paths, tmp_path):
    exprs = {"'main.sessions'": "main.sessions", "'main.cache'": "main.cache", "'main.index'": "main.index",
             "'main.holderA'.m": "main.holderA.m"}
    oracle = gdb_maps(case, paths, tmp_path, list(exprs))
    for expr, path in exprs.items():
        o = oracle[expr]
        addr, typ = header(case, path)
        assert o["addr"] == addr, expr  # GDB (through the twin's DWARF) and the fixture agree
        res = run_json(target_args(case, paths) + ["map", hex(o["addr"]), "--limit", "1"])
        assert res["type"] == typ, expr
        assert res["len"] == o["count"], expr
        if o["kind"] == "buckets":
            assert res["kind"] == "buckets" and res["B"] == o["B"] and res["growing"] == o["growing"]
            # noverflow counts every overflow bucket since the last growth (exact while B < 16)
            assert res["overflow"] == o["chained"] == o["noverflow"], expr
            assert res["capacity"] == 8 * ((1 << o["B"]) + o["noverflow"]), expr
            assert res["deleted"] == o["deleted"], expr
        else:
            assert res["kind"] == "swiss" and res["directory"] == o["dirlen"]
            assert res["capacity"] == o["capacity"], expr
            # tombstones: the runtime's growthLeft bookkeeping, against goheap's 0xFE control bytes
            assert res["deleted"] == o["tombstones"], expr
            if o["dirlen"]:
                assert res["tables"] == o["tables"]


# ---- corrupt maps ----

core_offset = file_offset


def patched_core(paths, tmp_path, patches):
    dst = tmp_path / "core"
    subprocess.run(["cp", "--sparse=always", paths["core"], str(dst)], check=True)
    with open(dst, "r+b") as f:
        for addr, data in patches:
            f.seek(core_offset(str(dst), addr))
            f.write(data)
    return dst


def read_core(core, addr, n):
    with open(core, "rb") as f:
        f.seek(core_offset(core, addr))
        return f.read(n)


def run_checked(args):
    p = run(args, timeout=120)
    assert p.returncode in (0, 1), (p.returncode, p.stderr[-2000:])
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    return p


CORRUPT_CASES = ["go1.22-amd64", "go1.24-amd64-noswissmap", "go1.26-amd64", "go1.27-arm64"]


@pytest.mark.parametrize("name", CORRUPT_CASES)
def test_corrupt_maps(name, tmp_path):
    case = next(c for c in corpus.cases() if c["name"] == name)
    paths = corpus.materialize(case)
    sess, _ = header(case, "main.sessions")
    cache, _ = header(case, "main.cache")
    res = run_json(target_args(case, paths) + ["map", hex(sess), "--limit", "1"])
    patches = []
    if res["kind"] == "buckets":
        # B absurd on sessions; an overflow bucket pointing at itself in cache
        # (hmap: count int, flags uint8, B uint8 at +9; buckets at +16)
        patches.append((sess + 9, bytes([60])))
        buckets = struct.unpack("<Q", read_core(paths["core"], cache + 16, 8))[0]
        # a map[string]interface {} bucket: tophash [8]uint8, 8 string keys, 8 eface values, overflow
        bsize = 8 + 8 * 16 + 8 * 16 + 8
        patches.append((buckets + bsize - 8, struct.pack("<Q", buckets)))
    else:
        # dirLen absurd on sessions; bad control bytes in every group of cache's first table
        patches.append((sess + 24, struct.pack("<Q", 1 << 40)))
        dirp = struct.unpack("<Q", read_core(paths["core"], cache + 16, 8))[0]
        tab = struct.unpack("<Q", read_core(paths["core"], dirp, 8))[0]
        groups = struct.unpack("<Q", read_core(paths["core"], tab + 16, 8))[0]
        patches.append((groups, b"\x81\x82\x83\x84\x85\x86\x87\x88"))
    core = patched_core(paths, tmp_path, patches)
    args = ["--core", str(core), "--exe", paths["exe"]]
    p = run_checked(args + ["map", hex(sess)])
    assert p.returncode == 1 and ("absurd" in p.stderr or "corrupt" in p.stderr), p.stderr
    p = run_checked(args + ["--json", "map", hex(cache), "--limit", "0"])
    assert p.returncode == 0
    doc = json.loads(p.stdout)
    warn = " ".join(doc.get("warnings", []))
    assert ("cycle" in warn) if res["kind"] == "buckets" else ("control byte" in warn), warn
    p = run_checked(args + ["--json", "maps"])
    doc = json.loads(p.stdout)
    assert any("absurd" in w for w in doc.get("warnings", [])), doc.get("warnings")
    assert any(r["address"] == hex(cache) and "corrupt" in r["flags"] for r in doc["table"])


STRIPPED_CASES = ["go1.21-amd64-stripped", "go1.22-amd64-stripped", "go1.26-amd64-stripped", "go1.27-arm64-stripped"]


@pytest.mark.parametrize("name", STRIPPED_CASES)
def test_stripped_headers_agree_with_their_buckets(name, tmp_path):
    """Without DWARF a map header is typed by the bucket or group array it points at only when its
    own fields agree with that array: on a copy of the core where main.sessions' B (bucket maps) or
    directory length (swiss) disagrees with its array, and main.cache claims 2^40 entries, neither
    is listed; the other planted maps still are."""
    case = next(c for c in corpus.cases() if c["name"] == name)
    paths = corpus.materialize(case)
    sess, _ = header(case, "main.sessions")
    cache, _ = header(case, "main.cache")
    args = target_args(case, paths) + ["maps", "--no-owners"]
    rows = {int(r["address"], 16): r for r in run_json(args)["table"]}
    assert sess in rows and cache in rows
    if rows[sess]["kind"] == "buckets":
        # hmap: count int at +0, B uint8 at +9: one more doubling than the array holds
        b = read_core(paths["core"], sess + 9, 1)[0]
        patches = [(sess + 9, bytes([b + 1]))]
    else:
        # maps.Map: used at +0, dirLen at +24: twice 2^globalDepth
        dirlen = struct.unpack("<Q", read_core(paths["core"], sess + 24, 8))[0]
        patches = [(sess + 24, struct.pack("<Q", 2 * dirlen))]
    patches.append((cache, struct.pack("<Q", 1 << 40)))
    core = patched_core(paths, tmp_path, patches)
    res = run_json(["--core", str(core), "--exe", paths["exe"], "maps", "--no-owners"])
    listed = {int(r["address"], 16) for r in res["table"]}
    assert sess not in listed and cache not in listed
    assert {header(case, p)[0] for p in ("main.index", "main.holderA.m")} <= listed


def test_stripped_typing_agrees_with_dwarf(case, paths):
    """The same core read with the executable's DWARF and symbols ignored (GOHEAP_IGNORE_DEBUG_INFO=1,
    as if stripped): every map header typed that way, by its array's malloc header or by its shape,
    has the type DWARF typing gives it, with the same len and capacity; the planted maps are among
    them.  DWARF types a header through the typed global or value that holds it (the compiler's own
    record); only the few headers no typed memory reaches are typed by their arrays in both runs."""
    if case["stripped"]:
        pytest.skip("no DWARF to compare with")
    args = target_args(case, paths) + ["maps", "--no-owners"]
    full = {r["address"]: r for r in run_json(args, timeout=300)["table"]}
    bare = {r["address"]: r for r in run_json(args, timeout=300, env=dict(os.environ, GOHEAP_IGNORE_DEBUG_INFO="1"))["table"]}
    wrong = [(a, full[a]["type"] if a in full else None, r["type"]) for a, r in bare.items()
             if a not in full or (full[a]["type"], full[a]["len"], full[a]["capacity"]) != (r["type"], r["len"], r["capacity"])]
    assert not wrong, wrong[:5]
    assert {hex(header(case, p)[0]) for p in PLANTED} <= set(bare)
    assert len(bare) >= 0.99 * len(full), (len(bare), len(full))


@pytest.mark.parametrize("name", ["go1.21-amd64-stripped", "go1.21-arm64-stripped"])
def test_shape_needs_plausible_slots(name, tmp_path):
    """Go 1.21 heaps record no types: a header is typed by the shape of its bucket array only when
    the array's slots are ones the runtime could have written.  An evacuation mark (tophash 2..4)
    belongs in an old array only: written into the first bucket of the shared map's current array,
    the map is no longer recognised; the other planted maps still are."""
    case = next(c for c in corpus.cases() if c["name"] == name)
    paths = corpus.materialize(case)
    shared, _ = header(case, "main.holderA.m")
    buckets = struct.unpack("<Q", read_core(paths["core"], shared + 16, 8))[0]  # hmap.buckets
    args = ["maps", "--no-owners"]
    assert shared in {int(r["address"], 16) for r in run_json(target_args(case, paths) + args)["table"]}
    core = patched_core(paths, tmp_path, [(buckets, bytes([3]))])
    listed = {int(r["address"], 16) for r in run_json(["--core", str(core), "--exe", paths["exe"]] + args)["table"]}
    assert shared not in listed
    assert {header(case, p)[0] for p in ("main.index", "main.sessions", "main.cache")} <= listed


@pytest.mark.parametrize("seed", range(16))
def test_shape_survives_random_damage(seed, tmp_path):
    """Random words of the planted maps' headers and bucket arrays overwritten (with random bits, or
    with pointers copied from elsewhere in the arrays, which make cycles) on a stripped Go 1.21 core,
    where every map is typed by its shape: `stats`, `maps` and `map` answer or fail cleanly, never
    crash or hang (the whole suite also runs under ASan+UBSan)."""
    import random
    case = next(c for c in corpus.cases() if c["name"] == "go1.21-amd64-stripped")
    paths = corpus.materialize(case)
    rng = random.Random(seed)
    regions, words = [], []
    # bucket sizes: tophash [8]uint8 + 8 keys + 8 values + overflow pointer
    for path, bsize in (("main.cache", 8 + 8 * 16 + 8 * 16 + 8), ("main.sessions", 8 + 8 * 8 + 8 * 8 + 8),
                        ("main.index", 8 + 8 * 16 + 8 * 8 + 8), ("main.holderA.m", 8 + 8 * 16 + 8 * 8 + 8)):
        hdr, _ = header(case, path)
        b = read_core(paths["core"], hdr + 9, 1)[0]  # hmap.B
        buckets = struct.unpack("<Q", read_core(paths["core"], hdr + 16, 8))[0]
        size = min((1 << b) * bsize, 1 << 16) // 8 * 8
        regions += [(hdr, 48), (buckets, size)]
        raw = read_core(paths["core"], buckets, size)
        words += [w for w in struct.unpack("<%dQ" % (size // 8), raw) if w]
    patches = []
    for _ in range(rng.choice((4, 32, 256))):
        base, size = rng.choice(regions)
        value = rng.choice(words) if rng.random() < 0.5 else rng.getrandbits(64)
        patches.append((base + rng.randrange(size // 8) * 8, struct.pack("<Q", value)))
    core = patched_core(paths, tmp_path, patches)
    args = ["--core", str(core), "--exe", paths["exe"]]
    for cmd in (["stats"], ["maps", "--no-owners"], ["map", hex(regions[0][0]), "--limit", "0"]):
        p = run_checked(args + cmd)
        if p.returncode:
            assert p.stderr.startswith("goheap: ") and len(p.stderr.splitlines()) == 1, p.stderr


@pytest.mark.skipif(not (REPO / "build" / "asan" / "goheap").exists() or os.environ.get("GOHEAP", "").endswith("asan/goheap"),
                    reason="ASan build absent (make build/asan/goheap), or this run is already under ASan")
def test_corrupt_maps_under_asan(tmp_path, monkeypatch):
    import helpers
    monkeypatch.setattr(helpers, "GOHEAP", REPO / "build" / "asan" / "goheap")
    monkeypatch.setenv("ASAN_OPTIONS", "detect_leaks=1")
    for name in CORRUPT_CASES:
        sub = tmp_path / name
        sub.mkdir()
        test_corrupt_maps(name, sub)


# ---- GDB pretty printers ----

PRINTER_CASES = ["go1.22-amd64", "go1.24-amd64", "go1.26-amd64", "go1.27-amd64"]


@pytest.mark.skipif(SKIP_GDB, reason="GOHEAP_SKIP_GDB")
@pytest.mark.parametrize("name", PRINTER_CASES)
def test_gdb_print_shows_entries(name):
    import re
    case = next((c for c in corpus.cases() if c["name"] == name), None)
    if case is None:
        pytest.skip("case %s not in the corpus" % name)
    paths = corpus.materialize(case)
    # Go's own printers loaded first (as auto-load would), goheap's after them.
    go_gdb = "/usr/share/go-%s/src/runtime/runtime-gdb.py" % case["go"]
    cmds = (["source %s" % go_gdb] if os.path.exists(go_gdb) else []) + [
        "source %s" % (REPO / "build" / "goheap.py"), "set print elements 200",
        "print 'main.sessions'", "print 'main.index'"]
    out = gdb_batch(case["goarch"], paths["exe"], paths["core"], commands=cmds)
    sess = next(line for line in out.splitlines() if line.startswith("$1 = "))
    assert sess.startswith("$1 = map[int64]*main.Session len 10 = {"), sess
    assert sorted(int(k) for k in re.findall(r"\[(\d+)\] = 0x[0-9a-f]+", sess)) == list(range(0, 50000, 5000))
    idx = next(line for line in out.splitlines() if line.startswith("$2 = "))
    regions = set(re.findall(r'\["region-(\d+)"\] = map\[string\]map\[string\]int len 10', idx))
    assert regions == {str(i) for i in range(20)}, idx[:500]
    r3 = idx[idx.index('["region-3"] = '):]
    leaf = re.search(r'\["host-7"\] = map\[string\]int len 10 = \{([^}]*)\}', r3).group(1)
    assert dict(re.findall(r'\["metric-(\d)"\] = (\d+)', leaf)) == {str(k): str(370 + k) for k in range(10)}
