"""Versions and models of `mfkv serve`, TF Serving's way, over loopback only.

A base directory holds DIR/N.mfkv; the newest --versions-to-keep that load
are served at /versions/N, new ones are picked up while serving, and a
removed or broken newest rolls back by itself.  Expected answers come from
`mfkv get --format predict` on each store file (whose lists test_serve.py
checks against a brute-force reference).
"""
import json
import os
import shutil
import subprocess
import time

import pytest

from test_serve import MFKV, MODEL, WEIGHTS_A, Server, build_a_and_b, cli_predict, wait_for


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    return build_a_and_b(tmp_path_factory.mktemp("versions"))


def publish(src, dst):
    """The documented way: a finished file renamed into place."""
    tmp = dst.parent / f".{dst.name}.tmp"
    shutil.copyfile(src, tmp)
    os.rename(tmp, dst)


def status_of(server, model=MODEL):
    status, _, body = server.request("GET", f"/v1/models/{model}")
    assert status == 200, body
    return [(v["version"], v["state"]) for v in json.loads(body)["model_version_status"]]


def predict_at(server, version=None, model=MODEL):
    path = f"/v1/models/{model}" + (f"/versions/{version}" if version else "") + ":predict"
    status, _, body = server.request("POST", path, {"instances": [{"user_id": 1}, {"user_id": 2}]})
    return status, body


def test_base_path_versions_keep_and_rollback(stores, tmp_path):
    a, b = cli_predict(stores["a"], "1", "2"), cli_predict(stores["b"], "1", "2")
    base = tmp_path / "models"
    base.mkdir()
    publish(stores["a"], base / "1.mfkv")
    publish(stores["b"], base / "2.mfkv")
    (base / "notes.txt").write_text("not a version")
    (base / "07.mfkv").write_bytes(b"leading zero: not a version name")
    s = Server(None, "--model-base-path", str(base), "--poll-ms", "50")
    try:
        assert status_of(s) == [("2", "AVAILABLE"), ("1", "AVAILABLE")]
        assert predict_at(s) == (200, b) and predict_at(s, 2) == (200, b) and predict_at(s, 1) == (200, a)

        # A new highest version is loaded while serving; the oldest is let go.
        publish(stores["a"], base / "3.mfkv")
        assert wait_for(lambda: status_of(s)[0] == ("3", "AVAILABLE")), s.log
        assert status_of(s) == [("3", "AVAILABLE"), ("2", "AVAILABLE")]
        assert predict_at(s) == (200, a) and predict_at(s, 2) == (200, b)
        assert predict_at(s, 1)[0] == 404

        # The newest removed: back to 2, and 1 is loaded again to keep two.
        os.unlink(base / "3.mfkv")
        assert wait_for(lambda: status_of(s) == [("2", "AVAILABLE"), ("1", "AVAILABLE")]), s.log
        assert predict_at(s) == (200, b) and predict_at(s, 3)[0] == 404

        # A newest that fails to load: listed END with its error, 2 still latest.
        data = bytearray(open(stores["a"], "rb").read())
        data[data.index(b"Toy Story")] ^= 0x20
        bad = tmp_path / "bad.mfkv"
        bad.write_bytes(bytes(data))
        os.rename(bad, base / "4.mfkv")
        assert wait_for(lambda: ("4", "END") in status_of(s)), s.log
        assert status_of(s)[:2] == [("2", "AVAILABLE"), ("1", "AVAILABLE")]
        status, _, body = s.request("GET", f"/v1/models/{MODEL}/versions/4")
        (v4,) = json.loads(body)["model_version_status"]
        assert status == 200 and v4["status"]["error_code"] != "OK" and v4["status"]["error_message"]
        assert predict_at(s) == (200, b) and predict_at(s, 4)[0] == 404

        # Fixed in place by a rename: loaded.
        publish(stores["a"], base / "4.mfkv")
        assert wait_for(lambda: status_of(s)[0] == ("4", "AVAILABLE")), s.log
        assert predict_at(s) == (200, a)
    finally:
        assert s.stop() == 0


def test_versions_to_keep_one_and_empty_base_path(stores, tmp_path):
    base = tmp_path / "models"
    base.mkdir()
    r = subprocess.run([MFKV, "serve", "--listen", "127.0.0.1:0", "--model-base-path", str(base)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "N.mfkv" in r.stderr
    publish(stores["a"], base / "5.mfkv")
    publish(stores["b"], base / "9.mfkv")
    s = Server(None, "--model-base-path", str(base), "--versions-to-keep", "1")
    try:
        assert status_of(s) == [("9", "AVAILABLE")]
    finally:
        assert s.stop() == 0


def test_several_models(stores, tmp_path):
    base = tmp_path / "models"
    base.mkdir()
    publish(stores["b"], base / "1.mfkv")
    s = Server(stores["a"], "--model", f"other={base}", "--model", f"third={stores['b']}")
    try:
        assert predict_at(s) == (200, cli_predict(stores["a"], "1", "2"))
        assert predict_at(s, 1, model="other") == (200, cli_predict(stores["b"], "1", "2"))
        assert predict_at(s, model="third") == (200, cli_predict(stores["b"], "1", "2"))
        assert status_of(s, "other") == [("1", "AVAILABLE")]
        assert s.request("GET", "/v1/models/fourth")[0] == 404
        meta = json.loads(s.request("GET", "/v1/models/other/metadata")[2])
        assert meta["model_spec"]["name"] == "other" and meta["model_spec"]["version"] == "1"
    finally:
        assert s.stop() == 0
    for bad in (["--model", "x"], ["--model", "a/b=x"], ["--model", f"m={stores['a']}", "--model", f"m={stores['b']}"]):
        r = subprocess.run([MFKV, "serve", *bad], capture_output=True, timeout=30)
        assert r.returncode == 2, bad


def test_store_file_version_is_the_build_time_and_only_grows(stores, tmp_path):
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    new = tmp_path / "new.store"
    old = tmp_path / "old.store"
    for path, epoch in ((new, "1700000000"), (old, "1600000000")):
        subprocess.run([MFKV, "build", "--weights", WEIGHTS_A, "-o", str(path), "-k", "3", "-q"], check=True,
                       env=dict(env, SOURCE_DATE_EPOCH=epoch), timeout=60)
    live = tmp_path / "live.store"
    publish(new, live)
    s = Server(str(live), "--poll-ms", "50")
    try:
        assert status_of(s) == [("1700000000", "AVAILABLE")]
        # A replacement built earlier still gets a higher version.
        publish(old, live)
        assert wait_for(lambda: status_of(s) == [("1700000001", "AVAILABLE")]), s.log
        publish(new, live)  # the same build time again: higher still
        assert wait_for(lambda: status_of(s) == [("1700000002", "AVAILABLE")]), s.log
        assert predict_at(s, 1700000002)[0] == 200 and predict_at(s, 1700000000)[0] == 404
        # The ETag stays the digest's: same store bytes, same tag across versions.
        tag = s.request("GET", "/v1/users/1/recommendations")[1]["etag"]
        publish(new, live)
        assert wait_for(lambda: status_of(s) == [("1700000003", "AVAILABLE")]), s.log
        assert s.request("GET", "/v1/users/1/recommendations")[1]["etag"] == tag
    finally:
        assert s.stop() == 0


def flip_score_byte(path, score):
    """Flip, in place, one byte of a float32 score stored in @p path (a byte of
    one user's checksummed record); returns a function that puts it back."""
    import struct

    with open(path, "r+b") as f:
        data = f.read()
        off = data.index(struct.pack("<f", score)) + 1
        assert data.count(struct.pack("<f", score)) == 1
        f.seek(off)
        f.write(bytes([data[off] ^ 0x40]))

    def restore():
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(data[off:off + 1])
    return restore


def test_store_changed_in_place_gets_503_then_reloads(stores, tmp_path):
    """Issue 8, server side: a store whose bytes change under the server is
    never answered from; its lookups get 503 while other users, versions and
    models keep serving, and it is served again once the file is valid."""
    from test_serve import reference_list

    top1 = reference_list(WEIGHTS_A, "1")[0][1]
    live = tmp_path / "live.store"
    publish(stores["a"], live)
    base = tmp_path / "models"
    base.mkdir()
    publish(stores["b"], base / "1.mfkv")
    publish(stores["a"], base / "2.mfkv")
    s = Server(str(live), "--poll-ms", "50", "--model", f"versions={base}")
    try:
        one = lambda model=MODEL, v=None: s.request(
            "POST", f"/v1/models/{model}" + (f"/versions/{v}" if v else "") + ":predict",
            {"instances": [{"user_id": 1}]})[0]
        two = {"instances": [{"user_id": 2}]}
        restore = flip_score_byte(live, top1)
        assert one() == 503  # the record fails its checksum: never served
        # A file changed in place is untrusted as a whole (the library answers
        # MFKV_CHANGED from then on), so user 2 is refused too until the file
        # is valid again; other models keep serving.
        assert s.predict(two)[0] == 503 and one("versions") == 200
        assert s.request("GET", "/readyz")[0] == 200
        time.sleep(0.5)  # polls: the changed file does not load, the old mapping stays
        assert one() == 503 and s.proc.poll() is None
        assert sum("no loadable version" in line for line in s.log) == 1  # said once, not every poll
        restore()
        assert wait_for(lambda: one() == 200), s.log

        # A version directory rolls back while its newest is unreadable.
        restore = flip_score_byte(base / "2.mfkv", top1)
        assert wait_for(lambda: status_of(s, "versions")[0] == ("1", "AVAILABLE")), s.log
        assert predict_at(s, model="versions") == (200, cli_predict(stores["b"], "1", "2"))
        restore()
        assert wait_for(lambda: status_of(s, "versions")[0] == ("2", "AVAILABLE")), s.log
        assert one("versions", 2) == 200
    finally:
        assert s.stop() == 0
