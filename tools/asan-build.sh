#!/bin/sh
# Build every unit test with gcc's AddressSanitizer and UBSan into
# zig-out-asan/tests: Zig's build has no ASan switch, so this is the second
# compiler.  Same sources and flags as build.zig, minus the CLI.
set -eu
cd "$(dirname "$0")/.."
out=zig-out-asan
mkdir -p "$out/obj" "$out/tests"
CFLAGS="-std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread"
LIBS="-llmdb -lxxhash -lopenblas -ljansson -lsimdjson -lcsv -lmicrohttpd -lcmocka -lm -lpthread -lstdc++"
objs=""
# The C++ files (build.zig compiles them with g++ too), sanitized alike.
for src in src/io/*.cpp; do
    obj="$out/obj/$(echo "$src" | tr / _).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src -name '*.h' -newer "$obj" | head -1)" ]; then
        g++ -std=c++17 -g -O1 -fno-exceptions -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -Isrc -c "$src" -o "$obj"
    fi
    objs="$objs $obj"
done
for src in src/reader/*.c src/common/*.c src/io/*.c src/builder/*.c src/train/*.c src/render/*.c src/serve/*.c; do
    [ -f "$src" ] || continue
    obj="$out/obj/$(echo "$src" | tr / _).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src -name '*.h' -newer "$obj" | head -1)" ]; then
        gcc $CFLAGS -c "$src" -o "$obj"
    fi
    objs="$objs $obj"
done
for t in tests/unit/test_*.c; do
    gcc $CFLAGS "$t" $objs $LIBS -o "$out/tests/$(basename "$t" .c)"
done
