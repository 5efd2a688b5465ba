"""Runs inside GDB (gdb -batch -x tests/gdb_oracle.py) after the executable and core are loaded.

Prints, after the marker line, a JSON object with what GDB itself says:
  threads: [[lwp, pc], ...]      from `thread apply all p/x $pc`
  memory:  {"0xADDR": [bytes...] or null}   from `x/Nxb ADDR` for each address in $GH_ADDRS (a file)
This is the independent oracle for goheap's target layer.
"""
import json
import os
import re

import gdb

out = {"threads": [], "memory": {}}
text = gdb.execute("thread apply all p/x $pc", to_string=True)
lwp = None
for line in text.splitlines():
    m = re.match(r"Thread \d+ \((?:LWP|process|Thread 0x[0-9a-f]+ \(LWP) (\d+)", line)
    if m:
        lwp = int(m.group(1))
        continue
    m = re.match(r"\$\d+ = (0x[0-9a-f]+)", line)
    if m and lwp is not None:
        out["threads"].append([lwp, int(m.group(1), 16)])
        lwp = None

size = int(os.environ.get("GH_SIZE", "8"))
path = os.environ.get("GH_ADDRS")
if path:
    for addr in open(path).read().split():
        try:
            res = gdb.execute("x/%dxb %s" % (size, addr), to_string=True)
        except gdb.error:
            out["memory"][addr] = None
            continue
        vals = [int(v, 16) for v in re.findall(r"\t0x([0-9a-f]{2})", res)]
        out["memory"][addr] = vals if len(vals) == size else None

print("GH-ORACLE-JSON")
print(json.dumps(out))
