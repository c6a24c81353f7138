"""Stress tests of `mfkv serve`, over loopback only, each bounded in count and time.

  - 1,000 idle connections held open while a healthy client is answered, then
    every one of them answered too;
  - slow-header (slowloris) clients, which keep their connection busy with a
    header byte now and then, cut off by --timeout while others are served;
  - random garbage bodies and raw garbage bytes: never a 5xx, the server keeps
    serving;
  - the store hot-swapped every 100 ms under load (wrk when installed, and
    checking clients): zero errors, and every response is exactly one store's;
  - SIGTERM while every worker is busy, with thread races widened by a shim:
    a clean exit, every time.

Expected responses come from `mfkv get --format predict` on each store, whose
lists test_serve.py checks against a brute-force reference.
"""
import http.client
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from test_serve import PREDICT, Server, build_a_and_b, cli_predict, swaps, wait_for

IDLE_CONNECTIONS = 1000


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    return build_a_and_b(tmp_path_factory.mktemp("stores"))


def raise_fd_limit(needed):
    """Raise this process's open-file limit (the server inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"open-file hard limit {hard} < {needed}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def metric(server, name):
    text = server.request("GET", "/metrics")[2].decode()
    return int(re.search(rf"^{re.escape(name)} (\d+)$", text, re.M).group(1))


def read_response(sock):
    """One HTTP/1.1 response with a Content-Length from a blocking socket: (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data[:200]!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    return int(head.split(b" ", 2)[1]), body[:length]


def test_thousand_idle_connections(stores):
    raise_fd_limit(2 * IDLE_CONNECTIONS + 256)
    want = cli_predict(stores["a"], "1", "2")
    s = Server(stores["a"], "--threads", "2")
    idle = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            idle.append(socket.create_connection(("127.0.0.1", s.port), timeout=20))
        # A healthy client is answered while all of them are open.
        for _ in range(20):
            status, _, body = s.predict({"instances": [{"user_id": 1}, {"user_id": 2}]})
            assert status == 200 and body == want
        # Every idle connection was really held: each is answered now.
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        for sock in idle:
            sock.sendall(request)
        for sock in idle:
            assert read_response(sock) == (200, b"ok\n")
    finally:
        for sock in idle:
            sock.close()
        assert s.stop() == 0


SLOW_CLIENTS = 20


def test_slow_header_clients_are_cut_off(stores):
    """Each slow client sends its request line and then a header byte every
    0.2 s, never idle for long; --timeout 1 (the time to send a whole request) cuts them."""
    want = cli_predict(stores["a"], "1")
    s = Server(stores["a"], "--timeout", "1", "--threads", "2")
    outcome = [None] * SLOW_CLIENTS

    def slow(i):
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            sock.setblocking(False)
            end = time.monotonic() + 20  # the test's bound, not a timing claim
            while time.monotonic() < end:
                try:
                    sock.send(b"X" if random.random() < 0.9 else b"-")
                    if sock.recv(1) == b"":
                        outcome[i] = "closed"
                        return
                except BlockingIOError:
                    pass
                except OSError:
                    outcome[i] = "closed"
                    return
                time.sleep(0.2)
            outcome[i] = "still open"

    threads = [threading.Thread(target=slow, args=(i,)) for i in range(SLOW_CLIENTS)]
    try:
        for t in threads:
            t.start()
        healthy = []
        while any(t.is_alive() for t in threads):
            status, _, body = s.predict({"instances": [{"user_id": 1}]})
            healthy.append(status == 200 and body == want)
            time.sleep(0.05)
        for t in threads:
            t.join()
        assert outcome == ["closed"] * SLOW_CLIENTS
        assert healthy and all(healthy)
        cut = metric(s, "mfkv_http_slow_clients_cut_total")
        assert cut >= SLOW_CLIENTS
        print(f"slow clients: {SLOW_CLIENTS} cut ({cut} by the sweep), {len(healthy)} healthy requests answered")
    finally:
        assert s.stop() == 0


def garbage_bodies(rng, valid):
    """Random bytes, and valid JSON with bytes flipped, dropped or repeated."""
    for _ in range(150):
        yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    for _ in range(150):
        b = bytearray(valid)
        for _ in range(rng.randrange(1, 6)):
            op, at = rng.randrange(3), rng.randrange(len(b))
            if op == 0:
                b[at] = rng.randrange(256)
            elif op == 1:
                del b[at]
            else:
                b[at:at] = b[at:at + rng.randrange(1, 20)]
        yield bytes(b)


def garbage_requests(rng):
    """Raw bytes for the socket: noise, and real requests with bytes flipped."""
    valid = (b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 33\r\n\r\n{\"instances\": [{\"user_id\": \"1\"}]}")
    for _ in range(100):
        yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600)))
    for _ in range(100):
        b = bytearray(valid)
        for _ in range(rng.randrange(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        yield bytes(b)


def test_garbage_never_gets_a_server_error(stores):
    rng = random.Random(20261130)
    s = Server(stores["a"], "--timeout", "2", "--threads", "2")
    try:
        valid = json.dumps({"instances": [{"user_id": 1}, {"user_id": "2"}], "n": 2}).encode()
        statuses = {}
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        for body in garbage_bodies(rng, valid):
            conn.request("POST", PREDICT, body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            raw = r.read()
            statuses[r.status] = statuses.get(r.status, 0) + 1
            assert r.status < 500, (body, raw)
            json.loads(raw)  # errors are JSON too
            if r.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        conn.close()
        assert statuses.get(400, 0) > 0
        print(f"garbage bodies: statuses {sorted(statuses.items())}")

        for payload in garbage_requests(rng):
            with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
                try:  # the server may answer and close before all is sent
                    sock.sendall(payload)
                    sock.shutdown(socket.SHUT_WR)
                    reply = sock.recv(65536)
                except OSError:
                    reply = b""
            if reply.startswith(b"HTTP/"):
                status = int(reply.split(b" ", 2)[1])
                # An unknown protocol version gets 505.
                assert status < 500 or status == 505, (payload, reply[:300])
        status, _, body = s.predict({"instances": [{"user_id": 1}]})
        assert status == 200 and body == cli_predict(stores["a"], "1")
    finally:
        assert s.stop() == 0


SWAP_SECONDS = 6

# Publishes store b, a, b, ... at the live path every 100 ms for the given
# seconds, then prints how many it published.  A process of its own, so the
# checking threads' share of this interpreter does not slow the swaps down.
SWAPPER = """
import os, shutil, sys, time
live, a, b, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
published, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    tmp = live + ".next"
    shutil.copyfile(b if published % 2 == 0 else a, tmp)
    os.rename(tmp, live)
    published += 1
    time.sleep(0.1)
print(published)
"""


def run_swapper(threads, script, *args):
    """Start the load @p threads, then run a swapper @p script for SWAP_SECONDS;
    returns the number it prints."""
    for t in threads:
        t.start()
    r = subprocess.run([sys.executable, "-c", script, *map(str, args), str(SWAP_SECONDS)],
                       capture_output=True, text=True, timeout=SWAP_SECONDS + 60)
    assert r.returncode == 0, r.stderr
    return int(r.stdout)


def stop_load(server, stop, threads):
    """Stop the load threads and the server: (swaps ok, swaps refused, exit code)."""
    stop.set()
    for t in threads:
        t.join(timeout=SWAP_SECONDS + 40)
    ok, bad = swaps(server)
    return ok, bad, server.stop()


def run_wrk(port, seconds, tmp_path):
    script = tmp_path / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      'wrk.body = \'{"instances": [{"user_id": 1}, {"user_id": 2}]}\'\n')
    return subprocess.run(["wrk", "-t", "1", "-c", "8", "-d", f"{seconds}s", "-s", str(script),
                           f"http://127.0.0.1:{port}{PREDICT}"],
                          capture_output=True, text=True, timeout=seconds + 30)


def test_hot_swap_every_100ms_under_load(stores, tmp_path):
    live = tmp_path / "live.store"
    shutil.copyfile(stores["a"], live)
    bodies = {cli_predict(stores["a"], "1", "2"): "a", cli_predict(stores["b"], "1", "2"): "b"}
    assert len(bodies) == 2
    s = Server(str(live), "--poll-ms", "20", "--threads", "2")
    stop = threading.Event()
    seen, failures, lock = {"a": 0, "b": 0}, [], threading.Lock()

    def checker():
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        payload = json.dumps({"instances": [{"user_id": 1}, {"user_id": 2}]})
        while not stop.is_set():
            try:
                conn.request("POST", PREDICT, body=payload)
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException) as e:
                failures.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
                continue
            with lock:
                if r.status != 200 or body not in bodies:
                    failures.append((r.status, body[:200]))
                else:
                    seen[bodies[body]] += 1
        conn.close()

    wrk = []
    threads = [threading.Thread(target=checker) for _ in range(3)]
    if shutil.which("wrk"):
        threads.append(threading.Thread(target=lambda: wrk.append(run_wrk(s.port, SWAP_SECONDS, tmp_path))))
    try:
        published = run_swapper(threads, SWAPPER, live, stores["a"], stores["b"])
        # The last store published is the one served once the watcher settles.
        last = "b" if published % 2 == 1 else "a"
        want = cli_predict(stores[last], "1", "2")
        assert wait_for(lambda: s.predict({"instances": [{"user_id": 1}, {"user_id": 2}]})[2] == want)
    finally:
        ok, bad, code = stop_load(s, stop, threads)
    print(f"hot swap: {published} published, {ok} swapped, {bad} refused; checked responses {seen}; "
          + (re.search(r"\d+ requests in [^,]*", wrk[0].stdout).group(0) + " from wrk" if wrk else "no wrk"))
    assert failures == []
    assert seen["a"] > 0 and seen["b"] > 0
    assert bad == 0 and ok >= published // 2, (ok, published)
    for r in wrk:
        assert r.returncode == 0, r.stderr
        assert "Non-2xx" not in r.stdout and "Socket errors" not in r.stdout, r.stdout
        assert int(re.search(r"(\d+) requests in", r.stdout).group(1)) > 0
    assert code == 0


# Publishes DIR/N.mfkv for N = 2, 3, ... every 100 ms (content: b for even N,
# a for odd N, as 1.mfkv is a), removing all but the newest four, then prints
# the last N.
VERSION_SWAPPER = """
import os, shutil, sys, time
base, a, b, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
n, end = 1, time.monotonic() + seconds
while time.monotonic() < end:
    n += 1
    tmp = os.path.join(base, ".next.tmp")
    shutil.copyfile(b if n % 2 == 0 else a, tmp)
    os.rename(tmp, os.path.join(base, f"{n}.mfkv"))
    if n > 4:
        os.unlink(os.path.join(base, f"{n - 4}.mfkv"))
    time.sleep(0.1)
print(n)
"""


def test_new_version_every_100ms_under_load(stores, tmp_path):
    """A base directory gains a version every 100 ms and loses its oldest:
    every answer, latest or /versions/N, is exactly version N's store's, or
    TF Serving's 404 for a version no longer loaded."""
    base = tmp_path / "models"
    base.mkdir()
    shutil.copyfile(stores["a"], base / "1.mfkv")
    content = {"a": cli_predict(stores["a"], "1", "2"), "b": cli_predict(stores["b"], "1", "2")}
    of_version = lambda n: content["b" if n % 2 == 0 else "a"]
    s = Server(None, "--model-base-path", str(base), "--poll-ms", "20", "--threads", "2")
    stop = threading.Event()
    counts, failures, lock = {"latest": 0, "versioned": 0, "gone": 0}, [], threading.Lock()
    payload = json.dumps({"instances": [{"user_id": 1}, {"user_id": 2}]})

    def checker(versioned):
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        while not stop.is_set():
            try:
                if versioned:
                    conn.request("GET", "/v1/models/recommender_model")
                    listed = json.loads(conn.getresponse().read())["model_version_status"]
                    n = int(random.choice([v for v in listed if v["state"] == "AVAILABLE"])["version"])
                    conn.request("POST", f"/v1/models/recommender_model/versions/{n}:predict", body=payload)
                else:
                    conn.request("POST", PREDICT, body=payload)
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException, ValueError) as e:
                failures.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
                continue
            with lock:
                if versioned and r.status == 200 and body == of_version(n):
                    counts["versioned"] += 1
                elif versioned and r.status == 404 and b"Servable not found" in body:
                    counts["gone"] += 1  # unloaded between the listing and the request
                elif not versioned and r.status == 200 and body in content.values():
                    counts["latest"] += 1
                else:
                    failures.append((versioned, r.status, body[:200]))
        conn.close()

    threads = [threading.Thread(target=checker, args=(i % 2 == 1,)) for i in range(4)]
    try:
        last = run_swapper(threads, VERSION_SWAPPER, base, stores["a"], stores["b"])
        assert wait_for(lambda: json.loads(s.request("GET", "/v1/models/recommender_model")[2])
                        ["model_version_status"][0]["version"] == str(last)), s.log
        assert s.predict({"instances": [{"user_id": 1}, {"user_id": 2}]})[2] == of_version(last)
    finally:
        ok, bad, code = stop_load(s, stop, threads)
    print(f"version swap: {last - 1} versions published, {ok} loaded, {bad} refused; checked {counts}")
    assert failures == []
    assert counts["latest"] > 0 and counts["versioned"] > 0
    assert bad == 0
    assert code == 0, "".join(s.log[-30:])


def test_sigterm_while_workers_are_busy_exits_cleanly(stores, tmp_path, monkeypatch):
    """Graceful shutdown under load exits 0, run after run.  Each worker
    takes the listening socket out of its own epoll set, and serve_http_stop
    closes the socket only once all have (a worker still polling a closed
    descriptor, or one whose number a new socket took, would accept on the
    wrong thing).  slow_epoll_del.c makes each removal 3 ms slower, so a
    missing wait shows here.  (With libmicrohttpd's epoll mode this aborted
    about one run in three: its quiesce and a busy worker both removed the
    socket, and the loser's failed epoll_ctl raised SIGABRT.)"""
    shim = tmp_path / "slow_epoll_del.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(shim),
                    os.path.join(os.path.dirname(__file__), "slow_epoll_del.c"), "-ldl"],
                   check=True, capture_output=True, timeout=60)
    monkeypatch.setenv("LD_PRELOAD", str(shim))
    # An ASan build of mfkv (MFKV_BIN) refuses to start after a preloaded library otherwise.
    monkeypatch.setenv("ASAN_OPTIONS", os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    payload = json.dumps({"instances": [{"user_id": 1}, {"user_id": 2}]})
    for run in range(10):
        s = Server(stores["a"], "--threads", "4", "--shutdown-grace", "2")
        stop, answered = threading.Event(), []

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
            while not stop.is_set():
                try:
                    conn.request("POST", PREDICT, body=payload)
                    answered.append(conn.getresponse().read() != b"")
                except (OSError, http.client.HTTPException):
                    conn.close()  # refused once the server stops listening
                    time.sleep(0.01)
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        assert wait_for(lambda: len(answered) >= 20), s.log
        code = s.stop()  # SIGTERM while the clients still send
        stop.set()
        for t in threads:
            t.join(timeout=20)
        assert code == 0, (run, "".join(s.log[-5:]))
