"""End-to-end tests of mfkv build / get / info / verify / dump.

Expected lists are computed here in double precision from the same factors
the test writes (ties broken by item id), never copied from mfkv's output.
"""
import json
import os
import random
import struct
import subprocess

import pytest

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
BQML = os.path.join(FIXTURES, "bqml")


def run(*args, check=True, env=None, stdin=None):
    p = subprocess.run([MFKV, *map(str, args)], capture_output=True, text=True, env=env, input=stdin)
    if check and p.returncode != 0:
        raise AssertionError(f"mfkv {args} exited {p.returncode}: {p.stderr}")
    return p


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Model:
    """A random model with integer item ids; some scores tie exactly."""

    def __init__(self, users, items, k, seed):
        rng = random.Random(seed)
        val = lambda: f32(rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0]) if rng.random() < 0.3 else rng.uniform(-1, 1))
        self.k = k
        self.global_bias = 3.25
        self.users = {str(u * 3 + 1): ([val() for _ in range(k)], val()) for u in range(users)}
        self.items = {str(i * 5 + 2): ([val() for _ in range(k)], val()) for i in range(items)}

    def score(self, u, i):
        uf, ub = self.users[u]
        vf, ib = self.items[i]
        dot = 0.0
        for a, b in zip(uf, vf):
            dot += a * b
        return self.global_bias + ub + ib + dot

    def topk(self, u, k, exclude=()):
        cands = [(-self.score(u, i), int(i), i) for i in self.items if i not in exclude]
        cands.sort()
        return [(i, f32(-s)) for s, _, i in cands[:k]]

    def write_ndjson(self, path):
        with open(path, "w") as f:
            f.write(json.dumps({"processed_input": None, "feature": "global__INTERCEPT__",
                                "factor_weights": None, "intercept": self.global_bias}) + "\n")
            for side, table in (("user_id", self.users), ("item_id", self.items)):
                for ident, (fs, b) in table.items():
                    fw = [{"factor": n, "weight": fs[n - 1]} for n in range(self.k, 0, -1)]
                    f.write(json.dumps({"processed_input": side, "feature": ident,
                                        "factor_weights": fw, "intercept": b}) + "\n")

    def write_long_csv(self, users_path, items_path):
        for path, col, table in ((users_path, "user_id", self.users), (items_path, "item_id", self.items)):
            with open(path, "w") as f:
                f.write(f"{col},bias,factor,weight\n")
                for ident, (fs, b) in table.items():
                    for n in (3, 1, 2, *range(4, self.k + 1)):  # factors in any order
                        if n <= self.k:
                            f.write(f"{ident},{b!r},{n},{fs[n - 1]!r}\n")

    def write_npy_dir(self, d):
        os.makedirs(d, exist_ok=True)

        def npy(name, rows, cols, flat):
            shape = f"({rows}, {cols})" if cols else f"({rows},)"
            header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
            header += " " * (63 - (len(header) + 10) % 64) + "\n"
            with open(os.path.join(d, name), "wb") as f:
                f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
                f.write(struct.pack(f"<{len(flat)}f", *flat))

        for side, table in (("user", self.users), ("item", self.items)):
            ids = list(table)
            npy(f"{side}_factors.npy", len(ids), self.k, [x for i in ids for x in table[i][0]])
            npy(f"{side}_bias.npy", len(ids), 0, [table[i][1] for i in ids])
            with open(os.path.join(d, f"{side}_ids.txt"), "w") as f:
                f.write("\n".join(ids) + "\n")
        with open(os.path.join(d, "global_bias.txt"), "w") as f:
            f.write(repr(self.global_bias) + "\n")


def dump(store):
    """{user: [(item, score), ...]} from `mfkv dump`."""
    lines = run("dump", "-s", store).stdout.splitlines()
    assert lines[0] == "user_id\trank\titem_id\tscore"
    out = {}
    for line in lines[1:]:
        u, rank, item, score = line.split("\t")
        out.setdefault(u, []).append((item, f32(float(score))))
        assert len(out[u]) == int(rank)
    return out


@pytest.fixture(scope="module")
def model():
    return Model(users=37, items=90, k=6, seed=11)


def test_worked_example_of_the_reference_deployment(tmp_path):
    store = tmp_path / "s.mfkv"
    run("build", "--weights", os.path.join(BQML, "bqml-weights.ndjson"), "-o", store, "-q")
    body = json.loads(run("get", "-s", store, "1", "--format", "predict").stdout)
    pred = body["predictions"][0]
    assert pred["predicted_item_id"][0] == "3382"
    # global 3.58156445 + user 1 bias 0.04259326 + item 3382 bias 3.535388, zero factors
    assert f32(pred["predicted_rating"][0]) == f32(3.58156445 + 0.04259326 + 3.535388)
    assert abs(pred["predicted_rating"][0] - 7.1595457) < 1e-6
    assert all(isinstance(i, str) for i in pred["predicted_item_id"])


def test_topk_equals_brute_force_from_every_input_format(tmp_path, model):
    model.write_ndjson(tmp_path / "w.ndjson")
    model.write_long_csv(tmp_path / "users.csv", tmp_path / "items.csv")
    model.write_npy_dir(tmp_path / "npy")
    k = 25
    builds = {
        "ndjson": ["--weights", tmp_path / "w.ndjson"],
        "csv": ["--users", tmp_path / "users.csv", "--items", tmp_path / "items.csv",
                "--global-bias", repr(model.global_bias)],
        "npy": ["--npy", tmp_path / "npy"],
    }
    for name, args in builds.items():
        store = tmp_path / f"{name}.mfkv"
        run("build", *args, "-k", k, "-o", store, "-q")
        got = dump(store)
        assert set(got) == set(model.users), name
        for u in model.users:
            assert got[u] == model.topk(u, k), (name, u)


def test_k_larger_than_items_and_n_truncates(tmp_path, model):
    model.write_ndjson(tmp_path / "w.ndjson")
    store = tmp_path / "s.mfkv"
    run("build", "--weights", tmp_path / "w.ndjson", "-k", 1000, "-o", store, "-q")
    got = dump(store)
    assert all(len(v) == len(model.items) for v in got.values())
    out = run("get", "-s", store, "-n", 3, "-f", "tsv", "4").stdout.splitlines()
    assert len(out) == 3
    assert [line.split("\t")[2] for line in out] == [i for i, _ in model.topk("4", 3)]


def test_same_inputs_give_a_byte_identical_store(tmp_path, model):
    model.write_ndjson(tmp_path / "w.ndjson")
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    a, b = tmp_path / "a.mfkv", tmp_path / "b.mfkv"
    run("build", "--weights", tmp_path / "w.ndjson", "-o", a, "-q", env=env)
    run("build", "--weights", tmp_path / "w.ndjson", "-o", b, "-q", "--threads", 1, env=env)
    assert a.read_bytes() == b.read_bytes()
    assert "2023-11-14T22:13:20Z" in run("info", "-s", a).stdout


def test_exclude_seen_and_titles(tmp_path, model):
    model.write_ndjson(tmp_path / "w.ndjson")
    rng = random.Random(3)
    seen = {u: set(rng.sample(sorted(model.items), 30)) for u in model.users}
    with open(tmp_path / "ratings.csv", "w") as f:
        f.write("userId,movieId,rating,timestamp\n")
        for u, items in seen.items():
            for i in sorted(items):
                f.write(f"{u},{i},4.0,0\n")
        f.write("999999,2,5.0,0\n")  # a user the model does not know: harmless
    with open(tmp_path / "movies.csv", "w", encoding="utf-8") as f:
        f.write("movieId,title,genres\n")
        f.write('2,"Café, ""Quoted"" (1999)",Drama|Comedy\n')
    store = tmp_path / "s.mfkv"
    run("build", "--weights", tmp_path / "w.ndjson", "-k", 20, "--exclude-seen", tmp_path / "ratings.csv",
        "--titles", tmp_path / "movies.csv", "-o", store, "-q")
    got = dump(store)
    for u in model.users:
        assert got[u] == model.topk(u, 20, exclude=seen[u]), u
        assert not {i for i, _ in got[u]} & seen[u]
    fb = json.loads(run("get", "-s", store, "--fallback", "-f", "json", "--titles", "nobody").stdout)
    titled = [it for it in fb["items"] if it["item_id"] == "2"]
    if titled:
        assert titled[0]["title"] == 'Café, "Quoted" (1999)' and titled[0]["genres"] == ["Drama", "Comedy"]
    info = run("info", "-s", store).stdout
    assert "titles      yes" in info and "exclude_seen=ratings.csv" in info


def test_fallback_list_is_global_plus_item_bias(tmp_path, model):
    model.write_ndjson(tmp_path / "w.ndjson")
    store = tmp_path / "s.mfkv"
    run("build", "--weights", tmp_path / "w.ndjson", "-k", 10, "-o", store, "-q")
    want = sorted(model.items, key=lambda i: (-(model.global_bias + model.items[i][1]), int(i)))[:10]
    out = json.loads(run("get", "-s", store, "--fallback", "-f", "json", "no-such-user").stdout)
    assert [it["item_id"] for it in out["items"]] == want
    assert run("get", "-s", store, "no-such-user", check=False).returncode == 1
    nofb = tmp_path / "nofb.mfkv"
    run("build", "--weights", tmp_path / "w.ndjson", "--no-fallback", "-o", nofb, "-q")
    assert run("get", "-s", nofb, "--fallback", "no-such-user", check=False).returncode == 1


def test_get_formats_stdin_and_exit_codes(tmp_path, model):
    model.write_ndjson(tmp_path / "w.ndjson")
    store = tmp_path / "s.mfkv"
    run("build", "--weights", tmp_path / "w.ndjson", "-k", 5, "-o", store, "-q")
    env = dict(os.environ, MFKV_STORE=str(store))
    lines = run("get", "-f", "json", "-", env=env, stdin="1\n4\n\n7\n").stdout.splitlines()
    assert [json.loads(l)["user_id"] for l in lines] == ["1", "4", "7"]
    for l in lines:
        obj = json.loads(l)
        assert [(it["item_id"], f32(it["score"])) for it in obj["items"]] == model.topk(obj["user_id"], 5)
    pred = json.loads(run("get", "1", "4", "-f", "predict", env=env).stdout)
    assert len(pred["predictions"]) == 2
    assert pred["predictions"][1]["predicted_item_id"] == [i for i, _ in model.topk("4", 5)]
    p = run("get", "1", "nope", env=env, check=False)
    assert p.returncode == 1 and "nope" in p.stderr and "user 1" in p.stdout
    assert run("get", "--format", "xml", "1", env=env, check=False).returncode == 2
    assert run("get", env=env, check=False).returncode == 2
    assert run("get", "-s", tmp_path / "missing.mfkv", "1", check=False).returncode == 3


def test_corrupt_store_is_refused_not_read(tmp_path, model):
    model.write_ndjson(tmp_path / "w.ndjson")
    store = tmp_path / "s.mfkv"
    run("build", "--weights", tmp_path / "w.ndjson", "-o", store, "-q")
    assert run("verify", "-s", store).returncode == 0
    clean = run("get", "-s", store, "1").stdout
    data = bytearray(store.read_bytes())
    rng = random.Random(5)
    # Under valgrind (MFKV_TEST_LIGHT) a sample of 8 keeps the run short.
    for off in rng.sample(range(len(data)), 8 if os.environ.get("MFKV_TEST_LIGHT") else 40):
        bad = bytearray(data)
        bad[off] ^= 0x10
        path = tmp_path / "bad.mfkv"
        path.write_bytes(bytes(bad))
        g = run("get", "-s", path, "1", check=False)
        v = run("verify", "-s", path, check=False)
        # Pages are checked when read (format 1.1): damage off user 1's
        # path leaves its answer right; verify finds it anywhere.
        assert v.returncode == 4, off
        assert (g.returncode == 4 and "bad.mfkv" in g.stderr) or (g.returncode == 0 and g.stdout == clean), off
    trunc = tmp_path / "trunc.mfkv"
    trunc.write_bytes(bytes(data[: len(data) // 2]))
    assert run("get", "-s", trunc, "1", check=False).returncode == 4


def test_bad_input_names_the_line_and_leaves_the_old_store(tmp_path, model):
    model.write_ndjson(tmp_path / "w.ndjson")
    store = tmp_path / "s.mfkv"
    run("build", "--weights", tmp_path / "w.ndjson", "-o", store, "-q")
    before = store.read_bytes()
    lines = (tmp_path / "w.ndjson").read_text().splitlines()
    lines[5] = lines[5].replace('"intercept": ', '"intercept": NaN, "x": ', 1)
    (tmp_path / "bad.ndjson").write_text("\n".join(lines) + "\n")
    p = run("build", "--weights", tmp_path / "bad.ndjson", "-o", store, check=False)
    assert p.returncode == 3
    assert "bad.ndjson:6" in p.stderr
    assert store.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["bad.ndjson", "s.mfkv", "w.ndjson"]
    fresh = tmp_path / "new.mfkv"
    assert run("build", "--weights", tmp_path / "bad.ndjson", "-o", fresh, check=False).returncode == 3
    assert not fresh.exists()


def test_usage_errors(tmp_path):
    assert run("--version").stdout.startswith("mfkv ")
    assert "exit codes" in run("--help").stdout
    for cmd in ("build", "get", "info", "verify", "dump"):
        assert run(cmd, "--help").returncode == 0
    assert run("frobnicate", check=False).returncode == 2
    assert run("build", "-o", tmp_path / "x", check=False).returncode == 2  # no input
    assert run("build", "--weights", "a", "--npy", "b", check=False).returncode == 2
    assert run("build", "--weights", "a", "-k", 0, check=False).returncode == 2
