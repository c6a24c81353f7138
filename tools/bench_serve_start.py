#!/usr/bin/env python3
"""Time `mfkv serve`'s start and hot swap on a big store, for two builds side by side.

    .venv/bin/python tools/bench_serve_start.py --baseline OLD_MFKV [--users 1000000] [--repeats 3]

Each build (MFKV_BIN, default zig-out-release/bin/mfkv, and the baseline, e.g. a
ReleaseFast build of main) builds its own store of the same random model (the
generator of tools/bench_build.py: 1,000 items, 32 factors, k=50), in the
format it writes, twice with different SOURCE_DATE_EPOCH.  Then, per repeat:
  start   from spawning `mfkv serve STORE` to the first 200 from /readyz
  swap    from renaming the second store over the first (and SIGHUP) to the
          server's "now serving" log line for it
The page cache is warm (the stores were just written): the figures are the
server's own work at open, not the disk.  Everything listens on 127.0.0.1;
every process started is stopped.  Prints a table and the ratios.
"""
import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_build import REPO, SEED, write_model  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError:
        return None, b""


def wait_until(pred, limit=300.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if pred():
            return time.monotonic()
        time.sleep(0.001)
    raise TimeoutError("server did not get there in time")


def one_run(mfkv, live, other, port):
    base = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    srv = subprocess.Popen([mfkv, "serve", live, "--listen", f"127.0.0.1:{port}"],
                           stdout=subprocess.DEVNULL, stderr=open(live + ".log", "w"))
    try:
        start = wait_until(lambda: get(base + "/readyz")[0] == 200) - t0
        log = live + ".log"
        swaps = lambda: open(log).read().count("now serving")
        before = swaps()
        tmp = live + ".next"
        shutil.copyfile(other, tmp)
        t1 = time.monotonic()
        os.rename(tmp, live)
        srv.send_signal(signal.SIGHUP)
        # Both builds log "now serving" once a swap is done; the version in
        # /v1/models/NAME is no signal for the baseline, where it was a hash
        # of the records, equal for two builds of one model.
        swap = wait_until(lambda: swaps() > before) - t1
        return start, swap
    except TimeoutError:
        sys.stderr.write(open(live + ".log").read())
        raise
    finally:
        srv.terminate()
        srv.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mfkv", default=os.environ.get("MFKV_BIN", os.path.join(REPO, "zig-out-release/bin/mfkv")))
    ap.add_argument("--baseline", required=True, help="the other build's mfkv binary")
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"CPU: {platform.processor() or platform.machine()}, load {os.getloadavg()[0]:.1f}; "
          f"{args.users:,} users, 1,000 items, 32 factors, k=50")
    work = tempfile.mkdtemp(prefix="bench-serve-start-")
    try:
        model = os.path.join(work, "model")
        write_model(model, args.users, 1000, 32, SEED)
        results = {}
        for label, mfkv in (("this build", args.mfkv), ("baseline", args.baseline)):
            d = os.path.join(work, label.replace(" ", "_"))
            os.makedirs(d)
            stores = []
            for n, epoch in enumerate(("1700000000", "1700000100")):
                path = os.path.join(d, f"s{n}.mfkv")
                subprocess.run([mfkv, "build", "--npy", model, "-k", "50", "-o", path, "-q"], check=True,
                               env=dict(os.environ, SOURCE_DATE_EPOCH=epoch))
                stores.append(path)
            fmt = subprocess.run([mfkv, "info", "-s", stores[0]], capture_output=True, text=True).stdout
            fmt = next((line.split()[-1] for line in fmt.splitlines() if line.startswith("format")), "?")
            runs = []
            for _ in range(args.repeats):
                live = os.path.join(d, "live.mfkv")
                shutil.copyfile(stores[0], live)
                runs.append(one_run(mfkv, live, stores[1], free_port()))
            results[label] = runs
            size = os.path.getsize(stores[0]) / 2**20
            print(f"{label:10} ({mfkv}, store format {fmt}, {size:,.0f} MiB): "
                  + ", ".join(f"start {s * 1e3:.0f} ms / swap {w * 1e3:.0f} ms" for s, w in runs))
        med = {k: (statistics.median(s for s, _ in v), statistics.median(w for _, w in v)) for k, v in results.items()}
        print()
        print("| build | start to /readyz (median) | hot swap to new version (median) |")
        print("|---|---:|---:|")
        for k, (s, w) in med.items():
            print(f"| {k} | {s * 1e3:,.0f} ms | {w * 1e3:,.0f} ms |")
        (s1, w1), (s0, w0) = med["this build"], med["baseline"]
        print(f"\nratio this build / baseline: start {s1 / s0:.2f}x, swap {w1 / w0:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
