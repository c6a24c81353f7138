"""tools/fetch_movielens.py against a local HTTP server serving zips built here."""
import functools
import hashlib
import http.server
import os
import subprocess
import sys
import threading
import zipfile

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fetch_movielens.py")

FILES = {
    "ml-latest-small/ratings.csv": "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n",
    "ml-latest-small/movies.csv": 'movieId,title,genres\n1,"Made Up, The (2000)",Drama\n',
}


def build_zip(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on 127.0.0.1; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fetch(name, url, tmp_path, *args, pins="none.sha256"):
    """Run the script for @name from @url into tmp_path/out, with a pin file
    in tmp_path that does not exist unless a test writes it."""
    cmd = [sys.executable, SCRIPT, name, "--base-url", url, "--dest", str(tmp_path / "out"),
           "--pins", str(tmp_path / pins), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_success_unpacks_the_archive(served, tmp_path):
    root, url = served
    digest = build_zip(root / "ml-latest-small.zip", FILES)
    dest = tmp_path / "out"
    p = fetch("ml-latest-small", url, tmp_path, "--sha256", digest)
    assert p.returncode == 0, p.stderr
    for name, text in FILES.items():
        assert (dest / name).read_text() == text
    # Only the unpacked folder: no archive or work folder left over.
    assert sorted(os.listdir(dest)) == ["ml-latest-small"]


def test_checksum_mismatch_leaves_nothing(served, tmp_path):
    root, url = served
    digest = build_zip(root / "ml-latest-small.zip", FILES)
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    dest = tmp_path / "out"
    p = fetch("ml-latest-small", url, tmp_path, "--sha256", wrong)
    assert p.returncode == 1
    assert "checksum mismatch" in p.stderr
    assert not dest.exists()


def test_mismatch_keeps_an_existing_copy(served, tmp_path):
    root, url = served
    build_zip(root / "ml-latest-small.zip", FILES)
    dest = tmp_path / "out"
    (dest / "ml-latest-small").mkdir(parents=True)
    (dest / "ml-latest-small" / "keep.txt").write_text("old")
    p = fetch("ml-latest-small", url, tmp_path, "--sha256", "ab" * 32, "--force")
    assert p.returncode == 1
    assert sorted(os.listdir(dest)) == ["ml-latest-small"]
    assert (dest / "ml-latest-small" / "keep.txt").read_text() == "old"


def test_missing_archive_leaves_nothing(served, tmp_path):
    _, url = served
    dest = tmp_path / "out"
    p = fetch("ml-1m", url, tmp_path, "--sha256", "ab" * 32)
    assert p.returncode == 1
    assert "404" in p.stderr
    assert not dest.exists()


def test_member_outside_the_folder_is_refused(served, tmp_path):
    root, url = served
    digest = build_zip(root / "ml-1m.zip", {"ml-1m/ratings.dat": "1::2::3::4\n",
                                            "../escape.txt": "x"})
    dest = tmp_path / "out"
    p = fetch("ml-1m", url, tmp_path, "--sha256", digest)
    assert p.returncode == 1
    assert "outside" in p.stderr
    assert not dest.exists()
    assert not (tmp_path / "escape.txt").exists()


def test_no_checksum_is_refused_and_record_pins_it(served, tmp_path):
    root, url = served
    digest = build_zip(root / "ml-latest-small.zip", FILES)
    dest, pins = tmp_path / "out", tmp_path / "pins.sha256"
    p = fetch("ml-latest-small", url, tmp_path, pins="pins.sha256")
    assert p.returncode == 2
    assert not dest.exists()

    p = fetch("ml-latest-small", url, tmp_path, "--record", pins="pins.sha256")
    assert p.returncode == 0, p.stderr
    assert pins.read_text() == f"{digest}  ml-latest-small.zip\n"

    # The pin now holds later downloads to that checksum.
    build_zip(root / "ml-latest-small.zip", {**FILES, "ml-latest-small/extra.txt": "changed"})
    p = fetch("ml-latest-small", url, tmp_path, "--force", pins="pins.sha256")
    assert p.returncode == 1
    assert "checksum mismatch" in p.stderr
    assert not (dest / "ml-latest-small" / "extra.txt").exists()


def test_published_md5_is_checked_when_nothing_is_pinned(served, tmp_path):
    root, url = served
    build_zip(root / "ml-latest-small.zip", FILES)
    md5 = hashlib.md5((root / "ml-latest-small.zip").read_bytes()).hexdigest()
    (root / "ml-latest-small.zip.md5").write_text(f"MD5 (ml-latest-small.zip) = {md5}\n")
    dest = tmp_path / "out"
    p = fetch("ml-latest-small", url, tmp_path)
    assert p.returncode == 0, p.stderr
    assert (dest / "ml-latest-small" / "ratings.csv").read_text() == FILES["ml-latest-small/ratings.csv"]
    assert not (tmp_path / "none.sha256").exists()  # nothing pinned without --record

    (root / "ml-latest-small.zip.md5").write_text(f"{'0' * 32}  ml-latest-small.zip\n")
    p = fetch("ml-latest-small", url, tmp_path, "--force")
    assert p.returncode == 1
    assert "GroupLens publishes" in p.stderr
    assert (dest / "ml-latest-small" / "ratings.csv").exists()  # the old copy stays
