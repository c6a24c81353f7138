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
