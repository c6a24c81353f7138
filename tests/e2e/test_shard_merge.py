"""`mfkv build --shard I/N` and `mfkv merge`.

The shards of a build must partition its users, each list exactly the full
build's; merging them (in any order) must give the full build's file byte
for byte; shards that do not belong together are refused, naming the files,
and the output is never touched by a refused or failed merge.
"""
import os
import random
import shutil
import subprocess
import types

import pytest

from npy_util import write_npy_model

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
ENV = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")


def mfkv(*args, code=0):
    p = subprocess.run([MFKV, *map(str, args)], capture_output=True, text=True, env=ENV)
    assert p.returncode == code, f"mfkv {args}: exit {p.returncode}: {p.stderr}"
    return p


def dump(store):
    """user -> list of (rank, item, score) lines, from `mfkv dump`."""
    users = {}
    for line in mfkv("dump", "-s", store).stdout.splitlines()[1:]:
        u, rest = line.split("\t", 1)
        users.setdefault(u, []).append(rest)
    return users


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A model with titles and seen-item exclusions, its full build and 3 shards."""
    t = tmp_path_factory.mktemp("shards")
    rng = random.Random(10)
    write_npy_model(t / "npy", 150, 40, 6, rng)
    with open(t / "seen.csv", "w") as f:
        f.write("user_id,item_id,rating\n")
        for u in range(150):
            for i in rng.sample(range(1, 41), 5):
                f.write(f"u{u},{i},4\n")
    common = ["--npy", t / "npy", "-k", 8, "--titles", os.path.join(FIXTURES, "ratings/mllatest_movies.csv"),
              "--exclude-seen", t / "seen.csv", "-q"]
    mfkv("build", *common, "-o", t / "full.mfkv")
    for i in range(3):
        mfkv("build", *common, "--shard", f"{i}/3", "-o", t / f"s{i}.mfkv")
    return types.SimpleNamespace(dir=t, common=common)


def test_shards_partition_the_users_with_the_full_builds_lists(built):
    full = dump(built.dir / "full.mfkv")
    seen = {}
    for i in range(3):
        mfkv("verify", "-q", built.dir / f"s{i}.mfkv")
        assert "shard=%d/3" % i in mfkv("info", "-s", built.dir / f"s{i}.mfkv").stdout
        for u, lines in dump(built.dir / f"s{i}.mfkv").items():
            assert u not in seen, f"user {u} in shards {seen[u]} and {i}"
            seen[u] = i
            assert lines == full[u]
    assert set(seen) == set(full) and len(full) == 150
    assert set(seen.values()) == {0, 1, 2}  # the hash spreads 150 users over every shard


def test_merge_in_any_order_is_the_full_build_byte_for_byte(built):
    out = built.dir / "merged.mfkv"
    mfkv("merge", "-q", "-o", out, built.dir / "s2.mfkv", built.dir / "s0.mfkv", built.dir / "s1.mfkv")
    with open(out, "rb") as a, open(built.dir / "full.mfkv", "rb") as b:
        assert a.read() == b.read()


def test_shards_computed_with_other_blas_kernels_merge(built, tmp_path):
    """A cluster mixes CPUs: a shard computed with another BLAS kernel has the
    same lists (they are exact whatever the kernel) and merges; only its
    provenance's blas= line differs, and the merge keeps shard 0's."""
    other = tmp_path / "s1-nehalem.mfkv"
    p = subprocess.run([MFKV, *map(str, ["build", *built.common, "--shard", "1/3", "-o", other])],
                       capture_output=True, text=True, env=dict(ENV, OPENBLAS_CORETYPE="Nehalem"))
    assert p.returncode == 0, p.stderr
    blas = lambda s: [l for l in mfkv("info", "-s", s).stdout.splitlines() if "blas=" in l]
    assert blas(other) != blas(built.dir / "s1.mfkv") and blas(other)  # the kernels really differ
    out = tmp_path / "merged.mfkv"
    mfkv("merge", "-q", "-o", out, built.dir / "s0.mfkv", other, built.dir / "s2.mfkv")
    with open(out, "rb") as a, open(built.dir / "full.mfkv", "rb") as b:
        assert a.read() == b.read()


def test_get_names_the_shard_of_a_user_held_elsewhere(built):
    other = next(u for u in dump(built.dir / "s1.mfkv"))
    p = mfkv("get", "-s", built.dir / "s0.mfkv", other, code=1)
    assert f"belongs to shard 1/3, this store holds shard 0/3" in p.stderr
    mine = next(u for u in dump(built.dir / "s0.mfkv"))
    mfkv("get", "-s", built.dir / "s0.mfkv", mine)


def test_empty_shards_are_stores_and_merge(tmp_path):
    """5 users over 16 shards: most shards are empty, the set is still complete."""
    write_npy_model(tmp_path / "tiny", 5, 10, 3, random.Random(3))
    mfkv("build", "--npy", tmp_path / "tiny", "-k", 4, "-q", "-o", tmp_path / "full.mfkv")
    paths, empty = [], 0
    for i in range(16):
        p = tmp_path / f"e{i}.mfkv"
        mfkv("build", "--npy", tmp_path / "tiny", "-k", 4, "-q", "--shard", f"{i}/16", "-o", p)
        empty += not dump(p)
        paths.append(p)
    assert empty >= 11
    mfkv("merge", "-q", "-o", tmp_path / "m.mfkv", *paths)
    with open(tmp_path / "m.mfkv", "rb") as a, open(tmp_path / "full.mfkv", "rb") as b:
        assert a.read() == b.read()


@pytest.mark.parametrize("case", ["missing", "duplicate", "other_model", "other_k", "not_a_shard", "other_count",
                                  "corrupt"])
def test_merge_refuses_shards_that_do_not_belong_together(built, tmp_path, case):
    s = [built.dir / f"s{i}.mfkv" for i in range(3)]
    code, expect = 3, None
    if case == "missing":
        inputs, expect = s[:2], "shard 2/3 is missing"
    elif case == "duplicate":
        shutil.copy(s[1], tmp_path / "copy.mfkv")
        inputs, expect = [*s, tmp_path / "copy.mfkv"], f"{s[1]} and {tmp_path / 'copy.mfkv'} are both shard 1/3"
    elif case == "other_model":
        write_npy_model(tmp_path / "npy2", 150, 40, 6, random.Random(99))
        common = [tmp_path / "npy2" if a == built.dir / "npy" else a for a in built.common]
        mfkv("build", *common, "--shard", "2/3", "-o", tmp_path / "x2.mfkv")
        inputs, expect = [s[0], s[1], tmp_path / "x2.mfkv"], f"{s[0]} and {tmp_path / 'x2.mfkv'} are not shards of one build"
    elif case == "other_k":
        common = ["9" if a == 8 else a for a in built.common]
        mfkv("build", *common, "--shard", "1/3", "-o", tmp_path / "k1.mfkv")
        inputs, expect = [s[0], tmp_path / "k1.mfkv", s[2]], "k differs"
    elif case == "not_a_shard":
        inputs, expect = [built.dir / "full.mfkv"], f"{built.dir / 'full.mfkv'} is not a shard store"
    elif case == "other_count":
        mfkv("build", *built.common, "--shard", "1/4", "-o", tmp_path / "q1.mfkv")
        inputs, expect = [s[0], tmp_path / "q1.mfkv", s[2]], "is shard 0/3 but"
    else:
        data = bytearray(open(s[2], "rb").read())
        data[len(data) // 2] ^= 0x40
        open(tmp_path / "bad.mfkv", "wb").write(bytes(data))
        inputs, code = [s[0], s[1], tmp_path / "bad.mfkv"], 4
    out = tmp_path / "out.mfkv"
    out.write_bytes(b"previous store")
    p = mfkv("merge", "-q", "-o", out, *inputs, code=code)
    if expect:
        assert expect in p.stderr
    assert out.read_bytes() == b"previous store"
    assert sorted(os.listdir(tmp_path)) == sorted(n for n in os.listdir(tmp_path) if not n.startswith("."))


@pytest.mark.parametrize("value", ["3/3", "1/0", "x", "1/2/3", "-1/2", "1/70000"])
def test_bad_shard_values_are_usage_errors(built, tmp_path, value):
    p = mfkv("build", *built.common, "--shard", value, "-o", tmp_path / "x.mfkv", code=2)
    assert "--shard" in p.stderr
    assert not os.path.exists(tmp_path / "x.mfkv")
