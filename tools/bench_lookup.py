#!/usr/bin/env python3
"""Benchmark mfkv lookups: in-process (zig-out/bench/bench_lookup) and whole
process (`mfkv get 1`).

Stores are built with `mfkv build --npy` from random factors (the same
generator and seed as tools/bench_build.py):

  ml1m  6,040 users x 3,706 items x 60 factors, k=50
  1M    1,000,000 users x 1,000 items x 32 factors, k=50
  10M   10,000,000 users x 200 items x 16 factors, k=10 (to fit the disk;
        --no-10m skips it; its model and store are removed afterwards)

bench_lookup times warm random lookups three ways (mfkv_get with the record
checksum verified, without it, and a bare LMDB mdb_get of the same keys: the
floor); the ratios to mdb_get are what mfkv's framing and checks cost; then
the cold costs on a fresh handle: mfkv_open, and the first lookup of 1,000
distinct users (which proves the pages on its path).  The
whole-process time of `mfkv get 1` (exec, open, one lookup, print) is taken
with hyperfine when it is installed, else as the median of a loop of runs.

    python3 tools/bench_lookup.py [--lookups 1000000] [--runs 200]

Needs numpy (tools/requirements-bench.txt).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_build import REPO, SEED, write_model  # noqa: E402

SHAPES = [("ml1m", 6040, 3706, 60, 50), ("1M", 1_000_000, 1000, 32, 50), ("10M", 10_000_000, 200, 16, 10)]


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"{' '.join(argv)} failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


def whole_process(mfkv, store, runs, extra=()):
    """Median seconds of `mfkv get -s STORE [extra] 1` and how it was measured."""
    argv = [mfkv, "get", "-s", store, *extra, "1"]
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            run(["hyperfine", "-N", "--warmup", "20", "--runs", str(runs), "--export-json", out.name,
                 " ".join(argv)])
            r = json.load(open(out.name))["results"][0]
        return r["median"], f"hyperfine -N, {runs} runs"
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), f"median of {runs} runs of subprocess.run"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lookups", type=int, default=1_000_000, help="lookups per bench_lookup repeat")
    ap.add_argument("--repeats", type=int, default=7, help="bench_lookup repeats (median reported)")
    ap.add_argument("--runs", type=int, default=200, help="runs of `mfkv get 1`")
    ap.add_argument("--mfkv", default=os.path.join(REPO, "zig-out-release/bin/mfkv"))
    ap.add_argument("--bench", default=os.path.join(REPO, "zig-out-release/bench/bench_lookup"))
    ap.add_argument("--workdir", help="where models and stores go (default: a temporary folder)")
    ap.add_argument("--no-10m", action="store_true", help="skip the 10,000,000-user store")
    args = ap.parse_args()

    print(f"## mfkv lookups ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})\n")
    print("| store | users | k | store MiB | mfkv_get ns | no checksum ns | mdb_get ns | mfkv_get / mdb_get "
          "| no checksum / mdb_get | mfkv_open µs | first touch ns | `mfkv get 1` ms | vs 6,040 "
          "| `mfkv get --no-verify 1` ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    notes = []
    with tempfile.TemporaryDirectory(prefix="mfkv-bench-") as tmp:
        workdir = args.workdir or tmp
        for name, users, items, factors, k in SHAPES:
            if name == "10M" and args.no_10m:
                continue
            folder = os.path.join(workdir, f"lookup-{name}")
            if not os.path.exists(os.path.join(folder, "global_bias.txt")):
                write_model(folder, users, items, factors, SEED)
            store = os.path.join(workdir, f"lookup-{name}.mfkv")
            run([args.mfkv, "build", "--npy", folder, "-k", str(k), "-o", store, "-q"])
            rows = {}
            for line in run([args.bench, store, str(args.lookups), str(args.repeats)]).splitlines()[1:]:
                method, _, _, med, _ = line.split("\t")
                rows[method] = float(med)
            proc, how = whole_process(args.mfkv, store, args.runs)
            proc_nv, _ = whole_process(args.mfkv, store, args.runs, ["--no-verify"])
            notes.append(how)
            a, b, c = rows["mfkv_get"], rows["mfkv_get_no_checksum"], rows["mdb_get"]
            base = base or proc
            print(f"| {name} | {users:,} | {k} | {os.path.getsize(store) / 2**20:.0f} | {a:.0f} | {b:.0f} | {c:.0f} "
                  f"| {a / c:.2f}× | {b / c:.2f}× | {rows['mfkv_open'] / 1e3:.0f} | {rows['mfkv_get_first_touch']:.0f} "
                  f"| {proc * 1e3:.2f} | {proc / base:.2f}× | {proc_nv * 1e3:.2f} |", flush=True)
            if name == "10M":
                os.remove(store)
                shutil.rmtree(folder)
    print(f"\nIn-process: median ns per warm random lookup over {args.repeats} repeats of "
          f"{args.lookups:,} lookups (bench_lookup).  Whole process: {notes[0]}.")


if __name__ == "__main__":
    main()
