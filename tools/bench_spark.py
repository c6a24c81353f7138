#!/usr/bin/env python3
"""Benchmark the mfkv Spark job against Spark's own ALSModel.recommendForAllUsers.

One run, Spark in local[2], for each shape (random float32 factors, fixed
seed, no biases so that Spark's own lists are comparable):

  ml1m    6,040 users x 3,706 items, rank 60 (MovieLens 1M sized)
  medium  100,000 x 20,000, rank 64

and for each, side by side:

  single   `mfkv build --npy DIR -k 50 --threads 2` (the CLI, one process,
           ReleaseFast), wall time of the whole process;
  mfkv     mfkv.spark.build_store(users, items, k=50, shards=2) from the
           factor Parquet files to a published store, with its breakdown
           (item collect + broadcast, shard builds, merge), run twice: the
           1st also starts Spark's Python workers (and warms the JVM), the
           2nd finds them running; Spark's start is timed once, apart;
  als      ALSModel.recommendForAllUsers(50) of an ALSModel holding the same
           factors (a fitted template whose factor Parquet is replaced, then
           ALSModel.load), written to Parquet.  Past --als-users users (default
           10,000) it runs recommendForUserSubset on the first --als-users
           users and scales the time linearly (printed "est."): its work is
           linear in users, and the full run takes most of an hour on 2 cores.

Exactness: the Spark store must equal mfkv.build() of the same arrays byte
for byte, and the CLI store record for record (checked on every user); for
sampled users Spark's lists are compared with mfkv's and the differences
classified (order of near-equal scores, or another item at the cut).

    MFKV_LIB_DIR=zig-out-release/lib .venv/bin/python tools/bench_spark.py \
        [--shapes ml1m,medium] [--sample 2000]

Needs the ReleaseFast build (tools/zig build -Doptimize=ReleaseFast --prefix
zig-out-release), numpy and pyspark (tools/requirements-python.txt).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {"ml1m": (6040, 3706, 60), "medium": (100_000, 20_000, 64)}
K = 50


def cpu_model():
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    m = re.search(r"Model name:\s*(.*)", out)
    return m.group(1).strip() if m else "?"


def factors(shape, seed=7):
    u, i, r = shape
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((u, r), dtype=np.float32) / np.sqrt(r),
            rng.standard_normal((i, r), dtype=np.float32) / np.sqrt(r))


def write_parquet(spark, uf, itf, folder):
    """ALSModel's factor frames as Parquet (id int, features array<float>)."""
    import pyarrow as pa
    for name, m in (("userFactors", uf), ("itemFactors", itf)):
        features = pa.FixedSizeListArray.from_arrays(pa.array(m.ravel()), m.shape[1]).cast(pa.list_(pa.float32()))
        df = spark.createDataFrame(pa.table({"id": pa.array(np.arange(len(m), dtype=np.int32)),
                                             "features": features})).repartition(2)
        df.write.mode("overwrite").parquet(os.path.join(folder, name))


def als_model_with(spark, rank, folder, uf, itf):
    """An ALSModel whose factors are ours: fit a tiny template of this rank,
    save it, replace its factor Parquet, load it back."""
    from pyspark.ml.recommendation import ALS, ALSModel
    rng = np.random.default_rng(1)
    ratings = spark.createDataFrame([(int(a), int(b), float(rng.integers(1, 6))) for a in range(20)
                                     for b in range(20)], "user int, item int, rating float")
    ALS(rank=rank, maxIter=1, userCol="user", itemCol="item", seed=1).fit(ratings).write().overwrite().save(folder)
    write_parquet(spark, uf, itf, folder)
    return ALSModel.load(folder)


def single_process(mfkv_bin, uf, itf, folder):
    npy = os.path.join(folder, "npy")
    os.makedirs(npy, exist_ok=True)
    np.save(os.path.join(npy, "user_factors.npy"), uf)
    np.save(os.path.join(npy, "item_factors.npy"), itf)
    with open(os.path.join(npy, "user_ids.txt"), "w") as f:
        f.writelines(f"{j}\n" for j in range(len(uf)))
    with open(os.path.join(npy, "item_ids.txt"), "w") as f:
        f.writelines(f"{j}\n" for j in range(len(itf)))
    env = dict(os.environ, OPENBLAS_VERBOSE="2")
    t = time.monotonic()
    p = subprocess.run([mfkv_bin, "build", "--npy", npy, "-k", str(K), "--threads", "2", "--timings", "-q",
                        "-o", os.path.join(folder, "cli.mfkv")], capture_output=True, text=True, env=env, check=True)
    wall = time.monotonic() - t
    # OPENBLAS_VERBOSE's "Core:" is OpenBLAS's own pick from its model table;
    # the store's provenance `blas=` line is the kernel mfkv ran (blas_kernel.c).
    table = re.search(r"Core: (\S+)", p.stdout + p.stderr)
    import mfkv
    with mfkv.open(os.path.join(folder, "cli.mfkv")) as st:
        used = re.search(r"^blas=(.*)$", st.info()["provenance"], re.M)
    kernel = f"{used.group(1) if used else '?'} (OPENBLAS_VERBOSE Core: {table.group(1) if table else '?'})"
    return wall, kernel, next((x for x in p.stderr.splitlines() if x.startswith("mfkv: timings")), "?")


def compare_spark_lists(spark, als_out, store, sample, a_als_users):
    """Spark's lists vs mfkv's for `sample` users: identical, same items in
    another order (near-equal scores), or another item at the cut."""
    import mfkv
    from pyspark.sql import functions as F
    rows = (spark.read.parquet(als_out).filter(F.col("user") < min(sample, a_als_users))
            .select("user", F.col("recommendations.item").alias("items"),
                    F.col("recommendations.rating").alias("ratings")).collect())
    same = reordered = cut = 0
    worst = 0.0
    with mfkv.open(store) as st:
        for r in rows:
            recs = st.get(r.user)
            ours = [int(x) for x in recs.item_ids]
            if ours == list(r.items):
                same += 1
            elif sorted(ours) == sorted(r.items):
                reordered += 1
            else:
                cut += 1
            worst = max(worst, float(np.max(np.abs(np.array(r.ratings, dtype=np.float64)
                                                  - recs.scores.astype(np.float64)))) if ours == list(r.items) else 0.0)
    return len(rows), same, reordered, cut, worst


def records_equal(a, b):
    import mfkv
    with mfkv.open(a) as x, mfkv.open(b) as y:
        if len(x) != len(y):
            return False
        for (ua, ra), (ub, rb) in zip(x, y):
            if ua != ub or list(ra.item_index) != list(rb.item_index) or ra.scores.tobytes() != rb.scores.tobytes():
                return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="ml1m,medium")
    ap.add_argument("--sample", type=int, default=2000, help="users whose Spark lists are compared")
    ap.add_argument("--mfkv", default=os.path.join(REPO, "zig-out-release/bin/mfkv"))
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--als-users", type=int, default=10_000, help="ALS timed on at most this many users")
    a = ap.parse_args()
    os.environ.setdefault("MFKV_LIB_DIR", os.path.join(REPO, "zig-out-release/lib"))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    import mfkv
    import mfkv.spark as mspark
    from pyspark.sql import SparkSession

    print(f"CPU: {cpu_model()} ({os.cpu_count()} CPUs), load average {os.getloadavg()[0]:.1f}; "
          f"mfkv libraries from {os.environ['MFKV_LIB_DIR']}")
    t = time.monotonic()
    spark = (SparkSession.builder.master("local[2]").appName("bench_spark").config("spark.ui.enabled", "false")
             .config("spark.driver.memory", "6g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    print(f"Spark {spark.version} local[2] start: {time.monotonic() - t:.1f} s (not counted below)")
    work = tempfile.mkdtemp(prefix="bench_spark.")
    try:
        for name in a.shapes.split(","):
            shape = SHAPES[name]
            folder = os.path.join(work, name)
            os.makedirs(folder)
            uf, itf = factors(shape)
            model = als_model_with(spark, shape[2], os.path.join(folder, "als-model"), uf, itf)
            single, kernel, timings = single_process(a.mfkv, uf, itf, folder)

            users = spark.read.parquet(os.path.join(folder, "als-model", "userFactors"))
            items = spark.read.parquet(os.path.join(folder, "als-model", "itemFactors"))
            runs = []  # the first job of a shape also starts Python workers; the second finds them running
            for _ in range(2):
                t = time.monotonic()
                r = mspark.build_store(users, items, out=os.path.join(folder, "spark.mfkv"), k=K, shards=a.shards,
                                       build_time=1)
                runs.append((time.monotonic() - t, r["seconds"]))

            als_out = os.path.join(folder, "als-recs.parquet")
            subset = len(uf) > a.als_users
            t = time.monotonic()
            if subset:
                from pyspark.sql import functions as F
                who = users.select(F.col("id").alias("user")).filter(F.col("user") < a.als_users)
                model.recommendForUserSubset(who, K).write.mode("overwrite").parquet(als_out)
            else:
                model.recommendForAllUsers(K).write.mode("overwrite").parquet(als_out)
            als = (time.monotonic() - t) * (len(uf) / a.als_users if subset else 1)

            mfkv.build(np.arange(len(uf)), uf, np.arange(len(itf)), itf, k=K, build_time=1, threads=2,
                       path=os.path.join(folder, "single.mfkv"))
            bytes_equal = (open(os.path.join(folder, "spark.mfkv"), "rb").read()
                           == open(os.path.join(folder, "single.mfkv"), "rb").read())
            cli_equal = records_equal(os.path.join(folder, "spark.mfkv"), os.path.join(folder, "cli.mfkv"))
            n, same, reordered, cut, worst = compare_spark_lists(spark, als_out, os.path.join(folder, "spark.mfkv"),
                                                                 a.sample, a.als_users)
            print(f"\n{name}: {shape[0]:,} users x {shape[1]:,} items, rank {shape[2]}, k={K}, "
                  f"{a.shards} shards; BLAS kernel {kernel}; load average {os.getloadavg()[0]:.1f}")
            print(f"  single-process mfkv build (CLI, 2 threads)  {single:8.2f} s   [{timings}]")
            for run, (job, s) in zip(("1st", "2nd"), runs):
                print(f"  mfkv Spark job, {run} (Parquet -> store)      {job:8.2f} s   = items+broadcast "
                      f"{s['items']:.2f} + shards {s['shards']:.2f} + merge {s['merge']:.2f} + rest "
                      f"{job - sum(s.values()):.2f}")
            print(f"  ALS recommendForAllUsers(50) -> Parquet     {als:8.2f} s"
                  f"{f'   (est.: {a.als_users:,} users timed, scaled)' if subset else ''}")
            for run, (job, _) in zip(("1st", "2nd"), runs):
                print(f"  ratios, {run} job: ALS / mfkv Spark job {als / job:.1f}x; mfkv Spark job / single process "
                      f"{job / single:.1f}x")
            print(f"  exactness: Spark store == mfkv.build bytes: {bytes_equal}; == CLI store record for record: "
                  f"{cli_equal}")
            print(f"  Spark's own lists, {n} users: {same} identical (max score diff {worst:.2e}), "
                  f"{reordered} same items in another order, {cut} another item at the cut")
            sys.stdout.flush()
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
