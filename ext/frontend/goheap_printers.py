"""GDB pretty printers for Go values, built on goheap's C core.

Maps (bucket maps and swiss tables) are walked by the core (`goheap map --addresses`), which
hands back where each key and value is; GDB then prints those with their DWARF types, so nested
values get these printers too.  Interfaces show their dynamic type and value (the core reads the
type descriptor).  Strings, slices and channels are read from their headers.

The lookup function claims only Go types, by the names Go's DWARF gives them ("map[...]...",
"[]...", "string", "chan ...", "interface {}" and the runtime's iface/eface structs) and leaves
every other type alone.  It is inserted at the front of each objfile's printer list, so it keeps
working when Go's own runtime-gdb.py (which appends to the same list) is loaded as well.

    (gdb) print 'main.cache'
    $1 = map[string]interface {} len 2500 = {["user:0"] = *main.Payload(0xc000... -> main.Payload), ...}
"""
import json
import re

import gdb

LIMIT = 200  # entries shown per map (GDB's `set print elements` lowers it)


_core = {}


def _goheap():
    """goheap.py's module: run() and _session() on GDB's current target."""
    return _core["mod"]


def _session():
    return _goheap()._session()


def _limit():
    try:
        n = gdb.parameter("print elements")
    except (gdb.error, RuntimeError):
        n = None
    return min(LIMIT, n) if n else LIMIT


def _name(t):
    return t.name or t.tag or ""


def _split_map(name):
    """'map[K]V' -> (K, V), brackets in K matched."""
    if not name.startswith("map["):
        return None
    depth, i = 1, 4
    while i < len(name) and depth:
        depth += {"[": 1, "]": -1}.get(name[i], 0)
        i += 1
    return (name[4:i - 1], name[i:]) if depth == 0 else None


def _lookup(goname):
    """The gdb.Type for a Go type name, pointers included; None if GDB has no such type."""
    stars = len(goname) - len(goname.lstrip("*"))
    try:
        t = gdb.lookup_type(goname[stars:])
    except gdb.error:
        return None
    for _ in range(stars):
        t = t.pointer()
    return t


def _at(addr, t):
    return gdb.Value(addr).cast(t.pointer()).dereference()


class MapPrinter:
    def __init__(self, val, name):
        self.val, self.name = val, name

    def _walk(self):
        hdr = int(self.val) & 0xFFFFFFFFFFFFFFFF
        if not hdr:
            return {"len": 0, "entries": []}
        argv = ["map", hex(hdr), "--addresses", "--limit", str(_limit())]
        return json.loads(_goheap().run(argv, json=True))

    def to_string(self):
        try:
            self.doc = self._walk()
        except Exception as e:  # a corrupt map: say why, never break `print`
            self.doc = None
            return "%s <goheap: %s>" % (self.name, e)
        return "%s len %d" % (self.name, self.doc["len"])

    def display_hint(self):
        return "map"

    def children(self):
        if not getattr(self, "doc", None):
            return
        kv = _split_map(self.name)
        kt, vt = (_lookup(kv[0]), _lookup(kv[1])) if kv else (None, None)
        for i, e in enumerate(self.doc["entries"]):
            k = _at(int(e["key_addr"], 16), kt) if kt else e["key"]
            v = _at(int(e["value_addr"], 16), vt) if vt else e.get("value", "")
            yield "k%d" % i, k
            yield "v%d" % i, v


class StringPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        n = int(self.val["len"])
        if n == 0:
            return '""'
        return self.val["str"].lazy_string(length=min(n, 1 << 20))

    def display_hint(self):
        return "string"


class SlicePrinter:
    def __init__(self, val, name):
        self.val, self.name = val, name

    def to_string(self):
        return "%s len %d cap %d" % (self.name, int(self.val["len"]), int(self.val["cap"]))

    def display_hint(self):
        return "array"

    def children(self):
        arr = self.val["array"]
        for i in range(min(int(self.val["len"]), _limit())):
            yield "[%d]" % i, (arr + i).dereference()


class InterfacePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        try:
            return _goheap()._goheap.value_text(_session(), int(self.val.address), None)
        except Exception as e:
            return "<goheap: %s>" % e


class ChanPrinter:
    def __init__(self, val, name):
        self.val, self.name = val, name

    def to_string(self):
        p = int(self.val) & 0xFFFFFFFFFFFFFFFF
        if not p:
            return "%s nil" % self.name
        h = self.val.dereference()
        return "%s len %d cap %d" % (self.name, int(h["qcount"]), int(h["dataqsiz"]))


_SLICE = re.compile(r"^\[\]")


def lookup(val):
    """Claims Go types only (by their DWARF names); None for everything else."""
    t = val.type
    name = _name(t)
    if not name:
        return None
    if name.startswith("map[") and t.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        return MapPrinter(val, name)
    if name.startswith("chan ") and t.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        return ChanPrinter(val, name)
    st = t.strip_typedefs()
    if st.code != gdb.TYPE_CODE_STRUCT:
        return None
    fields = [f.name for f in st.fields()]
    if name == "string" and fields == ["str", "len"]:
        return StringPrinter(val)
    if _SLICE.match(name) and fields == ["array", "len", "cap"]:
        return SlicePrinter(val, name)
    if fields in (["_type", "data"], ["tab", "data"]) and (name.startswith("interface {") or
                                                           name.startswith("runtime.") or "." in name):
        return InterfacePrinter(val)
    return None


def _install(objfile):
    pp = objfile.pretty_printers
    if lookup not in pp:
        pp.insert(0, lookup)


def register(goheap_module):
    _core["mod"] = goheap_module
    for o in gdb.objfiles():
        _install(o)
    gdb.events.new_objfile.connect(lambda ev: _install(ev.new_objfile))
    # Go's runtime-gdb.py replaces its objfile's printer list when it loads:
    # put this lookup back in front before each prompt.
    gdb.events.before_prompt.connect(lambda: [_install(o) for o in gdb.objfiles()])
    # Values not tied to an objfile (history, convenience variables).
    if lookup not in gdb.pretty_printers:
        gdb.pretty_printers.insert(0, lookup)
