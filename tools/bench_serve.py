#!/usr/bin/env python3
"""Throughput and latency of `mfkv serve` next to nginx and Redis serving the same bytes.

    tools/bench_serve.py STORE [--user 1] [--duration 10] [--connections 1,16,64,256]
                         [--serve-args "--answer-cache 0"]

For each connection count it runs wrk (Debian package `wrk`) for --duration seconds against
  - mfkv serve: POST :predict for one user, GET of the JSON snippet of that user, and POST
    :predict for --batch users at once (users --user, --user+1, ...; unknown ones get the
    fallback list);
  - nginx (package `nginx`) serving those response bodies as static files (GET: nginx
    answers POST to a static file with 405);
and redis-benchmark (package `redis-server`) GET of the same bodies stored as keys, with
as many requests as mfkv answered in that run.  Prints one table: req/s (and users/s for
the batch), p50 and p99, and for mfkv and nginx the server's CPU time per request (all its
processes and threads, from /proc), which stays comparable when other work shares the
machine and throughput and p99 do not.  --serve-args passes options to mfkv serve (e.g.
"--answer-cache 0" measures answers worked out afresh every time).
Everything listens on 127.0.0.1 ports picked free; every process started is stopped.
Build mfkv with -Doptimize=ReleaseFast first (MFKV_BIN, default zig-out-release/bin/mfkv);
`tools/setup.sh --bench` installs wrk, nginx and redis-server.

    tools/bench_serve.py STORE --baseline OTHER_MFKV [--repeats 3]

compares two builds instead (e.g. main's and a branch's): both serve the store at once, and
for each connection count wrk runs the plain predict request against one, then the other,
--repeats times interleaved, so both see the same load from other work.  Prints each run's
req/s and CPU us/req, and the medians' ratios (this build / baseline).
"""
import argparse
import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

MFKV = os.environ.get("MFKV_BIN", "zig-out-release/bin/mfkv")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench_serve: {proc.args[0]} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"bench_serve: nothing listening on port {port}")


def ms(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_wrk(url, conns, duration, tmp, body=None):
    args = ["wrk", "-t", str(min(conns, os.cpu_count() or 1)), "-c", str(conns), "-d", f"{duration}s", "--latency"]
    if body is not None:
        script = os.path.join(tmp, "post.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    f"wrk.body = {json.dumps(body)}\n")
        args += ["-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)$", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)$", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    if errors:
        sys.exit(f"bench_serve: {errors.group(1)} error responses from {url}")
    return rps, ms(*p50.groups()), ms(*p99.groups()), total


def cpu_ns(pid):
    """CPU time of every thread of @pid and of its child processes so far
    (schedstat: run time in ns; nginx answers from its worker processes)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            total += sum(cpu_ns(int(child)) for child in f.read().split())
    return total


def run_redis(port, key, conns, requests):
    out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(conns),
                          "-n", str(max(requests, 10000)), "--csv", "GET", key],
                         capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    row = rows[-1]
    return float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"])


def start_serve(binary, store, threads, extra=""):
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--threads", str(threads),
                             "--poll-ms", "0", *extra.split(), store], stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def compare(a, conns, tmp):
    """This build against --baseline on the plain predict path, interleaved."""
    import statistics

    procs = []
    try:
        for binary in (MFKV, a.baseline):
            procs.append(start_serve(binary, a.store, a.threads, a.serve_args))
        predict_req = json.dumps({"instances": [{"user_id": a.user}]})
        bodies = {urllib.request.urlopen(urllib.request.Request(
            base + "/v1/models/recommender_model:predict", data=predict_req.encode())).read() for _, base in procs}
        if len(bodies) != 1:
            sys.exit("bench_serve: the two builds answer the predict request differently")
        results = {}
        for c in conns:
            for rep in range(a.repeats):
                for which, (proc, base) in zip(("this", "baseline"), procs):
                    cpu0 = cpu_ns(proc.pid)
                    rps, p50, p99, total = run_wrk(base + "/v1/models/recommender_model:predict", c, a.duration,
                                                   tmp, predict_req)
                    us = (cpu_ns(proc.pid) - cpu0) / 1000 / total
                    results.setdefault((c, which), []).append((rps, p50, p99, us))
                    print(f"  done: {c} connections, {which}, run {rep + 1}", file=sys.stderr)
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"cpus {os.cpu_count()}, {a.duration} s per wrk run, {a.repeats} interleaved runs each, "
          f"--threads {a.threads}, predict for user {a.user}")
    print(f"this: {MFKV}\nbaseline: {a.baseline}")
    print("| conns | build | req/s per run | CPU us/req per run | median req/s | median us/req |")
    print("|---:|---|---|---|---:|---:|")
    for c in conns:
        med = {}
        for which in ("this", "baseline"):
            runs = results[(c, which)]
            med[which] = (statistics.median(r[0] for r in runs), statistics.median(r[3] for r in runs))
            print(f"| {c} | {which} | {', '.join(f'{r[0]:.0f}' for r in runs)} | "
                  f"{', '.join(f'{r[3]:.1f}' for r in runs)} | {med[which][0]:.0f} | {med[which][1]:.1f} |")
        print(f"| {c} | ratio | | | {med['this'][0] / med['baseline'][0]:.3f} | "
              f"{med['this'][1] / med['baseline'][1]:.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store")
    ap.add_argument("--user", default="1")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", default="1,16,64,256")
    ap.add_argument("--batch", type=int, default=100, help="users in the batch predict request")
    ap.add_argument("--serve-args", default="", help="more options for mfkv serve (both builds)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="mfkv serve worker threads")
    ap.add_argument("--baseline", help="another mfkv binary: compare the predict path, interleaved")
    ap.add_argument("--repeats", type=int, default=3, help="with --baseline: runs of each build")
    a = ap.parse_args()
    for tool in ("wrk",) if a.baseline else ("wrk", "nginx", "redis-server", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"bench_serve: {tool} not found (apt-get install wrk nginx redis-server)")
    conns = [int(c) for c in a.connections.split(",")]
    if a.baseline:
        with tempfile.TemporaryDirectory(prefix="bench_serve.") as tmp:
            compare(a, conns, tmp)
        return

    procs = []
    with tempfile.TemporaryDirectory(prefix="bench_serve.") as tmp:
        try:
            nport, rport = free_port(), free_port()
            serve, base = start_serve(MFKV, a.store, a.threads, a.serve_args)
            procs.append(serve)
            predict_url = base + "/v1/models/recommender_model:predict"
            first = int(a.user) if a.user.isdigit() else 1
            requests = {
                "predict": json.dumps({"instances": [{"user_id": a.user}]}),
                "batch": json.dumps({"instances": [{"user_id": str(first + i)} for i in range(a.batch)]}),
            }
            bodies = {name: urllib.request.urlopen(urllib.request.Request(predict_url, data=r.encode())).read()
                      for name, r in requests.items()}
            bodies["snippet"] = urllib.request.urlopen(f"{base}/v1/users/{a.user}/recommendations").read()
            root = os.path.join(tmp, "www")
            os.mkdir(root)
            for name, body in bodies.items():
                with open(os.path.join(root, name + ".json"), "wb") as f:
                    f.write(body)
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(f"worker_processes auto; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;\n"
                        "events { worker_connections 1024; }\n"
                        f"http {{ access_log off; client_body_temp_path {tmp}; proxy_temp_path {tmp};\n"
                        f"  fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};\n"
                        f"  default_type application/json; server {{ listen 127.0.0.1:{nport}; root {root}; }} }}\n")
            nginx = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
            procs.append(nginx)
            redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
            procs.append(redis)
            wait_port(nport, nginx)
            wait_port(rport, redis)
            for name, body in bodies.items():
                subprocess.run(["redis-cli", "-p", str(rport), "-x", "SET", name], input=body,
                               check=True, capture_output=True)

            rows = []
            for c in conns:
                for name in ("predict", "snippet", "batch"):
                    cpu0 = cpu_ns(serve.pid)
                    if name == "snippet":
                        m = run_wrk(f"{base}/v1/users/{a.user}/recommendations", c, a.duration, tmp)
                    else:
                        m = run_wrk(predict_url, c, a.duration, tmp, requests[name])
                    m = m + ((cpu_ns(serve.pid) - cpu0) / 1000 / m[3],)
                    cpu0 = cpu_ns(nginx.pid)
                    n = run_wrk(f"http://127.0.0.1:{nport}/{name}.json", c, a.duration, tmp)
                    n = n + ((cpu_ns(nginx.pid) - cpu0) / 1000 / n[3],)
                    r = run_redis(rport, name, c, m[3])
                    rows.append((c, name, len(bodies[name]), m, n, r))
                    print(f"  done: {c} connections, {name}", file=sys.stderr)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()

    print(f"cpus {os.cpu_count()}, {a.duration} s per wrk run, mfkv serve --threads {a.threads} {a.serve_args}, "
          f"user {a.user}, batch: users {first} to {first + a.batch - 1}")
    print("| conns | request | bytes | mfkv req/s | users/s | p50 ms | p99 ms | CPU us/req | nginx req/s | p50 ms "
          "| p99 ms | CPU us/req | redis req/s | p50 ms | p99 ms |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c, name, size, m, n, r in rows:
        users = m[0] * (a.batch if name == "batch" else 1)
        print(f"| {c} | {name} | {size} | {m[0]:.0f} | {users:.0f} | {m[1]:.3f} | {m[2]:.3f} | {m[4]:.1f} "
              f"| {n[0]:.0f} | {n[1]:.3f} | {n[2]:.3f} | {n[4]:.1f} | {r[0]:.0f} | {r[1]:.3f} | {r[2]:.3f} |")


if __name__ == "__main__":
    main()
