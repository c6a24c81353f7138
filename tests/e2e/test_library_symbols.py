"""libmfkv.so exports exactly the functions include/mfkv.h declares: the
builder's write side (sealing a store, the writer) and the reader's internal
helpers stay out of the shared library.

The expected set is read from the header's declarations here, not from the
library, so a symbol that leaks (or a declared one that goes missing) fails.
"""
import os
import re
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MFKV = os.environ.get("MFKV_BIN", os.path.join(ROOT, "zig-out", "bin", "mfkv"))


def declared_functions():
    text = open(os.path.join(ROOT, "include", "mfkv.h"), encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # comments name functions too
    text = re.sub(r"^\s*#.*$", "", text, flags=re.M)   # so do the macros
    # A declaration: a return type, the name, "(" ... ");" at file scope.
    return set(re.findall(r"^[A-Za-z_][\w \*]*?\b(mfkv_\w+)\s*\([^;{]*\)\s*;", text, flags=re.M))


def exported_functions(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True, check=True).stdout
    return {parts[2] for parts in (line.split() for line in out.splitlines())
            if len(parts) == 3 and parts[1] == "T"}


def test_shared_library_exports_only_the_public_header():
    lib = os.path.join(os.path.dirname(os.path.abspath(MFKV)), "..", "lib", "libmfkv.so")
    declared = declared_functions()
    assert {"mfkv_open", "mfkv_get", "mfkv_verify", "mfkv_iter_next"} <= declared  # the parse found them
    assert exported_functions(lib) == declared
