"""`mfkv serve` as deployments use it, over loopback only: Cloud Run and
Vertex AI conventions ($PORT, $AIP_*, "parameters", SIGTERM), --listen
forms, batches with unknown users, request-time exclusions and CORS.

Expected lists come from test_serve.py's brute-force reference.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from test_serve import (MFKV, MODEL, MOVIES, PREDICT, WEIGHTS_A, Server, assert_list, build, cli_predict,
                        reference_list)

K_STORED = 3  # test_serve.build's -k


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deploy")
    return {
        "a": build(tmp, "a.store", WEIGHTS_A, "--titles", MOVIES),
        "plain": build(tmp, "plain.store", WEIGHTS_A, "--no-fallback"),
    }


@pytest.fixture(scope="module")
def server(stores):
    s = Server(stores["a"], "--cors-origin", "https://shop.example")
    yield s
    assert s.stop() == 0


# ------------------------------------------------------------ unknown users


def test_batch_with_unknown_user_keeps_the_known_answers(server):
    status, _, body = server.predict({"instances": [{"user_id": 1}, {"user_id": 99999}, {"user_id": "2"}]})
    assert status == 200
    rows = json.loads(body)["predictions"]
    assert [r["fallback"] for r in rows] == [False, True, False]
    assert_list(rows[0]["predicted_item_id"], rows[0]["predicted_rating"], reference_list(WEIGHTS_A, "1"))
    assert_list(rows[1]["predicted_item_id"], rows[1]["predicted_rating"], reference_list(WEIGHTS_A, None))
    assert_list(rows[2]["predicted_item_id"], rows[2]["predicted_rating"], reference_list(WEIGHTS_A, "2"))

    status, _, body = server.predict({"inputs": {"user_id": [99999, 1]}})
    out = json.loads(body)["outputs"]
    assert status == 200 and out["fallback"] == [True, False]
    assert out["predicted_item_id"] == [[i for i, _ in reference_list(WEIGHTS_A, u)] for u in (None, "1")]


def test_strict_unknown_users_and_known_only_bytes(server, stores):
    for req in ({"instances": [1, 99999], "unknown_users": "error"},
                {"instances": [1, 99999], "parameters": {"unknown_users": "error"}}):
        status, _, body = server.predict(req)
        assert status == 404 and b"99999 not found" in body
    # No unknown user: no marker, the bytes of mfkv get --format predict.
    assert server.predict({"instances": [1, 2]})[2] == cli_predict(stores["a"], "1", "2")


def test_unknown_user_without_a_stored_fallback_list(stores):
    s = Server(stores["plain"])
    try:
        status, _, body = s.predict({"instances": [99999, 1]})
        rows = json.loads(body)["predictions"]
        assert status == 200
        assert rows[0] == {"predicted_rating": [], "predicted_item_id": [], "fallback": True}
        assert rows[1]["fallback"] is False and rows[1]["predicted_item_id"][0] == "3382"
    finally:
        assert s.stop() == 0


# ------------------------------------------------------------- exclusions


def test_predict_exclusions_fill_from_the_stored_list(server):
    full = reference_list(WEIGHTS_A, "1")
    assert len(full) == K_STORED
    hide = full[0][0]
    status, _, body = server.predict({"instances": [{"user_id": 1, "exclude": [hide, "no-such-item"]},
                                                    {"user_id": 2}], "n": 2})
    rows = json.loads(body)["predictions"]
    assert status == 200
    assert_list(rows[0]["predicted_item_id"], rows[0]["predicted_rating"], full[1:3])  # refilled to n
    assert_list(rows[1]["predicted_item_id"], rows[1]["predicted_rating"], reference_list(WEIGHTS_A, "2")[:2])
    # Integer ids too, and the columnar layout has no per-instance objects.
    status, _, body = server.predict({"instances": [{"user_id": 1, "exclude": [int(hide)]}]})
    assert json.loads(body)["predictions"][0]["predicted_item_id"] == [i for i, _ in full[1:]]
    # More exclusions than stored items: fewer items, never someone else's.
    everything = [i for i, _ in full]
    status, _, body = server.predict({"instances": [{"user_id": 1, "exclude": everything}]})
    assert json.loads(body)["predictions"][0]["predicted_item_id"] == []
    for bad in ({"instances": [{"user_id": 1, "exclude": "3382"}]},
                {"instances": [{"user_id": 1, "exclude": [1.5]}]}):
        assert server.predict(bad)[0] == 400


def test_snippet_exclusions_change_the_etag(server):
    full = [i for i, _ in reference_list(WEIGHTS_A, "1")]
    status, h0, body = server.request("GET", "/v1/users/1/recommendations?n=2")
    assert [it["item_id"] for it in json.loads(body)["items"]] == full[:2]
    status, h1, body = server.request("GET", f"/v1/users/1/recommendations?n=2&exclude={full[0]},x")
    assert status == 200
    assert [it["item_id"] for it in json.loads(body)["items"]] == full[1:3]
    assert h1["etag"] != h0["etag"]
    # The ETag validates exactly that representation.
    status, _, _ = server.request("GET", f"/v1/users/1/recommendations?n=2&exclude={full[0]},x",
                                  headers={"If-None-Match": h1["etag"]})
    assert status == 304
    # Excluding an item that is not shown changes nothing, tag included.
    status, h2, _ = server.request("GET", "/v1/users/1/recommendations?n=2&exclude=no-such-item")
    assert h2["etag"] == h0["etag"]


# ------------------------------------------------------------------- CORS


def test_cors_off_by_default(stores):
    s = Server(stores["a"])
    try:
        status, h, _ = s.request("GET", "/v1/users/1/recommendations", headers={"Origin": "https://x.example"})
        assert status == 200 and "access-control-allow-origin" not in h
        assert s.request("OPTIONS", "/v1/users/1/recommendations")[0] == 405
    finally:
        assert s.stop() == 0


def test_cors_named_origin(server):
    path = "/v1/users/1/recommendations"
    status, h, _ = server.request("GET", path, headers={"Origin": "https://shop.example"})
    assert status == 200
    assert h["access-control-allow-origin"] == "https://shop.example" and h["vary"] == "Origin"
    status, h, _ = server.request("GET", path, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in h and h["vary"] == "Origin"
    status, h, body = server.request("OPTIONS", path, headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "GET"})
    assert status == 204 and body == b""
    assert h["access-control-allow-origin"] == "https://shop.example"
    assert "GET" in h["access-control-allow-methods"]
    # Only the GET endpoints: predict stays same-origin.
    assert server.request("OPTIONS", PREDICT, headers={"Origin": "https://shop.example"})[0] == 405


def test_cors_any_origin(stores):
    s = Server(stores["a"], "--cors-origin", "*")
    try:
        status, h, _ = s.request("GET", f"/v1/models/{MODEL}", headers={"Origin": "https://x.example"})
        assert status == 200 and h["access-control-allow-origin"] == "*" and "vary" not in h
    finally:
        assert s.stop() == 0


# ----------------------------------------------------- --listen and signals


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("form", ["localhost:{p}", "{p}", "127.0.0.1:{p}", "[::1]:{p}"])
def test_listen_forms(stores, form):
    port = free_port()
    proc = subprocess.Popen([MFKV, "serve", "--listen", form.format(p=port), stores["a"]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while " on http://" not in line and proc.poll() is None:
            line = proc.stderr.readline()
        m = re.search(r"on http://\[?([0-9a-f.:]+)\]?:(\d+)/", line)
        assert m and int(m.group(2)) == port, line
        host = m.group(1)  # the numeric address it resolved to
        assert host in (("::1",) if "::1" in form else ("127.0.0.1", "::1")), line
        with socket.create_connection((host, port), timeout=10) as c:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert c.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0


def test_listen_refusals(stores):
    for bad in ("::1:8501", "nohost", "host:99999", "no-such-host.invalid:8501"):
        r = subprocess.run([MFKV, "serve", "--listen", bad, stores["a"]], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode in (2, 3), (bad, r.stderr)
        assert "--listen" in r.stderr, r.stderr


def test_sigterm_finishes_the_request_in_flight(stores):
    s = Server(stores["a"], "--shutdown-grace", "8")
    with socket.create_connection(("127.0.0.1", s.port), timeout=15) as c:
        body = b'{"instances":[1]}'
        c.sendall(b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{" % len(body))
        time.sleep(0.2)
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        c.sendall(body[1:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"\n"):
            chunk = c.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert b"connection: close" in answer.lower()
    assert answer.split(b"\r\n\r\n", 1)[1] == cli_predict(stores["a"], "1")
    assert s.proc.wait(timeout=15) == 0
    assert time.monotonic() - t0 < 10  # Cloud Run's grace before SIGKILL


# --------------------------------------- Cloud Run / Vertex AI environment

# Runs inside a private network namespace (unshare -n): the server must bind
# 0.0.0.0 there as on Cloud Run, and only this namespace's loopback exists.
LOOPBACK_UP = textwrap.dedent(r"""
    import fcntl, socket, struct
    with socket.socket() as s:  # bring loopback up: SIOCGIFFLAGS / SIOCSIFFLAGS, IFF_UP
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, req))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))
""")


def can_unshare_network():
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


NETNS_SCRIPT = LOOPBACK_UP + textwrap.dedent(r"""
    import json, os, re, signal, subprocess, sys, http.client
    mfkv, store = sys.argv[1], sys.argv[2]
    out = {}
    for var in ("PORT", "AIP_HTTP_PORT"):
        env = dict(os.environ, **{var: "18080"})
        env.pop("AIP_HTTP_PORT" if var == "PORT" else "PORT", None)
        if var == "AIP_HTTP_PORT":
            env["PORT"] = "18081"  # Vertex's port wins over a stray $PORT
            env["AIP_PREDICT_ROUTE"] = "/v1/endpoints/123/deployedModels/456:predict"
            env["AIP_HEALTH_ROUTE"] = "/health"
        p = subprocess.Popen([mfkv, "serve", store], env=env, stderr=subprocess.PIPE, text=True)
        line = ""
        while " on http://" not in line and p.poll() is None:
            line = p.stderr.readline()
        r = {"log": line}
        def call(method, path, body=None):
            c = http.client.HTTPConnection("127.0.0.1", 18080, timeout=10)
            c.request(method, path, body=body)
            resp = c.getresponse()
            return [resp.status, resp.read().decode()]
        r["healthz"] = call("GET", "/healthz")
        if var == "AIP_HTTP_PORT":
            body = json.dumps({"instances": [{"user_id": 1}, {"user_id": 99999}], "parameters": {"n": 2}})
            r["predict"] = call("POST", env["AIP_PREDICT_ROUTE"], body)
            r["health"] = call("GET", "/health")
        p.send_signal(signal.SIGTERM)
        r["rc"] = p.wait(timeout=15)
        out[var] = r
    print(json.dumps(out))
""")


def test_cloud_run_and_vertex_environment(stores):
    if not can_unshare_network():
        pytest.skip("needs unshare -n (root) to bind 0.0.0.0 in a private network namespace")
    r = subprocess.run(["unshare", "-n", sys.executable, "-c", NETNS_SCRIPT, MFKV, stores["a"]],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for var in ("PORT", "AIP_HTTP_PORT"):
        assert "on http://0.0.0.0:18080/" in out[var]["log"], out[var]["log"]
        assert out[var]["healthz"] == [200, "ok\n"]
        assert out[var]["rc"] == 0
    status, body = out["AIP_HTTP_PORT"]["predict"]
    rows = json.loads(body)["predictions"]
    assert status == 200
    assert_list(rows[0]["predicted_item_id"], rows[0]["predicted_rating"], reference_list(WEIGHTS_A, "1")[:2])
    assert rows[1]["fallback"] is True
    assert out["AIP_HTTP_PORT"]["health"] == [200, "ready\n"]


def test_bad_environment_is_a_usage_error(stores):
    for env in ({"PORT": "http"}, {"AIP_PREDICT_ROUTE": "predict"}):
        r = subprocess.run([MFKV, "serve", stores["a"]], env=dict(os.environ, **env), capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2 and list(env)[0] in r.stderr
