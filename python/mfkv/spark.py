"""Build an mfkv store on Apache Spark: `python -m mfkv.spark` and build_store().

    build_store(user_df, item_df, k=50, shards=N, out=PATH, merge=True)

user_df and item_df have ALSModel's shape (`id`, `features: array<float>`),
optionally a `bias` column; the global bias is a number.  The job

  1. collects the item side on the driver as Arrow (DataFrame.toArrow),
     turns it into numpy arrays (checked there) and broadcasts them,
  2. routes every user to its shard with mfkv's own assignment (src/format.h,
     computed in C by mfkv.shard_of) over Arrow batches (mapInArrow), and
     shuffles them into N shards as Arrow IPC blobs, one per shard and batch,
  3. builds each shard in an executor with mfkv.build (its columns go from
     Arrow to numpy to C without a step per user in Python) into a staging folder
     beside OUT; the C builder publishes each shard file atomically (a
     task-private temporary renamed into place), so a failed or retried task
     never leaves a partial shard, and a retry rewrites the same bytes,
  4. merges the shards into one store at OUT (mfkv.merge, atomic), or
     publishes the folder of N shard stores plus manifest.json at OUT,
     swapping it with a previous run's folder in one rename (renameat2
     RENAME_EXCHANGE).

Every shard gets the same build time, so the merged store equals
mfkv.build() of the same arrays with that build_time, byte for byte.  Bad
input (factor lengths that differ, NaN/Inf, duplicate ids, an unwritable
OUT, no Java) raises MfkvError and publishes nothing.
"""
import argparse
import ctypes
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

import mfkv

INVAL, IO = 7, 5
MANIFEST = "manifest.json"


def _shard_file(i, n):
    return f"shard-{i:05d}-of-{n:05d}.mfkv"


def check_java():
    """Spark needs a Java runtime: say so before pyspark fails obscurely."""
    home = os.environ.get("JAVA_HOME")
    if (home and os.access(os.path.join(home, "bin", "java"), os.X_OK)) or shutil.which("java"):
        return
    raise mfkv.MfkvError(IO, "Java not found: Spark needs a Java runtime (Debian: apt-get install "
                             "openjdk-17-jre-headless); put java on PATH or set JAVA_HOME")


def _arrow_ids(column):
    """mfkv.PackedIds of an Arrow id column (integers become their decimal
    text, as everywhere in mfkv), made by Arrow's cast, not per id in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc
    text = pc.cast(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column, pa.large_string())
    if len(text) == 0:
        return mfkv.PackedIds(b"", np.zeros(1, dtype=np.uint64))
    _, off_buf, data_buf = text.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64, count=len(text) + 1, offset=8 * text.offset)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0]:offsets[-1]] if data_buf is not None else b""
    return mfkv.PackedIds(data, (offsets - offsets[0]).astype(np.uint64))


def _arrow_side(table, what):
    """(ids as mfkv.PackedIds, float32 factors (n, f), float32 bias or None)
    from an Arrow table of columns id, features[, bias]: columnar, no step per
    row in Python.  Every check of the numbers (NaN, Inf, duplicate ids) is the
    C builder's; here only what the arrays cannot express."""
    import pyarrow.compute as pc
    n = table.num_rows
    ids = table.column(0).combine_chunks()

    def id_at(row):
        return ids[row].as_py()
    if ids.null_count:
        raise mfkv.MfkvError(INVAL, f"{what}: row {pc.index(pc.is_null(ids), True).as_py()} has no id")
    feats = table.column(1).combine_chunks()
    if feats.null_count:
        raise mfkv.MfkvError(INVAL, f"{what}: id {id_at(pc.index(pc.is_null(feats), True).as_py())!r} has no factors")
    lens = pc.list_value_length(feats).to_numpy(zero_copy_only=False)
    f = int(lens[0]) if n else 0
    if n and (lens != f).any():
        j = int(np.argmax(lens != f))
        raise mfkv.MfkvError(INVAL, f"{what}: factor arrays of different lengths: id {id_at(0)!r} has {f}, "
                                    f"id {id_at(j)!r} has {lens[j]}")
    # A null factor becomes NaN, which the C builder reports with its id.
    factors = np.asarray(feats.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(n, f)
    bias = None
    if table.num_columns > 2:
        bias = np.asarray(pc.fill_null(table.column(2), 0).to_numpy(), dtype=np.float32)
    return _arrow_ids(ids), factors, bias


def _columns(df, id_col, features_col, bias_col, what):
    """df's id, features[, bias] columns, their types checked on the driver."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    cols = [F.col(id_col), F.col(features_col)]
    if bias_col is None and "bias" in df.columns:
        bias_col = "bias"
    if bias_col:
        cols.append(F.col(bias_col))
    df = df.select(*cols)
    id_type, feat_type = df.schema[0].dataType, df.schema[1].dataType
    if not isinstance(id_type, (T.IntegralType, T.StringType)):
        raise mfkv.MfkvError(INVAL, f"{what}: column {id_col!r} is {id_type.simpleString()}; expected integer "
                                    f"or string ids")
    if not (isinstance(feat_type, T.ArrayType) and isinstance(feat_type.elementType, T.NumericType)):
        raise mfkv.MfkvError(INVAL, f"{what}: column {features_col!r} is {feat_type.simpleString()}; expected an "
                                    f"array of numbers")
    return df


def _publish_folder(staging, out):
    """Put the folder `staging` at `out` in one step, even over a previous run."""
    if not os.path.lexists(out):
        os.rename(staging, out)
        return
    if not os.path.isfile(os.path.join(out, MANIFEST)):
        raise mfkv.MfkvError(IO, f"{out}: exists and is not the shard folder of a previous run "
                                 f"(no {MANIFEST}); not replacing it")
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    if libc.renameat2(AT_FDCWD, staging.encode(), AT_FDCWD, out.encode(), RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise mfkv.MfkvError(IO, f"{out}: cannot replace the previous run: {os.strerror(e)}")


def build_store(user_df, item_df, *, out, k=50, shards=None, merge=True, global_bias=0.0, fallback=True,
                id_col="id", features_col="features", bias_col=None, build_time=None):
    """Build the store of every user of user_df against item_df; see the module
    docstring.  Returns {"out", "shards", "users", "files", "seconds"}: seconds
    spent collecting and broadcasting the items, building the shards (routing,
    shuffle, the executors' builds) and merging."""
    t0 = time.monotonic()
    sc = user_df.sparkSession.sparkContext
    n = int(shards or sc.defaultParallelism)
    if n < 1:
        raise mfkv.MfkvError(INVAL, f"shards: {n}, expected at least 1")
    out = os.path.abspath(os.fspath(out))
    parent = os.path.dirname(out)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise mfkv.MfkvError(IO, f"{out}: cannot write into {parent}")

    items_df = _columns(item_df, id_col, features_col, bias_col, "item factors")
    users_df = _columns(user_df, id_col, features_col, bias_col, "user factors")
    item_ids, item_factors, item_bias = _arrow_side(items_df.toArrow(), "item factors")
    items = sc.broadcast((item_ids, item_factors, item_bias))
    seconds = {"items": time.monotonic() - t0}
    when = mfkv._build_time(build_time)
    threads = int(sc.getConf().get("spark.task.cpus", "1"))
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.spark-", dir=parent)

    def route(batches):
        """Each Arrow batch of users, cut into one Arrow IPC blob per shard."""
        import pyarrow as pa
        for batch in batches:
            shard = mfkv.shard_of(_arrow_ids(batch.column(0)), n)
            order = np.argsort(shard, kind="stable")
            batch, shard = batch.take(pa.array(order)), shard[order]
            present, starts = np.unique(shard, return_index=True)
            ends = list(starts[1:]) + [len(shard)]
            for s, a, b in zip(present, starts, ends):
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, batch.schema) as w:
                    w.write_batch(batch.slice(a, b - a))
                yield pa.RecordBatch.from_arrays([pa.array([s], pa.int32()), pa.array([sink.getvalue().to_pybytes()])],
                                                 names=["shard", "users"])

    def build_shard(index, pairs):
        import pyarrow as pa
        tables = [pa.ipc.open_stream(blob).read_all() for _, blob in pairs]
        count = sum(t.num_rows for t in tables)
        path = os.path.join(staging, _shard_file(index, n))
        try:
            iids, ifac, ib = items.value
            if tables:
                ids, uf, ub = _arrow_side(pa.concat_tables(tables), "user factors")
            else:
                ids, uf, ub = [], np.zeros((0, ifac.shape[1]), dtype=np.float32), None
            if count and uf.shape[1] != ifac.shape[1]:
                raise mfkv.MfkvError(INVAL, f"factor lengths differ: users have {uf.shape[1]}, "
                                            f"items have {ifac.shape[1]}")
            mfkv.build(ids, uf, iids, ifac, user_bias=ub, item_bias=ib, global_bias=global_bias, k=k,
                       shard=(index, n), fallback=fallback, threads=threads, build_time=when, path=path)
            with mfkv.open(path) as st:
                kept = len(st)
            if kept != count:  # every user was routed here, so none may be dropped
                raise mfkv.MfkvError(INVAL, f"shard {index}: {count} users routed, {kept} kept")
            yield index, os.path.basename(path), count, None
        except mfkv.MfkvError as e:  # data errors are not retried: report them to the driver
            yield index, None, count, (e.status, e.message)

    try:
        # Users travel as Arrow: columnar batches from the JVM into the route
        # step, then as a few blobs per batch (one per shard) through the
        # shuffle, which partitions them by shard number itself.
        blobs = users_df.mapInArrow(route, "shard int, users binary").rdd.map(tuple)
        t1 = time.monotonic()
        results = sorted(blobs.partitionBy(n, lambda s: s).mapPartitionsWithIndex(build_shard).collect())
        seconds["shards"] = time.monotonic() - t1
        errors = [(i, e) for i, _, _, e in results if e]
        if errors:
            i, (status, message) = errors[0]
            raise mfkv.MfkvError(status, f"shard {i}/{n}: {message}")
        files = [f for _, f, _, _ in results]
        total = sum(c for _, _, c, _ in results)
        t2 = time.monotonic()
        if merge:
            mfkv.merge(out, [os.path.join(staging, f) for f in files])
        else:
            for name in os.listdir(staging):  # temporaries of killed attempts
                if name not in files:
                    os.remove(os.path.join(staging, name))
            manifest = {
                "format": "mfkv shard set", "shards": n, "k": k, "users": total, "build_time": when,
                "assignment": "shard(id) = XXH3_64bits_withSeed(id bytes, 0x6d666b7673686431) % shards "
                              "(src/format.h; mfkv.shard_of)",
                "files": [{"shard": i, "file": f, "users": c} for i, f, c, _ in results],
            }
            with open(os.path.join(staging, MANIFEST), "w") as fh:
                json.dump(manifest, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            _publish_folder(staging, out)
        seconds["merge" if merge else "publish"] = time.monotonic() - t2
        return {"out": out, "shards": n, "users": total, "files": files, "seconds": seconds}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        items.unpersist()


def from_als_model(model, *, out, k=50, shards=None, merge=True, **kw):
    """build_store() of a fitted pyspark.ml.recommendation.ALSModel (no biases)."""
    return build_store(model.userFactors, model.itemFactors, out=out, k=k, shards=shards, merge=merge, **kw)


def read_bqml_weights(spark, path, user_column=None):
    """A BigQuery ML `ML.WEIGHTS` export (NDJSON or Parquet) as (user_df,
    item_df, global_bias) in ALSModel's shape, with bias = intercept."""
    from pyspark.sql import functions as F
    df = spark.read.parquet(path) if path.endswith(".parquet") else spark.read.json(path)
    glob = df.filter(F.col("feature") == "global__INTERCEPT__").select("intercept").collect()
    global_bias = float(glob[0][0]) if glob else 0.0
    sides = [r[0] for r in df.select("processed_input").where(F.col("processed_input").isNotNull())
             .distinct().collect()]
    if user_column is None:
        named = [s for s in sides if "user" in s.lower()]
        if len(named) != 1 or len(sides) != 2:
            raise mfkv.MfkvError(INVAL, f"{path}: cannot tell the user side among {sides}; give --user-column")
        user_column = named[0]
    if user_column not in sides or len(sides) != 2:
        raise mfkv.MfkvError(INVAL, f"{path}: processed_input values {sides}, expected two including {user_column!r}")
    item_column = [s for s in sides if s != user_column][0]
    weights = F.expr("transform(array_sort(factor_weights, (a, b) -> "
                     "CASE WHEN a.factor < b.factor THEN -1 WHEN a.factor > b.factor THEN 1 ELSE 0 END), "
                     "x -> CAST(x.weight AS FLOAT))")

    def side(name):
        return df.filter(F.col("processed_input") == name).select(
            F.col("feature").alias("id"), weights.alias("features"), F.col("intercept").cast("float").alias("bias"))
    return side(user_column), side(item_column), global_bias


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m mfkv.spark",
        description="Build an mfkv store (every user's exact top-K) on Spark, from ALSModel-shaped Parquet "
                    "(id, features, optional bias) or a BigQuery ML ML.WEIGHTS export.",
        epilog="exit codes: 0 built, 2 usage, 3 bad input or I/O error (nothing published)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--users", help="Parquet of user factors (id, features[, bias]); needs --items")
    src.add_argument("--weights", help="ML.WEIGHTS export: NDJSON, or Parquet when it ends in .parquet")
    ap.add_argument("--items", help="Parquet of item factors (id, features[, bias])")
    ap.add_argument("--user-column", help="with --weights: processed_input of the user side")
    ap.add_argument("--global-bias", type=float, default=0.0, help="with --users/--items (default 0)")
    ap.add_argument("-k", type=int, default=50, help="list length per user (default 50)")
    ap.add_argument("--shards", type=int, help="shards, one Spark task each (default: the parallelism)")
    ap.add_argument("-o", "--output", required=True, help="the store, or with --no-merge the shard folder")
    ap.add_argument("--no-merge", action="store_true", help="leave N shard stores and manifest.json")
    ap.add_argument("--no-fallback", action="store_true", help="do not store the list for unknown users")
    ap.add_argument("--master", default=os.environ.get("MFKV_SPARK_MASTER", "local[*]"),
                    help="Spark master (default $MFKV_SPARK_MASTER or local[*])")
    a = ap.parse_args(argv)
    if a.users and not a.items:
        ap.error("--users needs --items")
    try:
        check_java()
        # Python workers must import this package: run them on this interpreter.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.master(a.master).appName("mfkv build").getOrCreate()
        try:
            if a.weights:
                users, items, gb = read_bqml_weights(spark, a.weights, a.user_column)
            else:
                users, items, gb = spark.read.parquet(a.users), spark.read.parquet(a.items), a.global_bias
            r = build_store(users, items, out=a.output, k=a.k, shards=a.shards, merge=not a.no_merge,
                            global_bias=gb, fallback=not a.no_fallback)
        finally:
            spark.stop()
    except mfkv.MfkvError as e:
        print(f"mfkv.spark: {e}", file=sys.stderr)
        return 3
    print(f"mfkv.spark: built {r['out']}: {r['users']} users in {r['shards']} shards"
          f"{'' if not a.no_merge else ' (shard folder)'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
