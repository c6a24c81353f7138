"""End-to-end tests of `mfkv serve`, over loopback only.

Stores are built with `mfkv build` from the fixtures in tests/fixtures/serve;
expected lists are computed here independently, by brute force over the
NDJSON weights in double precision, then rounded once to float32.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
FIXTURES = os.path.join(os.environ.get("MFKV_FIXTURES", "tests/fixtures"), "serve")
WEIGHTS_A = os.path.join(FIXTURES, "bqml-weights.ndjson")
WEIGHTS_B = os.path.join(FIXTURES, "bqml-weights-b.ndjson")
MOVIES = os.path.join(FIXTURES, "movies.csv")
MODEL = "recommender_model"
PREDICT = f"/v1/models/{MODEL}:predict"
K = 3


# ---------------------------------------------------------------- reference


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def load_weights(path):
    users, items, glob = {}, {}, None
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            if row["processed_input"] is None:
                glob = row["intercept"]
                continue
            factors = {fw["factor"]: fw["weight"] for fw in row["factor_weights"]}
            vec = [f32(factors[i]) for i in sorted(factors)]
            table = users if row["processed_input"] == "user_id" else items
            table[row["feature"]] = (f32(row["intercept"]), vec)
    return glob, users, items


def id_key(item_id):
    """The item order of format.h: numeric when canonical decimals."""
    canonical = item_id.isdigit() and (item_id == "0" or not item_id.startswith("0"))
    return (0, int(item_id), "") if canonical else (1, 0, item_id)


def reference_list(path, user=None, k=K):
    """[(item_id, float32 score)] best first; user None: the fallback list."""
    glob, users, items = load_weights(path)
    scored = []
    for item_id, (ib, iv) in items.items():
        if user is None:
            s = glob + ib
        else:
            ub, uv = users[user]
            s = glob + ub + ib + sum(a * b for a, b in zip(uv, iv))
        scored.append((-s, id_key(item_id), item_id, f32(s)))
    scored.sort()
    return [(item_id, score) for _, _, item_id, score in scored[:k]]


def load_titles():
    import csv

    with open(MOVIES, newline="") as f:
        return {r["movieId"]: (r["title"], r["genres"]) for r in csv.DictReader(f)}


# ---------------------------------------------------------------- helpers


def build(tmp_path, name, weights, *extra):
    out = str(tmp_path / name)
    subprocess.run([MFKV, "build", "--weights", weights, "-o", out, "-k", str(K), "-q", *extra],
                   check=True, capture_output=True, timeout=60)
    return out


def build_a_and_b(tmp):
    """Stores from the two fixture models, with titles: two versions to swap."""
    return {"a": build(tmp, "a.store", WEIGHTS_A, "--titles", MOVIES),
            "b": build(tmp, "b.store", WEIGHTS_B, "--titles", MOVIES)}


class Server:
    def __init__(self, store, *args):
        self.proc = subprocess.Popen(
            [MFKV, "serve", "--listen", "127.0.0.1:0", *args] + ([store] if store else []),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = []
        deadline = time.monotonic() + 20
        self.port = None
        while time.monotonic() < deadline and self.port is None:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"on http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("server did not start: " + "".join(self.log))
        # Keep draining stderr so the server never blocks on a full pipe.
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def predict(self, payload):
        return self.request("POST", PREDICT, payload)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stores")
    return {
        "a": build(tmp, "a.store", WEIGHTS_A, "--titles", MOVIES),  # with a fallback list
        "b": build(tmp, "b.store", WEIGHTS_B, "--titles", MOVIES),
        "plain": build(tmp, "plain.store", WEIGHTS_A, "--no-fallback"),
    }


@pytest.fixture(scope="module")
def server(stores):
    s = Server(stores["a"], "--max-body", "4096", "--max-users", "5",
               "--cache-max-age", "120", "--stale-while-revalidate", "30")
    yield s
    assert s.stop() == 0


def cli_predict(store, *users):
    r = subprocess.run([MFKV, "get", "-s", store, "--format", "predict", *users],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def assert_list(item_ids, ratings, expected):
    assert item_ids == [i for i, _ in expected]
    # Each rating reads back (as float32) as exactly the reference float32.
    assert [f32(x) for x in ratings] == [s for _, s in expected]


# ---------------------------------------------------------------- predict


def test_reference_request_equals_cli_output(server, stores):
    status, headers, body = server.predict({"instances": [{"user_id": 1}]})
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert body == cli_predict(stores["a"], "1")
    pred = json.loads(body)["predictions"]
    assert len(pred) == 1
    assert_list(pred[0]["predicted_item_id"], pred[0]["predicted_rating"], reference_list(WEIGHTS_A, "1"))
    # User 1 x item 3382 from the example README: 3.58156445 + 0.04259326 + 3.535388.
    assert pred[0]["predicted_item_id"][0] == "3382"
    assert f32(pred[0]["predicted_rating"][0]) == f32(7.15954571)


def test_several_users_rows_and_columns(server, stores):
    users = ["1", "2", "10"]
    status, _, body = server.predict({"instances": [{"user_id": 1}, {"user_id": "2"}, {"user_id": 10}]})
    assert status == 200
    assert body == cli_predict(stores["a"], *users)
    rows = json.loads(body)["predictions"]
    for u, row in zip(users, rows):
        assert_list(row["predicted_item_id"], row["predicted_rating"], reference_list(WEIGHTS_A, u))

    status, _, body = server.predict({"inputs": {"user_id": [1, "2", 10]}})
    assert status == 200
    out = json.loads(body)["outputs"]
    assert out["predicted_item_id"] == [r["predicted_item_id"] for r in rows]
    assert out["predicted_rating"] == [r["predicted_rating"] for r in rows]

    # The single-input shorthands of TF Serving's REST API.
    assert server.predict({"instances": [1, "2", 10]})[2] == cli_predict(stores["a"], *users)
    assert json.loads(server.predict({"inputs": [1, "2", 10]})[2])["outputs"] == out


def test_n_truncates(server):
    status, _, body = server.predict({"instances": [{"user_id": 2}], "n": 2})
    assert status == 200
    row = json.loads(body)["predictions"][0]
    assert_list(row["predicted_item_id"], row["predicted_rating"], reference_list(WEIGHTS_A, "2")[:2])


def test_model_status_metadata_and_versioned_predict(server, stores):
    status, _, body = server.request("GET", f"/v1/models/{MODEL}")
    assert status == 200
    (mvs,) = json.loads(body)["model_version_status"]
    assert mvs["state"] == "AVAILABLE"
    assert mvs["status"]["error_code"] == "OK"
    version = mvs["version"]
    assert version.isdigit() and int(version) > 0

    status, _, body = server.request("GET", f"/v1/models/{MODEL}/versions/{version}")
    assert status == 200 and json.loads(body)["model_version_status"][0]["version"] == version

    status, _, body = server.request("GET", f"/v1/models/{MODEL}/metadata")
    assert status == 200
    meta = json.loads(body)
    assert meta["model_spec"] == {"name": MODEL, "signature_name": "", "version": version}
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert set(sig["inputs"]) == {"user_id"}
    assert set(sig["outputs"]) == {"predicted_rating", "predicted_item_id"}

    status, _, body = server.request("POST", f"/v1/models/{MODEL}/versions/{version}:predict",
                                     {"instances": [{"user_id": 1}]})
    assert status == 200 and body == cli_predict(stores["a"], "1")


# ---------------------------------------------------------------- errors

ERRORS = [
    # method, path, body, headers, status, words in the error
    ("POST", PREDICT, "{not json", None, 400, "JSON parse error"),
    ("POST", PREDICT, "", None, 400, "JSON parse error"),
    ("POST", PREDICT, "[1]", None, 400, "JSON object"),
    ("POST", PREDICT, "{}", None, 400, "missing"),
    ("POST", PREDICT, {"instances": [{"user_id": 1}], "inputs": [1]}, None, 400, "not both"),
    ("POST", PREDICT, {"instances": {"user_id": 1}}, None, 400, "list"),
    ("POST", PREDICT, {"instances": []}, None, 400, "no users"),
    ("POST", PREDICT, {"instances": [{"user_id": 1.5}]}, None, 400, "integer or a string"),
    ("POST", PREDICT, {"instances": [{"user_id": None}]}, None, 400, "integer or a string"),
    ("POST", PREDICT, {"instances": [{"user_id": [1]}]}, None, 400, "integer or a string"),
    ("POST", PREDICT, {"instances": [{"uid": 1}]}, None, 400, "missing field user_id"),
    ("POST", PREDICT, {"inputs": {"user_id": 1}}, None, 400, "list"),
    ("POST", PREDICT, {"instances": [1], "n": 0}, None, 400, "positive integer"),
    ("POST", PREDICT, {"instances": [1], "n": -3}, None, 400, "positive integer"),
    ("POST", PREDICT, {"instances": [1], "signature_name": "x"}, None, 400, "serving_default"),
    ("POST", PREDICT, '{"instances":[1],"instances":[2]}', None, 400, "duplicate"),
    ("POST", PREDICT, {"instances": [""]}, None, 400, "1 to 255 bytes"),
    ("POST", PREDICT, {"instances": ["x" * 300]}, None, 400, "1 to 255 bytes"),
    ("POST", PREDICT, {"instances": list(range(6))}, None, 400, "limit is 5"),
    ("POST", PREDICT, '{"instances":' + "[" * 5000 + "]" * 5000 + "}", None, 413, "larger than --max-body"),
    ("POST", PREDICT, {"instances": ["1"] * 2000}, None, 413, "larger than --max-body"),
    ("POST", PREDICT, '{"instances":' + "[" * 1000 + "]" * 1000 + "}", None, 400, "integer or a string"),
    ("POST", PREDICT, "\xff\xfe{}", None, 400, "JSON parse error"),
    ("POST", PREDICT, {"instances": [{"user_id": 999}], "unknown_users": "error"}, None, 404,
     "user_id 999 not found"),
    ("POST", PREDICT, {"instances": [{"user_id": 1}, {"user_id": "nobody"}], "parameters": {"unknown_users": "error"}},
     None, 404, "nobody not found"),
    ("POST", "/v1/models/other:predict", {"instances": [1]}, None, 404, "Servable not found"),
    ("POST", f"/v1/models/{MODEL}/versions/1:predict", {"instances": [1]}, None, 404, "Specific"),
    ("POST", f"/v1/models/{MODEL}:classify", {"instances": [1]}, None, 404, "no such endpoint"),
    ("GET", PREDICT, None, None, 405, "not allowed"),
    ("PUT", PREDICT, "{}", None, 405, "not allowed"),
    ("POST", f"/v1/models/{MODEL}", "{}", None, 405, "not allowed"),
    ("DELETE", "/v1/users/1/recommendations", None, None, 405, "not allowed"),
    ("GET", "/v1/models/other", None, None, 404, "Servable not found"),
    ("GET", "/v1/models/other/metadata", None, None, 404, "Servable not found"),
    ("GET", "/nope", None, None, 404, "no such endpoint"),
    ("GET", "/v1/users/999/recommendations", None, None, 404, "not found"),
    ("GET", "/v1/users/1/recommendations?n=0", None, None, 400, "n must be"),
    ("GET", "/v1/users/1/recommendations?n=abc", None, None, 400, "n must be"),
    ("GET", "/v1/users/1/recommendations?n=-1", None, None, 400, "n must be"),
    ("GET", "/v1/users/1/recommendations?format=xml", None, None, 400, "format must be"),
]


@pytest.mark.parametrize("method,path,body,headers,status,words", ERRORS,
                         ids=[f"{e[4]}-{i}" for i, e in enumerate(ERRORS)])
def test_error(server, method, path, body, headers, status, words):
    if isinstance(body, str):
        body = body.encode("latin-1")
    got, hdrs, raw = server.request(method, path, body, headers)
    assert got == status, raw
    assert hdrs["content-type"] == "application/json"
    err = json.loads(raw)
    assert list(err) == ["error"]
    assert words in err["error"]
    if status == 405:
        assert hdrs["allow"] in ("POST", "GET, HEAD")


def test_hostile_bytes_keep_the_server_serving(server):
    """Garbage and half requests on raw sockets; the server answers the next one."""
    payloads = [
        b"\x00\x01\x02garbage\r\n\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{",
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /v1/users/%00%ff/recommendations HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"inst",
        b"GET /v1/users/1/recommendations?exclude=" + b"," * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"OPTIONS /v1/users/1/recommendations HTTP/1.1\r\nHost: x\r\nOrigin: null\r\n\r\n",
    ] + [b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b)
         for b in (b'{"instances":[{"user_id":1,"exclude":' + b"[" * 200 + b"]" * 200 + b'}]}',
                   b'{"instances":[1],"parameters":{"n":{"n":{"n":[]}}}}',
                   b'{"instances":[{"user_id":1,"exclude":["' + b'\\u0000' * 100 + b'"]}],"unknown_users":0}')]
    for p in payloads:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            try:  # the server may answer and close before all is sent
                s.sendall(p)
                s.shutdown(socket.SHUT_WR)
                reply = s.recv(65536)
            except OSError:
                reply = b""
            if reply:
                status = int(reply.split(b" ", 2)[1])
                assert 400 <= status < 500, reply[:200]
    # A chunked body over the limit: 413 while reading, not after.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        chunk = b"x" * 3000
        s.sendall(b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2 + b"0\r\n\r\n")
        reply = s.recv(65536)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert b'{"error":' in reply
    status, _, body = server.predict({"instances": [1]})
    assert status == 200


# ---------------------------------------------------------------- snippets


def test_snippet_json(server):
    status, headers, body = server.request("GET", "/v1/users/2/recommendations")
    assert status == 200 and headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["user_id"] == "2" and doc["fallback"] is False
    titles = load_titles()
    expected = reference_list(WEIGHTS_A, "2")
    assert [it["item_id"] for it in doc["items"]] == [i for i, _ in expected]
    for it, (item_id, score) in zip(doc["items"], expected):
        assert f32(it["score"]) == score
        assert it["title"] == titles[item_id][0]
        assert it["genres"] == titles[item_id][1].split("|")
    status, _, body = server.request("GET", "/v1/users/2/recommendations?n=1")
    assert [it["item_id"] for it in json.loads(body)["items"]] == [expected[0][0]]


def test_snippet_html_escapes_titles_and_genres(server):
    status, headers, body = server.request("GET", "/v1/users/1/recommendations?format=html")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    html = body.decode()
    assert "<script" not in html and "<b>" not in html and "<img" not in html
    assert ("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Friends&quot;, "
            "a &lt;b&gt;bold&lt;/b&gt; title") in html
    assert "Drama, &lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("<li ") == K
    ids = re.findall(r'<li data-item-id="([^"]*)"', html)
    assert ids == [i for i, _ in reference_list(WEIGHTS_A, "1")]


def test_etag_304_and_head(server):
    path = "/v1/users/1/recommendations?n=2"
    status, h, body = server.request("GET", path)
    assert status == 200
    etag = h["etag"]
    assert re.fullmatch(r'"[0-9a-f]{16}-[0-9a-f]{16}"', etag)  # strong: no W/
    cc = [p.strip() for p in h["cache-control"].split(",")]
    assert "max-age=120" in cc and "stale-while-revalidate=30" in cc

    for inm in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        status, h2, body2 = server.request("GET", path, headers={"If-None-Match": inm})
        assert status == 304, inm
        assert body2 == b""
        assert h2["etag"] == etag and h2["cache-control"] == h["cache-control"]
        # RFC 9110 8.6: a Content-Length on a 304 must be the 200's.
        assert h2.get("content-length", str(len(body))) == str(len(body))
    status, _, _ = server.request("GET", path, headers={"If-None-Match": '"other"'})
    assert status == 200

    status, h3, body3 = server.request("HEAD", path)
    assert status == 200 and body3 == b""
    assert h3["etag"] == etag and h3["content-length"] == str(len(body))

    # Different representations never share a tag.
    tags = {etag}
    for other in ("/v1/users/1/recommendations?n=3", "/v1/users/1/recommendations?n=2&format=html",
                  "/v1/users/2/recommendations?n=2"):
        tags.add(server.request("GET", other)[1]["etag"])
    assert len(tags) == 4



def test_answer_cache_answers_as_without_it(stores):
    """A server keeping answers (--answer-cache, default) answers every request
    exactly as one working each out again, also on the second and third time
    and when requests differ only in what the cache key must tell apart."""
    kept, fresh = Server(stores["a"]), Server(stores["a"], "--answer-cache", "0")
    snippet = "/v1/users/1/recommendations"
    requests = [("GET", snippet, None, {}), ("GET", snippet + "?n=", None, {}), ("GET", snippet + "?n=3", None, {}),
                ("GET", snippet + "?n=3&format=html", None, {}), ("GET", snippet + "?n=3&exclude=3382", None, {}),
                ("GET", snippet + "?n=3&exclude=", None, {}), ("GET", snippet + "?format=json", None, {}),
                ("GET", "/v1/users/2/recommendations?n=3", None, {}), ("GET", "/v1/users/nobody/recommendations", None, {}),
                ("HEAD", snippet + "?n=3", None, {})]
    requests += [("POST", PREDICT, body, {}) for body in (
        '{"instances":[{"user_id":1}]}', '{"instances": [{"user_id": 1}]}', '{"instances":[{"user_id":"1"}]}',
        '{"instances":[{"user_id":1,"exclude":[3382]}]}', '{"instances":[{"user_id":1}],"n":2}',
        '{"instances":[{"user_id":1},{"user_id":2}]}', '{"instances":[{"user_id":"nobody"}]}', '{"instances":[')]
    try:
        etag = kept.request("GET", snippet + "?n=3")[1]["etag"]
        requests.append(("GET", snippet + "?n=3", None, {"If-None-Match": etag}))
        for method, path, body, headers in requests:
            want = fresh.request(method, path, body, headers)
            for _ in range(3):
                got = kept.request(method, path, body, headers)
                assert got[0] == want[0] and got[2] == want[2], (method, path, body)
                for h in ("content-type", "etag", "cache-control", "content-length"):
                    assert got[1].get(h) == want[1].get(h), (method, path, body, h)
        assert kept.predict({"instances": [{"user_id": 1}]})[2] == cli_predict(stores["a"], "1")
        # Answers were kept: every 200 GET and predict after its first, and the HEAD and 304 of a
        # snippet kept earlier (the 304 sends its kept 200's ETag); none without the cache.
        kept_total = lambda s: int(re.search(r"^mfkv_http_answers_kept_total (\d+)$",
                                             s.request("GET", "/metrics")[2].decode(), re.M).group(1))
        assert kept_total(fresh) == 0
        assert kept_total(kept) >= 2 * 10
    finally:
        assert kept.stop() == 0 and fresh.stop() == 0

def test_fallback_for_unknown_users(stores):
    s = Server(stores["a"], "--fallback")
    try:
        expected = reference_list(WEIGHTS_A, None)
        status, _, body = s.predict({"instances": [{"user_id": "stranger"}, {"user_id": 1}]})
        assert status == 200
        rows = json.loads(body)["predictions"]
        assert_list(rows[0]["predicted_item_id"], rows[0]["predicted_rating"], expected)
        assert_list(rows[1]["predicted_item_id"], rows[1]["predicted_rating"], reference_list(WEIGHTS_A, "1"))
        status, _, body = s.request("GET", "/v1/users/stranger/recommendations")
        doc = json.loads(body)
        assert status == 200 and doc["fallback"] is True
        assert [it["item_id"] for it in doc["items"]] == [i for i, _ in expected]
        # The answer names the user it stands in for, so the id must be UTF-8
        # to go into JSON (found by tests/fuzz/fuzz_serve_request.c).
        status, _, body = s.request("GET", "/v1/users/ab%FF/recommendations")
        assert status == 400 and "UTF-8" in json.loads(body)["error"]
    finally:
        assert s.stop() == 0


# ---------------------------------------------------------------- operations


def test_health_ready_metrics(server):
    assert server.request("GET", "/healthz")[0] == 200
    assert server.request("GET", "/readyz")[0] == 200
    server.request("GET", "/v1/users/1/recommendations")
    server.request("GET", "/nope")
    status, h, body = server.request("GET", "/metrics")
    assert status == 200 and h["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    counts = dict(re.findall(r'^mfkv_http_requests_total\{route="([a-z_]+)",status="404"\} (\d+)$', text, re.M))
    assert int(counts["unknown"]) >= 1
    assert re.search(r'^mfkv_http_request_duration_seconds_count\{route="recommendations"\} [1-9]', text, re.M)
    assert re.search(r'^mfkv_store_info\{digest="[0-9a-f]{16}",version="\d+"\} 1$', text, re.M)
    assert re.search(r"^mfkv_uptime_seconds \d+$", text, re.M)
    assert "mfkv_store_swaps_total{result=\"failure\"} 0" in text


def test_page_is_self_contained(server):
    status, h, body = server.request("GET", "/")
    assert status == 200 and h["content-type"] == "text/html; charset=utf-8"
    html = body.decode()
    assert "<script>" in html and "/recommendations?format=html" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no external assets


def test_access_log_and_graceful_shutdown(stores, tmp_path):
    log = tmp_path / "access.log"
    s = Server(stores["a"], "--access-log", str(log))
    s.request("GET", "/v1/users/1/recommendations?n=1")
    s.request("GET", "/v1/users/%0aFAKE/recommendations")
    assert s.stop() == 0
    # Lines are written when each response completes, by whichever worker
    # thread served it, so their order is not the order of the requests.
    lines = sorted(log.read_text().splitlines(), key=lambda line: " 404 " in line)
    assert len(lines) == 2
    assert re.match(r'^127\.0\.0\.1 - - \[[^]]+\] "GET /v1/users/1/recommendations(\?n=1)? HTTP/1.1" 200 \d+ [\d.]+$',
                    lines[0])
    assert " 404 " in lines[1]  # the newline in the id did not split the line
    assert any("shutting down" in line for line in s.log)


def test_cli_usage_and_exit_codes(stores, tmp_path):
    r = subprocess.run([MFKV, "serve", "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    for opt in ("--listen", "--model-name", "--threads", "--fallback", "--max-body", "--max-users",
                "--cache-max-age", "--stale-while-revalidate", "--access-log", "--connection-limit",
                "--timeout", "exit codes"):
        assert opt in r.stdout
    assert subprocess.run([MFKV, "serve", "--bogus"], capture_output=True, timeout=10).returncode == 2
    assert subprocess.run([MFKV, "serve", "--listen", "nohost", stores["a"]],
                          capture_output=True, timeout=10).returncode == 2
    assert subprocess.run([MFKV, "serve", str(tmp_path / "missing.store")],
                          capture_output=True, timeout=10).returncode == 3
    junk = tmp_path / "junk.store"
    junk.write_bytes(b"\0" * 8192)
    assert subprocess.run([MFKV, "serve", str(junk)], capture_output=True, timeout=10).returncode == 4
    # --fallback needs a store built with one.
    r = subprocess.run([MFKV, "serve", "--fallback", "--listen", "127.0.0.1:0", stores["plain"]],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "fallback" in r.stderr


def test_overload_gets_503_and_idle_connections_time_out(stores):
    s = Server(stores["a"], "--connection-limit", "2", "--timeout", "1")
    idle = []
    try:
        for _ in range(2):
            idle.append(socket.create_connection(("127.0.0.1", s.port), timeout=10))
        # A connection counts once a server thread has accepted it: retry.
        replies = []
        assert wait_for(lambda: replies.append(s.request("GET", "/v1/users/1/recommendations"))
                        or replies[-1][0] == 503), replies[-1]
        status, headers, body = replies[-1]
        assert json.loads(body)["error"].startswith("overloaded")
        assert headers["retry-after"] == "1"
        # Idle connections are closed by the server after --timeout.
        for sock in idle:
            assert sock.recv(1) == b""
        assert wait_for(lambda: s.request("GET", "/healthz")[0] == 200)
    finally:
        for sock in idle:
            sock.close()
        assert s.stop() == 0


# ---------------------------------------------------------------- hot swap


def wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def swaps(server):
    text = server.request("GET", "/metrics")[2].decode()
    ok = int(re.search(r'swaps_total\{result="success"\} (\d+)', text).group(1))
    bad = int(re.search(r'swaps_total\{result="failure"\} (\d+)', text).group(1))
    return ok, bad


def test_hot_swap_under_load(stores, tmp_path):
    live = tmp_path / "live.store"
    shutil.copyfile(stores["a"], live)
    body_a = cli_predict(stores["a"], "1", "2")
    body_b = cli_predict(stores["b"], "1", "2")
    assert body_a != body_b
    s = Server(str(live), "--poll-ms", "50", "--threads", "4")
    failures, counts, stop = [], {body_a: 0, body_b: 0}, threading.Event()
    lock = threading.Lock()

    def client():
        end = time.monotonic() + 5
        while not stop.is_set() and time.monotonic() < end:
            try:
                status, _, body = s.predict({"instances": [{"user_id": 1}, {"user_id": 2}]})
            except OSError as e:
                failures.append(repr(e))
                continue
            with lock:
                if status != 200 or body not in counts:
                    failures.append((status, body[:200]))
                else:
                    counts[body] += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        n_swaps = 0
        for i in range(6):
            src = stores["b"] if i % 2 == 0 else stores["a"]
            tmp = tmp_path / f"next{i}.store"
            shutil.copyfile(src, tmp)
            os.rename(tmp, live)  # the documented way to publish a store
            n_swaps += 1
            assert wait_for(lambda: swaps(s)[0] >= n_swaps), s.log
        # SIGHUP reloads too (the same file: still a successful swap).
        s.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: swaps(s)[0] >= n_swaps + 1)

        # A corrupt replacement is refused and the old store keeps serving.
        data = bytearray(open(stores["b"], "rb").read())
        off = data.index(b"Toy Story")  # inside a checksummed item record
        data[off] ^= 0x20
        tmp = tmp_path / "bad.store"
        tmp.write_bytes(bytes(data))
        os.rename(tmp, live)
        assert wait_for(lambda: swaps(s)[1] >= 1), s.log
        status, _, body = s.predict({"instances": [{"user_id": 1}, {"user_id": 2}]})
        assert status == 200 and body == body_a  # the sixth rename published a
        assert any("reload refused" in line for line in s.log)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
        code = s.stop()
    assert failures == []
    assert counts[body_a] > 0 and counts[body_b] > 0
    assert code == 0



def store_digest(store):
    out = subprocess.run([MFKV, "info", "-s", store], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^digest +([0-9a-f]{16})$", out, re.M).group(1), 16)


def test_etag_is_store_digest_and_hash_of_every_body_byte(tmp_path):
    """Two stores whose snippet for user 1 differ only in the last entry's
    score: each tag is "<store digest>-<XXH3-64 of the exact body>" (etag.h),
    recomputed here with the xxhash package, and a tag from before a swap no
    longer matches after it (200, never a stale 304)."""
    import xxhash

    # Item "1" is user 1's third (last) entry; lowered by 0.25 it stays third.
    rows = [json.loads(line) for line in open(WEIGHTS_A)]
    for row in rows:
        if row["processed_input"] == "item_id" and row["feature"] == "1":
            row["intercept"] -= 0.25
    weights_c = tmp_path / "weights-c.ndjson"
    weights_c.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ref_a, ref_c = reference_list(WEIGHTS_A, "1"), reference_list(str(weights_c), "1")
    assert [i for i, _ in ref_a] == [i for i, _ in ref_c] and ref_a[-1][0] == "1"
    assert ref_a[:-1] == ref_c[:-1] and ref_a[-1][1] != ref_c[-1][1]

    a = build(tmp_path, "a.store", WEIGHTS_A)
    c = build(tmp_path, "c.store", str(weights_c))
    live = tmp_path / "live.store"
    shutil.copyfile(a, live)
    s = Server(str(live), "--poll-ms", "50")
    path = "/v1/users/1/recommendations"
    try:
        status, h, body_a = s.request("GET", path)
        assert status == 200
        etag_a = h["etag"]
        assert etag_a == f'"{store_digest(a):016x}-{xxhash.xxh3_64_intdigest(body_a):016x}"'
        assert s.request("GET", path, headers={"If-None-Match": etag_a})[0] == 304

        tmp = tmp_path / "next.store"
        shutil.copyfile(c, tmp)
        os.rename(tmp, live)
        assert wait_for(lambda: swaps(s)[0] >= 1), s.log
        status, h, body_c = s.request("GET", path, headers={"If-None-Match": etag_a})
        assert status == 200, "a tag of the old store matched the new one"
        etag_c = h["etag"]
        assert etag_c == f'"{store_digest(c):016x}-{xxhash.xxh3_64_intdigest(body_c):016x}"'
        assert etag_c != etag_a
        # The bodies differ only inside the last entry.
        items_a, items_c = json.loads(body_a)["items"], json.loads(body_c)["items"]
        assert items_a[:-1] == items_c[:-1] and items_a[-1]["item_id"] == items_c[-1]["item_id"]
        assert f32(items_a[-1]["score"]) == ref_a[-1][1] and f32(items_c[-1]["score"]) == ref_c[-1][1]
        assert s.request("GET", path, headers={"If-None-Match": etag_c})[0] == 304
    finally:
        assert s.stop() == 0


# ---------------------------------------------------------------- browser


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_page_in_headless_chromium(server, tmp_path):
    chromium = find_chromium()
    if not chromium:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    # ?user= fills the box and submits the form, as typing the id would.
    url = f"http://127.0.0.1:{server.port}/?user=1&n=3"
    r = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    dom = r.stdout
    assert "mfkv-recommendations" in dom, r.stderr[-2000:]
    ids = re.findall(r'<li data-item-id="([^"]*)"', dom)
    assert ids == [i for i, _ in reference_list(WEIGHTS_A, "1")]
    # The title arrived as text, not markup: the DOM holds its escaped form.
    assert "&lt;script&gt;alert(\"x\")&lt;/script&gt;" in dom
    assert "Toy Story (1995)" in dom
