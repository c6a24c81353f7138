"""The container image's runtime files, built by the script the Dockerfile
calls (tools/runtime-files.sh), tested without a container engine: the
files alone, chrooted as the image's non-root user in a private network
namespace, serve the reference request on $PORT.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from test_serve import MFKV, MOVIES, WEIGHTS_A, build, cli_predict
from test_serve_deploy import LOOPBACK_UP, can_unshare_network

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def runtime_files(dest):
    r = subprocess.run([os.path.join(ROOT, "tools", "runtime-files.sh"), str(dest), MFKV],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_dockerfile_uses_the_script_and_a_bare_non_root_runtime():
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert stages == ["debian:12-slim", "scratch"]  # multi-stage: nothing but /runtime in the image
    assert "./tools/setup.sh" in text and "tools/runtime-files.sh /runtime" in text
    assert "COPY --from=build /runtime /" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert '"--model-base-path", "/models/recommender_model"' in text


def test_runtime_file_list(tmp_path):
    files = runtime_files(tmp_path / "rt")
    assert "/usr/local/bin/mfkv" in files
    libs = {os.path.basename(f) for f in files if ".so" in f}
    for needed in ("libc.so.6", "libhttp_parser.so.2.9", "liblmdb.so.0", "libxxhash.so.0", "libjansson.so.4"):
        assert needed in libs, files
    assert any(re.match(r"/lib\S*/ld-linux", f) for f in files), files
    # Nothing but the binary, libraries, the loader and the user database.
    assert all(f == "/usr/local/bin/mfkv" or ".so" in f or f in ("/etc/passwd", "/etc/group") for f in files)
    assert "mfkv:x:10001:" in (tmp_path / "rt" / "etc" / "passwd").read_text()


IN_IMAGE = LOOPBACK_UP + textwrap.dedent(r"""
    import http.client, json, os, signal, subprocess, sys, time
    root = sys.argv[1]
    env = {"PORT": "8080", "AIP_HEALTH_ROUTE": "/health", "PATH": os.environ["PATH"]}
    p = subprocess.Popen(["chroot", "--userspec=10001:10001", root, "/usr/local/bin/mfkv", "serve",
                          "--model-base-path", "/models/recommender_model"],
                         env=env, stderr=subprocess.PIPE, text=True)
    line = ""
    while " on http://" not in line and p.poll() is None:
        line = p.stderr.readline()
    out = {"log": line}
    c = http.client.HTTPConnection("127.0.0.1", 8080, timeout=10)
    c.request("POST", "/v1/models/recommender_model:predict", body='{"instances":[{"user_id":1}]}')
    r = c.getresponse()
    out["predict"] = [r.status, r.read().decode()]
    c.request("GET", "/health")
    r = c.getresponse()
    out["health"] = [r.status, r.read().decode()]
    p.send_signal(signal.SIGTERM)
    out["rc"] = p.wait(timeout=15)
    print(json.dumps(out))
""")


def test_runtime_files_alone_serve_as_the_image_does(tmp_path):
    if not can_unshare_network() or not shutil.which("chroot"):
        pytest.skip("needs root: unshare -n and chroot")
    root = tmp_path / "rt"
    runtime_files(root)
    versions = root / "models" / "recommender_model"
    versions.mkdir(parents=True)
    shutil.copyfile(build(tmp_path, "a.store", WEIGHTS_A, "--titles", MOVIES), versions / "1.mfkv")
    r = subprocess.run(["unshare", "-n", sys.executable, "-c", IN_IMAGE, str(root)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "on http://0.0.0.0:8080/" in out["log"], out
    assert out["predict"][0] == 200
    assert out["predict"][1].encode() == cli_predict(str(versions / "1.mfkv"), "1")
    assert out["health"] == [200, "ready\n"]
    assert out["rc"] == 0
