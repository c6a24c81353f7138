"""HTTP/1.1 on raw sockets against `mfkv serve`'s own loop (src/serve/http.c):
pipelining, HEAD, keep-alive and Connection: close, requests and bodies split
across many writes, interim 100 Continue, the header limit, and a client
that reads its pipelined answers late (the server's sends block and resume).
"""
import re
import socket
import threading
import time

import pytest

from test_serve import MOVIES, PREDICT, WEIGHTS_A, Server, build

SNIPPET = "/v1/users/1/recommendations"
BODY = b'{"instances":[{"user_id":1},{"user_id":"2"}]}'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("http")
    s = Server(build(tmp, "a.store", WEIGHTS_A, "--titles", MOVIES), "--cors-origin", "https://a.example")
    yield s
    assert s.stop() == 0


def get(path, extra=b""):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


def post(body=BODY):
    return (b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


class Reader:
    """Answers read off one socket, one at a time, by their Content-Length."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def answer(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        m = re.search(rb"\r\nContent-Length: (\d+)", head)
        n = int(m.group(1)) if m and not head_only and b" 304 " not in head.split(b"\r\n")[0] else 0
        while len(self.buf) < n:
            self.fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return head.decode("latin-1"), body

    def closed(self):
        try:
            self.fill()
        except EOFError:
            return True
        return False


def connect(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def alone(server, request, head_only=False):
    """The answer to @request on a fresh connection."""
    with connect(server) as s:
        s.sendall(request)
        return Reader(s).answer(head_only)


def undated(head):
    return re.sub(r"\r\nDate: [^\r]*", "", head)


def test_headers_byte_for_byte(server):
    """The header block as libmicrohttpd sent it (Date, then Connection, then
    ours in order, then Content-Length), for an answer of each kind."""
    head, body = alone(server, get(SNIPPET, b"Origin: https://a.example\r\n"))
    etag = re.search(r"ETag: (\S+)", head).group(1)
    assert re.fullmatch(r"HTTP/1\.1 200 OK\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n.*", head, re.S)
    assert undated(head) == (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"ETag: {etag}\r\nCache-Control: public, max-age=300, stale-while-revalidate=60\r\n"
        "Access-Control-Allow-Origin: https://a.example\r\nVary: Origin\r\n"
        f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}")
    head, _ = alone(server, get(SNIPPET, b"If-None-Match: " + etag.encode() + b"\r\n"))
    assert undated(head) == (
        "HTTP/1.1 304 Not Modified\r\n"
        f"ETag: {etag}\r\nCache-Control: public, max-age=300, stale-while-revalidate=60\r\nVary: Origin\r\n"
        f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}")
    head, _ = alone(server, b"OPTIONS " + SNIPPET.encode() + b" HTTP/1.1\r\nOrigin: https://a.example\r\n\r\n")
    assert undated(head) == (
        "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: https://a.example\r\nVary: Origin\r\n"
        "Access-Control-Allow-Methods: GET, HEAD\r\nAccess-Control-Allow-Headers: If-None-Match\r\n"
        "Access-Control-Max-Age: 600\r\nX-Content-Type-Options: nosniff")
    head, body = alone(server, b"GET " + PREDICT.encode() + b" HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert undated(head) == (
        "HTTP/1.1 405 Method Not Allowed\r\nConnection: Keep-Alive\r\nContent-Type: application/json\r\n"
        f"Allow: POST\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}")


def test_pipelined_requests_answered_in_order(server):
    requests = [get("/healthz"), post(), get(SNIPPET), get("/nope"), post(b'{"instances":[1]}')]
    want = [alone(server, r)[1] for r in requests]
    with connect(server) as s:
        s.sendall(b"".join(requests))  # one send: the server reads them in one go
        r = Reader(s)
        assert [r.answer()[1] for _ in requests] == want
        s.sendall(get("/healthz"))  # and the connection stays open
        assert r.answer()[1] == b"ok\n"


def test_head_has_the_get_headers_and_no_body(server):
    get_head, get_body = alone(server, get(SNIPPET))
    with connect(server) as s:
        s.sendall(b"HEAD " + SNIPPET.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n" + get("/healthz"))
        r = Reader(s)
        head, _ = r.answer(head_only=True)
        assert undated(head) == undated(get_head) and len(get_body) > 100
        # No body bytes came between: the next answer starts right after.
        head, body = r.answer()
        assert head.startswith("HTTP/1.1 200 OK") and body == b"ok\n"


def test_requests_split_into_single_bytes(server):
    """Request line, headers and a chunked body one byte per send."""
    chunked = (b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"".join(b"%x\r\n%s\r\n" % (len(BODY[i:i + 7]), BODY[i:i + 7]) for i in range(0, len(BODY), 7))
               + b"0\r\n\r\n")
    for request in (get(SNIPPET), post(), chunked):
        want = alone(server, post() if request == chunked else request)[1]
        with connect(server) as s:
            for i in range(len(request)):
                s.send(request[i:i + 1])
                if i % 16 == 0:
                    time.sleep(0.001)  # separate segments, separate reads
            assert Reader(s).answer()[1] == want


def test_body_in_parts_with_pauses(server):
    want = alone(server, post())[1]
    with connect(server) as s:
        whole = post()
        for part in (whole[:40], whole[40:len(whole) - 10], whole[len(whole) - 10:]):
            s.sendall(part)
            time.sleep(0.05)
        assert Reader(s).answer()[1] == want


def test_keep_alive_across_many_requests(server):
    with connect(server) as s:
        r = Reader(s)
        for i in range(300):
            s.sendall(post() if i % 2 else get("/healthz"))
            head, _ = r.answer()
            assert head.startswith("HTTP/1.1 200 OK") and "Connection" not in head


@pytest.mark.parametrize("request_head", [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /healthz HTTP/1.0\r\n\r\n",
])
def test_connection_close_is_honoured(server, request_head):
    with connect(server) as s:
        s.sendall(request_head + get("/healthz"))  # the second is never answered
        r = Reader(s)
        head, body = r.answer()
        assert "\r\nConnection: close\r\n" in head and body == b"ok\n"
        assert r.closed() and r.buf == b""


def test_http10_keep_alive(server):
    with connect(server) as s:
        r = Reader(s)
        for _ in range(3):
            s.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            head, body = r.answer()
            assert "\r\nConnection: Keep-Alive\r\n" in head and body == b"ok\n"


def test_100_continue_before_the_body(server):
    want = alone(server, post())[1]
    with connect(server) as s:
        s.sendall(b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(BODY))
        r = Reader(s)
        while b"\r\n\r\n" not in r.buf:
            r.fill()
        assert r.buf == b"HTTP/1.1 100 Continue\r\n\r\n"  # asked for, before any body byte
        r.buf = b""
        s.sendall(BODY)
        assert r.answer()[1] == want


def test_headers_over_the_limit_get_431(server):
    fits = b"X-Big: " + b"a" * 15000 + b"\r\n"
    assert alone(server, get("/healthz", fits))[0].startswith("HTTP/1.1 200")
    head, body = alone(server, get("/healthz", fits + b"X-More: " + b"b" * 2000 + b"\r\n"))
    assert head.startswith("HTTP/1.1 431 ") and "\r\nConnection: close\r\n" in head
    assert b"16384" in body


def test_malformed_request_gets_400_json(server):
    head, body = alone(server, b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n")
    assert head.startswith("HTTP/1.1 400 ") and body.startswith(b'{"error":"malformed request')


def test_client_reading_late_gets_every_pipelined_answer(server):
    """3000 pipelined snippet requests (about 2 MB of answers) while the
    client does not read: the server's sends fill the socket, it stops
    reading, and it resumes on both ends once the client reads."""
    n = 3000
    want = alone(server, get(SNIPPET))[1]
    with connect(server) as s:
        sender = threading.Thread(target=s.sendall, args=(get(SNIPPET) * n,))
        sender.start()
        time.sleep(0.5)
        r = Reader(s)
        bodies = [r.answer()[1] for _ in range(n)]
        sender.join()
    assert bodies == [want] * n
