"""Bad input gets one clear line on stderr and a non-zero status: never a crash, a hang or a trace."""
import random
import shutil

import pytest

import corpus
import helpers
from helpers import run


def by_name(name):
    for c in corpus.cases():
        if c["name"] == name:
            return c, corpus.materialize(c)
    pytest.skip("fixture %s not in the corpus" % name)


def first(pred):
    for c in corpus.cases():
        if pred(c):
            return c, corpus.materialize(c)
    pytest.skip("no fixture for this check")


def supported(arch, stripped=False, capture=None):
    return first(lambda c: c.get("expect", "supported") == "supported" and c["goarch"] == arch
                 and c["stripped"] == stripped and (capture is None or c.get("capture") == capture))


def assert_clean_failure(p, *needles):
    assert p.returncode in (1, 2), "exit %d, stderr: %s" % (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("goheap: "), p.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert p.stdout == ""


def test_not_elf(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("this is not a core\n" * 100)
    assert_clean_failure(run(["--core", f, "info"]), "not an ELF file")


def test_empty_and_missing(tmp_path):
    e = tmp_path / "empty"
    e.write_bytes(b"")
    assert_clean_failure(run(["--core", e, "info"]), "empty")
    assert_clean_failure(run(["--core", tmp_path / "nope", "info"]), "No such file")
    assert_clean_failure(run(["--core", tmp_path, "info"]), "not a regular file")


def test_truncated_core(tmp_path):
    case, paths = supported("amd64")
    data = open(paths["core"], "rb").read()
    for cut in (32, 1000, len(data) // 2, len(data) - 1):
        t = tmp_path / ("core.%d" % cut)
        t.write_bytes(data[:cut])
        p = run(["--core", t, "--exe", paths["exe"], "info"])
        assert_clean_failure(p)
        assert "truncated" in p.stderr, p.stderr


def test_core_of_another_program():
    a, pa = supported("amd64")
    b, pb = first(lambda c: c.get("expect", "supported") == "supported" and c["goarch"] == "amd64"
                  and c["go"] != a["go"] and not c["stripped"])
    assert_clean_failure(run(["--core", pb["core"], "--exe", pa["exe"], "info"]), "not produced by executable")


def test_core_of_another_architecture():
    a, pa = supported("amd64")
    b, pb = supported("arm64")
    assert_clean_failure(run(["--core", pb["core"], "--exe", pa["exe"], "info"]), "is amd64 but the target is arm64")


def test_executable_without_go(tmp_path):
    case, paths = supported("amd64")
    cexe = tmp_path / "hello"
    src = tmp_path / "hello.c"
    src.write_text("int main(void) { return 0; }\n")
    import subprocess
    subprocess.run(["gcc", "-o", str(cexe), str(src)], check=True)
    assert_clean_failure(run(["--core", paths["core"], "--exe", cexe, "info"]), "not a Go executable")


def test_executable_and_core_swapped():
    case, paths = supported("amd64")
    assert_clean_failure(run(["--core", paths["exe"], "--exe", paths["core"], "info"]), "not a core file")


def test_unsupported_go_version():
    c, p = first(lambda c: c.get("expect") == "unsupported")
    r = run(["--core", p["core"], "--exe", p["exe"], "info"])
    assert_clean_failure(r, "unsupported Go version", c["facts"]["go_version"] if c.get("facts") else "go1.19")


def test_qemu_core_needs_exe():
    case, paths = first(lambda c: c.get("capture") == "qemu")
    assert_clean_failure(run(["--core", paths["core"], "info"]), "--exe")


def test_unreadable_addresses():
    case, paths = supported("amd64")
    base = ["--core", paths["core"], "--exe", paths["exe"], "memory"]
    assert_clean_failure(run(base + ["0x10"]), "not in the target's memory")
    assert_clean_failure(run(base + ["--size", "4096", "0xfffffffffffff800"]), "cannot read")
    assert_clean_failure(run(base + ["notanaddress"]), "not an address")
    assert_clean_failure(run(base + ["--size", "0", "0x1000"]), "--size")


def test_usage_errors():
    assert_clean_failure(run(["info"]), "needs a target")
    assert_clean_failure(run(["--core"]), "needs a value")
    assert_clean_failure(run(["--pid", "abc", "info"]), "--pid")
    assert_clean_failure(run(["--bogus", "info"]), "unknown option")
    assert_clean_failure(run(["nosuch"]), "unknown command")
    assert run(["help"]).returncode == 0


def test_no_such_process():
    assert_clean_failure(run(["--pid", "2147483000", "info"]), "no process")


@pytest.mark.parametrize("seed", range(40))
def test_corrupted_core_headers(tmp_path, seed):
    """Random damage to the headers and notes: a clean error or a normal answer, never a crash."""
    case, paths = supported("amd64")
    data = bytearray(open(paths["core"], "rb").read())
    rng = random.Random(seed)
    # Program headers and notes live in the first pages of a core.
    span = min(len(data), 16384)
    for _ in range(rng.choice((1, 4, 32))):
        data[rng.randrange(span)] = rng.randrange(256)
    t = tmp_path / "core"
    t.write_bytes(bytes(data))
    p = run(["--core", t, "--exe", paths["exe"], "info"], timeout=60)
    assert p.returncode in (0, 1), "exit %d: %s" % (p.returncode, p.stderr[-2000:])
    if p.returncode:
        assert_clean_failure(p)
