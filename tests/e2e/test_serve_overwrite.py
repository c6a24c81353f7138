"""`mfkv serve` while its store file is overwritten or truncated in place,
under load, over loopback only (issue 8, points 4 and 6, server side).

cp and scp write in place: the served mapping then changes under the
server.  With issue 8's library, lookups on such a file return an error
instead of faulting; the server answers 503 for that store, keeps serving,
and serves the file again once it is complete and valid.  Every answer must
be exactly one of the two stores' answers, or a 503: never a mix, never a
crash.
"""
import os
import shutil
import threading
import time

import pytest

from test_serve import Server, build_a_and_b, cli_predict, wait_for


REQUEST = {"instances": [{"user_id": 1}, {"user_id": 2}]}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    return build_a_and_b(tmp_path_factory.mktemp("overwrite"))


def copy_in_place(src, dst):
    """What cp does to an existing file: truncate, then write."""
    with open(src, "rb") as f, open(dst, "r+b") as g:
        g.truncate(0)
        shutil.copyfileobj(f, g, 4096)


def test_overwrite_and_truncate_under_load(stores, tmp_path):
    answers = {cli_predict(stores["a"], "1", "2"): "a", cli_predict(stores["b"], "1", "2"): "b"}
    live = tmp_path / "live.store"
    shutil.copyfile(stores["a"], live)
    s = Server(str(live), "--poll-ms", "50", "--threads", "4")
    seen, bad, stop = {"a": 0, "b": 0, 503: 0}, [], threading.Event()

    def client():
        while not stop.is_set():
            try:
                status, _, body = s.predict(REQUEST)
            except OSError as e:
                bad.append(repr(e))
                continue
            if status == 503:
                seen[503] += 1
            elif status == 200 and body in answers:
                seen[answers[body]] += 1
            else:
                bad.append((status, body[:200]))

    threads = [threading.Thread(target=client) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        for src in ("b", "a", "b"):
            copy_in_place(stores[src], live)
            time.sleep(0.3)
        with open(live, "r+b") as f:  # truncated to half, then completed
            f.truncate(os.path.getsize(stores["b"]) // 2)
        time.sleep(0.3)
        copy_in_place(stores["b"], live)
        assert wait_for(lambda: s.predict(REQUEST)[2] == cli_predict(stores["b"], "1", "2"), 10), s.log
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert s.proc.poll() is None, "the server died"
    assert s.stop() == 0
    assert bad == []
    assert seen["a"] > 0 and seen["b"] > 0
