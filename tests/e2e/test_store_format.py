"""Store formats 1.0 and 1.1 side by side, and what `mfkv verify` names.

tests/fixtures/store-v1.0/bqml-k3.mfkv was written by the builder of format
1.0 (no page table) from tests/fixtures/serve/bqml-weights.ndjson and
movies.csv with k=3.  Today's builder, given the same inputs, must write a
1.1 store that reads the same; the 1.0 store must still open, read and
verify (proven whole at open).
"""
import os
import subprocess

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
OLD = os.path.join(FIXTURES, "store-v1.0", "bqml-k3.mfkv")
PAGE = os.sysconf("SC_PAGESIZE")


def run(*args, check=True):
    p = subprocess.run([MFKV, *map(str, args)], capture_output=True, text=True,
                       env=dict(os.environ, SOURCE_DATE_EPOCH="1700000000"))
    if check and p.returncode != 0:
        raise AssertionError(f"mfkv {args} exited {p.returncode}: {p.stderr}")
    return p


def build_new(tmp_path):
    new = tmp_path / "new.mfkv"
    run("build", "--weights", os.path.join(FIXTURES, "serve", "bqml-weights.ndjson"),
        "--titles", os.path.join(FIXTURES, "serve", "movies.csv"), "-k", "3", "-o", new, "-q")
    return new


def test_format_1_0_and_1_1_read_the_same(tmp_path):
    new = build_new(tmp_path)
    assert "format      1.0" in run("info", "-s", OLD).stdout
    assert "format      1.1" in run("info", "-s", new).stdout
    for store in (OLD, new):
        assert run("verify", "-s", store).returncode == 0
    assert run("dump", "-s", OLD).stdout == run("dump", "-s", new).stdout
    assert run("get", "-s", OLD, "1", "2", "10").stdout == run("get", "-s", new, "1", "2", "10").stdout


def test_verify_names_the_damaged_page_and_counts(tmp_path):
    new = build_new(tmp_path)
    data = bytearray(new.read_bytes())
    bad = tmp_path / "bad.mfkv"
    data[2 * PAGE + 100] ^= 1
    data[3 * PAGE + 200] ^= 1
    bad.write_bytes(bytes(data))
    v = run("verify", "-s", bad, check=False)
    assert v.returncode == 4
    assert "2 of " in v.stderr and f"first: page 2 at offset {2 * PAGE} " in v.stderr, v.stderr
    q = run("verify", "-q", "-s", bad, check=False)
    assert q.returncode == 4 and q.stdout == "" and q.stderr == ""
