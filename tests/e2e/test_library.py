"""libmfkv as installed by `zig build`: the README's example program, compiled
with `pkg-config mfkv` against the installed header and library (shared and
static), reads the pinned store and prints user 1's list, which must equal
the brute force of test_format_pinned.
"""
import os
import shutil
import subprocess

import pytest

from test_format_pinned import FIXTURES, Inputs

from mfkv_util import MFKV
PREFIX = os.path.dirname(os.path.dirname(os.path.abspath(MFKV)))

# The README's library example, whole.
EXAMPLE = r"""
#include <stdio.h>
#include <mfkv.h>

int main(int argc, char **argv)
{
    mfkv_store *st;
    int rc = mfkv_open(argv[1], 0, &st);
    if (rc) {
        fprintf(stderr, "%s\n", mfkv_strerror(rc));
        return rc;
    }
    mfkv_list list;
    if (mfkv_get(st, "1", 1, &list) == MFKV_OK)
        for (uint32_t i = 0; i < list.count; i++) {
            mfkv_item_info item;
            mfkv_item(st, mfkv_list_item_index(&list, i), &item);
            printf("%.*s %.9g\n", (int)item.id_len, item.id, mfkv_list_score(&list, i));
        }
    mfkv_close(st);
    return 0;
}
"""


def pkg_config(*args):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(PREFIX, "lib", "pkgconfig"))
    return subprocess.run(["pkg-config", *args, "mfkv"], env=env, check=True, capture_output=True,
                          text=True).stdout.split()


@pytest.mark.skipif(not os.path.exists(os.path.join(PREFIX, "lib", "pkgconfig", "mfkv.pc")),
                    reason="no installed libmfkv next to MFKV_BIN")
@pytest.mark.parametrize("link", ["shared", "static"])
def test_readme_example_links_and_reads_the_store(tmp_path, link):
    cc = shutil.which("gcc") or shutil.which("cc")
    (tmp_path / "example.c").write_text(EXAMPLE)
    if link == "shared":
        libs = pkg_config("--libs") + [f"-Wl,-rpath,{os.path.join(PREFIX, 'lib')}"]
    else:
        # Only the static library: the linker must not pick the shared one.
        libs = [os.path.join(PREFIX, "lib", "libmfkv.a")] + [
            f for f in pkg_config("--static", "--libs") if f not in ("-lmfkv",) and not f.startswith("-L")]
    subprocess.run([cc, "-std=c17", "-Wall", "-Werror", *pkg_config("--cflags"), str(tmp_path / "example.c"),
                    "-o", str(tmp_path / "example"), *libs], check=True)
    folder = os.path.join(FIXTURES, "format-v1")
    out = subprocess.run([tmp_path / "example", os.path.join(folder, "store.mfkv")], check=True,
                         capture_output=True, text=True).stdout.split("\n")
    got = [(line.split()[0], float(line.split()[1])) for line in out if line]
    assert got == Inputs(folder).topk("1")
    missing = subprocess.run([tmp_path / "example", str(tmp_path / "none.mfkv")], capture_output=True, text=True)
    assert missing.returncode != 0 and missing.stderr.strip()
