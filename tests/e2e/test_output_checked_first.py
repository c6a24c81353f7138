"""train, build, weights and recommend check where they will write, and
train its options, before reading any input: a missing output folder or a
bad --holdout fails at once, not after the work."""
import os
import subprocess

import pytest

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
RATINGS = os.path.join(FIXTURES, "ratings", "ml1m_ratings.dat")


def run(*args):
    return subprocess.run([MFKV, *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.mfkvm"
    p = run("train", RATINGS, "-o", path, "-q", "--factors", "2", "--iterations", "2")
    assert p.returncode == 0, p.stderr
    return path


# The input named never exists: had it been read first, the error would name it.
COMMANDS = {
    "train": lambda out, missing: ["train", missing, "-o", out],
    "build": lambda out, missing: ["build", "--weights", missing, "-o", out],
    "weights": lambda out, missing: ["weights", missing, "--format", "npy", "-o", out],
    "recommend": lambda out, missing: ["recommend", missing, "-o", out],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_missing_output_folder_fails_before_reading(tmp_path, command):
    out = tmp_path / "no-such-folder" / "out"
    p = run(*COMMANDS[command](out, tmp_path / "no-such-input"))
    assert p.returncode == 3, p.stderr
    assert f"{out}: cannot write there: folder {tmp_path / 'no-such-folder'}" in p.stderr
    assert "no-such-input" not in p.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_output_under_a_file_fails_before_reading(tmp_path, command):
    (tmp_path / "plain").write_text("x")
    out = tmp_path / "plain" / "out"
    p = run(*COMMANDS[command](out, tmp_path / "no-such-input"))
    assert p.returncode == 3, p.stderr
    assert f"{tmp_path / 'plain'} is not a folder" in p.stderr


def test_bad_holdout_is_a_usage_error_before_reading(tmp_path):
    p = run("train", tmp_path / "no-such-input", "-o", tmp_path / "m.mfkvm", "--holdout", "1.5")
    assert p.returncode == 2, p.stderr
    assert "holdout: must be in [0, 1), got 1.5" in p.stderr
    assert "no-such-input" not in p.stderr


def test_output_in_the_current_folder_is_fine(tmp_path, model):
    p = subprocess.run([os.path.abspath(MFKV), "recommend", model, "-o", "r.csv"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "r.csv").read_text().count("\n") > 1
