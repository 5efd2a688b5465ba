#!/usr/bin/python3.11
"""Checks one freshly captured case and writes its case.json.

Called by scripts/make-corefiles after the fixture ran in a scratch directory
(--run) holding leaky, core, heap.dump, facts.json; the compressed copies are
already in --out.  Fails (exit 1) if the case is not what the corpus promises.
"""

import argparse
import datetime
import hashlib
import json
import os
import struct
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests"))
import heapdump  # noqa: E402

CASE_SCHEMA = 1
ELF_MACHINE = {"amd64": 62, "arm64": 183}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def elf_info(path):
    with open(path, "rb") as f:
        hdr = f.read(64)
    if hdr[:4] != b"\x7fELF":
        raise SystemExit("%s is not an ELF file" % path)
    e_type, e_machine = struct.unpack_from("<HH", hdr, 16)
    return e_type, e_machine


def disk_usage(path):
    return os.stat(path).st_blocks * 512


def main():
    ap = argparse.ArgumentParser()
    for a in ("out", "run", "name", "go", "goarch", "stripped", "goexperiment", "capture", "exit-status",
              "toolchain", "toolchain-package", "core-pattern", "build-env", "build-args", "tmp", "scratch",
              "work", "qemu"):
        ap.add_argument("--" + a, default="")
    a = ap.parse_args()
    problems = []
    unsupported = a.name.endswith("-unsupported")

    files = {"exe": "leaky", "core": "core", "heapdump": "heap.dump"}
    info = {}
    for key, fn in files.items():
        p = os.path.join(a.run, fn)
        z = os.path.join(a.out, key + ".zst")
        info[key] = {"file": key + ".zst", "size": os.path.getsize(p), "sha256": sha256(p),
                     "disk_usage": disk_usage(p), "compressed_size": os.path.getsize(z)}

    for key in ("exe", "core"):
        e_type, e_machine = elf_info(os.path.join(a.run, files[key]))
        if e_machine != ELF_MACHINE[a.goarch]:
            problems.append("%s: ELF machine %d, want %d" % (key, e_machine, ELF_MACHINE[a.goarch]))
        want_type = 4 if key == "core" else 2
        if e_type != want_type:
            problems.append("%s: ELF type %d, want %d" % (key, e_type, want_type))

    with open(os.path.join(a.run, "facts.json")) as f:
        facts = json.load(f)
    ver, exps = heapdump.parse_version(facts["go_version"])
    if "%d.%d" % ver != a.go:
        problems.append("facts go_version %s is not Go %s" % (facts["go_version"], a.go))
    if facts["goarch"] != a.goarch:
        problems.append("facts goarch %s, want %s" % (facts["goarch"], a.goarch))
    want_exps = {e for e in a.goexperiment.split(",") if e}
    if want_exps and not want_exps <= exps:
        problems.append("facts go_version %s lacks experiments %s" % (facts["go_version"], sorted(want_exps)))
    if not facts["goroutines"]["observed_matches_expected"]:
        problems.append("planted goroutines not in their expected wait reasons")

    dump = heapdump.parse_file(os.path.join(a.run, "heap.dump"))
    summary = dump.summary()
    summary["reserved_rule"] = heapdump.reserved_slot_params(dump.params.version)
    ms = facts["memstats"]
    summary["facts_heap_objects"] = ms["HeapObjects"]
    summary["facts_heap_alloc"] = ms["HeapAlloc"]
    if dump.params.version != facts["go_version"]:
        problems.append("heap dump version %s != facts %s" % (dump.params.version, facts["go_version"]))
    if dump.params.arch != a.goarch:
        problems.append("heap dump arch %s != %s" % (dump.params.arch, a.goarch))
    exact = (summary["objects"] == summary["memstats_heap_objects"] == ms["HeapObjects"]
             and summary["bytes"] == summary["memstats_heap_alloc"] == ms["HeapAlloc"])
    summary["exact"] = exact
    mismatch = []
    if not exact and not unsupported:
        mismatch.append("heap dump objects/bytes %d/%d, dump memstats %d/%d, facts %d/%d" % (
            summary["objects"], summary["bytes"], summary["memstats_heap_objects"],
            summary["memstats_heap_alloc"], ms["HeapObjects"], ms["HeapAlloc"]))
        problems += mismatch

    def scrub(s):
        for path, name in ((a.scratch, "$SCRATCH"), (a.work, "$WORK"), (a.tmp, "$TMP")):
            if path:
                s = s.replace(path, name)
        return s.replace(REPO + "/", "")

    build_env = [scrub(x) for x in a.build_env.splitlines() if x]
    build_args = [scrub(x) for x in a.build_args.splitlines() if x]

    def q(s):
        return "'%s'" % s if any(c in s for c in " ,=") and not s.startswith("-o") else s

    command = "cd $WORK/src && env -i %s %s %s" % (
        " ".join(q(x) if " " in x else x for x in build_env), a.toolchain, " ".join(q(x) for x in build_args))
    if a.capture == "crash":
        run_cmd = "ulimit -c unlimited; env -i GOTRACEBACK=crash ./leaky -facts facts.json -heapdump heap.dump"
    elif a.capture == "qemu":
        run_cmd = ("ulimit -c unlimited; env -i GOTRACEBACK=crash qemu-aarch64 ./leaky -facts facts.json "
                   "-heapdump heap.dump  # guest core: qemu_leaky_<date>_<pid>.core")
    else:
        run_cmd = ("env -i ./leaky -facts facts.json -heapdump heap.dump -mode wait -ready ready & "
                   "(wait for ready) gdb -nx -batch -p PID -ex 'gcore core'; kill -9 PID; fallocate -d core")

    case = {
        "schema": CASE_SCHEMA,
        "name": a.name,
        "go": a.go,
        "go_version": facts["go_version"],
        "goos": "linux",
        "goarch": a.goarch,
        "elf_machine": ELF_MACHINE[a.goarch],
        "stripped": a.stripped == "1",
        "goexperiment": a.goexperiment,
        "capture": a.capture,
        "mode": facts["mode"],
        "expect": "unsupported" if unsupported else "supported",
        "toolchain": a.toolchain,
        "toolchain_package": a.toolchain_package,
        "build": {
            "dir": "corefiles/src/leaky",
            "note": ("$WORK/src is a copy of corefiles/src/leaky" +
                     ("; go.mod rewritten to 'go 1.19'" if a.go == "1.19" else "")),
            "env": build_env,
            "args": build_args,
            "command": command,
        },
        "run": {
            "cwd": "$SCRATCH (a fresh mktemp -d directory)",
            "command": run_cmd,
            "exit_status": int(a.exit_status or 0),
            "core_pattern": a.core_pattern,
            "qemu": a.qemu if a.capture == "qemu" else "",
        },
        "files": info,
        "heapdump_summary": summary,
        "traceback": "traceback.txt" if a.capture != "gcore" else "",
        "created_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with open(os.path.join(a.out, "case.json"), "w") as f:
        json.dump(case, f, indent=2, sort_keys=False)
        f.write("\n")
    s = summary
    print("[finish_case] %s: %s %s records %d reserved %d objects %d/%d bytes %d/%d facts %d/%d core %d->%d" % (
        a.name, facts["go_version"], a.goarch, s["records"], s["reserved"], s["objects"],
        s["memstats_heap_objects"], s["bytes"], s["memstats_heap_alloc"], ms["HeapObjects"], ms["HeapAlloc"],
        info["core"]["size"], info["core"]["compressed_size"]), file=sys.stderr)
    if problems:
        for p in problems:
            print("[finish_case] %s: %s" % (a.name, p), file=sys.stderr)
        # Only a heap that moved between facts and dump is worth another run.
        sys.exit(3 if problems == mismatch else 1)


if __name__ == "__main__":
    main()
