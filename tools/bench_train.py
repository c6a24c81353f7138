#!/usr/bin/env python3
"""Benchmark `mfkv train` against peers on MovieLens latest-small.

A 90/10 random split with a fixed seed is written to two CSV files; every
method trains on the first and is scored by RMSE on the second (users or
items missing from training are predicted from the parts that exist:
global mean and the known bias).  Peers:
  - a plain numpy ALS with the same model (biases folded into the factor
    vector, plain-lambda L2 on factors and biases) in double precision;
  - Surprise's SVD (biased matrix factorization by SGD), if it imports;
  - LensKit's BiasedMFScorer (ALS on bias-normalised ratings), if it imports.
Then `mfkv train` alone on an ML-1M-sized synthetic set (6,040 users x
3,706 items, 1,000,209 ratings, 60 factors, 20 iterations).

Every method gets the same factors and iterations (epochs); mfkv and the
numpy ALS get the same penalty, by default mfkv's (MFKV_ALS_DEFAULT_L2 and
MFKV_ALS_DEFAULT_L2_PER_RATING); Surprise and LensKit keep their own
regularisation defaults.  Prints
markdown tables, then one line per peer with the speed ratio ("mfkv vs
Surprise SVD: 3.4x faster").  Needs numpy; peers that do not import are
skipped with a note.  Wall-clock times: run it on an otherwise idle machine.

    .venv/bin/python tools/bench_train.py [ML_LATEST_SMALL_DIR] [--mfkv zig-out-release/bin/mfkv]
"""
import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np

DEFAULT_DIRS = ["data/movielens/ml-latest-small", "../shared/data/ml-latest-small"]


def load_split(path, seed, test_fraction=0.1):
    with open(path, newline="") as f:
        rows = [(r[0], r[1], float(r[2])) for r in list(csv.reader(f))[1:]]
    rng = random.Random(seed)
    train, test = [], []
    for row in rows:
        (test if rng.random() < test_fraction else train).append(row)
    return train, test


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("user_id,item_id,rating\n")
        for u, i, r in rows:
            f.write(f"{u},{i},{r}\n")


def rmse(pred, actual):
    return math.sqrt(sum((p - a) ** 2 for p, a in zip(pred, actual)) / len(actual))


def run_mfkv(mfkv, train_csv, test_csv, workdir, factors, l2, l2_per_rating, iterations):
    """Held-out RMSE and the best of three training times (a run is seconds)."""
    model = os.path.join(workdir, "model.mfkvm")
    seconds = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([mfkv, "train", train_csv, "-o", model, "--factors", str(factors),
                        "--l2", str(l2), "--l2-per-rating", str(l2_per_rating),
                        "--iterations", str(iterations), "--no-early-stop",
                        "--seed", "1", "-q"], check=True, stdout=subprocess.DEVNULL)
        seconds = min(seconds, time.perf_counter() - t0)
    if test_csv is None:
        return None, seconds
    out = subprocess.run([mfkv, "eval", model, test_csv, "--format", "json"], check=True,
                         capture_output=True, text=True).stdout
    return math.sqrt(json.loads(out)["mean_squared_error"]), seconds


def numpy_als(train, test, factors, l2, l2_per_rating, iterations, seed):
    """mfkv's model: biased ALS, each row solved exactly with the other side
    fixed, with the penalty l2 + l2_per_rating * (the row's ratings)."""
    t0 = time.perf_counter()
    users = {u: j for j, u in enumerate(sorted({r[0] for r in train}))}
    items = {i: j for j, i in enumerate(sorted({r[1] for r in train}))}
    u = np.array([users[r[0]] for r in train])
    i = np.array([items[r[1]] for r in train])
    y = np.array([r[2] for r in train])
    mu = y.mean()
    rng = np.random.default_rng(seed)
    P = np.zeros((len(users), factors))
    bu = np.zeros(len(users))
    Q = rng.uniform(-1, 1, (len(items), factors)) * math.sqrt(3 / factors)
    bi = np.zeros(len(items))
    by_user = [np.flatnonzero(u == x) for x in range(len(users))]
    by_item = [np.flatnonzero(i == x) for x in range(len(items))]
    eye = np.eye(factors + 1)

    def solve(rows, other_f, other_b, other_idx, own_f, own_b):
        for x, idx in enumerate(rows):
            if len(idx) == 0:
                continue
            A = np.hstack([other_f[other_idx[idx]], np.ones((len(idx), 1))])
            t = y[idx] - mu - other_b[other_idx[idx]]
            sol = np.linalg.solve(A.T @ A + (l2 + l2_per_rating * len(idx)) * eye, A.T @ t)
            own_f[x], own_b[x] = sol[:-1], sol[-1]

    for _ in range(iterations):
        solve(by_user, Q, bi, i, P, bu)
        solve(by_item, P, bu, u, Q, bi)
    seconds = time.perf_counter() - t0
    pred = []
    for uid, iid, _ in test:
        a, b = users.get(uid), items.get(iid)
        p = mu + (bu[a] if a is not None else 0) + (bi[b] if b is not None else 0)
        if a is not None and b is not None:
            p += P[a] @ Q[b]
        pred.append(p)
    return rmse(pred, [r[2] for r in test]), seconds


def surprise_svd(train_csv, test, factors, seed):
    try:
        from surprise import SVD, Dataset, Reader
    except ImportError:
        return None
    reader = Reader(line_format="user item rating", sep=",", skip_lines=1,
                    rating_scale=(0.5, 5.0))
    data = Dataset.load_from_file(train_csv, reader)
    algo = SVD(n_factors=factors, random_state=seed)
    t0 = time.perf_counter()
    algo.fit(data.build_full_trainset())
    seconds = time.perf_counter() - t0
    pred = [algo.predict(u, i).est for u, i, _ in test]
    return rmse(pred, [r[2] for r in test]), seconds


def lenskit_als(train, test, factors, iterations):
    """LensKit (2025 API) BiasedMFScorer with its own regularisation defaults:
    its model (damped-mean biases, then ALS on the residuals with weighted
    lambda) differs from mfkv's, so mfkv's l2 does not carry over."""
    try:
        import pandas as pd
        from lenskit.als import BiasedMFScorer
        from lenskit.data import ItemList, from_interactions_df
    except ImportError:
        return None
    data = from_interactions_df(pd.DataFrame(train, columns=["user_id", "item_id", "rating"]))
    algo = BiasedMFScorer(embedding_size=factors, epochs=iterations)
    t0 = time.perf_counter()
    algo.train(data)
    seconds = time.perf_counter() - t0
    by_user = {}
    for j, (u, i, _) in enumerate(test):
        by_user.setdefault(u, []).append((j, i))
    pred = [0.0] * len(test)
    for u, rows in by_user.items():
        items = ItemList(item_ids=[i for _, i in rows])
        scores = algo(u, items).scores()
        # items unknown to the model score NaN: fall back to its biases
        biases, _ = algo.bias.compute_for_items(items, user_id=u)
        for (j, _), s, b in zip(rows, scores, biases):
            pred[j] = b if math.isnan(s) else s
    return rmse(pred, [r[2] for r in test]), seconds


def synthetic_ml1m(path, seed):
    """6,040 x 3,706 with 1,000,209 distinct pairs, popularity-skewed."""
    nu, ni, n = 6040, 3706, 1000209
    rng = np.random.default_rng(seed)
    wu = 1 / np.arange(1, nu + 1) ** 0.5
    wi = 1 / np.arange(1, ni + 1) ** 0.8
    pairs = np.unique(rng.choice(nu, 2 * n, p=wu / wu.sum()).astype(np.int64) * ni
                      + rng.choice(ni, 2 * n, p=wi / wi.sum()))
    rng.shuffle(pairs)
    pairs = pairs[:n]
    u, i = pairs // ni, pairs % ni
    P, Q = rng.normal(0, 0.5, (nu, 8)), rng.normal(0, 0.5, (ni, 8))
    r = np.clip(np.rint(3.5 + (P[u] * Q[i]).sum(1) + rng.normal(0, 0.8, n)), 1, 5)
    with open(path, "w") as f:
        f.write("user_id,item_id,rating\n")
        np.savetxt(f, np.column_stack([u + 1, i + 1, r]), fmt="%d,%d,%d")
    return len(np.unique(u)), len(np.unique(i)), n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", help="folder holding ratings.csv of ml-latest-small")
    ap.add_argument("--mfkv", default=os.environ.get("MFKV_BIN", "zig-out-release/bin/mfkv"))
    ap.add_argument("--factors", type=int, default=60)
    ap.add_argument("--l2", type=float, default=4.0)
    ap.add_argument("--l2-per-rating", type=float, default=0.05)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    folder = args.data or next((d for d in DEFAULT_DIRS if os.path.isdir(d)), None)
    if not folder or not os.path.exists(os.path.join(folder, "ratings.csv")):
        sys.exit("bench_train: no ml-latest-small folder (give its path)")

    train, test = load_split(os.path.join(folder, "ratings.csv"), args.seed)
    with tempfile.TemporaryDirectory() as work:
        train_csv, test_csv = os.path.join(work, "train.csv"), os.path.join(work, "test.csv")
        write_csv(train_csv, train)
        write_csv(test_csv, test)
        results = [("mfkv train", run_mfkv(args.mfkv, train_csv, test_csv, work, args.factors,
                                           args.l2, args.l2_per_rating, args.iterations))]
        results.append(("numpy ALS (float64)", numpy_als(train, test, args.factors, args.l2,
                                                         args.l2_per_rating, args.iterations,
                                                         args.seed)))
        notes = []
        for name, fn in [("Surprise SVD", lambda: surprise_svd(train_csv, test, args.factors,
                                                                args.seed)),
                         ("LensKit BiasedMF", lambda: lenskit_als(train, test, args.factors,
                                                                  args.iterations))]:
            got = fn()
            if got is None:
                notes.append(f"{name}: skipped (not installed)")
            else:
                results.append((name, got))

        base_rmse, base_s = results[0][1]
        print(f"## ml-latest-small: {len(train)} train / {len(test)} test ratings, "
              f"{args.factors} factors, {args.iterations} iterations, "
              f"ALS penalty l2 {args.l2} + {args.l2_per_rating} per rating\n")
        print("| method | held-out RMSE | train s | RMSE - mfkv | time / mfkv |")
        print("|---|---|---|---|---|")
        for name, (r, s) in results:
            print(f"| {name} | {r:.4f} | {s:.2f} | {r - base_rmse:+.4f} | {s / base_s:.1f} |")
        print()
        for name, (r, s) in results[1:]:
            speed = f"{s / base_s:.1f}x faster" if s >= base_s else f"{base_s / s:.1f}x slower"
            print(f"- mfkv vs {name}: {speed}, held-out RMSE {base_rmse:.4f} vs {r:.4f}")
        for note in notes:
            print(f"- {note}")

        synth = os.path.join(work, "ml1m.csv")
        nu, ni, n = synthetic_ml1m(synth, args.seed)
        _, seconds = run_mfkv(args.mfkv, synth, None, work, 60, args.l2, args.l2_per_rating, 20)
        print(f"\n## ML-1M-sized synthetic: {nu} x {ni}, {n} ratings, 60 factors, 20 iterations\n")
        print("| method | train s (load included) | target |")
        print("|---|---|---|")
        print(f"| mfkv train | {seconds:.2f} | < 15 |")


if __name__ == "__main__":
    main()
