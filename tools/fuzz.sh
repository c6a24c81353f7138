#!/bin/sh
# Fuzz mfkv's parsers with libFuzzer, AddressSanitizer and UBSan (clang).
#
#   tools/fuzz.sh TARGET SECONDS     one target, e.g. tools/fuzz.sh npy 60
#   tools/fuzz.sh all SECONDS        every target in turn, SECONDS each
#   tools/fuzz.sh list               the target names
#
# Targets are tests/fuzz/fuzz_<target>.c; each run starts from the committed
# seeds in tests/fuzz/corpus/<target>/ and grows a working corpus in
# zig-out-fuzz/corpus/<target>/.  A crashing input is written to
# zig-out-fuzz/crashes/<target>/; copy it into tests/fuzz/corpus/<target>/
# once fixed, with its expected outcome in tests/unit/fuzz_seed_meanings.h,
# so the normal test suite (test_fuzz_replay) keeps replaying it.
# Prints a table: target, executions, crashes.  Exit status 1 if any crashed.
# Needs clang and its libFuzzer runtime: `tools/setup.sh --fuzz` installs
# Debian 12's clang-14 and libclang-rt-14-dev.  CC and CXX override the compilers.
set -eu
cd "$(dirname "$0")/.."

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
targets=$(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_||; s|\.c$||')
case "$1" in
list) echo "$targets"; exit 0 ;;
all) chosen=$targets ;;
*) echo "$targets" | grep -qx "$1" || { echo "fuzz.sh: unknown target '$1' (try: fuzz.sh list)" >&2; exit 2; }
   chosen=$1 ;;
esac
[ $# -eq 2 ] || usage
seconds=$2
if [ -z "${CC:-}" ]; then
    CC=$(command -v clang || command -v clang-14 || true)
    [ -n "$CC" ] || { echo "fuzz.sh: clang not found: run tools/setup.sh --fuzz" >&2; exit 2; }
fi
# clang-14 -> clang++-14; CXX overrides.
CXX=${CXX:-$(echo "$CC" | sed 's/clang/clang++/')}
[ -f "$($CC -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a" ] ||
    { echo "fuzz.sh: $CC has no libFuzzer runtime: run tools/setup.sh --fuzz (libclang-rt-14-dev)" >&2; exit 2; }
out=zig-out-fuzz

# Product code is instrumented for coverage; the libFuzzer main is linked once
# per target.  The same sources as build.zig's reader and core libraries,
# the server's included (serve_request).
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
# The C flags of every build (build-flags.txt), plus this one's mode.
CFLAGS="$(sed -n 's/^c: //p' build-flags.txt) -g -O1 -fno-omit-frame-pointer $SAN -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread"
LIBS="-llmdb -lxxhash -lopenblas -ljansson -lsimdjson -lcsv -lhttp_parser -lm -lpthread -lstdc++"
mkdir -p "$out/obj" "$out/bin"
objs=""
# The C++ files behind C interfaces (fmt in src/common, simdjson and
# fast_float in src/io), with the C++ flags of every build.
for src in src/common/*.cpp src/io/*.cpp; do
    obj="$out/obj/$(echo "$src" | tr / _).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ build-flags.txt -nt "$obj" ] || [ -n "$(find src -name '*.h' -newer "$obj" | head -1)" ]; then
        $CXX $(sed -n 's/^cxx: //p' build-flags.txt) -g -O1 -fno-omit-frame-pointer $SAN \
            -fsanitize=fuzzer-no-link -Isrc -c "$src" -o "$obj"
    fi
    objs="$objs $obj"
done
for src in src/reader/*.c src/common/*.c src/io/*.c src/builder/*.c src/train/*.c src/render/*.c src/serve/*.c; do
    obj="$out/obj/$(echo "$src" | tr / _).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ build-flags.txt -nt "$obj" ] || [ -n "$(find src -name '*.h' -newer "$obj" | head -1)" ]; then
        $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    fi
    objs="$objs $obj"
done

failed=0
results=""
for t in $chosen; do
    bin="$out/bin/fuzz_$t"
    # Linked by the C++ driver, for UBSan's C++ runtime (the src/io objects).
    $CXX -x c $CFLAGS -fsanitize=fuzzer -DFUZZ_TARGET_FN="fuzz_${t}_one" \
        "tests/fuzz/fuzz_$t.c" tests/fuzz/libfuzzer_entry.c -x none $objs $LIBS -o "$bin"
    mkdir -p "$out/corpus/$t" "$out/crashes/$t"
    log="$out/fuzz_$t.log"
    echo "== fuzzing $t for ${seconds}s (log: $log)" >&2
    before=$(ls "$out/crashes/$t" | wc -l)
    # Exit status 1 is a crash or leak; it is counted from the artifacts.
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/crashes/$t/" "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || true
    crashes=$(( $(ls "$out/crashes/$t" | wc -l) - before ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    # A crash ends the run before the final stats: take the last status line.
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    [ "$crashes" -eq 0 ] || { failed=1; grep -m1 -A12 'ERROR:\|runtime error' "$log" >&2 || true; }
    results="$results$(printf '%-14s %12s %8s' "$t" "${execs:-0}" "$crashes")
"
done
printf '%-14s %12s %8s\n' target executions crashes
printf '%s' "$results"
exit $failed
