#!/bin/sh
# Assemble the files `mfkv serve` needs at run time, and nothing else, into
# DEST (the Dockerfile's runtime stage copies DEST to / of an empty image):
#
#   tools/runtime-files.sh DEST [BINARY]     BINARY defaults to zig-out/bin/mfkv
#
#   DEST/usr/local/bin/mfkv                  the binary
#   DEST/<ELF interpreter path>              e.g. /lib64/ld-linux-x86-64.so.2
#   DEST/<libc's directory>/<soname>         every shared library of its closure (ldd),
#                                            symlinks resolved, in one directory the
#                                            loader searches without ld.so.cache
#   DEST/etc/passwd, DEST/etc/group          the non-root user mfkv (10001)
#   DEST/models/                             where stores are mounted or baked in
#
# Prints the files written, relative to DEST, sorted; exit 1 if a library is
# missing.  tests/e2e/test_serve_image.py runs `mfkv serve` chrooted into DEST.
set -eu
[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
dest=$1
binary=${2:-zig-out/bin/mfkv}
[ -x "$binary" ] || { echo "runtime-files: $binary: not an executable" >&2; exit 1; }

ldd_out=$(ldd "$binary")
if echo "$ldd_out" | grep -q "not found"; then
    echo "runtime-files: missing libraries:" >&2
    echo "$ldd_out" | grep "not found" >&2
    exit 1
fi
# "name => /path (addr)" lines are libraries; the interpreter is the line
# with an absolute path and no "=>".
libs=$(echo "$ldd_out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
interp=$(echo "$ldd_out" | awk '$1 ~ /^\// && $2 !~ /=>/ { print $1 }')
libc=$(echo "$libs" | grep '/libc\.so\.' | head -n 1)
[ -n "$interp" ] && [ -n "$libc" ] || { echo "runtime-files: cannot find the loader or libc in ldd's output" >&2; exit 1; }
libdir=$(dirname "$libc")

mkdir -p "$dest/usr/local/bin" "$dest$libdir" "$dest$(dirname "$interp")" "$dest/etc" "$dest/models"
cp "$binary" "$dest/usr/local/bin/mfkv"
cp -L "$interp" "$dest$interp"
for lib in $libs; do
    cp -L "$lib" "$dest$libdir/$(basename "$lib")"
done
printf 'root:x:0:0:root:/:/usr/sbin/nologin\nmfkv:x:10001:10001:mfkv:/models:/usr/sbin/nologin\n' > "$dest/etc/passwd"
printf 'root:x:0:\nmfkv:x:10001:\n' > "$dest/etc/group"
(cd "$dest" && find . -type f | sed 's|^\./|/|' | sort)
