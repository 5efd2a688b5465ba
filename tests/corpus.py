"""Access to goheap's core-file corpus (corefiles/cases/).

Each case directory holds exe.zst, core.zst, heapdump.zst (zstd -19),
facts.json (what the fixture planted; docs/fixtures.md) and case.json (how the
case was made, sizes and sha256 of the uncompressed files).

    import corpus
    for case in corpus.cases():                 # case.json + "facts" + "dir"
        paths = corpus.materialize(case)        # {"exe", "core", "heapdump"}
        dump = corpus.heapdump_of(case)         # parsed tests/heapdump.py HeapDump

Decompressed files go to <repo>/build/corefiles/<name>/ (exe: leaky, core: core,
heap dump: heap.dump) and are reused when their sha256 matches case.json; a
small "<file>.sha256" stamp (size, mtime, sha256) avoids re-hashing unchanged
files.  Decompression uses the zstd command-line tool, writing sparse files
(the gcore cases are ~1.2 GB of mostly holes).  Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CASES_DIR = REPO / "corefiles" / "cases"
BUILD_DIR = REPO / "build" / "corefiles"

KINDS = ("exe", "core", "heapdump")
FILE_NAMES = {"exe": "leaky", "core": "core", "heapdump": "heap.dump"}
ELF_MACHINE = {"amd64": 62, "arm64": 183}
ELF_MACHINE_NAME = {62: "x86_64", 183: "aarch64"}
ET_EXEC, ET_CORE = 2, 4

# facts.json, schema 1: keys every case promises (docs/fixtures.md).
FACTS_KEYS = ("schema", "program", "go_version", "goarch", "goos", "ptr_size", "mode", "num_cpu",
              "gomaxprocs", "patterns", "goroutines", "heap_dump", "memstats_when", "settle_rounds",
              "memstats")
PATTERN_NAMES = ("noise", "cache", "index", "sessions", "registry", "shared_map", "root_chain",
                 "goroutines")
PATTERN_KEYS = ("holder", "description", "retained_bytes", "retained_objects", "counts", "samples")
SAMPLE_KEYS = ("addr", "type", "size", "holder", "path")
GOROUTINES_KEYS = ("num_goroutine", "planted_total", "planted_by_start_function",
                   "planted_by_wait_reason", "expected_wait_reason", "observed_matches_expected",
                   "user_by_start_function", "user_by_wait_reason", "main_at_capture", "list")
GOROUTINE_KEYS = ("id", "wait_reason", "start_function", "top_function", "system", "planted")
CASE_KEYS = ("schema", "name", "go", "go_version", "goos", "goarch", "elf_machine", "stripped",
             "goexperiment", "capture", "mode", "expect", "toolchain", "toolchain_package", "build",
             "run", "files", "heapdump_summary", "traceback", "created_utc")

# Strings no committed file may contain (machine identity).  The script that
# makes the corpus checks the generating machine's own paths and hostname too.
FORBIDDEN_STRINGS = (b"/work/", b"/root/", b"/home/", str(REPO).encode() + b"/")


def cases(include_unsupported: bool = True) -> list:
    """All cases, sorted by name: case.json plus "facts" and "dir"."""
    out = []
    if not CASES_DIR.is_dir():
        return out
    for d in sorted(CASES_DIR.iterdir()):
        cj = d / "case.json"
        if not cj.is_file():
            continue
        with open(cj) as f:
            c = json.load(f)
        c["dir"] = str(d)
        with open(d / "facts.json") as f:
            c["facts"] = json.load(f)
        if include_unsupported or c.get("expect") != "unsupported":
            out.append(c)
    return out


def supported_cases() -> list:
    return cases(include_unsupported=False)


def case(name: str) -> dict:
    for c in cases():
        if c["name"] == name:
            return c
    raise KeyError(name)


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for start, end in data_ranges(f.fileno()):
            # Holes read as zeros; feed them without reading the disk.
            pos = f.tell()
            if start > pos:
                _feed_zeros(h, start - pos)
            f.seek(start)
            left = end - start
            while left:
                chunk = f.read(min(left, 1 << 22))
                if not chunk:
                    break
                h.update(chunk)
                left -= len(chunk)
        size = os.fstat(f.fileno()).st_size
        if size > f.tell():
            _feed_zeros(h, size - f.tell())
    return h.hexdigest()


_ZEROS = bytes(1 << 22)


def _feed_zeros(h, n):
    while n:
        k = min(n, len(_ZEROS))
        h.update(_ZEROS[:k] if k < len(_ZEROS) else _ZEROS)
        n -= k


def data_ranges(fd):
    """[(start, end)] of the non-hole parts of a file (SEEK_DATA/SEEK_HOLE)."""
    size = os.fstat(fd).st_size
    ranges = []
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after pos
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            ranges.append((start, end))
            pos = end
    except (AttributeError, OSError):
        ranges = [(0, size)]
    os.lseek(fd, 0, os.SEEK_SET)
    return ranges


def _stamp_ok(path: Path, want_sha: str) -> bool:
    stamp = path.with_name(path.name + ".sha256")
    try:
        st = path.stat()
        size, mtime, sha = stamp.read_text().split()
    except (OSError, ValueError):
        return False
    return int(size) == st.st_size and int(mtime) == st.st_mtime_ns and sha == want_sha


def _write_stamp(path: Path, sha: str):
    st = path.stat()
    path.with_name(path.name + ".sha256").write_text("%d %d %s\n" % (st.st_size, st.st_mtime_ns, sha))


def materialize(c: dict, kinds=KINDS) -> dict:
    """Decompress a case's files under build/corefiles/<name>/; returns {kind: path}."""
    out_dir = BUILD_DIR / c["name"]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind in kinds:
        meta = c["files"][kind]
        dst = out_dir / FILE_NAMES[kind]
        want = meta["sha256"]
        if dst.is_file() and dst.stat().st_size == meta["size"]:
            if _stamp_ok(dst, want):
                paths[kind] = str(dst)
                continue
            if sha256_file(dst) == want:
                _write_stamp(dst, want)
                paths[kind] = str(dst)
                continue
        src = Path(c["dir"]) / meta["file"]
        zstd = shutil.which("zstd")
        if zstd is None:
            raise RuntimeError("the zstd command-line tool is needed to decompress %s" % src)
        tmp = dst.with_name(dst.name + ".tmp")
        subprocess.run([zstd, "-d", "-q", "-f", "--sparse", str(src), "-o", str(tmp)], check=True)
        got = sha256_file(tmp)
        if got != want:
            tmp.unlink()
            raise RuntimeError("%s: sha256 %s, case.json says %s" % (src, got, want))
        if kind == "exe":
            tmp.chmod(0o755)
        os.replace(tmp, dst)
        _write_stamp(dst, want)
        paths[kind] = str(dst)
    return paths


def elf_header(path) -> dict:
    """class, byte order, type and machine of an ELF file (ValueError if not ELF)."""
    with open(path, "rb") as f:
        h = f.read(64)
    if h[:4] != b"\x7fELF":
        raise ValueError("%s: not an ELF file" % path)
    ei_class, ei_data = h[4], h[5]
    end = "<" if ei_data == 1 else ">"
    e_type, e_machine = struct.unpack_from(end + "HH", h, 16)
    return {"class": {1: 32, 2: 64}.get(ei_class), "little_endian": ei_data == 1,
            "type": e_type, "machine": e_machine,
            "machine_name": ELF_MACHINE_NAME.get(e_machine, str(e_machine))}


def find_strings(path, needles=FORBIDDEN_STRINGS) -> dict:
    """{needle: count} of byte strings found in a file (holes skipped)."""
    counts = {n: 0 for n in needles}
    overlap = max(len(n) for n in needles) - 1
    with open(path, "rb") as f:
        for start, end in data_ranges(f.fileno()):
            f.seek(start)
            tail = b""
            pos = start
            while pos < end:
                chunk = f.read(min(end - pos, 1 << 24))
                if not chunk:
                    break
                pos += len(chunk)
                buf = tail + chunk
                for n in needles:
                    counts[n] += buf.count(n) - tail.count(n)
                tail = buf[-overlap:] if overlap else b""
    return {n: k for n, k in counts.items() if k}


_DUMPS = {}


def heapdump_of(c: dict):
    """The case's heap dump parsed with tests/heapdump.py (cached per process)."""
    import heapdump
    name = c["name"]
    if name not in _DUMPS:
        p = materialize(c, kinds=("heapdump",))["heapdump"]
        d = heapdump.parse_file(p)
        heapdump.mark_reserved(d)
        _DUMPS[name] = d
    return _DUMPS[name]


def go_minor(c: dict) -> int:
    return int(c["go"].split(".")[1])


def parse_addr(s: str) -> int:
    return int(s, 16)


def all_samples(facts: dict):
    """(pattern name, sample) for every sample of every pattern."""
    for name, p in facts["patterns"].items():
        for s in p["samples"]:
            yield name, s


class CoreMemory:
    """Reads a core file's memory through its PT_LOAD headers (file-backed bytes only)."""

    def __init__(self, path):
        self.path = str(path)
        self.f = open(self.path, "rb")
        eh = self.f.read(64)
        if eh[:4] != b"\x7fELF" or eh[4] != 2 or eh[5] != 1:
            raise ValueError("%s: not a little-endian ELF64 file" % path)
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        self.f.seek(phoff)
        ph = self.f.read(phentsize * phnum)
        self.loads = []
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = struct.unpack_from(
                "<IIQQQQQQ", ph, i * phentsize)
            if p_type == 1 and p_filesz:
                self.loads.append((p_vaddr, p_filesz, p_offset))
        self.loads.sort()
        self._starts = [l[0] for l in self.loads]

    def read(self, addr: int, n: int):
        """n bytes at addr, or None if not all of them are in the core."""
        import bisect
        i = bisect.bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        vaddr, filesz, off = self.loads[i]
        if addr + n > vaddr + filesz:
            return None
        self.f.seek(off + addr - vaddr)
        return self.f.read(n)

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
