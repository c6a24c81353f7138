"""The library as another program gets it: installed into a fresh prefix,
found through pkg-config alone, compiled with plain gcc outside the
repository, from the example program printed in README.md.

The example's output is checked against a top-K computed here from the
model's factors (test_core.Model), not against mfkv's own output.
"""
import os
import re
import shutil
import subprocess

import pytest

from test_core import Model, f32, run

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def readme_example():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"```c\n(.*?)```", text, re.S)
    assert m, "README.md has no ```c example"
    return m.group(1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`tools/zig build --prefix P`, then the tree moved elsewhere: nothing may
    point back into the build folder or at the first prefix."""
    base = tmp_path_factory.mktemp("install")
    first = base / "first"
    p = subprocess.run([os.path.join(ROOT, "tools", "zig"), "build", "--prefix", str(first)],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    moved = base / "moved"
    shutil.move(str(first), str(moved))
    return moved


def pkg_config(prefix, *args):
    # Only the variables a user would set: the .pc folder, nothing else.
    env = {"PATH": os.environ["PATH"], "PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")}
    p = subprocess.run(["pkg-config", *args, "mfkv"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("store")
    model = Model(users=12, items=40, k=5, seed=5)
    model.write_ndjson(d / "w.ndjson")
    run("build", "--weights", d / "w.ndjson", "-k", 7, "-o", d / "s.mfkv", "-q")
    return model, d / "s.mfkv"


def compile_and_run(tmp_path, cmd_tail, store_path, user):
    src = tmp_path / "top.c"
    src.write_text(readme_example())
    exe = tmp_path / "top"
    p = subprocess.run(["gcc", "-std=c17", "-Wall", "-Werror", str(src), "-o", str(exe), *cmd_tail],
                       cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    # Run from outside the repository with a bare environment: the rpath (or
    # static linking) must be enough to find the library.
    return subprocess.run([str(exe), str(store_path), user], cwd=tmp_path, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin"})


def check_list(p, model, user):
    assert p.returncode == 0, p.stderr
    got = [(i, f32(float(s))) for i, s in (line.split("\t") for line in p.stdout.splitlines())]
    assert got == model.topk(user, 7)


def test_pc_file_is_relocatable(installed):
    flags = pkg_config(installed, "--cflags", "--libs")
    assert f"-I{installed}/lib/pkgconfig/../../include" in flags
    assert "-lmfkv" in flags
    assert not any("zig-out" in f for f in flags)


def test_readme_example_links_the_shared_library(installed, store, tmp_path):
    model, path = store
    tail = pkg_config(installed, "--cflags", "--libs")
    p = compile_and_run(tmp_path, tail, path, "4")
    check_list(p, model, "4")
    ldd = subprocess.run(["ldd", str(tmp_path / "top")], capture_output=True, text=True).stdout
    assert str(installed) in ldd and "libmfkv.so" in ldd


def test_readme_example_links_the_static_library(installed, store, tmp_path):
    model, path = store
    # The Debug library must not need Zig's UBSan runtime: plain gcc links it.
    deps = subprocess.run(["pkg-config", "--libs", "lmdb", "libxxhash"], capture_output=True,
                          text=True, check=True).stdout.split()
    tail = [*pkg_config(installed, "--cflags"), str(installed / "lib" / "libmfkv.a"), *deps, "-lpthread"]
    p = compile_and_run(tmp_path, tail, path, "10")
    check_list(p, model, "10")
    ldd = subprocess.run(["ldd", str(tmp_path / "top")], capture_output=True, text=True).stdout
    assert "libmfkv" not in ldd


def test_readme_example_reports_errors(installed, store, tmp_path):
    _, path = store
    p = compile_and_run(tmp_path, pkg_config(installed, "--cflags", "--libs"), path, "no-such-user")
    assert p.returncode == 1 and "no-such-user" in p.stderr
    p = compile_and_run(tmp_path, pkg_config(installed, "--cflags", "--libs"), tmp_path / "absent", "1")
    assert p.returncode == 3 and "absent" in p.stderr
