"""Parser for Go runtime heap dumps (runtime/debug.WriteHeapDump).

The format is the one written by src/runtime/heapdump.go of every Go version
in goheap's corpus (1.19 to 1.27); its header is ``go1.7 heap dump\\n`` and has
not changed since Go 1.7 (https://golang.org/s/go15heapdump).  After the
header the file is a sequence of records; each starts with a uvarint tag.
Integers are uvarints, strings and memory ranges are a uvarint length followed
by that many bytes, booleans are uvarints 0/1, and "field lists" are pairs
(kind, offset) of uvarints ended by kind 0.

    tag  record            fields
    0    EOF
    1    object            addr, contents, field list
    2    other root        description, pointer
    3    type              addr, size, name, indirect(bool)
    4    goroutine         addr, sp, goid, gopc, status, is_system, is_background,
                           waitsince, waitreason, ctxt, m, defer, panic
    5    stack frame       sp, depth, child_sp, contents, entry, pc, continpc,
                           name, field list
    6    params            big_endian, ptr_size, arena_start, arena_end, arch,
                           version, ncpu
    7    finalizer         obj, fn, fn_pc, fint, ot
    8    itab              addr, type
    9    OS thread         addr, id, procid
    10   memstats          24 MemStats fields (Alloc .. PauseTotalNs),
                           PauseNs[256], NumGC
    11   queued finalizer  obj, fn, fn_pc, fint, ot
    12   data segment      addr, contents, field list
    13   bss segment       addr, contents, field list
    14   defer             addr, gp, sp, pc, fn, fn_pc, link
    15   panic             addr, gp, arg_type, arg_data, 0, link
    16   memprof bucket    addr, size, nstk, nstk x (func, file, line),
                           allocs, frees
    17   alloc sample      addr, bucket

Field kinds: 1 pointer, 2 iface, 3 eface (current runtimes emit only 1).

Reserved tail slots (the known trap)
------------------------------------
``dumpobjs`` walks every in-use span and emits every slot ``j`` in
``0 .. npages*8192/elemsize - 1`` whose ``isFree(j)`` is false; but it only
marks free slots for ``j < s.nelems``.  Since Go 1.22 (allocation headers)
``nelems`` of a span of *pointerful* objects of size <= 512 bytes excludes the
heap bitmap kept in the last ``8192/64 = 128`` bytes of the (one-page) span,
and from Go 1.26 (Green Tea GC) every span of objects of 16..512 bytes,
pointerful or not, also reserves 128 bytes of inline mark bits
(``runtime.spanInlineMarkBits``) at its end (mheap.go ``initSpan``).  The
slots ``nelems .. n-1`` that overlap those reserved bytes are therefore written
out as objects although they are not.  ``reserved_slot_params`` and
``mark_reserved`` reconstruct ``nelems`` per span from the dump alone:

* spans of objects <= 512 bytes are exactly one page (8192 bytes) in every
  size-class table, so a record's span is ``addr & ~8191`` and its slot
  index ``(addr - base) // size``;
* a span is pointerful ("scan") iff some record of it below the scan ``nelems``
  has a pointer field (every object of a scan span has at least one pointer
  word in its heap bits; a noscan span has none);
* ``reserve = 128 * allocheaders * scan + 128 * greentea * (size >= 16)``,
  ``nelems = (8192 - reserve) // size``; records with slot index >= nelems are
  reserved slots.

``allocheaders`` is Go >= 1.22 without ``X:noallocheaders``; ``greentea`` is
Go >= 1.26 without ``X:nogreenteagc`` (or Go 1.25 with ``X:greenteagc``).  Both
are read from the version string in the dump's params record.  With the
reserved records dropped, the number of object records and the sum of their
sizes equal the dump's own MemStats HeapObjects and HeapAlloc (measured on
every case of the corpus; see docs/fixtures.md).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Optional

HEADER = b"go1.7 heap dump\n"
PAGE_SIZE = 8192
MAX_SMALL_HEAP_BITS_SIZE = 512  # runtime minSizeForMallocHeader on 64-bit

TAG_EOF = 0
TAG_OBJECT = 1
TAG_OTHER_ROOT = 2
TAG_TYPE = 3
TAG_GOROUTINE = 4
TAG_STACK_FRAME = 5
TAG_PARAMS = 6
TAG_FINALIZER = 7
TAG_ITAB = 8
TAG_OS_THREAD = 9
TAG_MEMSTATS = 10
TAG_QUEUED_FINALIZER = 11
TAG_DATA = 12
TAG_BSS = 13
TAG_DEFER = 14
TAG_PANIC = 15
TAG_MEMPROF = 16
TAG_ALLOC_SAMPLE = 17

FIELD_EOL = 0
FIELD_PTR = 1
FIELD_IFACE = 2
FIELD_EFACE = 3

MEMSTATS_FIELDS = (
    "Alloc", "TotalAlloc", "Sys", "Lookups", "Mallocs", "Frees",
    "HeapAlloc", "HeapSys", "HeapIdle", "HeapInuse", "HeapReleased",
    "HeapObjects", "StackInuse", "StackSys", "MSpanInuse", "MSpanSys",
    "MCacheInuse", "MCacheSys", "BuckHashSys", "GCSys", "OtherSys",
    "NextGC", "LastGC", "PauseTotalNs",
)

# runtime goroutine status values (runtime2.go)
G_STATUS = {0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting",
            6: "dead", 8: "copystack", 9: "preempted"}


class HeapDumpError(ValueError):
    pass


@dataclass(slots=True)
class Object:
    addr: int
    size: int            # length of the dumped contents = span elemsize
    data_off: int        # offset of the contents in HeapDump.raw
    ptr_offsets: list    # offsets of pointer fields (kind 1)
    other_fields: list   # (kind, offset) of iface/eface fields; empty today
    reserved: bool = False  # set by mark_reserved()

    def contents(self, dump: "HeapDump") -> bytes:
        return bytes(dump.raw[self.data_off:self.data_off + self.size])


@dataclass(slots=True)
class OtherRoot:
    description: str
    ptr: int


@dataclass(slots=True)
class Type:
    addr: int
    size: int
    name: str
    indirect: bool


@dataclass(slots=True)
class StackFrame:
    sp: int
    depth: int
    child_sp: int
    size: int
    data_off: int
    entry: int
    pc: int
    continpc: int
    name: str
    ptr_offsets: list
    other_fields: list
    goroutine: Optional[int] = None  # addr of the goroutine record it follows


@dataclass(slots=True)
class Goroutine:
    addr: int
    sp: int
    goid: int
    gopc: int
    status: int
    is_system: bool
    is_background: bool
    waitsince: int
    waitreason: str
    ctxt: int
    m: int
    defer: int
    panic: int
    frames: list = field(default_factory=list)

    @property
    def status_name(self) -> str:
        return G_STATUS.get(self.status & ~0x1000, str(self.status))


@dataclass(slots=True)
class Params:
    big_endian: bool
    ptr_size: int
    arena_start: int
    arena_end: int
    arch: str
    version: str
    ncpu: int


@dataclass(slots=True)
class Finalizer:
    obj: int
    fn: int
    fn_pc: int
    fint: int
    ot: int
    queued: bool


@dataclass(slots=True)
class Itab:
    addr: int
    type: int


@dataclass(slots=True)
class OSThread:
    addr: int
    id: int
    procid: int


@dataclass(slots=True)
class Segment:
    kind: str  # "data" or "bss"
    addr: int
    size: int
    data_off: int
    ptr_offsets: list
    other_fields: list


@dataclass(slots=True)
class Defer:
    addr: int
    gp: int
    sp: int
    pc: int
    fn: int
    fn_pc: int
    link: int


@dataclass(slots=True)
class Panic:
    addr: int
    gp: int
    arg_type: int
    arg_data: int
    defer: int
    link: int


@dataclass(slots=True)
class MemProfFrame:
    func: str
    file: str
    line: int


@dataclass(slots=True)
class MemProf:
    bucket: int
    size: int
    stack: list
    allocs: int
    frees: int


@dataclass(slots=True)
class AllocSample:
    addr: int
    bucket: int


@dataclass
class HeapDump:
    raw: bytes
    params: Optional[Params] = None
    objects: list = field(default_factory=list)
    other_roots: list = field(default_factory=list)
    types: list = field(default_factory=list)
    goroutines: list = field(default_factory=list)
    frames: list = field(default_factory=list)
    finalizers: list = field(default_factory=list)
    itabs: list = field(default_factory=list)
    os_threads: list = field(default_factory=list)
    memstats: Optional[dict] = None
    data: Optional[Segment] = None
    bss: Optional[Segment] = None
    defers: list = field(default_factory=list)
    panics: list = field(default_factory=list)
    memprof: list = field(default_factory=list)
    alloc_samples: list = field(default_factory=list)
    reserved_marked: bool = False

    # -- convenience -------------------------------------------------------

    def live_objects(self) -> list:
        """Object records that are real heap objects (reserved slots dropped)."""
        if not self.reserved_marked:
            mark_reserved(self)
        return [o for o in self.objects if not o.reserved]

    def reserved_objects(self) -> list:
        if not self.reserved_marked:
            mark_reserved(self)
        return [o for o in self.objects if o.reserved]

    def summary(self) -> dict:
        live = self.live_objects()
        return {
            "records": len(self.objects),
            "records_bytes": sum(o.size for o in self.objects),
            "reserved": len(self.objects) - len(live),
            "objects": len(live),
            "bytes": sum(o.size for o in live),
            "memstats_heap_objects": self.memstats["HeapObjects"] if self.memstats else None,
            "memstats_heap_alloc": self.memstats["HeapAlloc"] if self.memstats else None,
            "goroutines": len(self.goroutines),
            "version": self.params.version if self.params else None,
            "arch": self.params.arch if self.params else None,
        }


# ---------------------------------------------------------------------------
# Parsing


def parse(raw) -> HeapDump:
    """Parse a heap dump given as bytes (or a path)."""
    if isinstance(raw, str) or hasattr(raw, "__fspath__"):
        with open(raw, "rb") as f:
            raw = f.read()
    raw = bytes(raw)
    if not raw.startswith(HEADER):
        raise HeapDumpError("not a go1.7 heap dump (bad header %r)" % raw[:16])
    d = HeapDump(raw=raw)
    buf = raw
    n = len(buf)
    pos = len(HEADER)

    # Local, inlined uvarint decoding is what makes this fast enough.
    def uv():
        nonlocal pos
        b = buf[pos]
        pos += 1
        if b < 0x80:
            return b
        x = b & 0x7F
        s = 7
        while True:
            b = buf[pos]
            pos += 1
            if b < 0x80:
                return x | (b << s)
            x |= (b & 0x7F) << s
            s += 7

    def string():
        nonlocal pos
        ln = uv()
        s = buf[pos:pos + ln]
        pos += ln
        return s.decode("utf-8", "replace")

    def memrange():
        nonlocal pos
        ln = uv()
        off = pos
        pos += ln
        if pos > n:
            raise HeapDumpError("truncated memory range at %d" % off)
        return off, ln

    def fields():
        nonlocal pos
        ptrs = []
        other = []
        while True:
            kind = buf[pos]
            if kind == FIELD_PTR:
                pos += 1
                # offset, inline fast path for 1- and 2-byte varints
                b = buf[pos]
                if b < 0x80:
                    pos += 1
                    ptrs.append(b)
                else:
                    b2 = buf[pos + 1]
                    if b2 < 0x80:
                        pos += 2
                        ptrs.append((b & 0x7F) | (b2 << 7))
                    else:
                        ptrs.append(uv())
                continue
            kind = uv()
            if kind == FIELD_EOL:
                return ptrs, other
            other.append((kind, uv()))

    cur_g = None
    objects = d.objects
    append_obj = objects.append
    while True:
        if pos >= n:
            raise HeapDumpError("missing EOF record")
        tag = uv()
        if tag == TAG_OBJECT:
            addr = uv()
            off, ln = memrange()
            ptrs, other = fields()
            append_obj(Object(addr, ln, off, ptrs, other))
        elif tag == TAG_EOF:
            break
        elif tag == TAG_STACK_FRAME:
            sp, depth, child_sp = uv(), uv(), uv()
            off, ln = memrange()
            entry, pc, continpc = uv(), uv(), uv()
            name = string()
            ptrs, other = fields()
            fr = StackFrame(sp, depth, child_sp, ln, off, entry, pc, continpc, name, ptrs, other,
                            cur_g.addr if cur_g else None)
            d.frames.append(fr)
            if cur_g is not None:
                cur_g.frames.append(fr)
        elif tag == TAG_GOROUTINE:
            g = Goroutine(uv(), uv(), uv(), uv(), uv(), bool(uv()), bool(uv()), uv(), string(),
                          uv(), uv(), uv(), uv())
            d.goroutines.append(g)
            cur_g = g
        elif tag == TAG_OTHER_ROOT:
            d.other_roots.append(OtherRoot(string(), uv()))
        elif tag == TAG_TYPE:
            d.types.append(Type(uv(), uv(), string(), bool(uv())))
        elif tag == TAG_PARAMS:
            d.params = Params(bool(uv()), uv(), uv(), uv(), string(), string(), uv())
        elif tag in (TAG_FINALIZER, TAG_QUEUED_FINALIZER):
            d.finalizers.append(Finalizer(uv(), uv(), uv(), uv(), uv(), tag == TAG_QUEUED_FINALIZER))
        elif tag == TAG_ITAB:
            d.itabs.append(Itab(uv(), uv()))
        elif tag == TAG_OS_THREAD:
            d.os_threads.append(OSThread(uv(), uv(), uv()))
        elif tag == TAG_MEMSTATS:
            ms = {k: uv() for k in MEMSTATS_FIELDS}
            ms["PauseNs"] = [uv() for _ in range(256)]
            ms["NumGC"] = uv()
            d.memstats = ms
        elif tag in (TAG_DATA, TAG_BSS):
            addr = uv()
            off, ln = memrange()
            ptrs, other = fields()
            seg = Segment("data" if tag == TAG_DATA else "bss", addr, ln, off, ptrs, other)
            if tag == TAG_DATA:
                d.data = seg
            else:
                d.bss = seg
        elif tag == TAG_DEFER:
            d.defers.append(Defer(uv(), uv(), uv(), uv(), uv(), uv(), uv()))
        elif tag == TAG_PANIC:
            d.panics.append(Panic(uv(), uv(), uv(), uv(), uv(), uv()))
        elif tag == TAG_MEMPROF:
            bucket, size, nstk = uv(), uv(), uv()
            stack = [MemProfFrame(string(), string(), uv()) for _ in range(nstk)]
            d.memprof.append(MemProf(bucket, size, stack, uv(), uv()))
        elif tag == TAG_ALLOC_SAMPLE:
            d.alloc_samples.append(AllocSample(uv(), uv()))
        else:
            raise HeapDumpError("unknown record tag %d at offset %d" % (tag, pos))
        if tag != TAG_STACK_FRAME and tag != TAG_GOROUTINE and tag != TAG_DEFER and tag != TAG_PANIC:
            cur_g = None
    if pos != n:
        raise HeapDumpError("%d trailing bytes after EOF record" % (n - pos))
    return d


def parse_file(path) -> HeapDump:
    with open(path, "rb") as f:
        return parse(f.read())


# ---------------------------------------------------------------------------
# Reserved tail slots


_VERSION_RE = re.compile(r"go(\d+)\.(\d+)")
_EXP_RE = re.compile(r"X:([A-Za-z0-9_,]+)")


def parse_version(version: str):
    """("go1.26.0-X:nogreenteagc") -> ((1, 26), {"nogreenteagc"})."""
    m = _VERSION_RE.search(version)
    if not m:
        raise HeapDumpError("cannot parse Go version %r" % version)
    exps = set()
    e = _EXP_RE.search(version)
    if e:
        exps = {x for x in e.group(1).split(",") if x}
    return (int(m.group(1)), int(m.group(2))), exps


def reserved_slot_params(version: str) -> dict:
    """Which span tails a runtime of this version reserves (see module doc)."""
    ver, exps = parse_version(version)
    allocheaders = ver >= (1, 22) and "noallocheaders" not in exps
    if ver >= (1, 26):
        greentea = "nogreenteagc" not in exps
    elif ver == (1, 25):
        greentea = "greenteagc" in exps
    else:
        greentea = False
    return {"allocheaders": allocheaders, "greentea": greentea,
            "heap_bits_bytes": PAGE_SIZE // 64, "inline_mark_bytes": 128}


def span_nelems(size: int, scan: bool, params: dict) -> int:
    """nelems of a one-page span of `size`-byte slots (size <= 512)."""
    reserve = 0
    if params["greentea"] and size >= 16:
        reserve += params["inline_mark_bytes"]
    if params["allocheaders"] and scan:
        reserve += params["heap_bits_bytes"]
    return (PAGE_SIZE - reserve) // size


def mark_reserved(d: HeapDump) -> int:
    """Set Object.reserved on the records that are reserved span-tail slots.

    Returns how many records were marked.
    """
    params = reserved_slot_params(d.params.version)
    d.reserved_marked = True
    for o in d.objects:
        o.reserved = False
    if not params["allocheaders"] and not params["greentea"]:
        return 0
    groups = {}
    for o in d.objects:
        if o.size <= MAX_SMALL_HEAP_BITS_SIZE:
            groups.setdefault((o.addr & ~(PAGE_SIZE - 1), o.size), []).append(o)
    marked = 0
    for (base, size), objs in groups.items():
        scan_nelems = span_nelems(size, True, params)
        scan = any(o.ptr_offsets or o.other_fields for o in objs
                   if (o.addr - base) // size < scan_nelems)
        nelems = span_nelems(size, scan, params)
        for o in objs:
            if (o.addr - base) // size >= nelems:
                o.reserved = True
                marked += 1
    return marked


def as_dict(obj):
    """dataclass -> plain dict (for JSON debugging output)."""
    return dataclasses.asdict(obj)


if __name__ == "__main__":
    import json
    import sys
    import time

    for p in sys.argv[1:]:
        t = time.time()
        dump = parse_file(p)
        s = dump.summary()
        s["parse_seconds"] = round(time.time() - t, 3)
        print(p, json.dumps(s))
