"""What the newer e2e tests share: running mfkv, float32 rounding, id order."""
import os
import re
import struct
import subprocess

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")


def run(*args, check=True, cwd=None, env=None, stdin=None):
    p = subprocess.run([MFKV, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, input=stdin)
    if check and p.returncode != 0:
        raise AssertionError(f"mfkv {args} exited {p.returncode}: {p.stderr}")
    return p


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def id_key(i):
    """The documented item order (README, src/common/idtab.h): canonical
    unsigned decimals numerically, before every other id, which compare
    byte-wise."""
    if re.fullmatch(r"0|[1-9][0-9]{0,18}", i):
        return (0, int(i), b"")
    return (1, 0, i.encode())


def ranking_metrics(lists, relevant, k):
    """eval's ranking metrics at k (src/train/eval.h), computed here: lists[u]
    is user u's ranked item ids, relevant[u] the set of its relevant ones;
    averaged over the users with a relevant item.  Returns (metrics, users)."""
    import math

    sums = {"precision_at_k": 0.0, "recall_at_k": 0.0, "ndcg_at_k": 0.0, "map_at_k": 0.0}
    users = [u for u in lists if relevant.get(u)]
    for u in users:
        rel = relevant[u]
        hits, dcg, ap = 0, 0.0, 0.0
        for j, i in enumerate(lists[u][:k]):
            if i in rel:
                hits += 1
                dcg += 1 / math.log2(j + 2)
                ap += hits / (j + 1)
        ideal = min(len(rel), k)
        sums["precision_at_k"] += hits / k
        sums["recall_at_k"] += hits / len(rel)
        sums["ndcg_at_k"] += dcg / sum(1 / math.log2(j + 2) for j in range(ideal))
        sums["map_at_k"] += ap / ideal
    return {key: v / len(users) for key, v in sums.items()}, len(users)
