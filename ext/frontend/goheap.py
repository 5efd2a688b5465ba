"""goheap inside GDB.

Load with:  source build/goheap.py     (or: python import goheap, with build/ on sys.path)

Registers `goheap COMMAND [ARGS]` for every goheap command, each with `help goheap COMMAND`.
The target is whatever GDB has loaded: a core file (read directly from the file, exactly as the
CLI reads it), a local process GDB has stopped (memory from /proc/PID/mem, threads from GDB), or a
remote target (GDB's memory reads, cached by block).  Global options: --json, -o FILE, --timings (each
phase's wall time and memory, on GDB's error stream after the output).
"""
import os
import shlex
import sys

import gdb

_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)
import _goheap  # noqa: E402  (the C core)

Error = _goheap.Error

_REGS = {
    "amd64": ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
              "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds",
              "es", "fs", "gs"],
    "arm64": ["x%d" % i for i in range(31)] + ["sp", "pc", "cpsr"],
}

_cache = {"key": None, "session": None}


def _arch(inferior):
    name = inferior.architecture().name()
    if "x86-64" in name or "x86_64" in name:
        return "amd64"
    if "aarch64" in name:
        return "arm64"
    raise gdb.GdbError("goheap: unsupported architecture %s: goheap reads amd64 and arm64" % name)


def _core_path():
    """The core file GDB has loaded, or None."""
    try:
        text = gdb.execute("info target", to_string=True)
    except gdb.error:
        return None
    marker = "Local core dump file:"
    at = text.find(marker)
    if at < 0:
        return None
    rest = text[at + len(marker):]
    start = rest.find("`")
    end = rest.find("'", start + 1)
    if start < 0 or end < 0:
        return None
    return rest[start + 1:end]


def _connection_type(inferior):
    conn = getattr(inferior, "connection", None)
    return getattr(conn, "type", None) if conn is not None else None


def _threads(inferior, arch):
    """(tid, {register: value}) for every thread, read through GDB."""
    out = []
    selected = gdb.selected_thread()
    try:
        for th in inferior.threads():
            th.switch()
            frame = gdb.newest_frame()
            regs = {}
            for name in _REGS[arch]:
                try:
                    regs[name] = int(frame.read_register(name)) & 0xFFFFFFFFFFFFFFFF
                except (gdb.error, ValueError):
                    pass
            out.append((th.ptid[1] or th.ptid[0], regs))
    finally:
        if selected is not None and selected.is_valid():
            selected.switch()
    return out


def _session():
    inferior = gdb.selected_inferior()
    exe = gdb.current_progspace().filename
    core = _core_path()
    if core:
        key = ("core", core, exe)
        if _cache["key"] == key:
            return _cache["session"]
        session = _goheap.Session(core=core, exe=exe)
        _cache.update(key=key, session=session)
        return session
    if inferior.pid <= 0:
        raise gdb.GdbError("goheap: no target: load a core file (core-file CORE) or attach a process")
    if not exe:
        raise gdb.GdbError("goheap: GDB has no executable loaded (file BIN)")
    arch = _arch(inferior)
    threads = _threads(inferior, arch)
    # A running program changes between stops: a live session is never cached.
    _cache.update(key=None, session=None)
    if _connection_type(inferior) == "native":
        return _goheap.Session(pid=inferior.pid, exe=exe, arch=arch, threads=threads)

    def reader(addr, size):
        try:
            return bytes(inferior.read_memory(addr, size))
        except (gdb.MemoryError, gdb.error, OverflowError):
            return None
    return _goheap.Session(exe=exe, arch=arch, threads=threads, reader=reader)


def _addresses(argv):
    """For commands whose usage takes EXPR, arguments that are not numbers are GDB expressions
    (`goheap object 'main.cache'`, `goheap object &x.field`): evaluate them to addresses."""
    usage = {c[0]: c[1] for c in _goheap.commands()}
    if not argv or "EXPR" not in usage.get(argv[0], ""):
        return list(argv)
    out = [argv[0]]
    for w in argv[1:]:
        if w.startswith("-"):
            out.append(w)
            continue
        try:
            int(w, 0)
            out.append(w)
        except ValueError:
            try:
                out.append(hex(int(gdb.parse_and_eval(w)) & 0xFFFFFFFFFFFFFFFF))
            except gdb.error as e:
                raise gdb.GdbError("goheap: cannot evaluate %s: %s" % (w, e))
    return out


def run(argv, json=False, timings=False):
    """Runs one goheap command on GDB's current target; returns its output as a string.
    With timings, its phases are then in timings()."""
    needs = {c[0]: c[4] for c in _goheap.commands()}
    session = _session() if argv and needs.get(argv[0], False) else None
    return _goheap.run(_addresses(argv), json=json, session=session, timings=timings)


def timings(json=False):
    """The wall time and memory of each phase of the last command run with timings=True."""
    return _goheap.timings(json=json)


def _invoke(words):
    json, outfile, timed = False, None, False
    while words and words[0].startswith("-"):
        opt = words.pop(0)
        if opt == "--json":
            json = True
        elif opt == "--timings":
            timed = True
        elif opt == "-o" and words:
            outfile = words.pop(0)
        else:
            raise gdb.GdbError("goheap: unknown option %s (goheap [--json] [-o FILE] [--timings] COMMAND [ARGS])"
                               % opt)
    if not words:
        words = ["help"]
    try:
        text = run(words, json=json, timings=timed)
    except Error as e:
        raise gdb.GdbError("goheap: %s" % e)
    if outfile:
        with open(outfile, "w") as f:
            f.write(text)
    else:
        gdb.write(text)
    if timed:
        gdb.write(timings(json=json), gdb.STDERR)


class _Goheap(gdb.Command):
    """Find what holds a Go program's memory.

Usage: goheap [--json] [-o FILE] [--timings] COMMAND [ARGS]
Works on the core file or process GDB has loaded.  `goheap help` lists the commands."""

    def __init__(self):
        super().__init__("goheap", gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)

    def invoke(self, arg, from_tty):
        _invoke(shlex.split(arg))


def _make_sub(name, usage, summary, text):
    doc = "%s\n\nUsage: goheap [--json] [-o FILE] [--timings] %s %s\n\n%s" % (summary[:1].upper() + summary[1:],
                                                                            name, usage, text)

    def invoke(self, arg, from_tty):
        _invoke(_split_opts(shlex.split(arg), name))

    cls = type("_Goheap_" + name, (gdb.Command,), {"__doc__": doc, "invoke": invoke})
    cls("goheap " + name, gdb.COMMAND_DATA)


def _split_opts(words, name):
    """Moves --json, --timings and -o FILE given after the command name in front of it."""
    front, rest, i = [], [], 0
    while i < len(words):
        if words[i] in ("--json", "--timings"):
            front.append(words[i])
        elif words[i] == "-o" and i + 1 < len(words):
            front += words[i:i + 2]
            i += 1
        else:
            rest.append(words[i])
        i += 1
    return front + [name] + rest


_Goheap()
for _c in _goheap.commands():
    _make_sub(_c[0], _c[1], _c[2], _c[3])
__import__("goheap_printers").register(sys.modules[__name__])  # pretty printers, from this directory
