#!/usr/bin/env python3
"""Benchmark `mfkv build` (every user's exact top-50) against its peers.

Side by side, on the same random factors (fixed seed) written as an npy
folder, for three shapes:

  ml1m    6,040 users x 3,706 items x 60 factors (MovieLens 1M sized)
  medium  100,000 x 20,000 x 64
  large   500,000 x 50,000 x 64

methods, each in its own process so that its peak RSS is its own:

  mfkv         `mfkv build --npy DIR -k 50 -o STORE --timings -q`: whole process
               (wall), and the top-K compute it reports;
  gemm floor   tools/bench/gemm_floor: the same blocked cblas_sgemm as mfkv
               (same block sizes, threads) without selection: the floor of
               mfkv's approach;
  numpy gemm   float32 matmul over the same user x item blocks, no selection;
  argsort      numpy: score matrix per block of 1,024 users, then a full
               argsort of each row (the reference deployment's way); for
               medium and large, the first 10,000 users are timed and the
               total extrapolated ("est.");
  argpartition numpy: the same blocks, argpartition then a sort of the 50;
  faiss        IndexFlatIP k=50, biases folded into the vectors
               (user [u, 1], item [v, item_bias]), 2 OpenMP threads.

Peers' times are their compute alone (data already in memory, no output
written), mfkv's "compute" is its top-K stage; its whole process also loads
the npy files and writes and fsyncs the store.  OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE are removed for every method (--keep-blas-env keeps them
for mfkv and the floor): each runs the kernels it picks itself, as a user
gets it (mfkv picks by CPU features, src/builder/blas_kernel.c;
--faiss-coretype sets one for faiss's bundled OpenBLAS).  The
numpy peers are tried with 1 and 2 OpenBLAS threads (--numpy-threads) and
credited with the faster.  The kernel each OpenBLAS ran is printed.

A sanity line compares mfkv's top-50 of sampled users (drawn from the first
10,000) with a float64 numpy brute force, ties by item id; the float32 peers
are compared with it too (they may differ on near-ties: not exact methods).

    python3 tools/bench_build.py [--shapes ml1m,medium,large] [--repeats 3]
                                 [--only mfkv,floor]

Wall times swing with a shared machine's load; the CPU time (user + sys) of
mfkv's and the floor's whole processes, best of the repeats, is printed too
and is the steadier comparison of the two.

Needs numpy, faiss-cpu and threadpoolctl (tools/requirements-bench.txt).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

SHAPES = {
    "ml1m": (6040, 3706, 60),
    "medium": (100_000, 20_000, 64),
    "large": (500_000, 50_000, 64),
}
K = 50
SEED = 20240601
NUMPY_BLOCK_USERS = 1024  # users per score block for argsort / argpartition
SAMPLE_USERS = 10_000     # users timed for the argsort estimate, pool of the check sample
CHECK_USERS = 1000
PEERS = ["numpy_gemm", "argsort", "argpartition", "faiss"]
METHODS = ["mfkv", "floor"] + PEERS
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_model(folder, n_users, n_items, f, seed):
    """Random factors of a plausible trained scale: dot products ~ +-1,
    item biases ~ +-0.4 around a 3.6 mean."""
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(np.sqrt(f))
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "user_factors.npy"),
            (rng.standard_normal((n_users, f), dtype=np.float32) * scale).astype(np.float32))
    np.save(os.path.join(folder, "item_factors.npy"),
            (rng.standard_normal((n_items, f), dtype=np.float32) * scale).astype(np.float32))
    np.save(os.path.join(folder, "user_bias.npy"), (rng.standard_normal(n_users) * 0.3).astype(np.float32))
    np.save(os.path.join(folder, "item_bias.npy"), (rng.standard_normal(n_items) * 0.4).astype(np.float32))
    for name, n in (("user_ids.txt", n_users), ("item_ids.txt", n_items)):
        with open(os.path.join(folder, name), "w") as out:
            out.write("\n".join(str(i + 1) for i in range(n)) + "\n")
    with open(os.path.join(folder, "global_bias.txt"), "w") as out:
        out.write("3.58\n")


def load_model(folder):
    m = {name: np.load(os.path.join(folder, name + ".npy"))
         for name in ("user_factors", "item_factors", "user_bias", "item_bias")}
    with open(os.path.join(folder, "global_bias.txt")) as f:
        m["global_bias"] = float(f.read())
    return m


def check_sample(n_users):
    rng = np.random.default_rng(SEED + 1)
    pool = min(n_users, SAMPLE_USERS)
    return np.sort(rng.choice(pool, size=min(CHECK_USERS, pool), replace=False))


# --- peers: run as `bench_build.py --peer NAME --dir DIR`, print one JSON line ---

def top_by_score(scores, idx):
    """Order candidates by score descending, ties by item index."""
    order = np.lexsort((idx, -scores), axis=1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(scores, order, axis=1)


def peer_numpy_gemm(m, n_users, blocks):
    block_users, block_items = blocks
    u = np.hstack([m["user_factors"], np.ones((len(m["user_factors"]), 1), np.float32)])
    v = np.ascontiguousarray(np.hstack([m["item_factors"], m["item_bias"][:, None]]))
    buf = np.empty(block_users * block_items, np.float32)
    t0 = time.perf_counter()
    for u0 in range(0, n_users, block_users):
        ub = u[u0:u0 + block_users]
        for i0 in range(0, len(v), block_items):
            vb = v[i0:i0 + block_items]
            # A contiguous out array, or numpy leaves BLAS for its own loop.
            np.matmul(ub, vb.T, out=buf[:len(ub) * len(vb)].reshape(len(ub), len(vb)))
    return time.perf_counter() - t0, None


def peer_sort(m, n_users, partition):
    U, V, ib = m["user_factors"], m["item_factors"], m["item_bias"]
    ub = m["user_bias"] + np.float32(m["global_bias"])
    items, sample = [], check_sample(len(U))
    t0 = time.perf_counter()
    for u0 in range(0, n_users, NUMPY_BLOCK_USERS):
        u1 = min(u0 + NUMPY_BLOCK_USERS, n_users)
        s = U[u0:u1] @ V.T
        s += ib
        if partition:
            idx = np.argpartition(s, -K, axis=1)[:, -K:]
            top, _ = top_by_score(np.take_along_axis(s, idx, axis=1) + ub[u0:u1, None], idx)
        else:
            s += ub[u0:u1, None]
            top = np.argsort(-s, axis=1)[:, :K]
        items.append(top[sample[(sample >= u0) & (sample < u1)] - u0])
    return time.perf_counter() - t0, np.concatenate(items)


def peer_faiss(m, n_users):
    import faiss
    faiss.omp_set_num_threads(2)
    u = np.ascontiguousarray(np.hstack([m["user_factors"][:n_users], np.ones((n_users, 1), np.float32)]))
    v = np.ascontiguousarray(np.hstack([m["item_factors"], m["item_bias"][:, None]]))
    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(v.shape[1])
    index.add(v)
    _, idx = index.search(u, K)
    seconds = time.perf_counter() - t0
    return seconds, idx[check_sample(n_users)]


def run_peer(name, folder, limit, blocks, out_path):
    from threadpoolctl import threadpool_info
    m = load_model(folder)
    n_users = min(limit, len(m["user_factors"])) if limit else len(m["user_factors"])
    if name == "numpy_gemm":
        seconds, sample_items = peer_numpy_gemm(m, n_users, blocks)
    elif name == "faiss":
        seconds, sample_items = peer_faiss(m, n_users)
    else:
        seconds, sample_items = peer_sort(m, n_users, name == "argpartition")
    if sample_items is not None:
        np.save(out_path, sample_items)
    blas = [f"{i['internal_api']} {i.get('version')} {i.get('architecture')} ({i['num_threads']} threads, "
            f"{os.path.basename(i['filepath'])})" for i in threadpool_info() if i["user_api"] == "blas"]
    print(json.dumps({"seconds": seconds, "users_timed": n_users, "blas": blas}))


# --- the driver ---

def measured(argv, env=None):
    """Run argv; return (wall seconds, peak RSS MiB, stdout, stderr, CPU
    seconds user + sys).  A tiny wrapper forks and execs it and reports that
    one child's rusage, since RUSAGE_CHILDREN here would mix every method's
    peak."""
    wrapper = ("import os,sys,json,time,resource\n"
               "t=time.perf_counter();pid=os.fork()\n"
               "if pid==0:\n os.execvpe(sys.argv[1],sys.argv[1:],os.environ)\n"
               "_,st,ru=os.wait4(pid,0);w=time.perf_counter()-t\n"
               "sys.stderr.write('\\nBENCH_RUSAGE '+json.dumps({'wall':w,'maxrss_kib':ru.ru_maxrss,"
               "'cpu':ru.ru_utime+ru.ru_stime,'status':st})+'\\n')\n")
    p = subprocess.run([sys.executable, "-c", wrapper] + argv, capture_output=True, env=env, text=True)
    head, _, tail = p.stderr.rpartition("BENCH_RUSAGE ")
    if not tail:
        sys.exit(f"{argv[0]} failed:\n{p.stderr}")
    ru = json.loads(tail)
    if ru["status"]:
        sys.exit(f"{argv[0]} failed:\n{head}")
    return ru["wall"], ru["maxrss_kib"] / 1024, p.stdout, head, ru["cpu"]


def blas_env(keep, coretype=None):
    """The environment for a method: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
    removed (each OpenBLAS picks its kernel for this CPU) unless keep, or
    OPENBLAS_CORETYPE set to coretype."""
    env = dict(os.environ)
    if not keep:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    return env


def blas_line(stderr):
    """The kernels mfkv says it ran (`mfkv: blas: ...` under --timings)."""
    for line in stderr.splitlines():
        if line.startswith("mfkv: blas: "):
            return line[len("mfkv: blas: "):]
    return "?"


def parse_timings(stderr):
    for line in stderr.splitlines():
        if line.startswith("mfkv: timings:"):
            parts = dict(p.strip().rsplit(" ", 2)[0:2] for p in line.split(":", 2)[2].split(","))
            return {k: float(v) for k, v in parts.items()}
    sys.exit("mfkv build --timings printed no timings line:\n" + stderr)


def reference_top(m, users):
    """float64 brute force: the exact lists, ties by item index."""
    U = m["user_factors"][users].astype(np.float64)
    s = U @ m["item_factors"].astype(np.float64).T
    s += m["item_bias"].astype(np.float64)
    s += m["user_bias"][users].astype(np.float64)[:, None] + m["global_bias"]
    idx = np.broadcast_to(np.arange(s.shape[1]), s.shape)
    return np.lexsort((idx, -s), axis=1)[:, :K]


def mfkv_lists(mfkv, store, users):
    ids = "".join(f"{u + 1}\n" for u in users)
    p = subprocess.run([mfkv, "get", "-s", store, "-f", "tsv", "-"], input=ids, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"mfkv get failed: {p.stderr}")
    lists = {}
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if not f[0].isdigit():
            continue
        lists.setdefault(int(f[0]) - 1, []).append(int(f[2]) - 1)
    return np.array([lists[u] for u in users])


def median(xs):
    return statistics.median(xs)


def fmt_s(x, est=False):
    s = f"{x:.3f}" if x < 10 else f"{x:.1f}"
    return s + " (est.)" if est else s


def ratio_text(a_name, a, b_name, b):
    if a <= b:
        return f"{a_name} vs {b_name}: {b / a:.1f}× faster"
    return f"{a_name} vs {b_name}: {a / b:.1f}× slower"


def bench_shape(name, args, workdir):
    n_users, n_items, f = SHAPES[name]
    folder = os.path.join(workdir, name)
    if not os.path.exists(os.path.join(folder, "global_bias.txt")):
        write_model(folder, n_users, n_items, f, SEED)
    repeats = args.repeats if name != "large" else args.large_repeats
    store = os.path.join(workdir, name + ".mfkv")
    rows = {}

    blocks = args.blocks  # the floor reports mfkv's own block sizes below
    if "mfkv" in args.only:
        runs = []
        for _ in range(repeats):
            if os.path.exists(store):
                os.unlink(store)
            wall, rss, _, err, cpu = measured([args.mfkv, "build", "--npy", folder, "-k", str(K), "-o", store,
                                               "--timings", "-q"], blas_env(args.keep_blas_env))
            runs.append((wall, rss, parse_timings(err), cpu))
            kernel = blas_line(err)
        t = {k: median([r[2][k] for r in runs]) for k in runs[0][2]}
        rows["mfkv build"] = dict(compute=t["topk"], whole=median([r[0] for r in runs]), rss=max(r[1] for r in runs),
                                  cpu=min(r[3] for r in runs), est=False,
                                  detail=f"load {t['load']:.3f} s, prepare {t['prepare']:.3f} s, "
                                         f"top-K {t['topk']:.3f} s, write {t['write']:.3f} s; {kernel}")

    if "floor" in args.only:
        runs = []
        for _ in range(repeats):
            wall, rss, out, _, cpu = measured([args.floor, folder, "2"], blas_env(args.keep_blas_env))
            vals = dict(zip(*[line.split("\t") for line in out.strip().splitlines()]))
            blocks = f"{vals['block_users']},{vals['block_items']}"
            runs.append((float(vals["gemm_seconds"]), wall, rss, vals["core"], cpu))
        rows["gemm floor (C, blocked sgemm)"] = dict(
            compute=median([r[0] for r in runs]), whole=median([r[1] for r in runs]), rss=max(r[2] for r in runs),
            cpu=min(r[4] for r in runs), est=False, detail=f"system OpenBLAS core {runs[0][3]}")
    blas_note = faiss_note = ""

    sample = check_sample(n_users)
    peer_lists = {}
    for peer in (p for p in PEERS if p in args.only):
        limit = SAMPLE_USERS if peer == "argsort" and n_users > SAMPLE_USERS else 0
        out_path = os.path.join(workdir, f"{name}-{peer}-sample.npy")
        # Each BLAS thread count asked for is tried; the peer is credited with
        # its best (an oversubscribed machine can make 2 threads the slower).
        runs, threads_used = None, None
        for threads in (args.numpy_threads if peer != "faiss" else [2]):
            env = blas_env(False, args.faiss_coretype if peer == "faiss" else args.numpy_coretype)
            if peer != "faiss":
                env["OPENBLAS_NUM_THREADS"] = str(threads)
            these = []
            for _ in range(repeats):
                wall, rss, out, _, _ = measured([sys.executable, os.path.abspath(__file__), "--peer", peer, "--dir",
                                              folder, "--limit", str(limit), "--blocks", blocks, "--out",
                                              out_path], env)
                r = json.loads(out.strip().splitlines()[-1])
                these.append((r["seconds"], wall, rss))
            if runs is None or median([t[0] for t in these]) < median([t[0] for t in runs]):
                runs, threads_used, blas = these, threads, r["blas"]
        if peer != "faiss":
            blas_note = "; ".join(blas)
        else:
            faiss_note = "; ".join(b for b in blas if "scipy" not in b)
        scale = n_users / limit if limit else 1.0
        label = {"numpy_gemm": "numpy gemm only (same blocks)", "argsort": "numpy full argsort",
                 "argpartition": "numpy argpartition + sort 50", "faiss": "faiss IndexFlatIP (2 threads)"}[peer]
        detail = f"first {limit:,} users timed, x{scale:.0f}; " if limit else ""
        detail += f"{threads_used} BLAS thread{'s' if threads_used > 1 else ''}"
        if peer == "faiss":
            detail = f"2 OpenMP threads; its OpenBLAS: {faiss_note}"
        compute = median([r[0] for r in runs]) * scale
        whole = median([r[1] for r in runs])
        rows[label] = dict(compute=compute, whole=whole if not limit else whole - median([r[0] for r in runs]) + compute,
                           rss=max(r[2] for r in runs), est=bool(limit), detail=detail)
        if os.path.exists(out_path):
            peer_lists[label] = np.load(out_path)

    m = load_model(folder)
    ref = reference_top(m, sample)
    agree = {}
    if "mfkv" in args.only:
        got = mfkv_lists(args.mfkv, store, sample)
        agree["mfkv build"] = int((got == ref).all(axis=1).sum())
    for label, lists in peer_lists.items():
        agree[label] = int((lists == ref).all(axis=1).sum())
    return rows, agree, len(sample), blas_note, repeats


def print_shape(args, name, rows, agree, n_checked, blas_note, repeats):
    n_users, n_items, f = SHAPES[name]
    print(f"\n### {name}: {n_users:,} users × {n_items:,} items × {f} factors, k={K} "
          f"(median of {repeats})\n")
    print("| method | compute s | whole process s | peak RSS MiB | notes |")
    print("|---|---:|---:|---:|---|")
    for label, r in rows.items():
        print(f"| {label} | {fmt_s(r['compute'], r['est'])} | {fmt_s(r['whole'], r['est'])} | {r['rss']:.0f} | "
              f"{r['detail']} |")
    mk, floor = rows.get("mfkv build"), rows.get("gemm floor (C, blocked sgemm)")
    print()
    if mk and floor:
        print(f"- mfkv top-K vs gemm floor: {mk['compute'] / floor['compute']:.2f}× the floor "
              f"(whole process {mk['whole'] / floor['compute']:.2f}×)")
        print(f"- CPU time (user + sys, whole process, best of {repeats}): mfkv build {mk['cpu']:.3f} s, "
              f"gemm floor {floor['cpu']:.3f} s: {mk['cpu'] / floor['cpu']:.2f}× the floor")
    for label, r in rows.items():
        if label in ("mfkv build", "gemm floor (C, blocked sgemm)") or not mk:
            continue
        est = " (est.)" if r["est"] else ""
        print(f"- {ratio_text('mfkv', mk['compute'], label, r['compute'])}{est} "
              f"(whole process: {ratio_text('mfkv', mk['whole'], label, r['compute']).split(': ')[1]})")
    if agree:
        print(f"- exact-list check against a float64 numpy brute force (ties by item id), {n_checked} sampled "
              "users: " + ", ".join(f"{k} {v}/{n_checked}" for k, v in agree.items()))
    if blas_note:
        print(f"- numpy peers' BLAS (OPENBLAS_L2_SIZE unset, OPENBLAS_CORETYPE {args.numpy_coretype or 'unset'}): "
          f"{blas_note}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="ml1m,medium,large", help="comma-separated: ml1m, medium, large")
    ap.add_argument("--repeats", type=int, default=3, help="runs per method, median reported (ml1m, medium)")
    ap.add_argument("--large-repeats", type=int, default=1, help="runs per method for large")
    ap.add_argument("--mfkv", default=os.path.join(REPO, "zig-out-release/bin/mfkv"))
    ap.add_argument("--floor", default=os.path.join(REPO, "zig-out-release/bench/gemm_floor"))
    ap.add_argument("--keep-blas-env", action="store_true",
                    help="run mfkv and the gemm floor with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE as set here")
    ap.add_argument("--faiss-coretype", default="",
                    help="OPENBLAS_CORETYPE for faiss's bundled OpenBLAS (default '': its own detection, "
                         "as a user gets it)")
    ap.add_argument("--numpy-coretype", default="",
                    help="OPENBLAS_CORETYPE for numpy's OpenBLAS (default: unset, its own detection)")
    ap.add_argument("--numpy-threads", default="1,2",
                    help="OpenBLAS thread counts tried for the numpy peers, best reported (default 1,2)")
    ap.add_argument("--only", default=",".join(METHODS),
                    help=f"comma-separated methods to run (default all: {','.join(METHODS)})")
    ap.add_argument("--workdir", help="where models and stores go (default: a temporary folder)")
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--blocks", default="256,2048", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        run_peer(args.peer, args.dir, args.limit, tuple(int(x) for x in args.blocks.split(",")), args.out)
        return
    args.numpy_threads = [int(t) for t in args.numpy_threads.split(",")]
    args.only = [m.strip() for m in args.only.split(",") if m.strip()]
    for m in args.only:
        if m not in METHODS:
            ap.error(f"--only: unknown method '{m}' ({', '.join(METHODS)})")
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    for s in shapes:
        if s not in SHAPES:
            ap.error(f"--shapes: unknown shape '{s}' (ml1m, medium, large)")
    env_note = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                         if k in os.environ and args.keep_blas_env)
    print(f"## mfkv build vs peers ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"mfkv and gemm floor OpenBLAS env: {env_note or 'unset'})")
    with tempfile.TemporaryDirectory(prefix="mfkv-bench-") as tmp:
        workdir = args.workdir or tmp
        os.makedirs(workdir, exist_ok=True)
        for s in shapes:
            print_shape(args, s, *bench_shape(s, args, workdir))
            print(f"- load average after this shape: {os.getloadavg()[0]:.1f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
