"""Real clients against `mfkv serve`'s early answers, over loopback only.

A request refused before it is read whole (413 on a declared Content-Length,
431 on oversized headers) must reach a client that is still sending: the
server's close lingers (src/serve/linger.h) instead of resetting the
connection.  Each client of the matrix sends each oversized request REPEAT
times and must read its status every time, with no reset or broken pipe.
"""
import http.client
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from test_serve import MOVIES, PREDICT, WEIGHTS_A, Server, build

REPEAT = 50
MAX_BODY = 1 << 20
BIG_BODY = b"{" + b" " * (1900 * 1000) + b"}"  # 1.9 MB, as in the report
BIG_HEADER = "a" * 200_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clients")
    s = Server(build(tmp, "a.store", WEIGHTS_A, "--titles", MOVIES), "--max-body", str(MAX_BODY))
    yield s
    assert s.stop() == 0


def url(server, path):
    return f"http://127.0.0.1:{server.port}{path}"


def urllib_status(req):
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code


def http_client_status(port, method, path, body=None, headers=()):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.putrequest(method, path)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def tally(fn):
    """{outcome: count} over REPEAT calls; an exception counts by its type."""
    seen = {}
    for _ in range(REPEAT):
        try:
            k = fn()
        except OSError as e:  # ConnectionResetError, BrokenPipeError, URLError...
            k = type(e).__name__ + ":" + str(getattr(e, "reason", e))
        seen[k] = seen.get(k, 0) + 1
    return seen


def test_urllib_oversized_body_gets_413(server):
    req = lambda: urllib.request.Request(url(server, PREDICT), data=BIG_BODY, method="POST",
                                         headers={"Content-Type": "application/json"})
    assert tally(lambda: urllib_status(req())) == {413: REPEAT}


def test_urllib_oversized_header_gets_431(server):
    req = lambda: urllib.request.Request(url(server, "/healthz"), headers={"X-Big": BIG_HEADER})
    assert tally(lambda: urllib_status(req())) == {431: REPEAT}


def test_http_client_oversized_body_and_headers(server):
    assert tally(lambda: http_client_status(server.port, "POST", PREDICT, BIG_BODY)) == {413: REPEAT}
    many = [(f"X-H{i}", "v") for i in range(10_000)]
    assert tally(lambda: http_client_status(server.port, "GET", "/healthz", headers=many)) == {431: REPEAT}
    # A request just under the limits is still served: the bounds are not too tight.
    assert http_client_status(server.port, "GET", "/healthz", headers=[("X-Big", "a" * 4000)]) == 200


@pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
@pytest.mark.parametrize("expect", ["100-continue", ""])
def test_curl_with_and_without_expect(server, tmp_path, expect):
    body = tmp_path / "body.json"
    body.write_bytes(BIG_BODY)
    header = tmp_path / "header.txt"
    header.write_text(f"X-Big: {BIG_HEADER}\n")

    def curl(*args):
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Expect: {expect}",
                            *args], capture_output=True, text=True, timeout=30)
        return (r.returncode, r.stdout)  # curl exits 55/56 on a send/receive failure

    post = lambda: curl("--data-binary", f"@{body}", "-H", "Content-Type: application/json", url(server, PREDICT))
    assert tally(post) == {(0, "413"): REPEAT}
    get = lambda: curl("-H", f"@{header}", url(server, "/healthz"))
    assert tally(get) == {(0, "431"): REPEAT}


def test_chunked_body_over_the_limit_gets_413(server):
    """No Content-Length: the limit is found while reading; the answer still arrives."""
    def send():
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
            s.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
            chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
            for _ in range(2 * MAX_BODY // (64 * 1024)):
                s.sendall(chunk)
            s.sendall(b"0\r\n\r\n")
            return s.recv(64)[:12]
    assert send() == b"HTTP/1.1 413"


def test_client_eof_in_the_middle_of_a_request_closes_at_once(tmp_path):
    """Content-Length 100000, 2 bytes, then the client shuts down its side: the
    server closes well before --timeout instead of waiting for the rest."""
    s = Server(build(tmp_path, "a.store", WEIGHTS_A), "--timeout", "20")
    try:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", s.port), timeout=30) as c:
                c.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{{\"".encode())
                c.shutdown(socket.SHUT_WR)
                t0 = time.monotonic()
                assert c.recv(4096) == b""
                assert time.monotonic() - t0 < 10  # not the 20 s timeout
    finally:
        assert s.stop() == 0


def test_lingering_is_bounded_by_client_eof(server):
    """A refused client that goes away frees its lingering socket at once; the
    server keeps answering on fresh connections."""
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as c:
            c.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: {10 * MAX_BODY}\r\n\r\n".encode())
            c.sendall(b" " * 100_000)
            assert c.recv(12) == b"HTTP/1.1 413"
    assert http_client_status(server.port, "GET", "/healthz") == 200
