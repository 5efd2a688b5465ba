"""Corrupted heap metadata in copies of a fixture core: skipped with a counted warning, or one clean
error line; never a crash, a hang or a sanitizer report (this suite also runs under ASan+UBSan)."""
import json
import random
import shutil
import struct

import pytest

import corpus
import helpers
from conftest import roots_freed
from helpers import run, run_json


def fixture(name="go1.22-amd64"):
    for c in corpus.cases():
        if c["name"] == name:
            return c, corpus.materialize(c)
    pytest.skip("fixture %s not in the corpus" % name)


file_offset = helpers.file_offset


@pytest.fixture(scope="module")
def base():
    case, paths = fixture()
    info = run_json(["--core", paths["core"], "--exe", paths["exe"], "info"])
    layout = {e["name"]: e for e in info["runtime_layout"]["entries"]}
    spans = run_json(["--core", paths["core"], "--exe", paths["exe"], "spans", "--limit", "0"])["spans"]
    return paths, layout, spans, int(info["runtime_layout"]["mheap"], 16)


def corrupt(tmp_path, paths, writes):
    """A copy of the core with (address, bytes) patched in."""
    core = tmp_path / "core"
    shutil.copyfile(paths["core"], core)
    with open(core, "r+b") as f:
        for addr, data in writes:
            f.seek(file_offset(str(core), addr))
            f.write(data)
    return core


def field(layout, name):
    e = layout[name]
    return int(e["value"].lstrip("+")), e["size"]


def stats_of(core, paths):
    p = run(["--json", "--core", core, "--exe", paths["exe"], "stats"], timeout=60)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    return p


def pick(spans, **want):
    for s in spans:
        if all(s[k] == v for k, v in want.items()) and s["objects"] > 1:
            return s
    pytest.skip("no span with %s" % want)


CASES = {
    # field: (value to write, what the span record then claims)
    "npages-huge": ("mspan.npages", 0xFFFFFFFF),
    "elemsize-zero": ("mspan.elemsize", 0),
    "elemsize-unaligned": ("mspan.elemsize", 12),  # objects are 8-aligned
    "nelems-huge": ("mspan.nelems", 0xFFFF),
    "limit-before-base": ("mspan.limit", 0x1000),
    "allocbits-garbage": ("mspan.allocBits", 0x0000DEAD0000BEEF),
}


@pytest.mark.parametrize("what", sorted(CASES))
def test_corrupt_span_field_is_skipped(tmp_path, base, what):
    paths, layout, spans, mheap = base
    name, value = CASES[what]
    s = pick(spans, pointers="span heap bits")
    off, size = field(layout, name)
    core = corrupt(tmp_path, paths, [(int(s["mspan"], 16) + off, value.to_bytes(8, "little")[:size])])
    p = stats_of(core, paths)
    assert p.returncode == 0, p.stderr
    st = json.loads(p.stdout)["heap"]
    assert st["corrupt_spans_skipped"] >= 1
    assert any("span" in w for w in json.loads(p.stdout).get("warnings", []))
    good = sum(x["objects"] for x in spans)
    assert st["objects"] == good - s["objects"]  # exactly that span's objects are gone


def test_overlapping_spans(tmp_path, base):
    paths, layout, spans, mheap = base
    # Grow one one-page span over its neighbour: the neighbour's record then overlaps it.
    for a, b in zip(spans, spans[1:]):
        if a["pages"] == 1 and int(b["base"], 16) - int(a["base"], 16) == 8192 and b["pages"] == 1:
            break
    else:
        pytest.skip("no adjacent one-page spans")
    off, size = field(layout, "mspan.npages")
    core = corrupt(tmp_path, paths, [(int(a["mspan"], 16) + off, (2).to_bytes(size, "little"))])
    p = stats_of(core, paths)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["heap"]["corrupt_spans_skipped"] >= 1


def test_garbage_span_pointers(tmp_path, base):
    """heapArena.spans entries pointing at garbage: those pages' spans are skipped."""
    paths, layout, spans, mheap = base
    info = run_json(["--core", paths["core"], "--exe", paths["exe"], "memory", "--size", "8",
                     hex(mheap + field(layout, "mheap.arenas")[0])])
    l2 = int.from_bytes(bytes.fromhex(info["memory"][0]["bytes"].replace(" ", "")), "little")
    s = spans[3]
    arena_idx = (int(s["base"], 16) - int(layout["arenaBaseOffset"]["value"], 16) if "arenaBaseOffset" in layout
                 else int(s["base"], 16) - 0xffff800000000000) % (1 << 64) // (64 << 20)
    hp = run_json(["--core", paths["core"], "--exe", paths["exe"], "memory", "--size", "8", hex(l2 + 8 * arena_idx)])
    ha = int.from_bytes(bytes.fromhex(hp["memory"][0]["bytes"].replace(" ", "")), "little")
    page = (int(s["base"], 16) % (64 << 20)) // 8192
    writes = [(ha + field(layout, "heapArena.spans")[0] + 8 * page, (0x00007FFF00001000 + k).to_bytes(8, "little"))
              for k in (0,)]
    core = corrupt(tmp_path, paths, writes)
    p = stats_of(core, paths)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["heap"]["corrupt_spans_skipped"] >= 1


def test_corrupt_arena_list_is_a_clean_error(tmp_path, base):
    paths, layout, spans, mheap = base
    off, size = field(layout, "mheap.allArenas")
    core = corrupt(tmp_path, paths, [(mheap + off + 8, (1 << 40).to_bytes(8, "little"))])  # len
    p = stats_of(core, paths)
    assert p.returncode == 1
    assert p.stderr.startswith("goheap: ") and "arena list is corrupt" in p.stderr


def test_garbage_header_type(tmp_path, base):
    """A malloc header naming no type: that object's pointer map is reported unreadable."""
    paths, layout, spans, mheap = base
    s = pick(spans, pointers="malloc headers")
    core = corrupt(tmp_path, paths, [(int(s["base"], 16), (0x0000DEAD0000BEE0).to_bytes(8, "little"))])
    p = run(["--json", "--core", core, "--exe", paths["exe"], "objects", "--limit", "0", "--pointers"], timeout=60)
    assert p.returncode == 0, p.stderr
    objs = json.loads(p.stdout)["objects"]
    bad = [o for o in objs if o["pointers"] is None]
    assert [o["slot"] for o in bad] == [s["base"]]


def test_garbage_pointer_words(tmp_path, base, domcheck):
    """200 pointer words of live objects overwritten with garbage (addresses anywhere in the heap's
    range, unaligned, into free slots and span tails, outside it, huge): every analysis exits
    cleanly, and what each root retains, labelled from the heap's words without the graph, is what
    removing that root frees in the graph built from the same words (domcheck --roots)."""
    paths, layout, spans, mheap = base
    objs = run_json(["--core", paths["core"], "--exe", paths["exe"], "objects", "--limit", "0", "--pointers"])
    slots = [int(o["slot"], 16) + off for o in objs["objects"] for off in o["pointers"]]
    lo = min(int(s["base"], 16) for s in spans)
    hi = max(int(s["base"], 16) + 8192 * s["pages"] for s in spans)
    rng = random.Random(7)
    values = [lo + rng.randrange(hi - lo) for _ in range(150)] + [hi + 8, 1, 0xDEADBEEFCAFE, 2**64 - 8] * 10
    writes = [(a, v.to_bytes(8, "little")) for a, v in zip(rng.sample(slots, len(values)), values)]
    core = corrupt(tmp_path, paths, writes)
    args = ["--json", "--core", str(core), "--exe", paths["exe"]]
    for cmd in (["top", "--by", "root"], ["top", "--by", "object", "-n", "5"], ["stats"], ["maps", "--no-owners"]):
        p = run(args + cmd, timeout=120)
        assert p.returncode == 0, (cmd, p.stderr)
        assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    out = tmp_path / "graph.txt"
    assert run(args + ["graph", "--output", str(out)], timeout=120).returncode == 0
    p, freed = roots_freed(domcheck, out)
    assert p.returncode == 0, p.stdout
    retains = sorted(r["retains"] for r in json.loads(run(args + ["roots", "-n", "0"]).stdout)["roots"])
    assert freed and retains == freed
