"""The Spark job (python/mfkv/spark.py) in local[2] mode on small data.

The store Spark builds must equal the single-process build of the same
arrays byte for byte; a shard folder must hold each user in the shard mfkv
routes it to; bad input must raise a clear MfkvError and publish nothing.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import mfkv
import mfkv.spark as mspark

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
WHEN = 1700000000


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    s = (SparkSession.builder.master("local[2]").appName("mfkv-test").config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def frames(spark, users=120, items=40, f=5, seed=8):
    rng = np.random.default_rng(seed)
    uf, itf = rng.standard_normal((users, f)).astype(np.float32), rng.standard_normal((items, f)).astype(np.float32)
    ub, ib = rng.standard_normal(users).astype(np.float32), rng.standard_normal(items).astype(np.float32)
    schema = "id long, features array<float>, bias float"
    udf = spark.createDataFrame([(i * 3, uf[i].tolist(), float(ub[i])) for i in range(users)], schema)
    idf = spark.createDataFrame([(i + 10, itf[i].tolist(), float(ib[i])) for i in range(items)], schema)
    arrays = dict(user_ids=np.arange(users) * 3, user_factors=uf, item_ids=np.arange(items) + 10, item_factors=itf,
                  user_bias=ub, item_bias=ib, global_bias=3.5)
    return udf, idf, arrays


def test_merged_store_equals_the_single_process_build(spark, tmp_path):
    udf, idf, arrays = frames(spark)
    r = mspark.build_store(udf, idf, out=tmp_path / "spark.mfkv", k=7, shards=3, global_bias=3.5, build_time=WHEN)
    assert (r["shards"], r["users"]) == (3, 120)
    mfkv.build(**arrays, k=7, build_time=WHEN, path=str(tmp_path / "single.mfkv"))
    assert (tmp_path / "spark.mfkv").read_bytes() == (tmp_path / "single.mfkv").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["single.mfkv", "spark.mfkv"]  # no staging left


def test_shard_folder_with_manifest_and_an_atomic_rerun(spark, tmp_path):
    udf, idf, _ = frames(spark)
    out = tmp_path / "shards"
    mspark.build_store(udf, idf, out=out, k=5, shards=3, merge=False, build_time=WHEN)
    first = json.loads((out / "manifest.json").read_text())
    assert first["shards"] == 3 and sum(f["users"] for f in first["files"]) == 120
    mspark.build_store(udf, idf, out=out, k=5, shards=4, merge=False, build_time=WHEN)
    man = json.loads((out / "manifest.json").read_text())
    assert sorted(os.listdir(out)) == sorted(["manifest.json"] + [f["file"] for f in man["files"]])
    assert len(man["files"]) == 4 and sorted(os.listdir(tmp_path)) == ["shards"]
    for entry in man["files"]:
        with mfkv.open(out / entry["file"]) as st:
            ids = [u for u, _ in st]
            assert len(ids) == entry["users"]
            assert all(mfkv.shard_of(ids, 4) == entry["shard"])
    mfkv.merge(tmp_path / "m.mfkv", [out / f["file"] for f in man["files"]])


def test_bqml_weights_export_gives_the_cli_builds_lists(spark, tmp_path):
    weights = os.path.join(FIXTURES, "bqml/bqml-weights.ndjson")
    users, items, gb = mspark.read_bqml_weights(spark, weights)
    mspark.build_store(users, items, out=tmp_path / "s.mfkv", k=4, shards=2, global_bias=gb)
    subprocess.run([MFKV, "build", "--weights", weights, "-k", "4", "-q", "-o", tmp_path / "c.mfkv"], check=True)
    with mfkv.open(tmp_path / "s.mfkv") as a, mfkv.open(tmp_path / "c.mfkv") as b:
        assert len(a) == 3
        assert [(u, list(r.item_ids), r.scores.tolist()) for u, r in a] == \
               [(u, list(r.item_ids), r.scores.tolist()) for u, r in b]


def test_from_als_model(spark, tmp_path):
    """ALSModel's factor frames (id, features) without fitting one here: fitting
    costs a test run half a minute; tools/bench_spark.py uses a fitted model."""
    udf, idf, arrays = frames(spark, users=50, items=12)

    class FittedModel:
        userFactors, itemFactors = udf.drop("bias"), idf.drop("bias")
    mspark.from_als_model(FittedModel(), out=tmp_path / "als.mfkv", k=5, shards=2, build_time=WHEN)
    mfkv.build(arrays["user_ids"], arrays["user_factors"], arrays["item_ids"], arrays["item_factors"],
               k=5, build_time=WHEN, path=str(tmp_path / "single.mfkv"))
    assert (tmp_path / "als.mfkv").read_bytes() == (tmp_path / "single.mfkv").read_bytes()


@pytest.mark.parametrize("case,words", [
    ("nan", "is NaN"),
    ("lengths", "factor arrays of different lengths"),
    ("duplicate", "duplicate id"),
    ("unwritable", "cannot write into"),
    ("id_type", "expected integer or string ids"),
    ("no_factors", "id 12 has no factors"),
])
def test_bad_input_raises_and_publishes_nothing(spark, tmp_path, case, words):
    udf, idf, _ = frames(spark, users=20, items=6)
    from pyspark.sql import functions as F
    out = tmp_path / "out.mfkv"
    if case == "nan":
        udf = udf.withColumn("features", F.when(F.col("id") == 9, F.array(*[F.lit(float("nan"))] * 5))
                             .otherwise(F.col("features")))
    elif case == "lengths":
        idf = idf.withColumn("features", F.when(F.col("id") == 12, F.slice("features", 1, 4))
                             .otherwise(F.col("features")))
    elif case == "id_type":
        udf = udf.withColumn("id", F.col("id").cast("double"))
    elif case == "no_factors":
        udf = udf.withColumn("features", F.when(F.col("id") != 12, F.col("features")))
    elif case == "duplicate":
        udf = udf.union(udf.filter(F.col("id") == 6))
    else:
        out = tmp_path / "no such folder" / "out.mfkv"
    with pytest.raises(mfkv.MfkvError) as e:
        mspark.build_store(udf, idf, out=out, k=3, shards=2)
    assert words in str(e.value), str(e.value)
    assert os.listdir(tmp_path) == []


def test_missing_java_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = "/nonexistent"
    p = subprocess.run([sys.executable, "-m", "mfkv.spark", "--users", "u", "--items", "i", "-o", tmp_path / "x"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 3 and "Java not found" in p.stderr, p.stderr
    assert os.listdir(tmp_path) == []
