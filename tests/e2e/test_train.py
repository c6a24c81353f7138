"""End-to-end tests of mfkv train / eval / weights / predict / recommend.

Every expected value is computed here, independently of the program: the
.npy files are parsed by hand (no numpy needed) and predictions are
recomputed from them.
"""
import ast
import csv
import json
import os
import random
import struct
import subprocess

import pytest

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
K = 4


def run(*args, check=True):
    p = subprocess.run([MFKV, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"mfkv {args} exited {p.returncode}: {p.stderr}")
    return p


def read_npy(path):
    """Parse a little-endian float32 C-order .npy into (shape, flat list)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY"
    major = data[6]
    if major == 1:
        hlen = struct.unpack("<H", data[8:10])[0]
        start = 10
    else:
        hlen = struct.unpack("<I", data[8:12])[0]
        start = 12
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    assert header["descr"] == "<f4" and not header["fortran_order"]
    shape = header["shape"]
    count = 1
    for s in shape:
        count *= s
    body = data[start + hlen:]
    return shape, list(struct.unpack(f"<{count}f", body[:4 * count]))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    rng = random.Random(7)
    ratings = tmp / "ratings.csv"
    rows = []
    for u in range(40):
        for i in range(25):
            if rng.random() < 0.5:
                v = 3 + ((u % 3) - 1) * ((i % 5) - 2) * 0.5 + rng.uniform(-0.5, 0.5)
                rows.append((f"u{u}", 1000 + i, min(5.0, max(1.0, round(v * 2) / 2))))
    with open(ratings, "w") as f:
        f.write("user_id,item_id,rating\n")
        for u, i, r in rows:
            f.write(f"{u},{i},{r}\n")
    model = tmp / "model.mfkvm"
    p = run("train", ratings, "-o", model, "--factors", K, "--holdout", 0.2, "--seed", 3,
            "--iterations", 6, "--no-early-stop", "--l2", 2)
    return {"tmp": tmp, "ratings": ratings, "rows": rows, "model": model, "train": p}


def test_train_reports_progress_and_table(trained):
    p = trained["train"]
    assert "iteration 1/6" in p.stderr and "iteration 6/6" in p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[0].split() == ["training_run", "iteration", "loss", "eval_loss", "duration_ms"]
    assert len(lines) == 7
    losses = [float(line.split()[2]) for line in lines[1:]]
    assert losses[-1] < losses[0]


def test_eval_holdout_matches_training_eval_loss(trained):
    out = json.loads(run("eval", trained["model"], trained["ratings"], "--format", "json").stdout)
    assert out["split"] == "holdout"
    last_eval_loss = float(trained["train"].stdout.strip().splitlines()[-1].split()[3])
    assert out["mean_squared_error"] == pytest.approx(last_eval_loss, abs=2e-6)
    n = len(trained["rows"])
    assert 0.1 * n < out["ratings"] < 0.3 * n
    for key in ("mean_absolute_error", "mean_squared_log_error", "median_absolute_error",
                "r2_score", "explained_variance", "precision_at_k", "recall_at_k",
                "ndcg_at_k", "map_at_k"):
        assert key in out
    assert out["k"] == 10 and out["relevance_threshold"] == 4.0
    table = run("eval", trained["model"], trained["ratings"], "--k", 5).stdout
    assert "precision_at_5" in table and "mean_squared_error" in table


@pytest.fixture(scope="module")
def npy(trained):
    out = trained["tmp"] / "npy"
    run("weights", trained["model"], "--format", "npy", "-o", out)
    uf_shape, uf = read_npy(out / "user_factors.npy")
    if_shape, itf = read_npy(out / "item_factors.npy")
    _, ub = read_npy(out / "user_bias.npy")
    _, ib = read_npy(out / "item_bias.npy")
    users = (out / "user_ids.txt").read_text().split("\n")[:-1]
    items = (out / "item_ids.txt").read_text().split("\n")[:-1]
    glob = float((out / "global_bias.txt").read_text())
    assert uf_shape == (len(users), K) and if_shape == (len(items), K)
    return {"users": users, "items": items, "uf": uf, "if": itf, "ub": ub, "ib": ib, "g": glob}


def expected(npy, user, item):
    u, i = npy["users"].index(user), npy["items"].index(item)
    dot = sum(npy["uf"][u * K + f] * npy["if"][i * K + f] for f in range(K))
    return npy["g"], npy["ub"][u], npy["ib"][i], dot


def test_predict_equals_parts_from_npy(trained, npy):
    for user, item in [("u0", "1000"), ("u7", "1013"), ("u39", "1024")]:
        out = run("predict", trained["model"], user, item).stdout.split("\n")
        got = {line.split()[0]: float(line.split()[1]) for line in out if line}
        g, ub, ib, dot = expected(npy, user, item)
        assert got["global_bias"] == pytest.approx(g, abs=1e-9)
        assert got["user_bias"] == pytest.approx(ub, abs=1e-7)
        assert got["item_bias"] == pytest.approx(ib, abs=1e-7)
        assert got["dot"] == pytest.approx(dot, abs=1e-6)
        assert got["predicted_rating"] == pytest.approx(g + ub + ib + dot, abs=1e-6)


def test_ndjson_has_bqml_shape(trained, npy):
    path = trained["tmp"] / "w.ndjson"
    run("weights", trained["model"], "--format", "ndjson", "-o", path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0] == {"processed_input": None, "feature": "global__INTERCEPT__",
                       "factor_weights": None, "intercept": pytest.approx(npy["g"], abs=1e-12)}
    users = [r for r in rows if r["processed_input"] == "user_id"]
    items = [r for r in rows if r["processed_input"] == "item_id"]
    assert len(users) == len(npy["users"]) and len(items) == len(npy["items"])
    assert len(rows) == 1 + len(users) + len(items)
    for r in rows[1:]:
        assert list(r) == ["processed_input", "feature", "factor_weights", "intercept"]
        assert [fw["factor"] for fw in r["factor_weights"]] == list(range(K, 0, -1))
    u = users[3]
    x = npy["users"].index(u["feature"])
    assert u["intercept"] == pytest.approx(npy["ub"][x], abs=1e-7)
    for fw in u["factor_weights"]:
        assert fw["weight"] == pytest.approx(npy["uf"][x * K + fw["factor"] - 1], abs=1e-7)


def test_csv_long_form(trained, npy):
    out = trained["tmp"] / "csv"
    run("weights", trained["model"], "--format", "csv", "-o", out)
    with open(out / "items.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["item_id", "bias", "factor", "weight"]
    assert len(rows) == 1 + len(npy["items"]) * K
    for item_id, bias, factor, weight in rows[1:]:
        i = npy["items"].index(item_id)
        assert float(bias) == pytest.approx(npy["ib"][i], abs=1e-7)
        assert float(weight) == pytest.approx(npy["if"][i * K + int(factor) - 1], abs=1e-7)
    with open(out / "users.csv") as f:
        assert next(csv.reader(f)) == ["user_id", "bias", "factor", "weight"]
    # a folder that is not empty is never written into
    p = run("weights", trained["model"], "--format", "csv", "-o", out, check=False)
    assert p.returncode == 3
    assert sorted(os.listdir(out)) == ["items.csv", "users.csv"]
    assert not [n for n in os.listdir(trained["tmp"]) if ".tmp." in n]


def test_recommend_streams_every_pair(trained, npy):
    p = run("recommend", trained["model"])
    lines = p.stdout.splitlines()
    assert lines[0] == "predicted_rating,user_id,item_id"
    assert len(lines) == 1 + len(npy["users"]) * len(npy["items"])
    for line in lines[1::97]:
        score, user, item = line.split(",")
        assert float(score) == pytest.approx(sum(expected(npy, user, item)), abs=2e-6)
        assert len(score.split(".")[1]) == 6


def test_errors_have_exit_codes(trained, tmp_path):
    assert run("train", trained["ratings"], check=False).returncode == 2
    assert run("train", tmp_path / "missing.csv", "-o", tmp_path / "m", check=False).returncode == 3
    assert not (tmp_path / "m").exists()
    assert run("train", trained["ratings"], "-o", tmp_path / "m", "--l2", "0",
               check=False).returncode == 2
    assert run("predict", trained["model"], "nobody", "1000", check=False).returncode == 1
    assert run("weights", trained["model"], "--format", "xml", "-o", tmp_path / "x",
               check=False).returncode == 2
    bad = tmp_path / "bad.mfkvm"
    data = bytearray(trained["model"].read_bytes())
    data[len(data) // 2] ^= 1
    bad.write_bytes(bytes(data))
    p = run("predict", bad, "u0", "1000", check=False)
    assert p.returncode == 4 and "checksum" in p.stderr
    for cmd in ("train", "eval", "weights", "predict", "recommend"):
        p = run(cmd, "--help")
        assert "usage: mfkv " + cmd in p.stdout and "exit codes" in p.stdout


M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def held_out_rows(n, fraction, seed):
    """A second implementation of the documented split (src/train/als.c,
    mfkv_holdout_split): row j of the file is held out when the top 53 bits
    of splitmix64(splitmix64(seed ^ 0x5EED) + j) / 2^53 < fraction."""
    key = splitmix64(seed ^ 0x5EED)
    return {j for j in range(n) if (splitmix64((key + j) & M64) >> 11) * 2.0 ** -53 < fraction}


def test_als_never_sees_held_out_ratings(tmp_path, trained):
    """Changing every held-out rating must leave the trained model
    bit-identical (and its eval_loss different); changing one training
    rating must not."""
    rows = trained["rows"]
    held = held_out_rows(len(rows), 0.25, 9)
    assert 0 < len(held) < len(rows)

    def train(name, flip):
        path = tmp_path / f"{name}.csv"
        with open(path, "w") as f:
            f.write("user_id,item_id,rating\n")
            for j, (u, i, r) in enumerate(rows):
                f.write(f"{u},{i},{6 - r if j in flip else r}\n")
        model = tmp_path / f"{name}.mfkvm"
        p = run("train", path, "-o", model, "--factors", K, "--holdout", 0.25, "--seed", 9, "--iterations", 4,
                "--no-early-stop", "--threads", 1, "-q")
        run("weights", model, "--format", "ndjson", "-o", tmp_path / f"{name}.ndjson")
        last = p.stdout.strip().splitlines()[-1].split()
        return (tmp_path / f"{name}.ndjson").read_bytes(), float(last[3])

    # A rating of 3 flips to itself: make sure some held-out ones really change.
    assert any(rows[j][2] != 3 for j in held)
    base, base_eval = train("base", set())
    flipped, flipped_eval = train("flipped", held)
    assert flipped == base, "the held-out ratings changed the trained model"
    assert flipped_eval != base_eval
    one_training_row = next(j for j in range(len(rows)) if j not in held and rows[j][2] != 3)
    control, _ = train("control", {one_training_row})
    assert control != base


def write_model_file(path, global_bias, users, items, k):
    """A model file written here from its documented layout
    (src/train/modelfile.h, version 2, no training record)."""
    import xxhash

    def ids(table):
        return b"".join(struct.pack("<I", len(i.encode())) + i.encode() for i in table)

    body = struct.pack("<IIIIdIIddIIddQIQQQQ", k, len(users), len(items), 0, global_bias, 0,
                       0, 0.0, 0.0, 0, 0, 0.0, 0.0, 0, 0, 0, 0, 0, 0)
    body += ids(users) + ids(items)
    for table in (users, items):
        body += struct.pack(f"<{len(table) * k}f", *[x for v in table.values() for x in v[0]])
    for table in (users, items):
        body += struct.pack(f"<{len(table)}f", *[v[1] for v in table.values()])
    size = 32 + len(body) + 8
    data = b"MFKVMODL" + struct.pack("<IIQQ", 2, 0, size, 0) + body
    with open(path, "wb") as f:
        f.write(data + struct.pack("<Q", xxhash.xxh3_64_intdigest(data)))


def test_eval_metrics_equal_a_hand_computation(tmp_path):
    """ML.EVALUATE's regression metrics and the ranking metrics at k, for a
    model whose factors are multiples of 1/4 (exact scores), computed here."""
    import math
    import statistics

    q = lambda *v: [x / 4 for x in v]
    users = {"a": (q(4, 1), 0.25), "b": (q(-2, 3), -0.5), "c": (q(1, -1), 0.0), "d": (q(0, 2), 0.5)}
    items = {"10": (q(2, 1), 0.0), "9": (q(-1, 3), 0.25), "100": (q(3, -2), -0.25), "7": (q(0, 0), 0.5),
             "x": (q(1, 4), -0.5), "2": (q(-3, -1), 0.75)}
    gb = 3.5
    write_model_file(tmp_path / "m.mfkvm", gb, users, items, 2)
    ratings = [("a", "10", 5.0), ("a", "x", 4.0), ("a", "2", 1.0), ("b", "9", 4.5), ("b", "100", 2.0),
               ("c", "7", 3.0), ("c", "100", 4.0), ("c", "x", 4.5), ("c", "2", 5.0), ("d", "7", 2.5),
               ("zz", "10", 4.0), ("a", "new", 3.5)]  # an unknown user, an unknown item
    with open(tmp_path / "test.csv", "w") as f:
        f.write("user_id,item_id,rating\n" + "".join(f"{u},{i},{r}\n" for u, i, r in ratings))

    def predict(u, i):
        p = gb
        if u in users:
            p += users[u][1]
        if i in items:
            p += items[i][1]
        if u in users and i in items:
            p += sum(a * b for a, b in zip(users[u][0], items[i][0]))
        return p

    y = [r for _, _, r in ratings]
    p = [predict(u, i) for u, i, _ in ratings]
    e = [a - b for a, b in zip(y, p)]
    n = len(y)
    mean_y, mean_e = sum(y) / n, sum(e) / n
    ss_tot = sum((v - mean_y) ** 2 for v in y)
    want = {
        "mean_absolute_error": sum(abs(v) for v in e) / n,
        "mean_squared_error": sum(v * v for v in e) / n,
        "mean_squared_log_error": sum((math.log1p(max(a, 0)) - math.log1p(max(b, 0))) ** 2 for a, b in zip(y, p)) / n,
        "median_absolute_error": statistics.median(abs(v) for v in e),
        "r2_score": 1 - sum(v * v for v in e) / ss_tot,
        "explained_variance": 1 - sum((v - mean_e) ** 2 for v in e) / ss_tot,
    }
    k, threshold = 3, 4.0
    from mfkv_util import id_key, ranking_metrics

    order = sorted(items, key=id_key)  # exact ties go by item id, as in a store
    relevant = {u: {i for uu, i, r in ratings if uu == u and i in items and r >= threshold} for u in users}
    top = {u: sorted(order, key=lambda i: (-predict(u, i), order.index(i)))[:k] for u in users}
    want.update(ranking_metrics(top, relevant, k)[0])
    assert 0 < want["map_at_k"] < 1 and 0 < want["ndcg_at_k"] < 1  # the case is not trivial

    got = json.loads(run("eval", tmp_path / "m.mfkvm", tmp_path / "test.csv", "--k", k, "--format", "json").stdout)
    assert got["ratings"] == n
    for key, v in want.items():
        assert got[key] == pytest.approx(v, rel=1e-6, abs=1e-9), key
