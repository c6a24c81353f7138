"""Bad-input corpus at the CLI: every file under tests/bad-inputs/<parser>/
goes through the mfkv command that reads that kind of input, and must give
what its .expect file says.

<case>.expect holds one line per command that reads the case (a line without
"COMMAND:" applies to all of them):
    [COMMAND:] accept                   exit 0 and the output written
    [COMMAND:] error SUBSTRING          exit status not 0, SUBSTRING in the
                                        message, no output file (nor temporary)
COMMAND is the key of COMMANDS below: weights, users, npy, train,
exclude_seen, titles.  In a case file the marker @@1MB@@ stands for a
1 MiB run of "x" (kept out of the repository), which makes a 1 MB line.
"""
import os
import subprocess

import pytest

from npy_util import npy_bytes

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bad-inputs")
LONG_MARKER = b"@@1MB@@"

# The valid companions each command needs: a model with users 1, 2 and items
# 10, 20 (2 factors) in every input form.
WEIGHTS = "\n".join([
    '{"processed_input": null, "feature": "global__INTERCEPT__", "factor_weights": null, "intercept": 3.5}',
    '{"processed_input": "user_id", "feature": "1", "factor_weights": [{"factor": 1, "weight": 0.1}, {"factor": 2, "weight": 0.2}], "intercept": 0.1}',
    '{"processed_input": "user_id", "feature": "2", "factor_weights": [{"factor": 1, "weight": 0.3}, {"factor": 2, "weight": -0.2}], "intercept": -0.1}',
    '{"processed_input": "item_id", "feature": "10", "factor_weights": [{"factor": 1, "weight": 0.5}, {"factor": 2, "weight": 0.1}], "intercept": 0.2}',
    '{"processed_input": "item_id", "feature": "20", "factor_weights": [{"factor": 1, "weight": -0.5}, {"factor": 2, "weight": 0.4}], "intercept": 0.0}',
]) + "\n"
ITEMS_CSV = "item_id,bias,factor,weight\n10,0.2,1,0.5\n10,0.2,2,0.1\n20,0.0,1,-0.5\n20,0.0,2,0.4\n"


def valid_npy_folder(folder):
    os.makedirs(folder)
    files = {
        "user_factors.npy": npy_bytes([0.1, 0.2, 0.3, -0.2], (2, 2)),
        "item_factors.npy": npy_bytes([0.5, 0.1, -0.5, 0.4], (2, 2)),
        "user_ids.txt": b"1\n2\n",
        "item_ids.txt": b"10\n20\n",
    }
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


# The commands that read each kind of input.
COMMANDS = {
    "bqml_ndjson": ["weights"],
    "bqml_csv": ["users"],
    "npy": ["npy"],
    "ratings": ["train", "exclude_seen"],
    "movies": ["titles"],
}


def command(key, case, tmp):
    """(argv, output path) of command `key` reading the case file at `case`;
    its valid companions are written into `tmp`."""
    store = os.path.join(tmp, "out.mfkv")
    weights = os.path.join(tmp, "weights.ndjson")
    with open(weights, "w") as f:
        f.write(WEIGHTS)
    if key == "weights":
        return ["build", "--weights", case, "-o", store], store
    if key == "users":
        items = os.path.join(tmp, "items.csv")
        with open(items, "w") as f:
            f.write(ITEMS_CSV)
        return ["build", "--users", case, "--items", items, "--global-bias", "3.5", "-o", store], store
    if key == "npy":
        # The case replaces one file of a valid folder: user_factors.npy or user_ids.txt.
        folder = os.path.join(tmp, "npy")
        valid_npy_folder(folder)
        os.replace(case, os.path.join(folder, "user_factors.npy" if case.endswith(".npy") else "user_ids.txt"))
        return ["build", "--npy", folder, "-o", store], store
    if key == "train":
        model = os.path.join(tmp, "model.mfkvm")
        return ["train", case, "-o", model, "--factors", "2", "--iterations", "1", "-q"], model
    if key == "exclude_seen":
        return ["build", "--weights", weights, "--exclude-seen", case, "-o", store], store
    if key == "titles":
        return ["build", "--weights", weights, "--titles", case, "-o", store], store
    raise AssertionError(f"no command {key}")


def expectations(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            key, sep, rest = line.partition(": ")
            if not sep or " " in key:
                key, rest = "*", line
            verdict, _, substring = rest.partition(" ")
            assert verdict in ("accept", "error"), f"{path}: bad line {line!r}"
            out[key] = (verdict, substring)
    return out


def cases():
    for parser in sorted(os.listdir(CORPUS)):
        folder = os.path.join(CORPUS, parser)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".expect"):
                yield pytest.param(parser, name, id=f"{parser}/{name}")


@pytest.mark.parametrize("parser,name", list(cases()))
def test_bad_input(parser, name, tmp_path):
    src = os.path.join(CORPUS, parser, name)
    expect_file = os.path.join(CORPUS, parser, os.path.splitext(name)[0] + ".expect")
    assert os.path.exists(expect_file), f"{expect_file} is missing"
    expected = expectations(expect_file)
    with open(src, "rb") as f:
        data = f.read().replace(LONG_MARKER, b"x" * (1 << 20))
    for key in COMMANDS[parser]:
        verdict, substring = expected.get(key) or expected.get("*") or (None, None)
        assert verdict, f"{expect_file}: no expectation for command {key}"
        run_dir = tmp_path / key
        run_dir.mkdir()
        case = str(run_dir / name)
        with open(case, "wb") as f:
            f.write(data)
        argv, output = command(key, case, str(run_dir))
        p = subprocess.run([MFKV, *argv], capture_output=True, text=True, errors="replace")
        if verdict == "accept":
            assert p.returncode == 0, f"{key}: expected acceptance, got {p.returncode}: {p.stderr}"
            assert os.path.exists(output)
        else:
            assert p.returncode != 0, f"{key}: expected an error, but it exited 0"
            assert substring in p.stderr, f"{key}: expected {substring!r} in: {p.stderr}"
            assert not os.path.exists(output), f"{key}: output written despite the error"
            left = [n for n in os.listdir(run_dir) if ".tmp." in n]
            assert not left, f"{key}: temporaries left: {left}"
