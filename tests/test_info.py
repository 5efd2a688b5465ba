"""goheap info and memory reads against the fixtures' own records and against GDB."""
import subprocess

import pytest

import corpus
import helpers
from helpers import run_json, target_args


def test_version_and_arch(case, paths):
    info = run_json(target_args(case, paths) + ["info"])
    facts = case["facts"]
    # runtime.Version() as the program printed it; buildinfo adds " X:..." for experiments.
    assert info["go"]["version"].split()[0].split("-X:")[0] == facts["go_version"].split()[0].split("-X:")[0]
    assert info["go"]["version"] == facts["go_version"]
    assert info["target"]["arch"] == facts["goarch"] == case["goarch"]
    assert info["go"]["goarch"] == facts["goarch"]
    assert info["executable"]["matches_target"] is True
    assert info["executable"]["dwarf"] is (not case["stripped"])
    if case["stripped"]:
        assert info["executable"]["symbols"] == 0
        assert info["runtime_layout"]["source"].startswith("built-in table go%s/%s" % (case["go"], case["goarch"]))
        assert info["runtime_layout"]["mheap_from"].startswith("scan of")
    else:
        # The layout came from DWARF: the structs every later layer reads must be there.
        ents = {e["name"]: e for e in info["runtime_layout"]["entries"]}
        for name in ("mheap", "mspan", "heapArena", "moduledata", "g", "m"):
            assert ents[name]["size"], name
        assert ents["mheap_"]["value"] is not None


def twin(case):
    """The DWARF build of a stripped case (same toolchain, arch and experiments)."""
    name = case["name"].replace("-stripped", "")
    for c in corpus.cases():
        if c["name"] == name:
            return c
    pytest.skip("no DWARF twin for " + case["name"])


def test_stripped_mheap_scan_finds_the_symbol(case, paths):
    """Without symbols goheap finds runtime.mheap_ by scanning .bss; the DWARF twin's symbol table
    (the linker's own record) says where it is."""
    if not case["stripped"]:
        pytest.skip("only stripped executables need the scan")
    t = twin(case)
    tp = corpus.materialize(t)
    sym = [l.split() for l in subprocess.run(["nm", tp["exe"]], capture_output=True, text=True, check=True)
           .stdout.splitlines() if l.endswith(" runtime.mheap_")]
    assert len(sym) == 1
    info = run_json(target_args(case, paths) + ["info"])
    assert int(info["runtime_layout"]["mheap"], 16) == int(sym[0][0], 16)


def test_builtin_tables_are_current():
    """The built-in layouts are what goheap reads from the DWARF builds of the corpus."""
    p = subprocess.run([str(helpers.REPO / "scripts" / "gen-layout-tables"), "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_threads_match_gdb(case, paths, tmp_path):
    if helpers.SKIP_GDB:
        pytest.skip("GDB checks skipped in this run")
    info = run_json(target_args(case, paths) + ["info"])
    oracle = helpers.gdb_oracle(case["goarch"], paths["exe"], paths["core"], tmp=tmp_path)
    ours = sorted((t["tid"], int(t["pc"], 16)) for t in info["threads"])
    gdbs = sorted((t, pc) for t, pc in oracle["threads"])
    assert len(ours) == len(gdbs) > 0
    assert ours == gdbs
    # Every thread stopped in Go code here (static Go binaries): pclntab names each PC.
    for t in info["threads"]:
        assert t["function"] != "(not Go code)", t


def sample_addresses(paths, n=1000):
    """n addresses spread over every loadable segment of the core and of the executable,
    chosen from the ELF headers (not from goheap's own view of the mappings).  Returns
    (addresses, set of addresses in PROT_NONE core segments without contents)."""
    core = helpers.elf_loads(paths["core"])
    none = [(v, m) for v, m, f, fl in core if m and fl == 0 and f == 0]
    segs = [(v, m) for v, m, f, fl in core if m and not (fl == 0 and f == 0)] + \
           [(v, m) for v, m, f, fl in helpers.elf_loads(paths["exe"]) if m]
    per = max(1, -(-n // len(segs)))
    addrs, noaccess = set(), set()
    for v, m in segs:
        for k in range(per):
            a = v + (m * k) // per
            addrs.add(a - a % 8)
        addrs.add(v + m - 8)  # last word
    for v, m in none:
        noaccess |= {v, v + (m // 2) - (m // 2) % 8, v + m - 8}
    return sorted(addrs | noaccess), noaccess


def test_memory_matches_gdb(case, paths, tmp_path):
    if helpers.SKIP_GDB:
        pytest.skip("GDB checks skipped in this run")
    addrs, noaccess = sample_addresses(paths)
    assert len(addrs) >= 1000
    res = run_json(target_args(case, paths) + ["memory", "--size", "8", "--keep-going"] +
                   ["0x%x" % a for a in addrs])
    ours = {int(r["address"], 16): (None if r["bytes"] is None else [int(b, 16) for b in r["bytes"].split()])
            for r in res["memory"]}
    oracle = helpers.gdb_oracle(case["goarch"], paths["exe"], paths["core"], addrs=addrs, size=8, tmp=tmp_path)
    gdbs = {int(a, 16): v for a, v in oracle["memory"].items()}
    # Reservations the process could not read (PROT_NONE, so not dumped): GDB shows zeros,
    # goheap reports them unreadable, as the process itself would have.
    for a in noaccess:
        assert ours[a] is None, hex(a)
        assert gdbs[a] in (None, [0] * 8), hex(a)
    # Bytes the core does not hold, in an executable segment but in no section of it (ELF and
    # program headers, padding): GDB falls back to executable *sections* only and shows zeros; the
    # process saw the file's bytes, which goheap reports: check those against the file itself.
    core_has = [(v, f) for v, m, f, fl in helpers.elf_loads(paths["core"]) if f]
    secs = [(sa, sz) for sa, sz, fl, ty in helpers.elf_sections(paths["exe"]) if fl & 2 and ty != 8 and sz]
    blind = {a for a in addrs if a not in noaccess
             and not any(v <= a and a + 8 <= v + f for v, f in core_has)
             and not any(sa <= a and a + 8 <= sa + sz for sa, sz in secs)
             and helpers.exe_bytes(paths["exe"], a, 8) is not None}
    for a in blind:
        assert ours[a] == helpers.exe_bytes(paths["exe"], a, 8), hex(a)
        assert gdbs[a] in (None, [0] * 8) or gdbs[a] == ours[a], hex(a)
    checked = [a for a in addrs if a not in noaccess and a not in blind]
    readable = [a for a in checked if gdbs[a] is not None]
    assert len(readable) >= 900, "GDB could read only %d of %d sampled addresses" % (len(readable), len(checked))
    diffs = [(hex(a), ours[a], gdbs[a]) for a in checked if ours[a] != gdbs[a]]
    assert not diffs, "first differences (addr, goheap, gdb): %s" % diffs[:5]
