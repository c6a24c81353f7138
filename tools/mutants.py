#!/usr/bin/env python3
"""Mutation testing of mfkv's core: do the tests notice a deliberate bug?

    .venv/bin/python tools/mutants.py                 every mutant below
    .venv/bin/python tools/mutants.py --folder src/io --sample 4 --seed 1
    .venv/bin/python tools/mutants.py --tests-from main   the tests of another revision
    .venv/bin/python tools/mutants.py --list          the mutants, without running

A curated list (tools/mutants.txt) of small, realistic bugs in src/builder,
src/reader, src/io, src/train, src/common and src/serve: each changes one
thing a user would notice (an order, a bound, a check, a formula).  For each mutant the
script copies the working tree to a scratch folder (the checkout itself is
never modified), applies the change, builds with tools/zig, and runs the
tests of that folder (TESTS below) until one fails: the mutant is "killed".
A mutant no test kills "survived" and is printed with its description.  A
mutant that does not build is "stillborn" and left out of the score.  Ends
with the score per folder (killed / built) and the survivors.

Mutants marked `equivalent` cannot change any output (the reason is given)
and are reported but not scored.  Slow: a build and several test programs
per mutant (about 20-60 s each on 2 cores); --sample bounds a run.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Tests run against a mutant of each folder, cheapest first; the unit
# programs run light (MFKV_TEST_LIGHT=1).  Missing files (--tests-from an
# older revision) are skipped.
E2E = lambda *names: ["pytest"] + [f"tests/e2e/{n}" for n in names]
TESTS = {
    "src/builder": [["zig-out/tests/test_topk"], E2E("test_core.py", "test_order_and_ties.py", "test_format_pinned.py"),
                    ["zig-out/tests/test_store"]],
    "src/reader": [["zig-out/tests/test_store"], E2E("test_core.py", "test_format_pinned.py"),
                   ["zig-out/tests/test_corruption"], ["zig-out/tests/test_fuzz_replay"]],
    "src/io": [["zig-out/tests/test_io_factors"], ["zig-out/tests/test_io_ratings"], ["zig-out/tests/test_fuzz_replay"],
               E2E("test_core.py", "test_order_and_ties.py", "test_bad_inputs.py", "test_format_pinned.py")],
    "src/train": [["zig-out/tests/test_train"], E2E("test_train.py")],
    "src/common": [["zig-out/tests/test_topk"], ["zig-out/tests/test_io_factors"],
                   E2E("test_core.py", "test_order_and_ties.py", "test_format_pinned.py")],
    "src/serve": [["zig-out/tests/test_serve"], E2E("test_serve.py")],
}

def load_mutants(path):
    """Parse tools/mutants.txt (its header says the format)."""
    mutants, m, block = [], None, None
    for line in open(path).read().split("\n"):
        if m is None:
            if line.startswith("mutant "):
                _, ident, file = line.split()
                m = {"id": ident, "file": file, "edits": []}
            continue
        if block is None and line.startswith(("what ", "equivalent ")):
            key, text = line.split(" ", 1)
            m[key] = text
        elif line in ("find", "replace", "end"):
            if block is not None:
                text = "\n".join(block[1])
                if block[0] == "find":
                    m["edits"].append([text, None])
                else:
                    m["edits"][-1][1] = text
            block = (line, []) if line != "end" else None
            if line == "end":
                mutants.append(m)
                m = None
        elif block is not None:
            block[1].append(line)
    return mutants


MUTANTS = load_mutants(os.path.join(ROOT, "tools", "mutants.txt"))


def folder_of(m):
    return "src/builder" if m["file"] == "src/format.h" else os.path.dirname(m["file"])


def copy_tree(dst, tests_from):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for f in files:
        if f and os.path.isfile(os.path.join(ROOT, f)):
            os.makedirs(os.path.join(dst, os.path.dirname(f)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), os.path.join(dst, f))
    os.symlink(os.path.join(ROOT, ".venv"), os.path.join(dst, ".venv"))
    if tests_from:
        shutil.rmtree(os.path.join(dst, "tests"))
        tar = subprocess.run(["git", "archive", tests_from, "tests"], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", dst], input=tar, check=True)


def run_tests(dst, folder, timeout):
    env = dict(os.environ, MFKV_TEST_LIGHT="1", MFKV_BIN=os.path.join(dst, "zig-out/bin/mfkv"),
               MFKV_FIXTURES=os.path.join(dst, "tests/fixtures"), PYTHONDONTWRITEBYTECODE="1")
    for cmd in TESTS[folder]:
        if cmd[0] == "pytest":
            files = [f for f in cmd[1:] if os.path.exists(os.path.join(dst, f))]
            if not files:
                continue
            cmd = [os.path.join(dst, ".venv/bin/python"), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *files]
        try:
            p = subprocess.run(cmd, cwd=dst, env=env, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "killed", f"{cmd[-1]} (timeout)"
        if p.returncode != 0:
            failed = [l.split()[1] for l in p.stdout.decode(errors="replace").splitlines() if l.startswith("FAILED ")]
            return "killed", os.path.basename(failed[0].split("::")[0]) if failed else os.path.basename(cmd[-1])
    return "survived", ""


def apply(dst, m):
    """Apply mutant @p m in the scratch tree; returns the file's original text."""
    path = os.path.join(dst, m["file"])
    original = text = open(path).read()
    for find, repl in m["edits"]:
        if text.count(find) != 1:
            raise SystemExit(f"mutants: {m['id']}: the text to change occurs {text.count(find)} times in {m['file']}")
        text = text.replace(find, repl)
    with open(path, "w") as f:
        f.write(text)
    return original


def restore(dst, m, original):
    with open(os.path.join(dst, m["file"]), "w") as f:
        f.write(original)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", action="append", choices=sorted(TESTS), help="only mutants of this folder")
    ap.add_argument("--id", action="append", help="only this mutant (repeatable)")
    ap.add_argument("--sample", type=int, help="at most N mutants per folder, chosen with --seed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tests-from", metavar="REV", help="run the tests/ of git revision REV (e.g. main)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per test command (default 600)")
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    args = ap.parse_args()

    chosen = [m for m in MUTANTS if (not args.folder or folder_of(m) in args.folder) and (not args.id or m["id"] in args.id)]
    if args.sample:
        rng = random.Random(args.seed)
        by_folder = {}
        for m in chosen:
            by_folder.setdefault(folder_of(m), []).append(m)
        chosen = [m for ms in by_folder.values() for m in rng.sample(ms, min(args.sample, len(ms)))]
    if args.list:
        for m in chosen:
            print(f"{folder_of(m):12} {m['id']:32} {m['what']}")
        return 0
    if not chosen:
        print("mutants: nothing selected", file=sys.stderr)
        return 2

    dst = tempfile.mkdtemp(prefix="mfkv-mutants-")
    try:
        copy_tree(dst, args.tests_from)
        for m in chosen:  # every edit must apply to this tree before anything runs
            restore(dst, m, apply(dst, m))
        build = [os.path.join(dst, "tools/zig"), "build"]
        if subprocess.run(build, cwd=dst, capture_output=True).returncode != 0:
            print("mutants: the unmutated tree does not build", file=sys.stderr)
            return 3
        results = []
        for n, m in enumerate(chosen, 1):
            start = time.time()
            original = apply(dst, m)
            if subprocess.run(build, cwd=dst, capture_output=True).returncode != 0:
                outcome, by = "stillborn", ""
            else:
                outcome, by = run_tests(dst, folder_of(m), args.timeout)
            restore(dst, m, original)
            results.append((m, outcome))
            print(f"[{n}/{len(chosen)}] {folder_of(m):12} {m['id']:32} {outcome:9} {by:24} {time.time() - start:5.0f}s",
                  flush=True)
    finally:
        shutil.rmtree(dst, ignore_errors=True)

    print("\nscore per folder (killed / mutants that built; equivalent ones not counted)")
    for folder in sorted({folder_of(m) for m, _ in results}):
        rows = [(m, o) for m, o in results if folder_of(m) == folder and o != "stillborn" and "equivalent" not in m]
        killed = sum(o == "killed" for _, o in rows)
        print(f"  {folder:12} {killed:3d} / {len(rows):3d}" + (f"  ({100 * killed / len(rows):.0f}%)" if rows else ""))
    survivors = [m for m, o in results if o == "survived"]
    if survivors:
        print("\nsurvivors:")
        for m in survivors:
            note = f"  [equivalent: {m['equivalent']}]" if "equivalent" in m else ""
            print(f"  {m['id']:32} {m['file']}: {m['what']}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
