"""The CLI speaks with one voice (issue #12): one exit-code table, one flag
spelling (old ones still accepted), one JSON shape for a user's list shared
with the server, ids from stdin trimmed and lined up, eval ranking as the
store does, train saying why it stopped, and no temporaries left by a signal.

Expected values come from the fixtures, the README, the server (a different
code path) or a brute force here, never from the command under test alone.
"""
import json
import os
import random
import re
import signal
import subprocess
import time

import pytest

from mfkv_util import MFKV, id_key, ranking_metrics, run
from test_serve import MOVIES, WEIGHTS_A, Server
from test_train import write_model_file

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("voice")
    path = tmp / "s.mfkv"
    run("build", "--weights", WEIGHTS_A, "--titles", MOVIES, "-k", 3, "-o", path, "-q")
    return path


def ratings_file(path, n_users=12, n_items=8, bad_lines=0, header="user_id,item_id,rating"):
    rng = random.Random(5)
    lines = [header]
    for u in range(n_users):
        for i in range(n_items):
            if rng.random() < 0.7:
                lines.append(f"u{u},{100 + i},{rng.choice([1, 2, 3, 4, 5])}")
    for j in range(bad_lines):
        lines.insert(3 + j, "u1,101,not-a-number")
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- exit codes


def test_help_exit_codes_are_the_readme_table():
    help_text = run("--help").stdout
    table = help_text[help_text.index("exit codes"):].split("\n", 1)[1].rstrip("\n")
    assert table.splitlines()[0].startswith("  0  success")
    with open(README) as f:
        assert "```\n" + table + "\n```" in f.read()


def test_a_folder_as_store_is_an_io_error_not_a_foreign_store(tmp_path):
    for args in (["get", "-s", tmp_path, "1"], ["info", "-s", tmp_path], ["verify", tmp_path]):
        p = run(*args, check=False)
        assert p.returncode == 3 and "Is a directory" in p.stderr, (args, p.stderr)
        assert "not an mfkv store" not in p.stderr


def test_a_store_given_as_a_model_exits_4_in_build_and_eval(tmp_path, store):
    ratings = ratings_file(tmp_path / "r.csv")
    build = run("build", "--model", store, "-o", tmp_path / "x.mfkv", check=False)
    ev = run("eval", store, ratings, check=False)
    assert build.returncode == ev.returncode == 4, (build.stderr, ev.stderr)
    assert "not an mfkv model file" in build.stderr and "not an mfkv model file" in ev.stderr
    assert not (tmp_path / "x.mfkv").exists()


def test_long_csv_without_global_bias_is_refused(tmp_path):
    (tmp_path / "u.csv").write_text("user_id,bias,factor,weight\n1,0.5,1,0.25\n")
    (tmp_path / "i.csv").write_text("item_id,bias,factor,weight\n7,0.5,1,0.5\n")
    p = run("build", "--users", tmp_path / "u.csv", "--items", tmp_path / "i.csv", "-o", tmp_path / "s", check=False)
    assert p.returncode == 2 and "--global-bias" in p.stderr and "intercept" in p.stderr
    assert not (tmp_path / "s").exists()
    run("build", "--users", tmp_path / "u.csv", "--items", tmp_path / "i.csv", "--global-bias", 3, "-o",
        tmp_path / "s", "-q")
    assert run("get", "-s", tmp_path / "s", "-f", "tsv", "1").stdout == "1\t1\t7\t4.125\n"  # 3 + .5 + .5 + .125


# ---------------------------------------------------------------- flags


def test_k_is_spelled_alike_in_build_and_eval(tmp_path):
    env = dict(os.environ, SOURCE_DATE_EPOCH="1")
    for spelling in ("-k", "--k"):
        run("build", "--weights", WEIGHTS_A, spelling, 2, "-o", tmp_path / f"{spelling}.mfkv", "-q", env=env)
    assert (tmp_path / "-k.mfkv").read_bytes() == (tmp_path / "--k.mfkv").read_bytes()
    assert run("info", tmp_path / "-k.mfkv").stdout.count("\nk           2\n") == 1
    ratings = ratings_file(tmp_path / "r.csv")
    model = tmp_path / "m.mfkvm"
    run("train", ratings, "-o", model, "--factors", 2, "--iterations", 2, "-q")
    short, long_ = (run("eval", model, ratings, flag, 3, "--format", "json").stdout for flag in ("-k", "--k"))
    assert short == long_ and '"k": 3' in short
    for cmd in ("build", "eval"):
        assert "-k, --k N" in run(cmd, "--help").stdout


def test_column_flags_one_spelling_old_one_hidden(tmp_path):
    ratings = ratings_file(tmp_path / "r.csv", header="member,film,stars")
    outs = []
    for suffix in ("column", "col"):
        model = tmp_path / f"{suffix}.mfkvm"
        run("train", ratings, "-o", model, f"--user-{suffix}", "member", f"--item-{suffix}", "film",
            f"--rating-{suffix}", "stars", "--factors", 2, "--iterations", 2, "--seed", 1, "-q")
        run("weights", model, "--format", "ndjson", "-o", tmp_path / f"{suffix}.ndjson")
        outs.append((tmp_path / f"{suffix}.ndjson").read_bytes())
    assert outs[0] == outs[1] and b'"u3"' in outs[0]
    text = run("train", "--help").stdout
    assert "--user-column NAME, --item-column NAME, --rating-column NAME" in text and "--user-col " not in text
    # build's --user-column accepts train's old spelling too
    p = run("build", "--weights", WEIGHTS_A, "--user-col", "user_id", "-o", tmp_path / "s.mfkv", "-q", check=False)
    assert p.returncode == 0, p.stderr


def test_t_means_titles_and_threads_is_long_only():
    assert "-t, --titles" in run("get", "--help").stdout
    serve = run("serve", "--help").stdout
    assert "-t, --threads" not in serve and "--threads N" in serve and "not the CPU count" in serve


def test_train_threads_default_to_the_online_cpus(tmp_path):
    ratings = ratings_file(tmp_path / "r.csv")
    run("train", ratings, "-o", tmp_path / "m.mfkvm", "--factors", 2, "--iterations", 1, "-q")
    data = (tmp_path / "m.mfkvm").read_bytes()
    # src/train/modelfile.c: 32-byte header, then IIII d II dd II dd Q, then threads (u32)
    threads = int.from_bytes(data[32 + 80:32 + 84], "little")
    assert threads == min(os.cpu_count(), 1024)
    assert "all online CPUs" in run("train", "--help").stdout


# ---------------------------------------------------------------- get: one JSON shape


def test_get_json_and_predict_are_the_servers_bytes_fallback_marked(store):
    s = Server(str(store), "--fallback")
    try:
        for user, flags in (("1", []), ("nobody", ["--fallback"])):
            status, _, body = s.request("GET", f"/v1/users/{user}/recommendations?n=3")
            assert status == 200
            cli = run("get", "-s", store, "-f", "json", "-n", 3, *flags, user).stdout
            assert cli.encode() == body, user
        # predict: rows marked "fallback" as the server marks them
        status, _, body = s.predict({"instances": [{"user_id": "1"}, {"user_id": "nobody"}], "n": 2})
        assert status == 200 and b'"fallback":true' in body
        assert run("get", "-s", store, "-f", "predict", "-n", 2, "--fallback", "1", "nobody").stdout.encode() == body
    finally:
        assert s.stop() == 0
    obj = json.loads(cli)
    assert obj["fallback"] is True and isinstance(obj["items"][0]["genres"], list)


def test_fallback_is_said_in_every_format(store):
    tsv = run("get", "-s", store, "-f", "tsv", "--fallback", "1", "nobody").stdout.splitlines()
    assert [line.split("\t")[0] + ":" + line.split("\t")[-1] for line in tsv] == ["1:0"] * 3 + ["nobody:1"] * 3
    plain = run("get", "-s", store, "-f", "tsv", "1").stdout.splitlines()
    assert [len(line.split("\t")) for line in plain] == [4] * 3  # no column unless asked
    text = run("get", "-s", store, "--fallback", "nobody", "1").stdout
    assert "user nobody (not in the store: the fallback list)\n" in text and "user 1\n" in text


def test_stdin_ids_trimmed_and_missing_ids_keep_their_line(store):
    ids = " 1\r\n2 \n\tnobody\n\n3\r\n"
    p = run("get", "-s", store, "-f", "json", "-", stdin=ids, check=False)
    assert p.returncode == 1 and "'nobody' not found" in p.stderr
    objs = [json.loads(line) for line in p.stdout.splitlines()]
    assert [o["user_id"] for o in objs] == ["1", "2", "nobody", "3"]
    assert objs[2] == {"user_id": "nobody", "error": "not found"}
    assert all(o["items"] for o in objs if "error" not in o)
    p = run("get", "-s", store, "-f", "tsv", "-n", 1, "--titles", "-", stdin=ids, check=False)
    rows = [line.split("\t") for line in p.stdout.splitlines()]
    assert [r[0] for r in rows] == ["1", "2", "nobody", "3"] and all(len(r) == 6 for r in rows)
    assert rows[2] == ["nobody", "", "", "", "", ""]


def test_titles_on_a_store_without_titles_warns_once_in_get_and_dump(tmp_path):
    plain = tmp_path / "plain.mfkv"
    run("build", "--weights", WEIGHTS_A, "-k", 2, "-o", plain, "-q")
    p = run("get", "-s", plain, "--titles", "1", "2")
    assert p.stderr.count("has no titles") == 1
    assert "has no titles" not in run("get", "-s", plain, "1").stderr
    assert run("dump", "--titles", plain).stderr.count("has no titles") == 1


# ---------------------------------------------------------------- eval ranks as the store does


def test_eval_ranking_metrics_describe_the_stores_lists(tmp_path):
    rng = random.Random(11)
    f = 3
    q = lambda: [rng.randint(-8, 8) / 8 for _ in range(f)]
    # Listed out of id order, with exact ties ("10"/"9", "100"/"abc") on top:
    # a store breaks them by id, the model's index order would not.
    tied_a, tied_b = q(), q()
    items = {"10": (tied_a, 10.0), "abc": (tied_b, 9.0), "9": (tied_a, 10.0), "100": (tied_b, 9.0)}
    for i in range(12):
        items[str(200 - i)] = (q(), rng.randint(-4, 4) / 8)
    users = {f"u{u}": ([0.0] * f if u % 4 == 0 else q(), rng.randint(-4, 4) / 8) for u in range(20)}
    write_model_file(tmp_path / "m.mfkvm", 3.5, users, items, f)
    ratings = []
    for u in users:
        for i in rng.sample(sorted(set(items) - {"9", "100"}), 6) + ["9", "100"]:
            rating = 5.0 if i in ("9", "100") else 1.0 if i in ("10", "abc") else float(rng.randint(1, 5))
            ratings.append((u, i, rating))
    (tmp_path / "r.csv").write_text("user_id,item_id,rating\n" + "".join(f"{u},{i},{r}\n" for u, i, r in ratings))
    k, threshold = 3, 4.0
    run("build", "--model", tmp_path / "m.mfkvm", "-k", k, "-o", tmp_path / "s.mfkv", "-q")
    lists = {}
    for line in run("dump", tmp_path / "s.mfkv").stdout.splitlines()[1:]:
        u, _, i, _ = line.split("\t")
        lists.setdefault(u, []).append(i)
    for u in users:  # the four tied items are on top, each pair in id order
        assert set(lists[u]) <= {"9", "10", "100", "abc"} and "9" in lists[u] and "100" in lists[u], lists[u]
        assert lists[u].index("9") < lists[u].index("10") if "10" in lists[u] else lists[u][-1] == "9"
    relevant = {u: {i for uu, i, r in ratings if uu == u and r >= threshold} for u in users}
    want, n = ranking_metrics(lists, relevant, k)
    got = json.loads(run("eval", tmp_path / "m.mfkvm", tmp_path / "r.csv", "-k", k,
                                       "--format", "json").stdout)
    assert got["ranked_users"] == n
    for key, v in want.items():
        assert got[key] == pytest.approx(v, rel=1e-9), key
    assert sorted(items, key=id_key)[:2] == ["9", "10"]


# ---------------------------------------------------------------- train's messages


def test_train_says_why_it_stopped_and_counts_lines_in_english(tmp_path):
    one_bad = ratings_file(tmp_path / "one.csv", bad_lines=1)
    p = run("train", one_bad, "-o", tmp_path / "m", "--skip-invalid", "--factors", 2, "--iterations", 50,
            "--min-rel-progress", 0.5)
    assert "skipped 1 invalid line\n" in p.stderr
    assert re.search(r"stopped early after (\d+) of 50 iterations: the training loss improved by "
                     r"[0-9.e+-]+% \([0-9.]+ -> [0-9.]+\), less than --min-rel-progress 50%", p.stderr), p.stderr
    two_bad = ratings_file(tmp_path / "two.csv", bad_lines=2)
    p = run("train", two_bad, "-o", tmp_path / "m", "--skip-invalid", "--factors", 2, "--iterations", 2,
            "--no-early-stop")
    assert "skipped 2 invalid lines\n" in p.stderr
    assert "stopped after 2 of 2 iterations: the iteration limit" in p.stderr


# ---------------------------------------------------------------- signals and stale temporaries


def temporaries(folder):
    return sorted(n for n in os.listdir(folder) if ".tmp." in n)


def paused(folder):
    """A temporary file is there, or a temporary folder with a file in it:
    the writer has reached its pause."""
    return any(not (folder / n).is_dir() or os.listdir(folder / n) for n in temporaries(folder))


def kill_while_paused(tmp_path, args, sig):
    """Run mfkv paused just before it renames its complete temporary into
    place (the test-only hook of src/common/atomic_file.c), signal it once the
    temporary is there, and return what is left in tmp_path/out."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    env = dict(os.environ, MFKV_TEST_PAUSE_BEFORE_RENAME_MS="20000")
    p = subprocess.Popen([MFKV, *map(str, args)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not paused(out) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.01)
    assert paused(out), "the temporary never appeared"
    p.send_signal(sig)
    assert p.wait(timeout=10) == -sig
    return sorted(os.listdir(out))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_removes_the_temporaries_of_every_writer(tmp_path, sig):
    ratings = ratings_file(tmp_path / "r.csv")
    model = tmp_path / "m.mfkvm"
    run("train", ratings, "-o", model, "--factors", 2, "--iterations", 1, "-q")
    out = tmp_path / "out"
    for args in (["train", ratings, "-o", out / "m.mfkvm", "--factors", 2, "--iterations", 1, "-q"],
                 ["weights", model, "--format", "npy", "-o", out / "npy"],
                 ["weights", model, "--format", "csv", "-o", out / "csv"],
                 ["weights", model, "--format", "ndjson", "-o", out / "w.ndjson"],
                 ["recommend", model, "-o", out / "all.csv"]):
        assert kill_while_paused(tmp_path, args, sig) == [], args


def test_stale_weight_folders_of_dead_writers_are_removed(tmp_path):
    ratings = ratings_file(tmp_path / "r.csv")
    model = tmp_path / "m.mfkvm"
    run("train", ratings, "-o", model, "--factors", 2, "--iterations", 1, "-q")
    dead = subprocess.Popen(["true"])
    dead.wait()
    for fmt in ("csv", "npy"):
        stale = tmp_path / f".{fmt}.tmp.{dead.pid}.AbC123"
        stale.mkdir()
        (stale / "users.csv").write_text("half written")
        live = tmp_path / f".{fmt}.tmp.{os.getpid()}.AbC123"  # this test runs: kept
        live.mkdir()
        run("weights", model, "--format", fmt, "-o", tmp_path / fmt)
        assert not stale.exists() and live.is_dir(), fmt
        live.rmdir()
