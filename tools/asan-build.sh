#!/bin/sh
# Build every unit test with gcc's AddressSanitizer and UBSan into
# zig-out-asan/tests: Zig's build has no ASan switch, so this is the second
# compiler.  Same sources and flags (build-flags.txt) as build.zig, minus the
# CLI.  Compiles and links on every CPU; only what changed is recompiled.
set -eu
cd "$(dirname "$0")/.."
out=zig-out-asan
mkdir -p "$out/obj" "$out/tests"
flags() { sed -n "s/^$1: //p" build-flags.txt; }
SAN="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
# gcc alone warns on `= {0}` initializers and on snprintf into fixed buffers,
# idioms the code uses on purpose; the other warnings are build.zig's.
GCC_ONLY="-Wno-missing-field-initializers -Wno-format-truncation"
CFLAGS="$(flags c) $GCC_ONLY $SAN -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread"
CXXFLAGS="$(flags cxx) $SAN -Isrc"
LIBS="-llmdb -lxxhash -lopenblas -ljansson -lsimdjson -lcsv -lhttp_parser -lcmocka -lm -lpthread -lstdc++"
export CFLAGS CXXFLAGS
jobs=$(nproc)
# Flags or a header newer than an object: recompile it.
stale() { [ ! -f "$2" ] || [ "$1" -nt "$2" ] || [ build-flags.txt -nt "$2" ] || [ -n "$(find src -name '*.h' -newer "$2" | head -1)" ]; }
objs="" todo=""
# The C++ files (build.zig compiles them with g++ too), sanitized alike.
for src in src/common/*.cpp src/io/*.cpp src/reader/*.c src/common/*.c src/io/*.c src/builder/*.c src/train/*.c src/render/*.c src/serve/*.c; do
    [ -f "$src" ] || continue
    obj="$out/obj/$(echo "$src" | tr / _).o"
    stale "$src" "$obj" && todo="$todo $src:$obj"
    objs="$objs $obj"
done
# xargs exits non-zero when any compile or link failed.
echo $todo | tr ' ' '\n' | grep . | xargs -r -P "$jobs" -I{} sh -c '
    src=${1%%:*} obj=${1#*:}
    case $src in *.cpp) exec g++ $CXXFLAGS -c "$src" -o "$obj" ;; *) exec gcc $CFLAGS -c "$src" -o "$obj" ;; esac' - {}
export objs LIBS out
ls tests/unit/test_*.c | xargs -P "$jobs" -I{} sh -c 'exec gcc $CFLAGS "$1" $objs $LIBS -o "$out/tests/$(basename "$1" .c)"' - {}
