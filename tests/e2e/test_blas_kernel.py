"""The BLAS kernels a build ran are named by --timings and in the store's
provenance, and a user's OPENBLAS_CORETYPE is obeyed, not overridden."""
import os
import subprocess

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
WEIGHTS = os.path.join(os.path.dirname(__file__), "..", "fixtures", "bqml", "bqml-weights.ndjson")


def build(tmp_path, coretype=None):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    store = tmp_path / "s.mfkv"
    p = subprocess.run([MFKV, "build", "--weights", WEIGHTS, "-o", store, "--timings", "-q"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    blas = [line.split(": ", 2)[2] for line in p.stderr.splitlines() if line.startswith("mfkv: blas: ")]
    assert len(blas) == 1, p.stderr
    info = subprocess.run([MFKV, "info", "-s", store], capture_output=True, text=True, check=True).stdout
    return blas[0], info


def test_timings_and_provenance_name_the_kernel(tmp_path):
    blas, info = build(tmp_path)
    assert blas.startswith("OpenBLAS ")
    assert f"blas={blas}" in info


def test_openblas_coretype_set_by_the_user_is_obeyed(tmp_path):
    blas, info = build(tmp_path, "Nehalem")
    assert " Nehalem " in blas
    assert f"blas={blas}" in info
