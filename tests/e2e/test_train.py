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
