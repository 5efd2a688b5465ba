"""Retention: GC roots, the object graph, dominators and retained sizes, and `why`, checked against
the heap dump, the fixture's own record of what it built, and an independent dominator check."""
import json
import os
import re
import shutil
import subprocess

import pytest

import corpus
import helpers
from conftest import roots_freed
from helpers import root_of, run, run_json, target_args, twin_symbols


def root_name(row_name, row_addr, syms):
    """A root row ("main.cache (global)" or "bss 0x5aa640 (global)") as a global's name."""
    name = row_name.split(" (")[0]
    if syms is None:
        return name
    return helpers.symbol_at(syms, int(row_addr, 16)) or name


def global_patterns(case):
    """Planted patterns held by globals, with the set of roots their samples start from."""
    for name, p in case["facts"]["patterns"].items():
        if name == "goroutines":
            continue  # held by stacks and timers: checked by the goroutine layer
        yield name, p, sorted({root_of(s["path"]) for s in p["samples"]})


def test_dominators_free_exactly_the_retained_set(case, paths, tmp_path, domcheck):
    """For 1,000 sampled objects, removing the object and recomputing reachability frees exactly
    the bytes goheap says it retains (an implementation sharing no code with goheap's)."""
    out = tmp_path / "graph.txt"
    run_json(target_args(case, paths) + ["graph", "--output", str(out)])
    p = subprocess.run([str(domcheck), str(out), "1000", "1"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"checked (\d+)", p.stdout).group(1) == "1000", p.stdout


def test_roots_retain_what_removing_them_frees(case, paths, tmp_path, domcheck):
    """What `roots` says each root retains (labelled without the dominator tree) is what removing
    that root and recomputing reachability frees, for every root (domcheck --roots: an
    implementation sharing no code with goheap's); the dominator tree's figures for the roots in the
    graph export hold the same check, and `top --by root` counts the same reachable bytes."""
    out = tmp_path / "graph.txt"
    run_json(target_args(case, paths) + ["graph", "--output", str(out)])
    p, freed = roots_freed(domcheck, out)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = run_json(target_args(case, paths) + ["roots", "-n", "0"])["roots"]
    assert freed and len(rows) == len(freed)
    assert sorted(r["retains"] for r in rows) == freed
    reach = sum(int(line.split()[1]) for line in open(out)
                if line[0].isdigit() and line.split()[4] == "1")
    assert run_json(target_args(case, paths) + ["top", "--by", "root", "-n", "1"])["reachable_bytes"] == reach


def test_heap_dump_edges_are_graph_edges(case, paths, tmp_path):
    """Every pointer field of every heap-dump object that points at a live object is an edge of
    goheap's graph, and everything the dump's objects reach from the globals is reachable."""
    if case["stripped"]:
        pytest.skip("compares against the DWARF twin's run of the same check")
    out = tmp_path / "graph.txt"
    run_json(target_args(case, paths) + ["graph", "--output", str(out)])
    objs = run_json(target_args(case, paths) + ["objects", "--limit", "0"])["objects"]
    nroots, edges = 0, set()
    for line in open(out):
        if line.startswith("V "):
            nroots = int(line.split()[2])
        elif line.startswith("E "):
            u, v = map(int, line.split()[1:])
            edges.add((u, v))
    slots = sorted((int(o["slot"], 16), o["slot_size"], i) for i, o in enumerate(objs))
    starts = [s[0] for s in slots]
    import bisect

    def vertex_of(addr):
        k = bisect.bisect_right(starts, addr) - 1
        if k >= 0 and addr < slots[k][0] + slots[k][1]:
            return 1 + nroots + slots[k][2]
        return None

    dump = corpus.heapdump_of(case)
    missing, changed, total = [], 0, 0
    with open(paths["core"], "rb") as core:
        for d in dump.live_objects():
            u = vertex_of(d.addr)
            data = d.contents(dump)
            for off in d.ptr_offsets:
                val = int.from_bytes(data[off:off + 8], "little")
                v = vertex_of(val) if val else None
                if v is None:
                    continue
                total += 1
                if (u, v) in edges:
                    continue
                # The graph describes the core: a word the process changed after writing the dump
                # (a gcore snapshot of a live process) is not an edge any more.
                core.seek(helpers.file_offset(paths["core"], d.addr + off))
                if int.from_bytes(core.read(8), "little") != val:
                    changed += 1
                else:
                    missing.append((hex(d.addr), off, hex(val)))
    assert not missing, "heap-dump pointers that are not graph edges (object, offset, value): %s" % missing[:5]
    # Nothing is allocated after the dump, but the runtime still runs (the fixture reads MemStats once
    # more, then signals itself; a gcore'd process keeps running): its own heap objects such as the Ps
    # change a few words.
    assert changed <= max(2, total // 1000), "%d of %d pointer words changed after the dump" % (changed, total)


def test_why_names_the_planted_holder_and_key(case, paths):
    samples = [(n, s) for n, p, roots in global_patterns(case) for s in p["samples"]]
    syms = twin_symbols(case)
    bad = []
    answers = run_json(target_args(case, paths) + ["why", "--all"] + [s["addr"] for n, s in samples])["why"]
    assert len(answers) == len(samples)
    for (name, s), res in zip(samples, answers):
        assert res["status"] == "reachable", (name, s, res)
        roots = [root_name(pth["root"], pth["hops"][0]["address"], syms) for pth in res["paths"]]
        if root_of(s["path"]) not in roots:
            bad.append((s["path"], roots))
            continue
        if s.get("key") and not case["stripped"]:  # map keys need the key type: DWARF builds
            pth = res["paths"][roots.index(root_of(s["path"]))]
            vias = " ".join(h["via"] for h in pth["hops"])
            # Every map key on the fixture's own path, as goheap prints keys: strings quoted,
            # numbers bare (main.index["region-3"]["host-7"], main.sessions[25000]).
            for key in re.findall(r'\[("[^"]*"|\d+)\]', s["path"]):
                if "map value [%s]" % key not in vias and "map key [%s]" % key not in vias:
                    bad.append((s["path"], key, vias))
    assert not bad, "paths that miss the planted holder or map key: %s" % bad[:5]


def test_top_by_root_matches_bytes_built(case, paths):
    """The roots holding each planted pattern retain what the fixture measured building it (its
    HeapAlloc growth across GCs), within 1%.  A pattern held by several roots (the shared map) is
    retained by the group of them, not by any one."""
    syms = twin_symbols(case)
    roots_json = run_json(target_args(case, paths) + ["roots", "-n", "0"])["roots"]
    top = {}
    for r in roots_json:
        n = root_name(r["name"], r["address"], syms)
        top[n] = top.get(n, 0) + r["retains"]
    wrong = []
    for name, p, roots in global_patterns(case):
        if name == "shared_map":
            if syms is None:
                regex = "^main\\.holder[ABC]$"
            else:  # stripped: the holders' root words by address
                regex = "^(%s)$" % "|".join(re.escape(r["name"].split(" (")[0]) for r in roots_json
                                            if root_name(r["name"], r["address"], syms) in
                                            ("main.holderA", "main.holderB", "main.holderC"))
            grp = run_json(target_args(case, paths) + ["roots", "--group", regex, "-n", "1"])
            got = grp["group_retains"]
            assert sorted({root_name(m, "0x" + m.split("0x")[-1] if syms else "0x0", syms)
                           for m in grp["group_members"]}) == ["main.holderA", "main.holderB", "main.holderC"]
            assert top.get("main.holderA", 0) < 0.01 * got  # shared: no single holder retains it
        else:
            got = sum(top.get(r, 0) for r in roots)
        want = p["retained_bytes"]
        if abs(got - want) > 0.01 * want:
            wrong.append((name, roots, want, got))
    assert not wrong, "retained sizes off by more than 1%% (pattern, roots, built, goheap): %s" % wrong


def test_why_special_cases(case, paths, tmp_path):
    base = target_args(case, paths)
    # An address that is not in the heap: a global.
    info = run_json(base + ["roots", "-n", "1"])
    p = run(base + ["why", info["roots"][0]["address"]])
    assert p.returncode == 1 and "outside the Go heap" in p.stderr, p.stderr
    # A goroutine's stack: named as such (the goroutine layer's own list says where stacks are).
    gid = run_json(base + ["goroutines"])["goroutines"][-1]["id"]
    g = run_json(base + ["goroutine", str(gid), "bt"])
    mid = (int(g["stack_lo"], 16) + int(g["stack_hi"], 16)) // 2
    p = run(base + ["why", hex(mid)])
    assert p.returncode == 1 and "in the stack of goroutine %s " % gid in p.stderr, p.stderr
    # An object in a cycle: a path still comes out, finite.
    out = tmp_path / "graph.txt"
    run_json(base + ["graph", "--output", str(out)])
    nroots, succ = 0, {}
    for line in open(out):
        if line.startswith("V "):
            nroots = int(line.split()[2])
        elif line.startswith("E "):
            u, v = map(int, line.split()[1:])
            succ.setdefault(u, set()).add(v)
    cyc = next((u for u, vs in succ.items() if u > nroots for v in vs if v > nroots and u in succ.get(v, ())), None)
    if cyc is not None:
        objs = run_json(base + ["objects", "--limit", "0"])["objects"]
        res = run_json(base + ["why", objs[cyc - 1 - nroots]["address"]])["why"][0]
        assert res["status"] == "reachable" and res["paths"], res
        assert all(len(pth["hops"]) <= 64 for pth in res["paths"])


def test_why_through_garbage(case, paths, tmp_path):
    """Cut main.root in a copy of the core: its chain becomes unreachable, and so does the leaf
    object that only that chain reached."""
    samples = case["facts"]["patterns"]["root_chain"]["samples"]
    leaf = [s for s in samples if s["type"] == "main.Leaf"][0]
    base = target_args(case, paths)
    syms = twin_symbols(case)
    root = [r for r in run_json(base + ["roots", "-n", "0"])["roots"]
            if root_name(r["name"], r["address"], syms) == "main.root"][0]
    core = tmp_path / "core"
    shutil.copyfile(paths["core"], core)
    with open(core, "r+b") as f:
        # main.root is an interface{}: with DWARF the root is the variable (type and data words);
        # stripped, the root is its one pointer word.
        f.seek(helpers.file_offset(str(core), int(root["address"], 16)))
        f.write(bytes(8 if case["stripped"] else 16))
    res = run_json(["--core", core, "--exe", paths["exe"], "why", leaf["addr"]])["why"][0]
    assert res["status"].startswith("unreachable"), res
    assert res["paths"] == []


def test_dump_roots_and_reachability(case, paths, tmp_path):
    """Every root the runtime's heap dump lists is a goheap root (its finalizers by name; its data, bss
    and stack-frame pointers as edges from goheap's roots), and every object reachable in the dump's own
    graph from its roots is reachable in goheap's."""
    import bisect
    base = target_args(case, paths)
    out = tmp_path / "graph.txt"
    run_json(base + ["graph", "--output", str(out)])
    objs = run_json(base + ["objects", "--limit", "0"])["objects"]
    roots = run_json(base + ["roots", "-n", "0"])["roots"]
    nroots, reach, root_targets = 0, {}, set()
    for line in open(out):
        f = line.split()
        if f[0] == "V":
            nroots = int(f[2])
        elif f[0] == "E":
            u, v = int(f[1]), int(f[2])
            if 1 <= u <= nroots:
                root_targets.add(v)
        elif not line.startswith("#"):
            reach[int(f[0])] = f[4] == "1"
    slots = sorted((int(o["slot"], 16), o["slot_size"], i) for i, o in enumerate(objs))
    starts = [s[0] for s in slots]

    def vertex_of(addr):
        k = bisect.bisect_right(starts, addr) - 1
        return 1 + nroots + slots[k][2] if k >= 0 and addr < slots[k][0] + slots[k][1] else None

    dump = corpus.heapdump_of(case)
    # Finalizers: one goheap root per object with a finalizer.
    names = {r["name"] for r in roots}
    for fz in dump.finalizers:
        assert "finalizer of 0x%x" % fz.obj in names, "finalizer of 0x%x missing" % fz.obj
    # Root pointers the dump lists: data and bss words, and every stack frame's pointer words.
    seeds, changed = [], 0
    for seg in (dump.data, dump.bss):
        raw = bytes(dump.raw[seg.data_off:seg.data_off + seg.size])
        seeds += [int.from_bytes(raw[o:o + 8], "little") for o in seg.ptr_offsets]
    # Frames of the goroutine that wrote the dump: it ran on to the capture point, so its frames in the
    # core are at other PCs, with other live slots. Every other goroutine was parked in between.
    writer = {fr.goroutine for fr in dump.frames if fr.name == "runtime/debug.WriteHeapDump"}
    for fr in dump.frames:
        if fr.goroutine in writer:
            continue
        raw = bytes(dump.raw[fr.data_off:fr.data_off + fr.size])
        seeds += [int.from_bytes(raw[o:o + 8], "little") for o in fr.ptr_offsets]
    for fz in dump.finalizers:
        seeds.append(fz.fn)
    seed_vs = {vertex_of(a) for a in seeds if a} - {None}
    # The dump's own graph: objects and their pointer fields as it wrote them.
    by_addr = {d.addr: d for d in dump.live_objects()}
    seen, stack = set(seed_vs), list(seed_vs)
    live_addrs = {1 + nroots + i: int(o["slot"], 16) for i, o in enumerate(objs)}
    for fz in dump.finalizers:  # the GC scans a finalizer's object without keeping it
        d = by_addr.get(fz.obj)
        if d:
            data = d.contents(dump)
            stack += [v for v in (vertex_of(int.from_bytes(data[o:o + 8], "little")) for o in d.ptr_offsets) if v]
    while stack:
        v = stack.pop()
        d = by_addr.get(live_addrs.get(v))
        if d is None:
            continue
        data = d.contents(dump)
        for o in d.ptr_offsets:
            w = vertex_of(int.from_bytes(data[o:o + 8], "little"))
            if w is not None and w not in seen:
                seen.add(w)
                stack.append(w)
    not_reached = sorted(v for v in seen if not reach.get(v))
    if case["capture"] == "gcore":
        # A live process may have dropped references after writing its dump.
        assert len(not_reached) <= max(2, len(seen) // 1000), len(not_reached)
    else:
        assert not not_reached, "reachable in the heap dump, not in goheap: %s" % [
            objs[v - 1 - nroots]["address"] for v in not_reached[:5]]
    # The dump's root pointers are edges of goheap's roots (crash cores: nothing moved since the dump).
    if case["capture"] != "gcore":
        missing = [v for v in seed_vs if v not in root_targets]
        assert not missing, "root pointers of the dump that no goheap root holds: %s" % [
            objs[v - 1 - nroots]["address"] for v in missing[:5]]


def test_goroutines_retain_what_they_hold(case, paths):
    """Each planted goroutine retains at least the buffers the fixture recorded it holding, and `why`
    on each buffer starts at that goroutine's stack, naming the frame's function."""
    rows = run_json(target_args(case, paths) + ["top", "--by", "goroutine", "-n", "0"])["top"]
    retained = {}
    for r in rows:
        m = re.match(r"goroutine (\d+) ", r["name"])
        if m:
            retained[int(m.group(1))] = r["retained"]
    planted = [g for g in case["facts"]["goroutines"]["list"] if g.get("planted") and g.get("holds")]
    assert planted
    held = [(g, a) for g in planted for a in g["holds"]]
    answers = run_json(target_args(case, paths) + ["why"] + [a for g, a in held])["why"]
    for g in planted:
        assert retained.get(g["id"], 0) >= g["holds_bytes"], (g, retained.get(g["id"]))
    for (g, a), res in zip(held, answers):
        roots = [p["root"] for p in res["paths"]]
        assert any(r.startswith("goroutine %d [" % g["id"]) for r in roots), (g, a, roots)
        pth = [p for p in res["paths"] if p["root"].startswith("goroutine %d [" % g["id"])][0]
        assert pth["hops"][1]["via"].startswith(g["start_function"] + " at "), pth["hops"][1]


@pytest.mark.skipif(helpers.SKIP_GDB, reason="GOHEAP_SKIP_GDB")
def test_register_roots(case, paths):
    """The registers of threads running a goroutine are conservative roots: each names a thread GDB
    lists and a goroutine the fixture saw running, and the value GDB reads in that register of that
    thread lies inside an object of the runtime's own heap dump."""
    import bisect
    import heapdump
    rows = run_json(target_args(case, paths) + ["roots", "--kind", "register", "-n", "0"])["roots"]
    running = {g["id"] for g in case["facts"]["goroutines"]["list"] if g["wait_reason"] == "running"}
    if case["mode"] == "crash":  # main crashes itself: it runs, and Go keeps its g in a register
        assert rows, "no register roots in a crash core"
    objs = sorted((o.addr, o.size) for o in heapdump.parse_file(paths["heapdump"]).live_objects())
    values = {}
    for r in rows:
        m = re.match(r"thread (\d+) \(goroutine (\d+)\) (\w+)$", r["name"])
        assert m and r["kind"] == "register" and r["points_to"] == 1, r
        tid, goid, reg = int(m.group(1)), int(m.group(2)), m.group(3)
        assert goid in running, (r, running)
        if reg not in values:
            out = helpers.gdb_batch(case["goarch"], paths["exe"], paths["core"],
                                    commands=["thread apply all p/x $%s" % reg])
            values[reg], lwp = {}, None
            for line in out.splitlines():
                t = re.match(r"Thread \d+ \((?:LWP|process|Thread 0x[0-9a-f]+ \(LWP) (\d+)", line)
                v = re.match(r"\$\d+ = (0x[0-9a-f]+)", line)
                if t:
                    lwp = int(t.group(1))
                elif v and lwp is not None:
                    values[reg][lwp] = int(v.group(1), 16)
                    lwp = None
        v = values[reg][tid]
        i = bisect.bisect_right(objs, (v, float("inf"))) - 1
        assert i >= 0 and objs[i][0] <= v < objs[i][0] + objs[i][1], (r, hex(v))
