#!/usr/bin/env python3
"""Benchmark mfkv's input loaders: MB/s per format next to reference readers,
and `mfkv build` from each model format against the same build from .npy.

Synthetic inputs of MovieLens-1M shape, fixed seed, written once per run:

  weights.ndjson   BigQuery ML `ML.WEIGHTS` export, 6,040 users x 3,706 items
                   x 60 factors, the shape of ../shared/examples/bqml-weights.ndjson
  users.csv/items.csv  the same model as long CSV (id,bias,factor,weight)
  npy/             the same model as an npy folder
  ratings.dat      1,000,209 ratings, MovieLens 1M's user::item::rating::time
  ratings.csv      the same as MovieLens latest's userId,movieId,rating,timestamp
  movies.dat       3,706 movies, MovieLens 1M's id::title::genres

Loaders (tools/bench/bench_load), one thread (issue 9's per-core figure),
best of --repeats, each next to references run on the same file; rating
logs and long CSV also with the library's default threads (one per CPU):
  wc -l            reads every byte, finds the lines (the disk/page-cache floor);
  python json      json.loads of every line (NDJSON only);
  pandas read_csv  C engine (CSV formats; '::' files with sep='::' need the
                   python engine, so they get the C engine on the CSV twin).

Builds (whole `mfkv build -k 50 -q` processes, the three interleaved --repeats
times; wall median and best CPU time): from
--weights, from --users/--items, from --npy; the ratios are the figures of
issue 9 (NDJSON within 2x of npy, long CSV within 1.5x).

Prints the CPU and the BLAS kernel mfkv used with every table.  Wall times
swing with a shared machine's load: ratios within one run are the figure.

    python3 tools/bench_load.py [--mfkv zig-out-release/bin/mfkv]
                                [--bench zig-out-release/bench/bench_load] [--repeats 3]

Needs numpy and pandas (tools/requirements-bench.txt).
"""
import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USERS, ITEMS, FACTORS, RATINGS = 6040, 3706, 60, 1_000_209
SEED = 20240601


def write_model(tmp):
    """One random model in the three formats mfkv builds from."""
    rng = np.random.default_rng(SEED)
    uf = (rng.standard_normal((USERS, FACTORS)) * 0.35).astype(np.float32)
    vf = (rng.standard_normal((ITEMS, FACTORS)) * 0.35).astype(np.float32)
    ub = (rng.standard_normal(USERS) * 0.3).astype(np.float32)
    vb = (rng.standard_normal(ITEMS) * 0.4).astype(np.float32)
    gb = 3.58156445
    # BigQuery writes factors highest first and 6-7 significant digits.
    with open(os.path.join(tmp, "weights.ndjson"), "w") as out:
        out.write(json.dumps({"processed_input": None, "feature": "global__INTERCEPT__", "factor_weights": None,
                              "intercept": gb}) + "\n")
        for name, f, b in (("user_id", uf, ub), ("item_id", vf, vb)):
            for i in range(f.shape[0]):
                fw = ", ".join(f'{{"factor": {k + 1}, "weight": {float(f[i, k]):.6g}}}'
                               for k in reversed(range(FACTORS)))
                out.write(f'{{"processed_input": "{name}", "feature": "{i + 1}", "factor_weights": [{fw}], '
                          f'"intercept": {float(b[i]):.8g}}}\n')
    for side, f, b in (("users", uf, ub), ("items", vf, vb)):
        with open(os.path.join(tmp, side + ".csv"), "w") as out:
            out.write(("user_id" if side == "users" else "item_id") + ",bias,factor,weight\n")
            for i in range(f.shape[0]):
                out.write("".join(f"{i + 1},{float(b[i]):.8g},{k + 1},{float(f[i, k]):.6g}\n"
                                  for k in reversed(range(FACTORS))))
    npy = os.path.join(tmp, "npy")
    os.makedirs(npy)
    for name, a in (("user_factors", uf), ("item_factors", vf), ("user_bias", ub), ("item_bias", vb)):
        np.save(os.path.join(npy, name + ".npy"), a)
    for name, n in (("user_ids.txt", USERS), ("item_ids.txt", ITEMS)):
        with open(os.path.join(npy, name), "w") as out:
            out.write("".join(f"{i + 1}\n" for i in range(n)))
    with open(os.path.join(npy, "global_bias.txt"), "w") as out:
        out.write(f"{gb}\n")


def write_ratings(tmp):
    rng = random.Random(SEED)
    # Each (user, item) once, as in MovieLens: mfkv refuses a pair rated twice.
    pairs = np.random.default_rng(SEED).choice(USERS * ITEMS, size=RATINGS, replace=False)
    genres = ["Action", "Comedy", "Drama", "Thriller", "Romance", "Sci-Fi", "Children's"]
    with open(os.path.join(tmp, "ratings.dat"), "w") as dat, open(os.path.join(tmp, "ratings.csv"), "w") as csv:
        csv.write("userId,movieId,rating,timestamp\n")
        for pair in pairs.tolist():
            u, i, r, t = pair // ITEMS + 1, pair % ITEMS + 1, rng.randint(1, 5), rng.randint(956703932, 1046454590)
            dat.write(f"{u}::{i}::{r}::{t}\n")
            csv.write(f"{u},{i},{r}.0,{t}\n")
    with open(os.path.join(tmp, "movies.dat"), "w", encoding="latin-1") as out:
        for i in range(ITEMS):
            g = "|".join(sorted(rng.sample(genres, rng.randint(1, 3))))
            out.write(f"{i + 1}::Movie number {i + 1}, The ({rng.randint(1919, 2000)})::{g}\n")


def best_of(repeats, fn):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def json_lines(path):
    with open(path, "rb") as f:
        for line in f:
            json.loads(line)


def run(argv, env=None):
    p = subprocess.run(argv, capture_output=True, text=True, env=env)
    if p.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{p.stderr}")
    return p


def cpu_name():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mfkv", default=os.path.join(REPO, "zig-out-release/bin/mfkv"))
    ap.add_argument("--bench", default=os.path.join(REPO, "zig-out-release/bench/bench_load"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import pandas as pd

    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    with tempfile.TemporaryDirectory(prefix="mfkv-bench-load-") as tmp:
        write_model(tmp)
        write_ratings(tmp)
        f = lambda name: os.path.join(tmp, name)
        print(f"## mfkv input loading ({cpu_name()}, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}; best of {args.repeats})\n")
        print("| input | MB | mfkv loader MB/s (CPU) | mfkv loader MB/s (wall) | wc -l MB/s | reference | "
              "reference MB/s | mfkv vs reference (wall) |")
        print("|---|---:|---:|---:|---:|---|---:|---:|")
        # (label, loader format, files, reference, the reference's file, the reference)
        cases = [
            ("BigQuery ML NDJSON", "ndjson", [f("weights.ndjson")], "python json.loads per line",
             f("weights.ndjson"), lambda: json_lines(f("weights.ndjson"))),
            ("BigQuery ML long CSV (users + items)", "csv", [f("users.csv"), f("items.csv")], "pandas read_csv",
             f("users.csv"), lambda: pd.read_csv(f("users.csv"))),
            (f"BigQuery ML long CSV, {os.cpu_count()} threads", "csv", [f("users.csv"), f("items.csv")],
             "pandas read_csv", f("users.csv"), lambda: pd.read_csv(f("users.csv"))),
            ("MovieLens 1M ratings.dat", "ratings", [f("ratings.dat")], "pandas read_csv, ratings.csv twin",
             f("ratings.csv"), lambda: pd.read_csv(f("ratings.csv"))),
            ("MovieLens latest ratings.csv", "ratings", [f("ratings.csv")], "pandas read_csv",
             f("ratings.csv"), lambda: pd.read_csv(f("ratings.csv"))),
            (f"MovieLens 1M ratings.dat, {os.cpu_count()} threads", "ratings", [f("ratings.dat")],
             "pandas read_csv, ratings.csv twin", f("ratings.csv"), lambda: pd.read_csv(f("ratings.csv"))),
            (f"MovieLens latest ratings.csv, {os.cpu_count()} threads", "ratings", [f("ratings.csv")],
             "pandas read_csv", f("ratings.csv"), lambda: pd.read_csv(f("ratings.csv"))),
            ("MovieLens 1M movies.dat", "movies", [f("movies.dat")], "pandas read_csv (sep '::', python engine)",
             f("movies.dat"), lambda: pd.read_csv(f("movies.dat"), sep="::", engine="python", header=None,
                                                  encoding="latin-1")),
        ]
        for label, fmt, files, ref_name, ref_file, ref in cases:
            # bench_load reads ratings and long CSV on one thread unless told; "0" is the library's default.
            threads = ["0"] if label.endswith(" threads") else []
            out = run([args.bench, fmt, *files, str(args.repeats), *threads]).stdout
            r = json.loads(out.strip().splitlines()[-1])
            mb = r["bytes"] / 1e6
            wc = best_of(args.repeats, lambda: [run(["wc", "-l", p]) for p in files])
            ref_rate = os.path.getsize(ref_file) / 1e6 / best_of(args.repeats, ref)
            rate = mb / r["seconds"]
            print(f"| {label} | {mb:.1f} | {mb / r['cpu_seconds']:.0f} | {rate:.0f} | {mb / wc:.0f} | {ref_name} | "
                  f"{ref_rate:.0f} | {rate / ref_rate:.1f}× |")

        print(f"\n## mfkv build -k 50 from each model format (whole process: wall median, "
              f"CPU best of {args.repeats}, the formats interleaved)\n")
        builds = {
            "npy": ["--npy", f("npy")],
            "BigQuery ML NDJSON": ["--weights", f("weights.ndjson")],
            "long CSV": ["--users", f("users.csv"), "--items", f("items.csv"), "--global-bias", "3.58156445"],
        }
        walls, cpus, loads = ({label: [] for label in builds} for _ in range(3))
        blas = ""
        # Interleaved so a burst of load from elsewhere hits every format alike;
        # CPU time (user + sys of the child) is the steadier figure when it does.
        for _ in range(args.repeats):
            for label, inputs in builds.items():
                store = f("s.mfkv")
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                p = run([args.mfkv, "build", *inputs, "-k", "50", "-o", store, "-q", "--timings"], env)
                walls[label].append(time.perf_counter() - t0)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[label].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
                for line in p.stderr.splitlines():
                    if line.startswith("mfkv: timings: load "):
                        loads[label].append(float(line.split()[3]))
                    if line.startswith("mfkv: blas: "):
                        blas = line[len("mfkv: blas: "):]
        wall = {label: statistics.median(v) for label, v in walls.items()}
        cpu = {label: min(v) for label, v in cpus.items()}
        print("| input | whole process s | CPU s | load s | vs npy (wall) | vs npy (CPU) |")
        print("|---|---:|---:|---:|---:|---:|")
        for label in builds:
            print(f"| {label} | {wall[label]:.3f} | {cpu[label]:.3f} | {statistics.median(loads[label]):.3f} | "
                  f"{wall[label] / wall['npy']:.2f}× | {cpu[label] / cpu['npy']:.2f}× |")
        print(f"\nBLAS: {blas} (OPENBLAS_CORETYPE unset)")


if __name__ == "__main__":
    main()
