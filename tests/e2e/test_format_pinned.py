"""Pinned store format: the committed tests/fixtures/format-*/ folders (made by
tests/fixtures/make_format_fixtures.py) must keep reading with today's mfkv.

Every expected value is computed here from the folder's input files, not
from mfkv: the top-K by brute force in double precision from weights.ndjson
(ties by item id: numbers numerically, before other ids byte-wise),
exclusions from ratings.csv, titles from movies.csv; the raw records are read
with the `lmdb` package and their checksums, the store digest and the
trailer recomputed with the `xxhash` package, following src/format.h.  The
model file is parsed from its bytes following src/train/modelfile.h.

A new format version gets a new folder (format-v2/ ...) and, when its layout
differs, its own raw parser in RAW_PARSERS; older folders stay and must keep
reading.  test_today_builder_writes_a_pinned_format fails when today's
builder writes bytes that no folder pins: a format change must bump the
version and add its folder.
"""
import csv
import glob
import json
import os
import re
import shutil
import struct

import lmdb
import pytest
import xxhash

import mfkv_util
from mfkv_util import f32, id_key

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
FOLDERS = sorted(glob.glob(os.path.join(FIXTURES, "format-v*")))
K = 4
DOMAIN = 0x6D666B7672656331  # "mfkvrec1" as a little-endian u64, per src/format.h
TRAILER_LEN = 64
PAGE_DOMAIN = 0x6D666B7670616731  # "mfkvpag1", per src/format.h (format 1.1's page table)
PAGE_CHUNK = 512  # page-table entries per index entry
ENV = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")


def run(*args, check=True):
    return mfkv_util.run(*args, check=check, env=ENV)


class Inputs:
    """The folder's inputs, read with json and csv only."""

    def __init__(self, d):
        self.users, self.items = {}, {}
        with open(os.path.join(d, "weights.ndjson")) as f:
            for line in f:
                row = json.loads(line)
                if row["processed_input"] is None:
                    self.global_bias = row["intercept"]
                    continue
                fs = {w["factor"]: w["weight"] for w in row["factor_weights"]}
                vec = [f32(fs[n]) for n in range(1, len(fs) + 1)]
                side = self.users if row["processed_input"] == "user_id" else self.items
                side[row["feature"]] = (vec, f32(row["intercept"]))
        self.seen = {}
        with open(os.path.join(d, "ratings.csv"), newline="") as f:
            for row in csv.DictReader(f):
                self.seen.setdefault(row["userId"], set()).add(row["movieId"])
        with open(os.path.join(d, "movies.csv"), newline="", encoding="utf-8") as f:
            self.titles = {r["movieId"]: (r["title"], r["genres"]) for r in csv.DictReader(f)}
        self.item_order = sorted(self.items, key=id_key)

    def score(self, u, i):
        (uf, ub), (vf, ib) = self.users[u], self.items[i]
        return self.global_bias + ub + ib + sum(a * b for a, b in zip(uf, vf))

    def topk(self, u):
        cands = [i for i in self.items if i not in self.seen.get(u, ())]
        cands.sort(key=lambda i: (-self.score(u, i), id_key(i)))
        return [(i, f32(self.score(u, i))) for i in cands[:K]]

    def fallback(self):
        s = lambda i: self.global_bias + self.items[i][1]
        return [(i, f32(s(i))) for i in sorted(self.items, key=lambda i: (-s(i), id_key(i)))[:K]]


def record(key, value):
    """Check one record's checksum (src/format.h); return its body."""
    seed = xxhash.xxh3_64_intdigest(key) ^ DOMAIN
    (stored,) = struct.unpack_from("<Q", value)
    assert stored == xxhash.xxh3_64_intdigest(value[8:], seed), f"record {key!r}: checksum"
    return value[8:], stored


def parse_list(body):
    (n,) = struct.unpack_from("<I", body)
    assert len(body) == 4 + 8 * n
    idx = struct.unpack_from(f"<{n}I", body, 4)
    scores = struct.unpack_from(f"<{n}f", body, 4 + 4 * n)
    return list(zip(idx, scores))


def check_trailer(data):
    """Check the trailer and, from format 1.1 on, the page table it covers:
    every page's XXH3 and the index over the table's chunks, recomputed
    here from src/format.h's description."""
    t = data[-TRAILER_LEN:]
    assert t[:8] == b"MFKVTAIL" and struct.unpack_from("<II", t, 8) == (1, 0)
    (body_len, body_hash, n_pages, index_hash, page_size, zero) = struct.unpack_from("<QQQQII", t, 16)
    assert body_len == len(data) - TRAILER_LEN
    assert body_hash == xxhash.xxh3_64_intdigest(data[:body_len])
    assert struct.unpack_from("<Q", t, 56)[0] == xxhash.xxh3_64_intdigest(t[:56])
    assert zero == 0
    if n_pages == 0:  # format 1.0: no page table, reserved fields zero
        assert (index_hash, page_size) == (0, 0)
        return 0
    table = n_pages * page_size
    hashes = struct.unpack_from(f"<{n_pages}Q", data, table)
    for p in range(n_pages):
        page = data[p * page_size:(p + 1) * page_size]
        assert hashes[p] == xxhash.xxh3_64_intdigest(page, PAGE_DOMAIN ^ p), f"page {p}"
    n_chunks = -(-n_pages // PAGE_CHUNK)
    index = struct.unpack_from(f"<{n_chunks}Q", data, table + 8 * n_pages)
    for c in range(n_chunks):
        chunk = data[table + 8 * c * PAGE_CHUNK:table + 8 * min(n_pages, (c + 1) * PAGE_CHUNK)]
        assert index[c] == xxhash.xxh3_64_intdigest(chunk, PAGE_DOMAIN ^ (~c & (2**64 - 1))), f"chunk {c}"
    assert index_hash == xxhash.xxh3_64_intdigest(data[table + 8 * n_pages:table + 8 * (n_pages + n_chunks)],
                                                  PAGE_DOMAIN)
    assert not any(data[table + 8 * (n_pages + n_chunks):body_len]), "padding after the page table"
    assert body_len % page_size == 0
    return n_pages


def parse_v1(path):
    """Read a format 1.x store from its bytes: trailer (and page table), then
    every LMDB record."""
    data = open(path, "rb").read()
    n_pages = check_trailer(data)
    env = lmdb.open(str(path), subdir=False, readonly=True, lock=False, max_dbs=3)
    out = {}
    try:
        with env.begin() as txn:
            dbs = {n: env.open_db(n.encode(), txn=txn, create=False) for n in ("meta", "users", "items")}
            rows = {n: list(txn.cursor(db=db)) for n, db in dbs.items()}
    finally:
        env.close()
    meta = dict(rows["meta"])
    assert set(meta) <= {b"header", b"fallback"}
    h, _ = record(b"header", meta[b"header"])
    assert h[:8] == b"MFKVSTOR"
    (out["major"], out["minor"], out["k"], out["factors"], out["n_users"], out["n_items"], out["flags"],
     plen, out["build_time"], out["digest"]) = struct.unpack_from("<IIIIIIIIqQ", h, 8)
    assert len(h) == 56 + plen
    out["provenance"] = h[56:].decode()
    checksums = []
    out["lists"] = {}
    for key, value in rows["users"]:
        body, c = record(key, value)
        checksums.append(c)
        out["lists"][key.decode()] = parse_list(body)
    out["items"] = []
    for n, (key, value) in enumerate(rows["items"]):
        assert key == struct.pack(">I", n)
        body, c = record(key, value)
        checksums.append(c)
        lens = struct.unpack_from("<III", body)
        assert len(body) == 12 + sum(lens)
        a, b = 12 + lens[0], 12 + lens[0] + lens[1]
        out["items"].append((body[12:a].decode(), body[a:b].decode(), body[b:].decode()))
    out["fallback"] = None
    if b"fallback" in meta:
        body, c = record(b"fallback", meta[b"fallback"])
        checksums.append(c)
        out["fallback"] = parse_list(body)
    assert out["digest"] == xxhash.xxh3_64_intdigest(b"".join(struct.pack("<Q", c) for c in checksums))
    assert (out["minor"] >= 1) == (n_pages > 0), "format 1.1 and later carry a page table"
    out["records"] = rows
    return out


# Raw parsers by format major: add one when a version changes the layout.
RAW_PARSERS = {1: parse_v1}


def raw(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = data.find(b"MFKVSTOR")
    (major,) = struct.unpack_from("<I", data, pos + 8)
    assert major in RAW_PARSERS, f"no raw parser for format major {major}"
    return RAW_PARSERS[major](path)


@pytest.fixture(params=FOLDERS, ids=os.path.basename)
def folder(request):
    return request.param


def test_there_is_a_pinned_folder():
    assert any(os.path.basename(f) == "format-v1" for f in FOLDERS)


def test_raw_store_holds_the_independently_computed_lists(folder):
    inp = Inputs(folder)
    s = raw(os.path.join(folder, "store.mfkv"))
    assert (s["k"], s["factors"], s["n_users"], s["n_items"]) == (K, 3, len(inp.users), len(inp.items))
    assert s["flags"] == 3 and s["build_time"] == 1700000000  # fallback | titles
    assert [i for i, _, _ in s["items"]] == inp.item_order
    for i, title, genres in s["items"]:
        assert (title, genres) == inp.titles.get(i, ("", ""))
    ids = inp.item_order
    assert set(s["lists"]) == set(inp.users)
    for u, lst in s["lists"].items():
        assert [(ids[n], sc) for n, sc in lst] == inp.topk(u), u
    assert [(ids[n], sc) for n, sc in s["fallback"]] == inp.fallback()


def test_todays_reader_reads_the_pinned_store(folder):
    inp = Inputs(folder)
    store = os.path.join(folder, "store.mfkv")
    assert run("verify", "-q", "-s", store).returncode == 0
    lines = run("dump", "-s", store).stdout.splitlines()[1:]
    got = {}
    for line in lines:
        u, _, i, sc = line.split("\t")
        got.setdefault(u, []).append((i, f32(float(sc))))
    assert got == {u: inp.topk(u) for u in inp.users}
    body = json.loads(run("get", "-s", store, "--titles", "-f", "json", "1").stdout)
    assert [(it["item_id"], (it["title"], "|".join(it["genres"]))) for it in body["items"]] == [
        (i, inp.titles.get(i, ("", ""))) for i, _ in inp.topk("1")]
    fb = json.loads(run("get", "-s", store, "--fallback", "-f", "json", "nobody").stdout)
    assert [(it["item_id"], f32(it["score"])) for it in fb["items"]] == inp.fallback()
    info = run("info", "-s", store).stdout
    s = raw(store)
    assert re.search(rf"^format\s+{s['major']}\.{s['minor']}$", info, re.M)
    # Provenance digests are xxh3-128 of each input file.
    for name in ("weights.ndjson", "ratings.csv", "movies.csv"):
        with open(os.path.join(folder, name), "rb") as f:
            want = xxhash.xxh3_128_hexdigest(f.read())
        assert f"input={name} xxh3-128:{want}" in info


def test_today_builder_writes_a_pinned_format(tmp_path):
    """Today's build of the newest folder's inputs must give exactly the
    records pinned in the folder of the version it writes.  The inputs are
    named by absolute paths elsewhere: the store must not depend on where it
    was built (provenance names files, not paths)."""
    newest = FOLDERS[-1]
    for name in ("weights.ndjson", "ratings.csv", "movies.csv"):
        shutil.copy(os.path.join(newest, name), tmp_path / name)
    run("build", "--weights", tmp_path / "weights.ndjson", "--titles", tmp_path / "movies.csv",
        "--exclude-seen", tmp_path / "ratings.csv", "-k", K, "--threads", 1, "-o", tmp_path / "store.mfkv", "-q")
    new = raw(tmp_path / "store.mfkv")
    name = f"format-v{new['major']}" + (f".{new['minor']}" if new["minor"] else "")
    pinned_path = os.path.join(FIXTURES, name, "store.mfkv")
    assert os.path.exists(pinned_path), (
        f"today's builder writes format {new['major']}.{new['minor']}, which no folder pins: run "
        f"tests/fixtures/make_format_fixtures.py v{new['major']} (and add its raw parser)")
    pinned = raw(pinned_path)
    for part in ("users", "items"):
        assert new["records"][part] == pinned["records"][part], f"{part} records changed without a version bump"
    assert dict(new["records"]["meta"])[b"fallback"] == dict(pinned["records"]["meta"])[b"fallback"]
    # The builder's version may move on, and the BLAS kernel is the machine's.
    strip = lambda p: re.sub(r"^(builder|blas)=.*\n", "", p, flags=re.M)
    for field in ("major", "minor", "k", "factors", "n_users", "n_items", "flags", "build_time", "digest"):
        assert new[field] == pinned[field], field
    assert strip(new["provenance"]) == strip(pinned["provenance"])


def forge(src, dst, change):
    """Copy a format-1 store with record bodies changed in place by
    change(db, key, body) -> new body of the same length (or None), and every
    checksum recomputed: record checksums, the store digest in the header,
    the trailer.  The result is intact in every check but the one the change
    is about, like a file a buggy or hostile writer could produce."""
    data = bytearray(open(src, "rb").read())
    records = parse_v1(src)["records"]

    def patch(value, body):
        pos = data.find(value)
        assert pos >= 0 and data.find(value, pos + 1) == -1 and len(body) == len(value) - 8
        data[pos + 8:pos + len(value)] = body
        return pos

    def seal(pos, key, n):
        seed = xxhash.xxh3_64_intdigest(key) ^ DOMAIN
        c = xxhash.xxh3_64_intdigest(bytes(data[pos + 8:pos + 8 + n]), seed)
        struct.pack_into("<Q", data, pos, c)
        return c

    checksums = []
    meta = dict(records["meta"])
    for db, key, value in ([("users", k, v) for k, v in records["users"]] + [("items", k, v) for k, v in records["items"]]
                           + [("meta", b"fallback", meta[b"fallback"])]):
        body = change(db, key, value[8:])
        if body is None:
            checksums.append(struct.unpack_from("<Q", value)[0])
        else:
            checksums.append(seal(patch(value, body), key, len(body)))
    header = bytearray(change("meta", b"header", meta[b"header"][8:]) or meta[b"header"][8:])
    struct.pack_into("<Q", header, 48, xxhash.xxh3_64_intdigest(b"".join(struct.pack("<Q", c) for c in checksums)))
    seal(patch(meta[b"header"], bytes(header)), b"header", len(header))
    t = len(data) - TRAILER_LEN
    struct.pack_into("<Q", data, t + 24, xxhash.xxh3_64_intdigest(bytes(data[:t])))
    struct.pack_into("<Q", data, t + 56, xxhash.xxh3_64_intdigest(bytes(data[t:t + 56])))
    with open(dst, "wb") as f:
        f.write(data)


def header_field(offset, value):
    def change(db, key, body):
        if key != b"header":
            return None
        b = bytearray(body)
        struct.pack_into("<I", b, offset, value)
        return bytes(b)
    return change


def patch_header(src, dst, major=None, minor=None):
    """A store a newer mfkv could have written: only the version differs."""
    forge(src, tmp := str(dst) + ".1", header_field(8, major if major is not None else 1))
    forge(tmp, dst, header_field(12, minor if minor is not None else 0))
    os.unlink(tmp)


def test_forged_records_are_refused(tmp_path):
    """Records with valid checksums that break the format's rules (a buggy or
    hostile writer) are refused as corrupt, never served."""
    src = os.path.join(FIXTURES, "format-v1", "store.mfkv")
    good = run("get", "-s", src, "1").stdout

    # k lowered to 3 in the header: every stored list (4 entries) is now too long.
    forge(src, tmp_path / "k.mfkv", header_field(16, K - 1))
    p = run("get", "-s", tmp_path / "k.mfkv", "1", check=False)
    assert p.returncode == 4 and p.stdout == "", p.stderr

    # An item whose three lengths add up to one byte less than its record.
    def short_title(db, key, body):
        if db != "items":
            return None
        id_len, title_len, genres_len = struct.unpack_from("<III", body)
        if title_len == 0:
            return None
        return struct.pack("<III", id_len, title_len - 1, genres_len) + body[12:]
    forge(src, tmp_path / "item.mfkv", short_title)
    p = run("get", "-s", tmp_path / "item.mfkv", "1", check=False)
    assert p.returncode == 4 and p.stdout == "", p.stderr

    # A reserved trailer byte set, the LMDB pages intact: only the trailer's
    # own hash can tell.
    data = bytearray(open(src, "rb").read())
    data[len(data) - TRAILER_LEN + 40] ^= 1
    (tmp_path / "trailer.mfkv").write_bytes(bytes(data))
    p = run("get", "-s", tmp_path / "trailer.mfkv", "1", check=False)
    assert p.returncode == 4 and p.stdout == "", p.stderr

    # The forger itself changes nothing when asked to change nothing.
    forge(src, tmp_path / "same.mfkv", lambda db, key, body: None)
    assert (tmp_path / "same.mfkv").read_bytes() == open(src, "rb").read()
    assert run("get", "-s", tmp_path / "same.mfkv", "1").stdout == good


def test_newer_major_version_is_refused_newer_minor_read(tmp_path):
    src = os.path.join(FIXTURES, "format-v1", "store.mfkv")
    newer = tmp_path / "newer.mfkv"
    patch_header(src, newer, major=2)
    for cmd in (["get", "-s", newer, "1"], ["verify", "-s", newer], ["info", "-s", newer]):
        p = run(*cmd, check=False)
        assert p.returncode == 4, cmd
        # Names the store's version and the one this mfkv reads.
        assert p.stderr == (f"mfkv: {newer}: store was written by a newer, incompatible mfkv "
                            "(store format 2.0; this mfkv reads store format 1.x)\n"), p.stderr
        assert p.stdout == ""
    patch_header(src, newer, major=7, minor=4)  # the version comes from the file, not a constant
    p = run("get", "-s", newer, "1", check=False)
    assert p.returncode == 4 and "(store format 7.4; this mfkv reads store format 1.x)" in p.stderr, p.stderr
    minor = tmp_path / "minor.mfkv"
    patch_header(src, minor, minor=7)  # additive changes only: still read
    assert run("get", "-s", minor, "1").stdout == run("get", "-s", src, "1").stdout
    assert "format      1.7" in run("info", "-s", minor).stdout


MODEL_HEADER = 32
MODEL_FIXED = struct.Struct("<IIIIdIIddIIddQIQQQQ")


def parse_model_v2(path):
    """A model file from its bytes (src/train/modelfile.h, version 2)."""
    data = open(path, "rb").read()
    assert data[:8] == b"MFKVMODL"
    version, flags, size, _ = struct.unpack_from("<IIQQ", data, 8)
    assert (version, flags, size) == (2, 0, len(data))
    assert struct.unpack_from("<Q", data, size - 8)[0] == xxhash.xxh3_64_intdigest(data[:size - 8])
    f = MODEL_FIXED.unpack_from(data, MODEL_HEADER)
    k, nu, ni, nrows, gb = f[:5]
    pos = MODEL_HEADER + MODEL_FIXED.size + 32 * nrows

    def ids(n):
        nonlocal pos
        out = []
        for _ in range(n):
            (ln,) = struct.unpack_from("<I", data, pos)
            out.append(data[pos + 4:pos + 4 + ln].decode())
            pos += 4 + ln
        return out

    def floats(n):
        nonlocal pos
        v = struct.unpack_from(f"<{n}f", data, pos)
        pos += 4 * n
        return v

    users, items = ids(nu), ids(ni)
    uf, itf, ub, ib = floats(nu * k), floats(ni * k), floats(nu), floats(ni)
    assert pos == size - 8
    return {"k": k, "global_bias": gb, "factors_option": f[6],
            "users": {u: (list(uf[n * k:(n + 1) * k]), ub[n]) for n, u in enumerate(users)},
            "items": {i: (list(itf[n * k:(n + 1) * k]), ib[n]) for n, i in enumerate(items)}}


def test_todays_reader_reads_the_pinned_model_file(folder, tmp_path):
    m = parse_model_v2(os.path.join(folder, "model.mfkvm"))
    inp = Inputs(folder)
    assert m["k"] == 2 and m["factors_option"] == 2
    # Trained from ratings.csv: exactly its users and items.
    assert set(m["users"]) == set(inp.seen)
    assert set(m["items"]) == {i for s in inp.seen.values() for i in s}
    run("weights", os.path.join(folder, "model.mfkvm"), "--format", "ndjson", "-o", tmp_path / "w.ndjson")
    got = {}
    with open(tmp_path / "w.ndjson") as f:
        for line in f:
            row = json.loads(line)
            if row["processed_input"] is None:
                assert row["intercept"] == m["global_bias"]
                continue
            side = m["users"] if row["processed_input"] == "user_id" else m["items"]
            vec, bias = side[row["feature"]]
            fs = {w["factor"]: w["weight"] for w in row["factor_weights"]}
            assert [f32(fs[n]) for n in range(1, m["k"] + 1)] == vec and f32(row["intercept"]) == bias
            got[row["feature"]] = True
    assert len(got) == len(m["users"]) + len(m["items"]) - len(set(m["users"]) & set(m["items"]))
