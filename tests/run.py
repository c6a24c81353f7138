#!/usr/bin/env python3
"""Run the whole mfkv test suite and print one closing line `N passed, N failed`.

Stages (each can be skipped with --skip STAGE):
  unit      every zig-out/tests/test_* cmocka program (Debug build: UBSan traps)
  e2e       pytest over tests/e2e against zig-out/bin/mfkv
  valgrind  the unit programs again under valgrind memcheck (leaks and errors
            fail), from a baseline-x86-64-v3 build in zig-out-vg, because
            valgrind 3.19 cannot decode the AVX-512 code a native build may use;
            then the CLI tests (tests/e2e/test_core.py, test_roundtrip.py) with
            every mfkv run under memcheck (tests/valgrind-mfkv)
  asan      the unit programs built by gcc with AddressSanitizer + UBSan
            (tools/asan-build.sh), since Zig's build has no ASan switch
The valgrind and asan stages set MFKV_TEST_LIGHT=1: the exhaustive damage
tests (test_store, test_corruption) then sample their cases.

Stages run two at a time (--jobs): valgrind runs one thread and much of e2e
waits on processes, servers and Spark, so on two cores they overlap.  Each
stage's output is printed as one block when it ends; --jobs 1 runs them in
order, printing as they go.

Run from the repository root after `zig build` (tools/run-tests does both).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAP_OK = re.compile(r"^ok \d+")
TAP_NOT_OK = re.compile(r"^not ok \d+")


def unit_programs(folder):
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.startswith("test_"))


def run_tap(cmd, env, label, timeout, out):
    """Run one cmocka program with TAP output; return (passed, failed)."""
    start = time.time()
    try:
        p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        text, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        text, rc = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), "timeout"
    passed = sum(1 for line in text.splitlines() if TAP_OK.match(line))
    failed = sum(1 for line in text.splitlines() if TAP_NOT_OK.match(line))
    # A crash or a sanitizer/valgrind error after the last test still fails.
    if rc != 0 and failed == 0:
        failed = 1
    status = "ok" if failed == 0 else "FAILED"
    out(f"  {label:<40} {passed:3d} passed {failed:3d} failed  {time.time() - start:6.1f}s  {status}")
    if failed:
        out("    " + "\n    ".join(text.splitlines()[-40:]))
    return passed, failed


def stage_unit(out, folder, wrapper, extra_env, timeout):
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP", MFKV_FIXTURES=os.path.join(ROOT, "tests/fixtures"))
    env.update(extra_env)
    total_p = total_f = 0
    programs = unit_programs(folder)
    if not programs:
        out(f"  no test programs in {folder}")
        return 0, 1
    for prog in programs:
        p, f = run_tap(wrapper + [prog], env, os.path.basename(prog), timeout, out)
        total_p += p
        total_f += f
    return total_p, total_f


def stage_e2e(out, python, binary="zig-out/bin/mfkv", tests=("tests/e2e",), name="e2e", extra_env=None):
    xml = os.path.join(ROOT, "zig-out", f"{name}-results.xml")
    if os.path.exists(xml):
        os.unlink(xml)
    env = dict(os.environ, MFKV_BIN=os.path.join(ROOT, binary), PYTHONDONTWRITEBYTECODE="1", **(extra_env or {}))
    # Its own temporary folder: two pytest runs at once must not clean up
    # each other's numbered folders.
    with tempfile.TemporaryDirectory(prefix=f"mfkv-{name}-") as tmp:
        cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
               f"--basetemp={os.path.join(tmp, 'pytest')}", *tests]
        p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out(p.stdout.rstrip("\n"))
    if not os.path.exists(xml):
        return 0, 1
    root = ET.parse(xml).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = sum(int(s.get("tests", 0)) for s in suites)
    bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    if p.returncode not in (0, 1) and bad == 0:
        bad = 1
    return tests - bad - skipped, bad


def stages(python):
    """(name, title, skip group, function of `out`), longest first so that two
    at a time finish close together."""
    vg = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect"]
    light = {"MFKV_TEST_LIGHT": "1"}
    return [
        ("valgrind", "unit tests under valgrind memcheck", "valgrind",
         lambda out: stage_unit(out, os.path.join(ROOT, "zig-out-vg/tests"), vg, light, 1200)),
        ("e2e", "end-to-end tests (pytest)", "e2e", lambda out: stage_e2e(out, python)),
        ("valgrind-cli", "CLI tests with mfkv under valgrind memcheck", "valgrind",
         lambda out: stage_e2e(out, python, "tests/valgrind-mfkv", ("tests/e2e/test_core.py", "tests/e2e/test_roundtrip.py"),
                               "valgrind-cli", light)),
        ("asan", "unit tests under AddressSanitizer (gcc)", "asan",
         lambda out: stage_unit(out, os.path.join(ROOT, "zig-out-asan/tests"), [],
                                dict(light, ASAN_OPTIONS="detect_leaks=1"), 900)),
        ("unit", "unit tests (Debug, UBSan)", "unit",
         lambda out: stage_unit(out, os.path.join(ROOT, "zig-out/tests"), [], {}, 600)),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip", action="append", default=[], choices=["unit", "e2e", "valgrind", "asan"])
    ap.add_argument("--python", default=sys.executable, help="interpreter that has pytest")
    ap.add_argument("--jobs", type=int, default=2, help="stages run at once (default 2)")
    args = ap.parse_args()
    chosen = [st for st in stages(args.python) if st[2] not in args.skip]
    results = {}
    lock = threading.Lock()
    start = time.time()

    def run_stage(name, title, fn):
        if args.jobs == 1:
            print(f"== {title}", flush=True)
            results[name] = fn(lambda text: print(text, flush=True))
            return
        lines = []
        t0 = time.time()
        results[name] = fn(lines.append)
        with lock:
            print(f"== {title} ({time.time() - t0:.0f}s, ended at {time.time() - start:.0f}s)")
            print("\n".join(lines), flush=True)

    pending = list(chosen)

    def worker():
        while True:
            with lock:
                if not pending:
                    return
                name, title, _, fn = pending.pop(0)
            run_stage(name, title, fn)

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    passed = failed = 0
    print()
    for name, _, _, _ in chosen:
        p, f = results.get(name, (0, 1))  # a stage that raised counts as failed
        passed, failed = passed + p, failed + f
        print(f"  {name:<12} {p:4d} passed {f:4d} failed")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
