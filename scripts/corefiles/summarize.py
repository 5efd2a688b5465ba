#!/usr/bin/python3.11
"""Prints the per-case tables of docs/fixtures.md from corefiles/cases/*/case.json."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(REPO, "corefiles", "cases")


def mb(n):
    return "%.1f" % (n / 1e6)


def kb(n):
    return "%d" % round(n / 1e3)


def main():
    rows = []
    for name in sorted(os.listdir(CASES)):
        p = os.path.join(CASES, name, "case.json")
        if os.path.isfile(p):
            with open(p) as f:
                rows.append(json.load(f))
    print("| case | go_version | capture | exe MB | core MB (apparent) | heap dump MB | "
          "exe.zst KB | core.zst KB | heapdump.zst KB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in rows:
        f = c["files"]
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            c["name"], c["go_version"], c["capture"], mb(f["exe"]["size"]), mb(f["core"]["size"]),
            mb(f["heapdump"]["size"]), kb(f["exe"]["compressed_size"]), kb(f["core"]["compressed_size"]),
            kb(f["heapdump"]["compressed_size"])))
    print()
    print("| case | records | reserved | reserved % | objects = HeapObjects | bytes = HeapAlloc | "
          "rule (allocheaders, greentea) |")
    print("|---|---|---|---|---|---|---|")
    for c in rows:
        s = c["heapdump_summary"]
        r = s["reserved_rule"]
        ok = "" if s["exact"] else " (not equal)"
        print("| %s | %d | %d | %.2f | %d%s | %d | %s, %s |" % (
            c["name"], s["records"], s["reserved"], 100.0 * s["reserved"] / s["records"], s["objects"], ok,
            s["bytes"], "yes" if r["allocheaders"] else "no", "yes" if r["greentea"] else "no"))
    du = subprocess.run(["du", "-sb", os.path.join(REPO, "corefiles")], capture_output=True, text=True).stdout
    print()
    print("corefiles/ total: %s bytes" % du.split()[0] if du else "", file=sys.stderr)


if __name__ == "__main__":
    main()
