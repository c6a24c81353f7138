"""Item order, exact ties and id matching, end to end through `mfkv build`.

Every factor and bias is a multiple of 1/4 (k = 3), so scores are exact in
float and double and many of them tie exactly.  Items, users, ratings and
titles are all listed out of id order, with ids that order differently as
numbers and as text ("9" "10" "100"), and ids that are not numbers ("abc",
"007", "x-1").  The expected lists come from a brute force here with the
documented tie order (README, src/format.h): numbers numerically, before
every other id, which compare byte-wise.  Factor numbers are listed in a
different order on every row of every input format.
"""
import csv
import json
import os
import random
import struct

import pytest

from mfkv_util import id_key, run

K = 3
QUARTERS = [n / 4 for n in range(-4, 5)]


MIXED_ITEMS = ["10", "9", "100", "abc", "007", "2", "0", "x-1", "Zed", "1000", "07", "b", "55", "19", "a"]
NUMERIC_ITEMS = ["10", "9", "100", "2", "1000", "0", "99", "101", "11", "1", "20", "3"]
USERS = ["42", "7", "u-b", "100", "u-a", "007", "3", "x"]


class Model:
    def __init__(self, items, seed):
        rng = random.Random(seed)
        vec = lambda: ([rng.choice(QUARTERS) for _ in range(K)], rng.choice(QUARTERS))
        self.global_bias = 3.5
        # A few distinct item rows, shared: every list has exact ties.
        rows = [vec() for _ in range(4)]
        self.items = {i: rng.choice(rows) for i in items}
        self.users = {u: vec() for u in USERS}
        self.order = list(items)
        rng.shuffle(self.order)
        self.rng = rng

    def score(self, u, i):
        (uf, ub), (vf, ib) = self.users[u], self.items[i]
        return self.global_bias + ub + ib + sum(a * b for a, b in zip(uf, vf))

    def topk(self, u, k, exclude=()):
        cands = sorted((i for i in self.items if i not in exclude), key=lambda i: (-self.score(u, i), id_key(i)))
        return [(i, self.score(u, i)) for i in cands[:k]]

    def fallback(self, k):
        s = lambda i: self.global_bias + self.items[i][1]
        return [(i, s(i)) for i in sorted(self.items, key=lambda i: (-s(i), id_key(i)))[:k]]

    def factor_order(self):
        order = list(range(1, K + 1))
        self.rng.shuffle(order)
        return order

    def write_all(self, d):
        """Every input format into folder d; returns each one's build options."""
        self.write_ndjson(d / "w.ndjson")
        self.write_long_csv(d / "users.csv", d / "items.csv")
        self.write_npy_dir(d / "npy")
        return {"ndjson": ["--weights", d / "w.ndjson"], "npy": ["--npy", d / "npy"],
                "csv": ["--users", d / "users.csv", "--items", d / "items.csv", "--global-bias", self.global_bias]}

    def write_ndjson(self, path):
        with open(path, "w") as f:
            f.write(json.dumps({"processed_input": None, "feature": "global__INTERCEPT__",
                                "factor_weights": None, "intercept": self.global_bias}) + "\n")
            rows = [("user_id", u, self.users[u]) for u in USERS] + [("item_id", i, self.items[i]) for i in self.order]
            self.rng.shuffle(rows)
            for side, ident, (fs, b) in rows:
                fw = [{"factor": n, "weight": fs[n - 1]} for n in self.factor_order()]
                f.write(json.dumps({"processed_input": side, "feature": ident, "factor_weights": fw,
                                    "intercept": b}) + "\n")

    def write_long_csv(self, users_path, items_path):
        for path, col, table, ids in ((users_path, "user_id", self.users, USERS),
                                      (items_path, "item_id", self.items, self.order)):
            # Ids in the given (unsorted) order, each id's factors in its own order.
            lines = [f"{i},{table[i][1]},{n},{table[i][0][n - 1]}\n" for i in ids for n in self.factor_order()]
            with open(path, "w") as f:
                f.write(f"{col},bias,factor,weight\n" + "".join(lines))

    def write_npy_dir(self, d):
        os.makedirs(d, exist_ok=True)

        def npy(name, shape, flat):
            header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
            header += " " * (63 - (len(header) + 10) % 64) + "\n"
            with open(os.path.join(d, name), "wb") as f:
                f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
                f.write(struct.pack(f"<{len(flat)}f", *flat))

        for side, table, ids in (("user", self.users, USERS), ("item", self.items, self.order)):
            npy(f"{side}_factors.npy", f"({len(ids)}, {K})", [x for i in ids for x in table[i][0]])
            npy(f"{side}_bias.npy", f"({len(ids)},)", [table[i][1] for i in ids])
            with open(os.path.join(d, f"{side}_ids.txt"), "w") as f:
                f.write("\n".join(ids) + "\n")
        with open(os.path.join(d, "global_bias.txt"), "w") as f:
            f.write(f"{self.global_bias}\n")


def dump(store):
    out = {}
    for line in run("dump", "-s", store).stdout.splitlines()[1:]:
        u, _, i, s = line.split("\t")
        out.setdefault(u, []).append((i, float(s)))
    return out


@pytest.mark.parametrize("items", [MIXED_ITEMS, NUMERIC_ITEMS], ids=["mixed-ids", "numeric-ids"])
def test_unsorted_ids_through_build_exclusions_titles_ties_and_fallback(tmp_path, items):
    m = Model(items, seed=len(items))
    rng = random.Random(5)
    seen = {u: set(rng.sample(items, 4)) for u in USERS}
    rows = [(u, i) for u in USERS for i in seen[u]]
    rng.shuffle(rows)
    with open(tmp_path / "ratings.csv", "w") as f:
        f.write("userId,movieId,rating,timestamp\n" + "".join(f"{u},{i},4.0,0\n" for u, i in rows))
    titles = {i: (f"Title of {i}, ({n})", "Drama|Comedy" if n % 2 else "") for n, i in enumerate(items) if n % 3}
    with open(tmp_path / "movies.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["movieId", "title", "genres"])
        for i in sorted(titles, key=lambda i: rng.random()):
            w.writerow([i, *titles[i]])
    k = 6
    for name, args in m.write_all(tmp_path).items():
        plain, full = tmp_path / f"{name}.mfkv", tmp_path / f"{name}-full.mfkv"
        run("build", *args, "-k", k, "-o", plain, "-q")
        assert dump(plain) == {u: m.topk(u, k) for u in USERS}, name
        run("build", *args, "-k", k, "--exclude-seen", tmp_path / "ratings.csv", "--titles",
            tmp_path / "movies.csv", "-o", full, "-q")
        assert dump(full) == {u: m.topk(u, k, seen[u]) for u in USERS}, name
        out = run("get", "-s", full, "--titles", "-f", "json", "-", stdin="\n".join(USERS) + "\n").stdout
        for line in out.splitlines():
            obj = json.loads(line)
            assert [(it["item_id"], it["title"], "|".join(it["genres"])) for it in obj["items"]] == [
                (i, *titles.get(i, ("", ""))) for i, _ in m.topk(obj["user_id"], k, seen[obj["user_id"]])]
        fb = json.loads(run("get", "-s", full, "--fallback", "-f", "json", "nobody").stdout)
        assert [(it["item_id"], it["score"]) for it in fb["items"]] == m.fallback(k), name


def test_every_list_has_ties(tmp_path):
    """The fixture must really tie: otherwise the tests above prove nothing about tie order."""
    for items in (MIXED_ITEMS, NUMERIC_ITEMS):
        m = Model(items, seed=len(items))
        for u in USERS:
            scores = [s for _, s in m.topk(u, 6)]
            assert len(set(scores)) < len(scores), u
        fb = [s for _, s in m.fallback(6)]
        assert len(set(fb)) < len(fb)


def test_k_at_its_limits_and_long_lists(tmp_path):
    """Lists of k >= ~500 entries live on LMDB overflow pages; -k is 1..100000."""
    rng = random.Random(9)
    n_items = 1200
    items = [str(rng.randrange(10**6)) + ("" if n % 5 else "x") for n in range(n_items)]
    items = list(dict.fromkeys(items))
    m = Model(items, seed=3)
    m.users = {u: ([rng.choice(QUARTERS) for _ in range(K)], rng.choice(QUARTERS)) for u in USERS}
    m.items = {i: ([rng.uniform(-1, 1) for _ in range(K)], rng.choice(QUARTERS)) for i in items}
    for i in m.items:  # keep the brute force in float32 inputs, like the file
        m.items[i] = ([struct.unpack("<f", struct.pack("<f", x))[0] for x in m.items[i][0]], m.items[i][1])
    m.write_ndjson(tmp_path / "w.ndjson")
    for k in (1, 600, 100000):
        store = tmp_path / f"k{k}.mfkv"
        run("build", "--weights", tmp_path / "w.ndjson", "-k", k, "-o", store, "-q")
        got = dump(store)
        for u in USERS:
            want = [(i, struct.unpack("<f", struct.pack("<f", s))[0]) for i, s in m.topk(u, k)]
            assert [(i, struct.unpack("<f", struct.pack("<f", s))[0]) for i, s in got[u]] == want, (k, u)
        assert run("verify", "-q", "-s", store).returncode == 0
        assert run("get", "-s", store, "--no-verify", "-f", "tsv", USERS[0]).stdout == \
            run("get", "-s", store, "-f", "tsv", USERS[0]).stdout
    for bad in (0, 100001):
        p = run("build", "--weights", tmp_path / "w.ndjson", "-k", bad, "-o", tmp_path / "bad.mfkv", check=False)
        assert p.returncode == 2 and "-k" in p.stderr and not (tmp_path / "bad.mfkv").exists()


def test_user_column_picks_the_user_side(tmp_path):
    m = Model(MIXED_ITEMS, seed=1)
    m.write_ndjson(tmp_path / "w.ndjson")
    text = (tmp_path / "w.ndjson").read_text()
    # Neither name contains "user": the default cannot choose, --user-column can.
    text = text.replace('"user_id"', '"member"').replace('"item_id"', '"title_id"')
    (tmp_path / "renamed.ndjson").write_text(text)
    p = run("build", "--weights", tmp_path / "renamed.ndjson", "-o", tmp_path / "x.mfkv", check=False)
    assert p.returncode in (2, 3) and "user" in p.stderr
    run("build", "--weights", tmp_path / "renamed.ndjson", "--user-column", "member", "-k", 5,
        "-o", tmp_path / "s.mfkv", "-q")
    assert dump(tmp_path / "s.mfkv") == {u: m.topk(u, 5) for u in USERS}
    # Naming the item side instead swaps the roles: the users are now the items.
    run("build", "--weights", tmp_path / "renamed.ndjson", "--user-column", "title_id", "-k", 2,
        "-o", tmp_path / "swapped.mfkv", "-q")
    assert set(dump(tmp_path / "swapped.mfkv")) == set(MIXED_ITEMS)


def test_skip_invalid_exclusions(tmp_path):
    m = Model(NUMERIC_ITEMS, seed=2)
    m.write_ndjson(tmp_path / "w.ndjson")
    with open(tmp_path / "ratings.csv", "w") as f:
        f.write("userId,movieId,rating,timestamp\n42,9,4.0,0\n7,10,not-a-number,0\n42,100,3.0,0\n")
    p = run("build", "--weights", tmp_path / "w.ndjson", "--exclude-seen", tmp_path / "ratings.csv",
            "-o", tmp_path / "s.mfkv", check=False)
    assert p.returncode == 3 and "ratings.csv:3" in p.stderr and not (tmp_path / "s.mfkv").exists()
    run("build", "--weights", tmp_path / "w.ndjson", "--exclude-seen", tmp_path / "ratings.csv",
        "--skip-invalid", "-k", 5, "-o", tmp_path / "s.mfkv", "-q")
    got = dump(tmp_path / "s.mfkv")
    assert got["42"] == m.topk("42", 5, {"9", "100"})
    assert got["7"] == m.topk("7", 5)  # its only rating was the bad line
