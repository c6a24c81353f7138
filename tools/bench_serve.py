#!/usr/bin/env python3
"""Throughput and latency of `mfkv serve` next to nginx and Redis serving the same bytes.

    tools/bench_serve.py STORE [--users N] [--duration 10] [--connections 1,16,64,256]
                         [--serve-args "..."]

Edge servers see many users, so by default every wrk connection asks for users drawn from a
fixed pseudo-random sequence (Park-Miller, a different start per wrk thread) over the store's
users (all of them, or the first --users in id order, from `mfkv dump`).  For each connection
count it runs wrk for --duration seconds against
  - mfkv serve: POST :predict for one user, GET of that user's JSON snippet, and POST :predict
    for --batch users at once; each of these against mfkv serve as built (--answer-cache at its
    default) and against a second mfkv serve with --answer-cache 0, which works every answer
    out afresh; plus the "hot user" row: :predict for --user only, every request the same;
  - nginx (package `nginx`) serving the same response bodies as static files, one per user
    (GET: nginx answers POST to a static file with 405), so it too looks up a different file
    per request;
and redis-benchmark (package `redis-server`) GET of the same bodies stored as one key per
user (-r: random keys), with as many requests as mfkv answered in that run.  Prints one
table: req/s (and users/s), p50 and p99, the share of mfkv's answers that came from its kept
answers (mfkv_http_answers_kept_total in /metrics), and for mfkv and nginx the server's CPU
time per request (all its processes and threads, from /proc), which stays comparable when
other work shares the machine and throughput and p99 do not.  A store with more users than
--answer-cache (4096) shows what the kept answers buy when most users are not among them.
Everything listens on 127.0.0.1 ports picked free; every process started is stopped.
Build mfkv with -Doptimize=ReleaseFast first (MFKV_BIN, default zig-out-release/bin/mfkv);
`tools/setup.sh --bench` installs wrk, nginx and redis-server.

    tools/bench_serve.py STORE --baseline OTHER_MFKV [--repeats 3]

compares two builds instead (e.g. main's and a branch's): the baseline, this build, and this
build with --answer-cache 0 serve the store at once, and for each connection count wrk runs
the many-users predict against each in turn, --repeats times interleaved, so all see the same
load from other work.  Prints each run's req/s, CPU us/req and kept-answer share, and the
medians' ratios (this build / baseline).
"""
import argparse
import csv
import http.client
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
import urllib.parse
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


def wrk_script(tmp, name, requests):
    """A wrk Lua script sending @requests (each (method, path, body or None)) in a fixed
    pseudo-random order: Park-Miller's generator, a different start per wrk thread.  The
    requests are formatted once, in init, so wrk's own cost per request is one table read."""
    script = os.path.join(tmp, name + ".lua")
    with open(script, "w") as f:
        f.write("local list = {\n")
        for method, path, body in requests:
            f.write(f"  {{{json.dumps(method)}, {json.dumps(path)}, {json.dumps(body) if body else 'nil'}}},\n")
        f.write("}\n"
                "local next_start = 1\n"
                "function setup(thread) thread:set('start', next_start); next_start = next_start + 7919 end\n"
                "local reqs, state = {}, 1\n"
                "function init(args)\n"
                "  state = start or 1\n"
                "  local headers = {['Content-Type'] = 'application/json'}\n"
                "  for i, r in ipairs(list) do reqs[i] = wrk.format(r[1], r[2], r[3] and headers or nil, r[3]) end\n"
                "end\n"
                "function request()\n"
                "  state = (state * 16807) % 2147483647\n"
                "  return reqs[state % #reqs + 1]\n"
                "end\n")
    return script


def run_wrk(url, conns, duration, script):
    # --timeout 10s: a batch at 256 connections waits longer than wrk's 2 s default.
    args = ["wrk", "-t", str(min(conns, os.cpu_count() or 1)), "-c", str(conns), "-d", f"{duration}s", "--latency",
            "--timeout", "10s", "-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not (p50 and p99):
        sys.exit(f"bench_serve: no latency figures from wrk against {url}:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    if errors:
        sys.exit(f"bench_serve: {errors.group(1)} error responses from {url}")
    return rps, ms(*p50.groups()), ms(*p99.groups()), total


def kept_and_answered(base):
    """mfkv's counters: answers taken from kept answers, and 200s to predict and snippet."""
    text = urllib.request.urlopen(base + "/metrics").read().decode()
    kept = int(re.search(r"^mfkv_http_answers_kept_total (\d+)", text, re.M).group(1))
    answered = sum(int(n) for n in re.findall(
        r'^mfkv_http_requests_total\{route="(?:predict|recommendations)",status="200"\} (\d+)', text, re.M))
    return kept, answered


def measure_mfkv(proc, base, c, duration, script, path):
    """One wrk run against mfkv serve: (req/s, p50, p99, requests, CPU us/req, kept share)."""
    cpu0, (kept0, n0) = cpu_ns(proc.pid), kept_and_answered(base)
    m = run_wrk(base + path, c, duration, script)
    us = (cpu_ns(proc.pid) - cpu0) / 1000 / m[3]
    kept1, n1 = kept_and_answered(base)
    return m + (us, (kept1 - kept0) / max(n1 - n0, 1))


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


def run_redis(port, prefix, n_keys, conns, requests):
    """redis-benchmark GET of keys PREFIX:000000000000 .. (-r: each request a random one)."""
    key = prefix + ":__rand_int__" if n_keys > 1 else prefix + ":000000000000"
    out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(conns),
                          "-n", str(max(requests, 10000)), "-r", str(n_keys), "--csv", "GET", key],
                         capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    row = rows[-1]
    return float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"])


def redis_set(port, items):
    """SET every (key, bytes) over one connection (RESP, pipelined)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        out = bytearray()
        for key, value in items:
            k = key.encode()
            out += b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(value), value)
        s.sendall(out)
        want, got = len(items) * len(b"+OK\r\n"), b""
        while len(got) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        if got != b"+OK\r\n" * len(items):
            sys.exit("bench_serve: redis did not take the bodies")


def store_users(store, limit):
    """The store's user ids in byte-wise order (`mfkv dump`), the first @limit of them if set."""
    users = []
    with subprocess.Popen([MFKV, "dump", store], stdout=subprocess.PIPE, text=True) as dump:
        next(dump.stdout)
        for line in dump.stdout:
            user = line.split("\t", 1)[0]
            if not users or users[-1] != user:
                if limit and len(users) == limit:
                    break
                users.append(user)
        dump.kill()
    return users


PREDICT = "/v1/models/recommender_model:predict"


def predict_body(users):
    return json.dumps({"instances": [{"user_id": u} for u in users]})


def snippet_path(user):
    return f"/v1/users/{urllib.parse.quote(user, safe='')}/recommendations"


def start_serve(binary, store, threads, extra=""):
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--threads", str(threads),
                             "--poll-ms", "0", *extra.split(), store], stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def compare(a, conns, users, tmp):
    """This build (as built and with --answer-cache 0) against --baseline, many-users predict,
    interleaved."""
    import statistics

    builds = (("this", MFKV, a.serve_args), ("this, --answer-cache 0", MFKV, a.serve_args + " --answer-cache 0"),
              ("baseline", a.baseline, a.serve_args))
    procs = []
    try:
        for _, binary, extra in builds:
            procs.append(start_serve(binary, a.store, a.threads, extra))
        for u in (users[0], users[-1]):
            bodies = {urllib.request.urlopen(urllib.request.Request(base + PREDICT, data=predict_body([u]).encode()))
                      .read() for _, base in procs}
            if len(bodies) != 1:
                sys.exit(f"bench_serve: the builds answer the predict request for user {u} differently")
        script = wrk_script(tmp, "predict", [("POST", PREDICT, predict_body([u])) for u in users])
        results = {}
        for c in conns:
            for rep in range(a.repeats):
                for (which, _, _), (proc, base) in zip(builds, procs):
                    if which == "baseline":  # main has no kept answers nor their counter
                        cpu0 = cpu_ns(proc.pid)
                        m = run_wrk(base + PREDICT, c, a.duration, script)
                        m = m + ((cpu_ns(proc.pid) - cpu0) / 1000 / m[3], None)
                    else:
                        m = measure_mfkv(proc, base, c, a.duration, script, PREDICT)
                    results.setdefault((c, which), []).append(m)
                    print(f"  done: {c} connections, {which}, run {rep + 1}", file=sys.stderr)
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"cpus {os.cpu_count()}, {a.duration} s per wrk run, {a.repeats} interleaved runs each, "
          f"--threads {a.threads}, predict for one of {len(users)} users per request")
    print(f"this: {MFKV}\nbaseline: {a.baseline}")
    print("| conns | build | req/s per run | CPU us/req per run | kept answers | median req/s | median us/req "
          "| ratio req/s | ratio us/req |")
    print("|---:|---|---|---|---:|---:|---:|---:|---:|")
    for c in conns:
        med = {}
        for which, _, _ in builds:
            runs = results[(c, which)]
            med[which] = (statistics.median(r[0] for r in runs), statistics.median(r[4] for r in runs))
        for which, _, _ in builds:
            runs = results[(c, which)]
            kept = "" if runs[0][5] is None else f"{100 * statistics.median(r[5] for r in runs):.0f}%"
            ratio = "" if which == "baseline" else \
                f"{med[which][0] / med['baseline'][0]:.2f} | {med[which][1] / med['baseline'][1]:.2f}"
            print(f"| {c} | {which} | {', '.join(f'{r[0]:.0f}' for r in runs)} | "
                  f"{', '.join(f'{r[4]:.1f}' for r in runs)} | {kept} | {med[which][0]:.0f} | {med[which][1]:.1f} "
                  f"| {ratio or ' |'} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store")
    ap.add_argument("--user", default="1", help="the hot user (every request the same)")
    ap.add_argument("--users", type=int, default=0, help="draw from the first N users (default: all)")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", default="1,16,64,256")
    ap.add_argument("--batch", type=int, default=100, help="users in the batch predict request")
    ap.add_argument("--serve-args", default="", help="more options for mfkv serve (every one started)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="mfkv serve worker threads")
    ap.add_argument("--baseline", help="another mfkv binary: compare the predict path, interleaved")
    ap.add_argument("--repeats", type=int, default=3, help="with --baseline: runs of each build")
    a = ap.parse_args()
    for tool in ("wrk",) if a.baseline else ("wrk", "nginx", "redis-server", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"bench_serve: {tool} not found (apt-get install wrk nginx redis-server)")
    conns = [int(c) for c in a.connections.split(",")]
    users = store_users(a.store, a.users)
    if len(users) < a.batch:
        sys.exit(f"bench_serve: the store has {len(users)} users, fewer than --batch {a.batch}")
    if a.baseline:
        with tempfile.TemporaryDirectory(prefix="bench_serve.") as tmp:
            compare(a, conns, users, tmp)
        return
    # Batches: consecutive runs of --batch users, as many as there are users.
    batches = [users[i:i + a.batch] for i in range(0, len(users) - a.batch + 1, a.batch)]

    procs = []
    with tempfile.TemporaryDirectory(prefix="bench_serve.") as tmp:
        try:
            nport, rport = free_port(), free_port()
            serve, base = start_serve(MFKV, a.store, a.threads, a.serve_args)
            procs.append(serve)
            fresh, fresh_base = start_serve(MFKV, a.store, a.threads, a.serve_args + " --answer-cache 0")
            procs.append(fresh)
            # kind: (mfkv requests, nginx paths, bodies in the same order)
            kinds = {"predict": [("POST", PREDICT, predict_body([u])) for u in users],
                     "snippet": [("GET", snippet_path(u), None) for u in users],
                     "batch": [("POST", PREDICT, predict_body(b)) for b in batches],
                     "hot": [("POST", PREDICT, predict_body([a.user]))]}
            root = os.path.join(tmp, "www")
            os.mkdir(root)
            conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]))
            for kind, reqs in kinds.items():
                os.mkdir(os.path.join(root, kind))
                items = []
                for i, (method, path, body) in enumerate(reqs):
                    conn.request(method, path, body=body)
                    res = conn.getresponse()
                    data = res.read()
                    if res.status != 200:
                        sys.exit(f"bench_serve: {method} {path} answered {res.status}")
                    with open(os.path.join(root, kind, f"{i}.json"), "wb") as f:
                        f.write(data)
                    items.append((f"{kind}:{i:012d}", data))
                kinds[kind] = (reqs, [("GET", f"/{kind}/{i}.json", None) for i in range(len(reqs))], items)
            conn.close()
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
            for kind, (_, _, items) in kinds.items():
                redis_set(rport, items)

            # (row label, kind, mfkv process and URL or None: same peers as the row above)
            plan = [("predict", "predict", serve, base), ("predict, --answer-cache 0", "predict", fresh, fresh_base),
                    ("snippet", "snippet", serve, base), ("snippet, --answer-cache 0", "snippet", fresh, fresh_base),
                    ("batch", "batch", serve, base), ("batch, --answer-cache 0", "batch", fresh, fresh_base),
                    ("predict, hot user", "hot", serve, base)]
            rows = []
            for c in conns:
                peers = {}
                for label, kind, proc, url in plan:
                    reqs, nginx_reqs, items = kinds[kind]
                    path = reqs[0][1] if reqs[0][0] == "POST" else "/"
                    m = measure_mfkv(proc, url, c, a.duration, wrk_script(tmp, kind, reqs), path)
                    if kind not in peers:
                        cpu0 = cpu_ns(nginx.pid)
                        n = run_wrk(f"http://127.0.0.1:{nport}/", c, a.duration,
                                    wrk_script(tmp, "nginx_" + kind, nginx_reqs))
                        n = n + ((cpu_ns(nginx.pid) - cpu0) / 1000 / n[3],)
                        peers[kind] = (n, run_redis(rport, kind, len(items), c, m[3]))
                    size = sum(len(d) for _, d in items) / len(items)
                    rows.append((c, label, size, a.batch if kind == "batch" else 1, m, *peers[kind]))
                    print(f"  done: {c} connections, {label}", file=sys.stderr)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()

    print(f"cpus {os.cpu_count()}, {a.duration} s per wrk run, mfkv serve --threads {a.threads} {a.serve_args}, "
          f"requests spread over {len(users)} users ({len(batches)} batches of {a.batch}); hot user {a.user}")
    print("| conns | request | bytes | mfkv req/s | users/s | p50 ms | p99 ms | CPU us/req | kept answers "
          "| nginx req/s | p50 ms | p99 ms | CPU us/req | redis req/s | p50 ms | p99 ms |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c, label, size, per_req, m, n, r in rows:
        users_s = m[0] * per_req
        print(f"| {c} | {label} | {size:.0f} | {m[0]:.0f} | {users_s:.0f} | {m[1]:.3f} | {m[2]:.3f} | {m[4]:.1f} "
              f"| {100 * m[5]:.0f}% | {n[0]:.0f} | {n[1]:.3f} | {n[2]:.3f} | {n[4]:.1f} "
              f"| {r[0]:.0f} | {r[1]:.3f} | {r[2]:.3f} |")


if __name__ == "__main__":
    main()
