#!/bin/sh
# Fuzz `mfkv serve` request handling (tests/fuzz/fuzz_serve_request.c) with
# libFuzzer, AddressSanitizer and UBSan (clang and libclang-rt-14-dev).
#
#   tools/fuzz-serve.sh SECONDS
#
# Starts from the committed seeds in tests/fuzz/corpus/serve_request/ and grows
# a working corpus in zig-out-fuzz/corpus/serve_request/.  A crashing input is
# written to zig-out-fuzz/crashes/serve_request/; once fixed, copy it into
# tests/fuzz/corpus/serve_request/ so test_fuzz_serve_replay keeps replaying it.
# Prints executions and crashes; exit status 1 if it crashed.
# Standalone until tools/fuzz.sh (the parser targets) compiles src/serve too.
set -eu
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
seconds=$1
t=serve_request
CC=${CC:-clang}
out=zig-out-fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $SAN -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread"
LIBS="-llmdb -lxxhash -lopenblas -ljansson -lcsv -lmicrohttpd -lm -lpthread"
mkdir -p "$out/serve-obj" "$out/bin" "$out/corpus/$t" "$out/crashes/$t"
objs=""
for src in src/reader/*.c src/common/*.c src/io/*.c src/builder/*.c src/train/*.c src/serve/*.c; do
    obj="$out/serve-obj/$(echo "$src" | tr / _).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src -name '*.h' -newer "$obj" | head -1)" ]; then
        $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    fi
    objs="$objs $obj"
done
printf '#include <stddef.h>\n#include <stdint.h>\nint fuzz_%s_one(const uint8_t *, size_t);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return fuzz_%s_one(d, n); }\n' \
    "$t" "$t" >"$out/serve-obj/entry.c"
bin="$out/bin/fuzz_$t"
$CC $CFLAGS -fsanitize=fuzzer "tests/fuzz/fuzz_$t.c" "$out/serve-obj/entry.c" $objs $LIBS -o "$bin"
log="$out/fuzz_$t.log"
echo "== fuzzing $t for ${seconds}s (log: $log)" >&2
before=$(ls "$out/crashes/$t" | wc -l)
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -dict=tests/fuzz/serve_request.dict \
    -artifact_prefix="$out/crashes/$t/" "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || true
crashes=$(( $(ls "$out/crashes/$t" | wc -l) - before ))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
[ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
[ "$crashes" -eq 0 ] || grep -m1 -A12 'ERROR:\|runtime error\|abort' "$log" >&2 || true
printf '%-14s %12s %8s\n' target executions crashes
printf '%-14s %12s %8s\n' "$t" "${execs:-0}" "$crashes"
[ "$crashes" -eq 0 ]
