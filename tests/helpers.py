"""Shared test helpers: running goheap (CLI, or inside GDB) and GDB itself as an oracle."""
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build"
GOHEAP = Path(os.environ.get("GOHEAP", BUILD / "goheap"))
SKIP_GDB = bool(os.environ.get("GOHEAP_SKIP_GDB"))


def gdb_for(arch):
    return "gdb" if arch == "amd64" else "gdb-multiarch"


def run(args, timeout=120, **kw):
    """Runs the goheap CLI; returns the CompletedProcess (text)."""
    return subprocess.run([str(GOHEAP)] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def run_json(args, **kw):
    p = run(["--json"] + list(args), **kw)
    assert p.returncode == 0, "goheap %s failed (%d): %s" % (args, p.returncode, p.stderr)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    return json.loads(p.stdout)


def target_args(case, paths, exe=True):
    args = ["--core", paths["core"]]
    if exe:
        args += ["--exe", paths["exe"]]
    return args


def gdb_batch(arch, exe, core=None, pid=None, commands=(), env=None, script=None, timeout=300):
    """Runs GDB in batch mode; returns stdout+stderr text."""
    cmd = [gdb_for(arch), "-batch", "-nx", "-iex", "set auto-load no", "-iex", "set pagination off"]
    if exe:
        cmd += ["-ex", "file %s" % exe]
    if core:
        cmd += ["-ex", "core-file %s" % core]
    if pid:
        cmd += ["-ex", "attach %d" % pid]
    for c in commands:
        cmd += ["-ex", c]
    if script:
        cmd += ["-x", str(script)]
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
    return p.stdout + p.stderr


def gdb_oracle(arch, exe, core, addrs=(), size=8, tmp=None):
    env = {"GH_SIZE": str(size)}
    if addrs:
        f = Path(tmp) / "addrs.txt"
        f.write_text("\n".join("0x%x" % a for a in addrs))
        env["GH_ADDRS"] = str(f)
    out = gdb_batch(arch, exe, core, env=env, script=REPO / "tests" / "gdb_oracle.py")
    marker = out.find("GH-ORACLE-JSON")
    assert marker >= 0, "GDB oracle failed:\n" + out[-3000:]
    return json.loads(out[marker:].splitlines()[1])


def first_json(text):
    """The first JSON object in text (GDB prints banners before goheap's output)."""
    i = text.find("{\n")
    assert i >= 0, "no JSON in:\n" + text[-3000:]
    return json.JSONDecoder().raw_decode(text[i:])[0]


def all_json(text):
    """Every top-level JSON object in text, in order (one GDB session's several commands)."""
    out, i, dec = [], 0, json.JSONDecoder()
    while (i := text.find("{\n", i)) >= 0:
        obj, end = dec.raw_decode(text[i:])
        out.append(obj)
        i += end
    return out


def elf_load_headers(path):
    """[(vaddr, memsz, filesz, flags, offset)] of an ELF file's PT_LOAD headers, parsed independently
    of goheap."""
    with open(path, "rb") as f:
        eh = f.read(64)
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    out = []
    for i in range(phnum):
        p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align = struct.unpack_from(
            "<IIQQQQQQ", ph, i * phentsize)
        if p_type == 1:
            out.append((p_vaddr, p_memsz, p_filesz, p_flags, p_offset))
    return out


def elf_loads(path):
    """[(vaddr, memsz, filesz, flags)] of an ELF file's PT_LOAD headers."""
    return [h[:4] for h in elf_load_headers(path)]


def elf_sections(path):
    """[(addr, size, flags, type)] of an ELF file's section headers."""
    with open(path, "rb") as f:
        data = f.read()
    shoff, = struct.unpack_from("<Q", data, 40)
    shentsize, shnum = struct.unpack_from("<HH", data, 58)
    out = []
    for i in range(shnum):
        name, typ, flags, addr, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        out.append((addr, size, flags, typ))
    return out


def exe_bytes(path, addr, n, page=4096):
    """The bytes a process sees at addr from the executable's PT_LOAD mappings (whole pages, as the
    kernel maps them), read from the file; None if addr is not file-backed."""
    with open(path, "rb") as f:
        data = f.read()
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type != 1:
            continue
        end = p_vaddr + p_filesz
        if not p_flags & 2:
            end = (end + page - 1) // page * page
        if p_vaddr <= addr and addr + n <= end:
            off = p_offset + addr - p_vaddr
            return list(data[off:off + n]) if off + n <= len(data) else None
    return None


def symbols(exe):
    """[(addr, size, name)] of an executable's data symbols, from binutils' nm (sorted by address)."""
    out = subprocess.run(["nm", "-S", "--defined-only", str(exe)], capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "bBdDrR":
            syms.append((int(f[0], 16), int(f[1], 16), f[3]))
    return sorted(syms)


def symbol_at(syms, addr):
    """The name of the symbol containing addr, or None."""
    import bisect
    k = bisect.bisect_right([s[0] for s in syms], addr) - 1
    if k >= 0 and addr < syms[k][0] + max(syms[k][1], 1):
        return syms[k][2]
    return None


def root_of(path):
    """The global a facts.json path starts from: main.cache["k"].(*T).F -> main.cache."""
    m = re.match(r"([\w./]+?\.\w+)(?=$|[.\[(])", path)
    return m.group(1) if m else path


def twin_symbols(case):
    """Global names for root addresses: goheap names globals from DWARF; a stripped executable has
    neither DWARF nor symbols, so its roots are named by address, and the DWARF build of the same
    program (identical layout) names them through binutils' symbol table."""
    import corpus
    if not case["stripped"]:
        return None
    name = case["name"].replace("-stripped", "")
    twin = [c for c in corpus.cases() if c["name"] == name][0]
    return symbols(corpus.materialize(twin)["exe"])


def file_offset(core, addr):
    """File offset of a target address in an ELF core, from its program headers (for tests that
    patch copies of cores)."""
    with open(core, "rb") as f:
        eh = f.read(64)
        phoff, = struct.unpack_from("<Q", eh, 32)
        phnum, = struct.unpack_from("<H", eh, 56)
        f.seek(phoff)
        ph = f.read(56 * phnum)
    for i in range(phnum):
        t, fl, off, va, pa, fs, ms, al = struct.unpack_from("<IIQQQQQQ", ph, 56 * i)
        if t == 1 and va <= addr < va + fs:
            return off + addr - va
    raise AssertionError("0x%x not in the core" % addr)


def have(tool):
    return shutil.which(tool) is not None
