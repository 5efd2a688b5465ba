"""Type descriptors (ext/runtime/types.h) against independent oracles.

The C API is driven by tests/c/types_probe.c, linked against the objects of
`make build`.  Expected values come from the fixture's Go source
(corefiles/src/leaky/main.go), from GDB's view of the DWARF, from readelf's
dump of DW_AT_go_runtime_type, from the symbol table, and from facts.json,
which the fixture wrote with reflect and unsafe.Sizeof.  Never from goheap.
"""
import functools
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

import corpus
import helpers

REPO = helpers.REPO
SRC = REPO / "corefiles" / "src" / "leaky" / "main.go"
ERR_FAULT, ERR_FORMAT, ERR_MISSING, ERR_UNSUPPORTED = 4, 3, 7, 5

# The fixture's globals and their Go types as reflect prints them, from the
# var block of main.go ([]byte prints as []uint8).
GLOBALS = {
    "main.cache": "map[string]interface {}",
    "main.index": "map[string]map[string]map[string]int",
    "main.sessions": "map[int64]*main.Session",
    "main.registry": "sync.Map",
    "main.holderA": "main.holder",
    "main.holderB": "*main.holder",
    "main.holderC": "struct { label string; m map[string]*main.Record }",
    "main.root": "interface {}",
    "main.list": "*main.Node",
    "main.noise": "*main.Noise",
    "main.neverSent": "[]chan int",
    "main.fullChan": "chan []uint8",
    "main.tickerQuit": "chan struct {}",
    "main.lockedMu": "sync.Mutex",
    "main.setupReport": "chan main.goroutineInfo",
    "main.readyMsg": "[]uint8",
    "main.factsFile": "*os.File",
    "main.dumpFile": "*os.File",
    "main.readyFile": "*os.File",
    "main.facts": "*main.Facts",
    "main.check": "runtime.MemStats",
}

# Map types the fixture declares: key and value as written in the source.
MAPS = {
    "map[string]interface {}": ("string", "interface {}"),
    "map[string]map[string]map[string]int": ("string", "map[string]map[string]int"),
    "map[string]map[string]int": ("string", "map[string]int"),
    "map[string]int": ("string", "int"),
    "map[int64]*main.Session": ("int64", "*main.Session"),
    "map[string]*main.Record": ("string", "*main.Record"),
}


def dwarf_cases():
    return [c for c in corpus.supported_cases() if not c["stripped"]]


def ids(cs):
    return [c["name"] for c in cs]


@pytest.fixture(scope="session")
def probe():
    """Links the probe against build/<layer>/*.o, or build/asan/<layer>/*.o with
    the sanitizers when the suite runs against the ASan build (make test-asan)."""
    asan = helpers.GOHEAP.parent.name == "asan"
    base = REPO / "build" / ("asan" if asan else "")
    flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"] if asan else []
    objs = []
    for layer in ("util", "target", "binary", "runtime", "heap", "output"):
        objs += sorted(str(p) for p in (base / layer).glob("*.o"))
    assert objs, "build goheap first (make build)"
    out = base / "types_probe"
    tmp = base / ("types_probe.%d" % os.getpid())  # parallel test workers: build apart, rename atomically
    src = REPO / "tests" / "c" / "types_probe.c"
    subprocess.run(["gcc", "-O1", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"] + flags +
                   ["-o", str(tmp), str(src)] + objs + ["-ldw", "-lelf", "-lbfd-multiarch"], check=True)
    os.replace(tmp, out)
    return out


def run_probe(probe, paths, queries, exe=None, no_dwarf_names=False):
    env = dict(os.environ)
    if no_dwarf_names:
        env["GH_PROBE_NO_DWARF_NAMES"] = "1"
    p = subprocess.run([str(probe), paths["core"], str(exe or paths["exe"])] + list(queries),
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode in (0, 1), "probe crashed (%d): %s" % (p.returncode, p.stderr[-2000:])
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr[-4000:]
    out = [json.loads(line) for line in p.stdout.splitlines()]
    if p.returncode == 1:
        return out[0]
    assert len(out) == len(queries), p.stdout
    return {q: r for q, r in zip(queries, out)}


def case_paths(case):
    return corpus.materialize(case)


def swiss(case):
    return int(case["go"].split(".")[1]) >= 24 and "noswissmap" not in case.get("goexperiment", "")


# ---- independent oracles ------------------------------------------------

@functools.lru_cache(maxsize=None)
def symbol(exe, name):
    out = subprocess.run(["nm", exe], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] == name:
            return int(f[0], 16)
    return None


@functools.lru_cache(maxsize=None)
def dwarf_top(exe):
    """Top-level DIEs from readelf: {offset: {"tag", "name", "type", "rt"}} (rt: DW_AT_go_runtime_type)."""
    out = subprocess.run(["readelf", "--debug-dump=info", "--dwarf-depth=2", exe], capture_output=True,
                         text=True, check=True).stdout
    dies, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"\s*<(\d+)><([0-9a-f]+)>: Abbrev Number: \d+ \((DW_TAG_\w+)\)", line)
        if m:
            cur = {"tag": m.group(3)} if m.group(1) == "1" else None
            if cur is not None:
                dies[int(m.group(2), 16)] = cur
            continue
        if cur is None:
            continue
        m = re.search(r"DW_AT_name\s*:\s*(?:\(indirect string, offset: 0x[0-9a-f]+\): )?(.*)$", line)
        if m:
            cur["name"] = m.group(1).strip()
        m = re.search(r"DW_AT_type\s*:\s*<0x([0-9a-f]+)>", line)
        if m:
            cur["type"] = int(m.group(1), 16)
        m = re.search(r"(?:Unknown AT value: 2904|DW_AT_go_runtime_type)\s*:\s*(0x[0-9a-f]+|\d+)", line)
        if m:
            cur["rt"] = int(m.group(1), 0)
    return dies


def dwarf_global_rt(exe, var):
    """DW_AT_go_runtime_type of a global's type (through same-named typedefs); 0 if none."""
    dies = dwarf_top(exe)
    var_die = next((d for d in dies.values() if d["tag"] == "DW_TAG_variable" and d.get("name") == var), None)
    assert var_die, "no DWARF variable %s" % var
    d = dies.get(var_die.get("type"))
    name = d and d.get("name")
    while d:
        if d.get("rt"):
            return d["rt"]
        nxt = dies.get(d.get("type")) if d["tag"] == "DW_TAG_typedef" else None
        d = nxt if nxt and nxt.get("name") == name else None
    return 0


@functools.lru_cache(maxsize=None)
def gdb_structs(arch, exe, names):
    """GDB's view of DWARF structs: {name: {"size", "fields": [[name, offset, size, DWARF type name]]}}."""
    script = (
        "import gdb, json\n"
        "out = {}\n"
        "for n in %r:\n"
        "    try:\n"
        "        t = gdb.lookup_type(n).strip_typedefs()\n"
        "    except gdb.error:\n"
        "        continue\n"
        "    out[n] = {'size': t.sizeof, 'fields': [[f.name, f.bitpos // 8, f.type.sizeof, f.type.name]\n"
        "                                          for f in t.fields()]}\n"
        "print('GH-TYPES-JSON ' + json.dumps(out))\n" % (list(names),))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    try:
        p = subprocess.run([helpers.gdb_for(arch), "-nx", "-batch", "-x", f.name, exe], capture_output=True,
                           text=True, timeout=300)
    finally:
        os.unlink(f.name)
    for line in p.stdout.splitlines():
        if line.startswith("GH-TYPES-JSON "):
            return json.loads(line[len("GH-TYPES-JSON "):])
    raise AssertionError("gdb gave no answer: " + p.stdout[-2000:] + p.stderr[-2000:])


def source_structs():
    """Named struct types declared in the fixture's source."""
    return sorted("main." + m for m in re.findall(r"^type (\w+) struct", SRC.read_text(), re.M))


def fact_types(case):
    out = {}
    for p in case["facts"]["patterns"].values():
        for s in p["samples"]:
            out.setdefault(s["type"], s)
    return out


# ---- tests --------------------------------------------------------------

def test_globals_are_in_the_fixture_source():
    src = SRC.read_text()
    for var in GLOBALS:
        assert re.search(r"\b%s\b" % re.escape(var.split(".", 1)[1]), src), var


@pytest.mark.parametrize("kase", dwarf_cases(), ids=ids(dwarf_cases()))
def test_global_types(probe, kase):
    case = kase
    paths = case_paths(case)
    res = run_probe(probe, paths, ["global:" + v for v in GLOBALS])
    types_start = symbol(paths["exe"], "runtime.types")
    assert types_start
    for var, want in GLOBALS.items():
        r = res["global:" + var]
        rt = dwarf_global_rt(paths["exe"], var)
        got = int(r["descriptor"], 16)
        if not rt:
            # The linker kept no descriptor for the type (nothing converts it
            # to an interface): DWARF says 0 and so must goheap.
            assert got == 0, (var, r)
            continue
        assert got == types_start + rt, (var, r)
        assert "error" not in r, (var, r)
        assert r["type"]["name"] == want, var
    # The map globals always have descriptors (make() needs them).
    for var in ("main.cache", "main.index", "main.sessions"):
        assert res["global:" + var]["type"]["name"] == GLOBALS[var]


@pytest.mark.parametrize("kase", dwarf_cases(), ids=ids(dwarf_cases()))
def test_struct_layouts_match_dwarf(probe, kase):
    case = kase
    paths = case_paths(case)
    names = tuple(source_structs() + ["bytes.Buffer", "os.File", "runtime.MemStats", "sync.Map"])
    gdb = gdb_structs(case["goarch"], paths["exe"], names)
    res = run_probe(probe, paths, ["name:" + n for n in names])
    checked = 0
    for n in names:
        t = res["name:" + n]["type"]
        if t is None:
            continue  # no descriptor in the binary (never in an interface, map or heap header)
        assert n in gdb, n
        g = gdb[n]
        assert t["name"] == n and t["kind"] == "struct"
        assert t["size"] == g["size"], n
        got = [[f["name"], f["offset"], f["size"]] for f in t["fields"]]
        assert got == [f[:3] for f in g["fields"]], n
        for f, gf in zip(t["fields"], g["fields"]):
            # The DWARF type's own name (GDB's Type.name) is the Go name,
            # except for maps, whose member type is the runtime's *hash<..>.
            # DWARF qualifies by import path, the runtime by package name.
            if gf[3] and "<" not in gf[3]:
                assert f["type"] == re.sub(r"(?:[\w.-]+/)+", "", gf[3]), (n, f, gf)
        checked += 1
    # Every type the fixture plants on the heap has a descriptor.
    for n in ("main.Payload", "main.Session", "main.Record", "main.holder", "main.RegEntry", "main.Outer",
              "main.Mid", "main.Leaf", "main.Node", "main.Noise", "bytes.Buffer"):
        assert res["name:" + n]["type"], n
    assert checked >= 11


@pytest.mark.parametrize("kase", dwarf_cases(), ids=ids(dwarf_cases()))
def test_cycle_and_pointer_elem(probe, kase):
    """type Node struct { Next *Node; ... }: decoding ends and the cycle closes."""
    case = kase
    res = run_probe(probe, case_paths(case), ["name:main.Node", "name:*main.Node"])
    node, ptr = res["name:main.Node"]["type"], res["name:*main.Node"]["type"]
    assert node["fields"][0]["name"] == "Next" and node["fields"][0]["type"] == "*main.Node"
    assert ptr["kind"] == "ptr" and ptr["elem"] == "main.Node" and ptr["direct_iface"]
    assert not node["direct_iface"]


@pytest.mark.parametrize("kase", dwarf_cases(), ids=ids(dwarf_cases()))
def test_map_types(probe, kase):
    case = kase
    paths = case_paths(case)
    res = run_probe(probe, paths, ["name:" + n for n in MAPS] + ["name:" + k for k, _ in MAPS.values()] +
                    ["name:" + v for _, v in MAPS.values()])
    for name, (key, elem) in MAPS.items():
        t = res["name:" + name]["type"]
        assert t, name
        assert (t["kind"], t["key"], t["elem"], t["size"], t["direct_iface"]) == ("map", key, elem, 8, True)
        ks, vs = res["name:" + key]["type"]["size"], res["name:" + elem]["type"]["size"]
        assert t["map_swiss"] == swiss(case), name
        if t["map_swiss"]:
            # A group: 8 control bytes, then 8 slots (runtime/internal maps).
            assert t["map_bucket"] == "map.group[%s]%s" % (key, elem)
            assert t["map_groupsize"] == t["map_bucket_size"]
            assert t["map_keysoff"] == 8
            assert t["map_keysoff"] + 7 * t["map_keystride"] + ks <= t["map_groupsize"]
            assert t["map_elemsoff"] + 7 * t["map_elemstride"] + vs <= t["map_groupsize"]
            assert t["map_elemsoff"] >= t["map_keysoff"] + ks
        else:
            # bmap: tophash [8]uint8, 8 keys, 8 values, overflow pointer.
            assert t["map_bucket"] == "map.bucket[%s]%s" % (key, elem)
            assert (t["map_keysize"], t["map_valuesize"]) == (ks, vs)
            assert t["map_bucketsize"] == t["map_bucket_size"] == 8 + 8 * ks + 8 * vs + 8


@pytest.mark.parametrize("no_dwarf_names", [False, True], ids=["any", "typelinks"])
@pytest.mark.parametrize("kase", dwarf_cases(), ids=ids(dwarf_cases()))
def test_fact_types_resolve_by_name(probe, kase, no_dwarf_names):
    case = kase
    paths = case_paths(case)
    facts = fact_types(case)
    res = run_probe(probe, paths, ["name:" + n for n in facts], no_dwarf_names=no_dwarf_names)
    for n, s in facts.items():
        t = res["name:" + n]["type"]
        assert t and t["name"] == n, (n, res["name:" + n])
        if t["kind"] == "struct":
            assert t["size"] == s["size"], n  # unsafe.Sizeof in the fixture


@pytest.mark.parametrize("kase", [c for c in corpus.supported_cases() if c["stripped"]],
                         ids=ids([c for c in corpus.supported_cases() if c["stripped"]]))
def test_stripped(probe, kase):
    """Without DWARF: a clear error, or (with a built-in layout) the same types as the DWARF twin."""
    case = kase
    paths = case_paths(case)
    names = sorted(fact_types(case))
    res = run_probe(probe, paths, ["name:" + n for n in names] + ["global:main.cache"])
    if "open_error" in res:
        assert res["code"] == ERR_MISSING and "DWARF" in res["open_error"], res
        return
    assert res["global:main.cache"]["descriptor"] == "0x0"  # globals' types need DWARF
    twin = [c for c in dwarf_cases() if c["go"] == case["go"] and c["goarch"] == case["goarch"]
            and c.get("goexperiment", "") == case.get("goexperiment", "")]
    for n in names:
        assert res["name:" + n]["type"]["name"] == n
    if twin:
        ref = run_probe(probe, case_paths(twin[0]), ["name:" + n for n in names])
        for n in names:
            a, b = res["name:" + n]["type"], ref["name:" + n]["type"]
            for k in ("kind", "size", "ptrdata", "key", "elem", "fields", "direct_iface"):
                assert a.get(k) == b.get(k), (n, k)


@pytest.mark.parametrize("kase", dwarf_cases(), ids=ids(dwarf_cases()))
def test_not_a_descriptor(probe, kase):
    """Heap objects, misaligned and unmapped addresses are errors, not crashes."""
    case = kase
    paths = case_paths(case)
    addrs = [s["addr"] for p in case["facts"]["patterns"].values() for s in p["samples"]][:40]
    qs = ["addr:" + a for a in addrs] + ["addr:0x10", "addr:0x7", "addr:0xfffffffffffffff8"]
    res = run_probe(probe, paths, qs)
    for q in qs:
        r = res[q]
        if r.get("type"):
            # A heap word can look like a descriptor only if it names a
            # real type; none of the fixture's samples does.
            pytest.fail("%s decoded as %s" % (q, r["type"]["name"]))
        assert r["code"] in (ERR_FAULT, ERR_FORMAT, ERR_UNSUPPORTED), r


def elf_file_offset(exe, vaddr):
    data = Path(exe).read_bytes()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_vaddr <= vaddr < p_vaddr + p_filesz:
            return p_offset + vaddr - p_vaddr
    return None


@pytest.mark.parametrize("kase", dwarf_cases(), ids=ids(dwarf_cases()))
def test_corrupt_descriptors(probe, kase, tmp_path):
    """A copy of the executable with main.Payload's descriptor damaged: errors, never crashes."""
    case = kase
    paths = case_paths(case)
    good = run_probe(probe, paths, ["name:main.Payload"])["name:main.Payload"]["type"]
    addr = int(good["addr"], 16)
    g = gdb_structs(case["goarch"], paths["exe"], ("internal/abi.StructType", "internal/abi.Type"))
    st = {f[0]: f[1] for f in g["internal/abi.StructType"]["fields"]}
    ty = {f[0]: f[1] for f in g["internal/abi.Type"]["fields"]}
    off = elf_file_offset(paths["exe"], addr)
    assert off is not None
    patches = {
        "field count": (st["Fields"] + 8, struct.pack("<Q", 0x7fffffff)),
        "field array": (st["Fields"], struct.pack("<Q", 0xdead0000)),
        "name offset": (ty["Str"], struct.pack("<i", 0x7ffffff0)),
        "kind": (ty["Kind_"], b"\x1f"),
        "size": (ty["Size_"], struct.pack("<Q", 1 << 62)),
    }
    for what, (at, b) in patches.items():
        exe = tmp_path / ("leaky-" + what.replace(" ", "-"))
        shutil.copyfile(paths["exe"], exe)
        with open(exe, "r+b") as f:
            f.seek(off + at)
            f.write(b)
        res = run_probe(probe, paths, ["addr:" + good["addr"], "name:main.Payload"], exe=exe)
        if "open_error" in res:
            # The core holds these bytes itself and refuses the damaged copy.
            assert res["code"] == 6, res
            continue
        r = res["addr:" + good["addr"]]
        assert "error" in r and r["code"] in (ERR_FAULT, ERR_FORMAT), (what, r)
        assert r["count"] == 0, (what, r)  # nothing half-decoded stays interned
