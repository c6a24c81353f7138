#!/usr/bin/env python3
"""Mutation testing of mfkv's core: do the tests notice a deliberate bug?

    .venv/bin/python tools/mutants.py                 every mutant below
    .venv/bin/python tools/mutants.py --folder src/io --sample 4 --seed 1
    .venv/bin/python tools/mutants.py --tests-from main   the tests of another revision
    .venv/bin/python tools/mutants.py --list          the mutants, without running

A curated list (MUTANTS below) of small, realistic bugs in src/builder,
src/reader, src/io, src/train and src/common: each changes one thing a user
would notice (an order, a bound, a check, a formula).  For each mutant the
script copies the working tree to a scratch folder (the checkout itself is
never modified), applies the change, builds with tools/zig, and runs the
tests of that folder (TESTS below) until one fails: the mutant is "killed".
A mutant no test kills "survived" and is printed with its description.  A
mutant that does not build is "stillborn" and left out of the score.  Ends
with the score per folder (killed / built) and the survivors.

Mutants marked `equivalent` cannot change any output (the reason is given)
and are reported but not scored.  Slow: a build and several test programs
per mutant (about 20-60 s each on 2 cores); --sample bounds a run.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Tests run against a mutant of each folder, cheapest first; the unit
# programs run light (MFKV_TEST_LIGHT=1).  Missing files (--tests-from an
# older revision) are skipped.
E2E = lambda *names: ["pytest"] + [f"tests/e2e/{n}" for n in names]
TESTS = {
    "src/builder": [["zig-out/tests/test_topk"], E2E("test_core.py", "test_order_and_ties.py", "test_format_pinned.py"),
                    ["zig-out/tests/test_store"]],
    "src/reader": [["zig-out/tests/test_store"], E2E("test_core.py", "test_format_pinned.py"),
                   ["zig-out/tests/test_corruption"], ["zig-out/tests/test_fuzz_replay"]],
    "src/io": [["zig-out/tests/test_io_factors"], ["zig-out/tests/test_io_ratings"], ["zig-out/tests/test_fuzz_replay"],
               E2E("test_core.py", "test_order_and_ties.py", "test_bad_inputs.py", "test_format_pinned.py")],
    "src/train": [["zig-out/tests/test_train"], E2E("test_train.py")],
    "src/common": [["zig-out/tests/test_topk"], ["zig-out/tests/test_io_factors"],
                   E2E("test_core.py", "test_order_and_ties.py", "test_format_pinned.py")],
}

# id, file, [(find, replace), ...], what a user would get; optional
# "equivalent": why no output can change.  Each find must occur exactly once.
MUTANTS = [
    # src/builder
    dict(id="build-exclusions-before-sort", file="src/builder/build.c",
         edits=[("    int rc = mfkv_model_sort_items(m);\n    if (!rc && req->exclude_seen)",
                 "    int rc = 0;\n    if (!rc && req->exclude_seen)"),
                ("    if (!rc && req->titles) rc = match_titles(",
                 "    if (!rc) rc = mfkv_model_sort_items(m);\n    if (!rc && req->titles) rc = match_titles(")],
         what="exclusions use item indices from before the sort: seen items recommended"),
    dict(id="build-titles-before-sort", file="src/builder/build.c",
         edits=[("    int rc = mfkv_model_sort_items(m);\n    if (!rc && req->exclude_seen)\n"
                 "        rc = build_exclusions(m, req->exclude_seen, &excl_off, &excl_item, &sum->excluded_pairs);\n"
                 "    if (!rc && req->titles) rc = match_titles(m, req->titles, &titles, &genres, &sum->titled_items);",
                 "    int rc = 0;\n    if (!rc && req->titles) rc = match_titles(m, req->titles, &titles, &genres, &sum->titled_items);\n"
                 "    if (!rc) rc = mfkv_model_sort_items(m);\n    if (!rc && req->exclude_seen)\n"
                 "        rc = build_exclusions(m, req->exclude_seen, &excl_off, &excl_item, &sum->excluded_pairs);")],
         what="titles matched before the sort: items show other items' titles"),
    dict(id="visit-order-ties-reversed", file="src/builder/topk.c",
         edits=[("    if (bias[a] != bias[b]) return bias[a] > bias[b] ? -1 : 1;\n    return (a > b) - (a < b);",
                 "    if (bias[a] != bias[b]) return bias[a] > bias[b] ? -1 : 1;\n    return (a < b) - (a > b);")],
         what="items of equal bias scored in reverse index order",
         equivalent="the visit order only decides which items are scored first (pruning); every kept "
                    "candidate is ranked by (exact score, index) afterwards, so no list changes"),
    dict(id="score-without-user-bias", file="src/builder/topk.c",
         edits=[("    double base = m->global_bias + (double)m->user_bias[user];",
                 "    double base = m->global_bias;")],
         what="stored scores lack the user bias"),
    dict(id="provenance-full-path", file="src/builder/build.c",
         edits=[("input=%s xxh3-128:%s\\n\", slash ? slash + 1 : req->inputs[i]",
                 "input=%s xxh3-128:%s\\n\", req->inputs[i]")],
         what="provenance names the full input path: the store depends on where it was built"),
    dict(id="checksum-domain-changed", file="src/format.h",
         edits=[("#define MFKV_CHECKSUM_DOMAIN 0x6d666b7672656331ull", "#define MFKV_CHECKSUM_DOMAIN 0x6d666b7672656332ull")],
         what="every store written by the previous version becomes unreadable"),
    dict(id="fallback-one-short", file="src/builder/topk.c",
         edits=[("    *count = n < k ? n : k;", "    *count = n < k ? n : k - 1;")],
         what="the fallback list holds k - 1 items"),
    # src/reader
    dict(id="reader-accepts-newer-major", file="src/reader/reader.c",
         edits=[("    if (in->format_major != MFKV_FORMAT_MAJOR)", "    if (in->format_major < MFKV_FORMAT_MAJOR)")],
         what="a store of a newer major format is read instead of refused"),
    dict(id="reader-skips-record-checksum", file="src/reader/reader.c",
         edits=[("    if (check && mfkv_load_u64(p) != mfkv_record_checksum(", "    if (0 && mfkv_load_u64(p) != mfkv_record_checksum(")],
         what="a damaged record is served as data"),
    dict(id="reader-list-count-over-k", file="src/reader/reader.c",
         edits=[("    if (count > s->info.k || len != MFKV_LIST_COUNT_LEN", "    if (count > s->info.k + 1 || len != MFKV_LIST_COUNT_LEN")],
         what="a list longer than k is accepted"),
    dict(id="reader-item-len-unchecked", file="src/reader/reader.c",
         edits=[("MFKV_ITEM_FIXED_LEN + id_len + title_len + genres_len != len)",
                 "MFKV_ITEM_FIXED_LEN + id_len + title_len + genres_len > len)")],
         what="an item record with trailing bytes is accepted"),
    dict(id="trailer-hash-unchecked", file="src/reader/trailer.c",
         edits=[("    if (mfkv_load_u64(t + 56) != XXH3_64bits(t, 56)) return MFKV_CORRUPT;", "")],
         what="damage to the trailer's reserved bytes goes unnoticed"),
    # src/io
    dict(id="ndjson-factor-from-position", file="src/io/bqml_ndjson.c",
         edits=[("mfkv_factor_rows_put(r, &w, index, (uint32_t)factor, weight, d)",
                 "mfkv_factor_rows_put(r, &w, index, (uint32_t)(i + 1), weight, d)")],
         what="factors permuted when an export lists them in another order"),
    dict(id="ratings-skip-not-counted", file="src/io/ratings.c",
         edits=[("        if (rc == MFKV_PARSE && opts->skip_invalid)\n            opts->skipped++;",
                 "        if (rc == MFKV_PARSE && opts->skip_invalid)\n            rc = MFKV_OK;")],
         what="--skip-invalid lines are neither counted nor skipped"),
    dict(id="movies-genres-dropped", file="src/io/movies.c",
         edits=[("cg >= 0 ? f[cg] : \"\", cg >= 0 ? flen[cg] : 0", "\"\", 0")],
         what="genres of every movie lost"),
    dict(id="csv-conflicting-bias-accepted", file="src/io/bqml_csv.c",
         edits=[("    if (!added && r->bias[index] != bias) {", "    if (0 && !added && r->bias[index] != bias) {")],
         what="two different biases for one id in the long CSV: the first silently wins"),
    dict(id="npy-fortran-order-accepted", file="src/io/npy.c",
         edits=[("    if (h->fortran)\n", "    if (0 && h->fortran)\n")],
         what="a Fortran-order array read as C order: factors transposed"),
    # src/train
    dict(id="als-trains-on-holdout", file="src/train/als.c",
         edits=[("        if (keep[j] == want) c->start[rows[j] + 1]++;", "        if (keep[j] == want || !want) c->start[rows[j] + 1]++;"),
                ("        if (keep[j] != want) continue;", "        if (keep[j] != want && want) continue;")],
         what="held-out ratings also fit ALS: --holdout evaluation looks better than it is"),
    dict(id="ndcg-discount-off-by-one", file="src/train/eval.c",
         edits=[("        dcg += 1.0 / log2((double)j + 2);", "        dcg += 1.0 / log2((double)j + 3);")],
         what="NDCG@k under-reported"),
    dict(id="map-divides-by-k", file="src/train/eval.c",
         edits=[("    out->map_at_k = ap / (double)ideal;", "    out->map_at_k = ap / (double)k;")],
         what="MAP@k under-reported for users with fewer than k relevant items"),
    dict(id="eval-median-upper", file="src/train/eval.c",
         edits=[("n % 2 ? abs_err[n / 2] : (abs_err[n / 2 - 1] + abs_err[n / 2]) / 2;", "abs_err[n / 2];")],
         what="median absolute error wrong for an even count"),
    dict(id="no-per-rating-penalty", file="src/train/als.c",
         edits=[("static double row_penalty(const solver *w, size_t n) { return w->l2 + w->l2_per_rating * (double)n; }",
                 "static double row_penalty(const solver *w, size_t n) { return w->l2; }")],
         what="--l2-per-rating ignored"),
    dict(id="recall-over-k", file="src/train/eval.c",
         edits=[("    out->recall_at_k = (double)hits / (double)n_relevant;", "    out->recall_at_k = (double)hits / (double)k;")],
         what="recall@k divided by k instead of the relevant count"),
    # src/common
    dict(id="id-compare-as-text", file="src/common/idtab.c",
         edits=[("        if (alen != blen) return alen < blen ? -1 : 1;\n        return memcmp(a, b, alen);",
                 "        int c = memcmp(a, b, alen < blen ? alen : blen);\n        if (c) return c;\n"
                 "        return alen < blen ? -1 : alen > blen;")],
         what="tied items come out 10 100 9 instead of 9 10 100"),
    dict(id="id-leading-zero-numeric", file="src/common/idtab.c",
         edits=[("    if (len == 0 || len > 19 || (len > 1 && s[0] == '0')) return 0;", "    if (len == 0 || len > 19) return 0;")],
         what="\"007\" and \"7\" ordered as the same number"),
]


def folder_of(m):
    return "src/builder" if m["file"] == "src/format.h" else os.path.dirname(m["file"])


def copy_tree(dst, tests_from):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for f in files:
        if f and os.path.isfile(os.path.join(ROOT, f)):
            os.makedirs(os.path.join(dst, os.path.dirname(f)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), os.path.join(dst, f))
    os.symlink(os.path.join(ROOT, ".venv"), os.path.join(dst, ".venv"))
    if tests_from:
        shutil.rmtree(os.path.join(dst, "tests"))
        tar = subprocess.run(["git", "archive", tests_from, "tests"], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", dst], input=tar, check=True)


def run_tests(dst, folder, timeout):
    env = dict(os.environ, MFKV_TEST_LIGHT="1", MFKV_BIN=os.path.join(dst, "zig-out/bin/mfkv"),
               MFKV_FIXTURES=os.path.join(dst, "tests/fixtures"), PYTHONDONTWRITEBYTECODE="1")
    for cmd in TESTS[folder]:
        if cmd[0] == "pytest":
            files = [f for f in cmd[1:] if os.path.exists(os.path.join(dst, f))]
            if not files:
                continue
            cmd = [os.path.join(dst, ".venv/bin/python"), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *files]
        try:
            p = subprocess.run(cmd, cwd=dst, env=env, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "killed", f"{cmd[-1]} (timeout)"
        if p.returncode != 0:
            failed = [l.split()[1] for l in p.stdout.decode(errors="replace").splitlines() if l.startswith("FAILED ")]
            return "killed", os.path.basename(failed[0].split("::")[0]) if failed else os.path.basename(cmd[-1])
    return "survived", ""


def apply(dst, m, undo=False):
    path = os.path.join(dst, m["file"])
    text = open(path).read()
    for find, repl in (reversed(m["edits"]) if undo else m["edits"]):
        a, b = (repl, find) if undo else (find, repl)
        if text.count(a) != 1:
            raise SystemExit(f"mutants: {m['id']}: the text to change occurs {text.count(a)} times in {m['file']}")
        text = text.replace(a, b)
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", action="append", choices=sorted(TESTS), help="only mutants of this folder")
    ap.add_argument("--id", action="append", help="only this mutant (repeatable)")
    ap.add_argument("--sample", type=int, help="at most N mutants per folder, chosen with --seed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tests-from", metavar="REV", help="run the tests/ of git revision REV (e.g. main)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per test command (default 600)")
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    args = ap.parse_args()

    chosen = [m for m in MUTANTS if (not args.folder or folder_of(m) in args.folder) and (not args.id or m["id"] in args.id)]
    if args.sample:
        rng = random.Random(args.seed)
        by_folder = {}
        for m in chosen:
            by_folder.setdefault(folder_of(m), []).append(m)
        chosen = [m for ms in by_folder.values() for m in rng.sample(ms, min(args.sample, len(ms)))]
    if args.list:
        for m in chosen:
            print(f"{folder_of(m):12} {m['id']:32} {m['what']}")
        return 0
    if not chosen:
        print("mutants: nothing selected", file=sys.stderr)
        return 2

    dst = tempfile.mkdtemp(prefix="mfkv-mutants-")
    try:
        copy_tree(dst, args.tests_from)
        for m in chosen:  # every edit must apply to this tree before anything runs
            apply(dst, m)
            apply(dst, m, undo=True)
        build = [os.path.join(dst, "tools/zig"), "build"]
        if subprocess.run(build, cwd=dst, capture_output=True).returncode != 0:
            print("mutants: the unmutated tree does not build", file=sys.stderr)
            return 3
        results = []
        for n, m in enumerate(chosen, 1):
            start = time.time()
            apply(dst, m)
            if subprocess.run(build, cwd=dst, capture_output=True).returncode != 0:
                outcome, by = "stillborn", ""
            else:
                outcome, by = run_tests(dst, folder_of(m), args.timeout)
            apply(dst, m, undo=True)
            results.append((m, outcome))
            print(f"[{n}/{len(chosen)}] {folder_of(m):12} {m['id']:32} {outcome:9} {by:24} {time.time() - start:5.0f}s",
                  flush=True)
    finally:
        shutil.rmtree(dst, ignore_errors=True)

    print("\nscore per folder (killed / mutants that built; equivalent ones not counted)")
    for folder in sorted({folder_of(m) for m, _ in results}):
        rows = [(m, o) for m, o in results if folder_of(m) == folder and o != "stillborn" and "equivalent" not in m]
        killed = sum(o == "killed" for _, o in rows)
        print(f"  {folder:12} {killed:3d} / {len(rows):3d}" + (f"  ({100 * killed / len(rows):.0f}%)" if rows else ""))
    survivors = [m for m, o in results if o == "survived"]
    if survivors:
        print("\nsurvivors:")
        for m in survivors:
            note = f"  [equivalent: {m['equivalent']}]" if "equivalent" in m else ""
            print(f"  {m['id']:32} {m['file']}: {m['what']}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
