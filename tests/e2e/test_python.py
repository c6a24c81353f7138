"""The Python package (python/mfkv): reader and builder over the C libraries.

Lists built from numpy arrays are checked against a numpy brute force (double
precision, ties by item id) and against the CLI's build of the same model;
lookups against `mfkv get`; errors must carry mfkv's status and message and
publish nothing.
"""
import os
import subprocess

import numpy as np
import pytest

import mfkv

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
CORRUPT, INVAL, PARSE, IO = 2, 7, 8, 5


def model(users=120, items=50, f=6, seed=4):
    rng = np.random.default_rng(seed)
    return dict(user_ids=np.arange(users) * 7 + 1, user_factors=rng.standard_normal((users, f)).astype(np.float32),
                item_ids=np.arange(items)[::-1] + 100, item_factors=rng.standard_normal((items, f)).astype(np.float32),
                user_bias=rng.standard_normal(users).astype(np.float32) * 0.3,
                item_bias=rng.standard_normal(items).astype(np.float32) * 0.3, global_bias=3.25)


def brute_force(m, row, k):
    """Top-k (item id, float32 score) of user row `row` in double, ties by id."""
    s = (m["global_bias"] + np.float64(m["user_bias"][row]) + m["item_bias"].astype(np.float64)
         + m["item_factors"].astype(np.float64) @ m["user_factors"][row].astype(np.float64))
    order = sorted(range(len(s)), key=lambda i: (-s[i], m["item_ids"][i]))[:k]
    return [str(m["item_ids"][i]) for i in order], np.array([s[i] for i in order], dtype=np.float32)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    t = tmp_path_factory.mktemp("py")
    m = model()
    path = mfkv.build(**m, k=10, path=str(t / "py.mfkv"), build_time=1700000000)
    st = mfkv.open(path)
    yield m, st, t
    st.close()


def test_lists_equal_a_brute_force(store):
    m, st, _ = store
    for row in range(0, 120, 7):
        recs = st.get(m["user_ids"][row])
        ids, scores = brute_force(m, row, 10)
        assert list(recs.item_ids) == ids
        np.testing.assert_array_equal(recs.scores, scores)


def test_get_views_the_map_without_copying_and_matches_the_cli(store):
    m, st, _ = store
    recs = st.get("8")
    assert recs.scores.dtype == np.float32 and not recs.scores.flags.owndata and not recs.scores.flags.writeable
    tsv = subprocess.run([MFKV, "get", "-s", st.path, "-f", "tsv", "8"], capture_output=True, text=True, check=True)
    rows = [line.split("\t") for line in tsv.stdout.splitlines() if not line.startswith("user")]
    assert [r[2] for r in rows] == list(recs.item_ids)
    np.testing.assert_array_equal(np.array([float(r[3]) for r in rows], dtype=np.float32), recs.scores)
    copy = st.get("8", copy=True)
    assert copy.scores.flags.owndata
    assert st.get("no such user") is None
    assert len(st.fallback().item_ids) == 10


def test_iteration_info_and_verify(store):
    m, st, _ = store
    users = [u for u, _ in st]
    assert users == sorted(str(u) for u in m["user_ids"]) == sorted(users, key=str.encode)
    info = st.info()
    assert (info["n_users"], info["n_items"], info["k"], info["n_factors"]) == (120, 50, 10, 6)
    assert "options=k=10 fallback=yes input=arrays" in info["provenance"]
    assert st.verify()["digest"] == info["digest"]


def test_the_cli_build_of_the_same_model_has_the_same_lists(store, tmp_path):
    """Written as the --npy folder `mfkv build` reads, by numpy itself."""
    m, st, _ = store
    d = tmp_path / "npy"
    d.mkdir()
    for name in ("user_factors", "item_factors", "user_bias", "item_bias"):
        np.save(d / f"{name}.npy", m[name])
    (d / "user_ids.txt").write_text("".join(f"{u}\n" for u in m["user_ids"]))
    (d / "item_ids.txt").write_text("".join(f"{i}\n" for i in m["item_ids"]))
    (d / "global_bias.txt").write_text(f"{m['global_bias']}\n")
    subprocess.run([MFKV, "build", "--npy", d, "-k", "10", "-q", "-o", tmp_path / "cli.mfkv"], check=True)
    with mfkv.open(tmp_path / "cli.mfkv") as cli:
        a = [(u, list(r.item_ids), r.scores.tolist()) for u, r in cli]
        b = [(u, list(r.item_ids), r.scores.tolist()) for u, r in st]
        assert a == b


def test_shards_merge_into_the_full_build(store, tmp_path):
    m, st, t = store
    paths = []
    for i in range(4):
        paths.append(mfkv.build(**m, k=10, shard=(i, 4), path=str(tmp_path / f"s{i}.mfkv"), build_time=1700000000))
        with mfkv.open(paths[-1]) as s:
            ids = [u for u, _ in s]
            assert all(mfkv.shard_of(ids, 4) == i)
    mfkv.merge(tmp_path / "m.mfkv", paths[::-1])
    assert (tmp_path / "m.mfkv").read_bytes() == open(st.path, "rb").read()


def test_packed_ids_build_the_same_store_and_bad_offsets_are_refused(store, tmp_path):
    """PackedIds (bytes + offsets, what the Spark job makes from Arrow) in
    place of id lists: the same store, and the same shard for every id."""
    m, st, _ = store

    def packed(ids):
        text = [str(i).encode() for i in ids]
        offsets = np.concatenate([[0], np.cumsum([len(x) for x in text])]).astype(np.uint64)
        # a uint8 array as the data, as the Spark job passes an Arrow buffer
        return mfkv.PackedIds(np.frombuffer(b"".join(text), dtype=np.uint8), offsets)
    p = dict(m, user_ids=packed(m["user_ids"]), item_ids=packed(m["item_ids"]))
    mfkv.build(**p, k=10, path=str(tmp_path / "p.mfkv"), build_time=1700000000)
    assert (tmp_path / "p.mfkv").read_bytes() == open(st.path, "rb").read()
    assert list(mfkv.shard_of(p["user_ids"], 5)) == list(mfkv.shard_of(m["user_ids"], 5))
    short = mfkv.PackedIds(b"12", np.array([0, 1, 3], dtype=np.uint64))
    with pytest.raises(mfkv.MfkvError) as e:
        mfkv.shard_of(short, 2)
    assert e.value.status == INVAL and "end within the data" in str(e.value)


def test_shards_of_different_item_sides_are_refused(store, tmp_path):
    m, _, _ = store
    other = dict(m, item_factors=m["item_factors"] * 1.5)
    a = mfkv.build(**m, k=10, shard=(0, 2), path=str(tmp_path / "a.mfkv"))
    b = mfkv.build(**other, k=10, shard=(1, 2), path=str(tmp_path / "b.mfkv"))
    with pytest.raises(mfkv.MfkvError) as e:
        mfkv.merge(tmp_path / "m.mfkv", [a, b])
    assert e.value.status == INVAL and "a.mfkv and" in str(e.value) and "item side" in str(e.value)
    assert not (tmp_path / "m.mfkv").exists()


def bad(m, **change):
    return dict(m, **change)


@pytest.mark.parametrize("case,status,words", [
    ("nan", PARSE, "user_factors[3][2]"),
    ("inf_bias", PARSE, "item_bias[5][0]"),
    ("duplicate", PARSE, "duplicate id"),
    ("rows", INVAL, "one row per id of user_ids"),
    ("factor_lengths", INVAL, "factor lengths differ"),
    ("k", INVAL, "k: 0"),
    ("empty_id", PARSE, "user_ids"),
])
def test_bad_arrays_raise_with_mfkvs_status_and_publish_nothing(tmp_path, case, status, words):
    m = model(users=10, items=8)
    if case == "nan":
        m["user_factors"][3, 2] = np.nan
    elif case == "inf_bias":
        m["item_bias"][5] = np.inf
    elif case == "duplicate":
        m["user_ids"][4] = m["user_ids"][2]
    elif case == "rows":
        m["user_factors"] = m["user_factors"][:9]
    elif case == "factor_lengths":
        m["item_factors"] = m["item_factors"][:, :5]
    elif case == "empty_id":
        m["user_ids"] = [""] + [str(u) for u in m["user_ids"][1:]]
    out = tmp_path / "out.mfkv"
    out.write_bytes(b"previous")
    with pytest.raises(mfkv.MfkvError) as e:
        mfkv.build(**m, k=0 if case == "k" else 5, path=str(out))
    assert e.value.status == status and words in str(e.value), str(e.value)
    assert out.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["out.mfkv"]


def test_unwritable_output_and_corrupt_stores_raise(tmp_path):
    with pytest.raises(mfkv.MfkvError) as e:
        mfkv.build(**model(10, 8), k=5, path=str(tmp_path / "missing" / "x.mfkv"))
    assert e.value.status == IO and "missing" in str(e.value)
    good = mfkv.build(**model(10, 8), k=5, path=str(tmp_path / "g.mfkv"))
    data = bytearray(open(good, "rb").read())
    data[len(data) // 3] ^= 1
    (tmp_path / "c.mfkv").write_bytes(bytes(data))
    with pytest.raises(mfkv.MfkvError) as e:
        mfkv.open(tmp_path / "c.mfkv")
    assert e.value.status == CORRUPT
    with pytest.raises(mfkv.MfkvError) as e:
        mfkv.open(tmp_path / "none.mfkv")
    assert e.value.status == IO and "No such file" in str(e.value)
