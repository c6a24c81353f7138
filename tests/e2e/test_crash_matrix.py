"""Crash matrix: SIGKILL `mfkv build` and `mfkv train` at random moments while
an older output exists at the target.  After every kill the target must be
the old complete file or the new complete file, never anything else; after
the next successful run no temporary file (".<name>.tmp.*") may remain.

The model is sized so that one build takes a fraction of a second.  Half the
kill delays are spread from 0 to a little past one full run, so kills land
before, during and after the write.  The other half run with the test-only
pause MFKV_TEST_PAUSE_BEFORE_RENAME_MS (src/common/atomic_file.c) and are
killed after the run's temporary appeared: those kills are certain to land
inside the write phase, and the test asserts that they did (a temporary was
left behind and the target is still the old file).  The counts are printed
(pytest -s).
"""
import glob
import hashlib
import os
import random
import signal
import subprocess
import time

from npy_util import write_npy_model

MFKV = os.environ.get("MFKV_BIN", "zig-out/bin/mfkv")
KILLS = 50
ENV = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
# Far longer than a write phase: a kill after the temporary appears lands
# before the rename.
PAUSED = dict(ENV, MFKV_TEST_PAUSE_BEFORE_RENAME_MS="5000")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(*args):
    p = subprocess.run([MFKV, *map(str, args)], capture_output=True, text=True, env=ENV)
    assert p.returncode == 0, f"mfkv {args} exited {p.returncode}: {p.stderr}"
    return p


def put_back(path, content):
    """Publish `content` at `path` atomically, as the old file."""
    tmp = path + ".restore"
    with open(tmp, "wb") as f:
        f.write(content)
    os.replace(tmp, path)


def temporaries(path):
    folder, name = os.path.split(path)
    return glob.glob(os.path.join(folder, f".{name}.tmp.*"))


def calibrate(cmd, target):
    """Run `cmd` once to the end, watching for its temporary: returns (seconds
    until the temporary appeared, seconds until the run ended)."""
    start = time.monotonic()
    p = subprocess.Popen([MFKV, *map(str, cmd)], env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    appeared = None
    while p.poll() is None:
        if appeared is None and temporaries(target):
            appeared = time.monotonic() - start
        time.sleep(0.002)
    end = time.monotonic() - start
    assert p.returncode == 0
    return (appeared if appeared is not None else end), end


def kill_matrix(cmd, target, old_bytes, judge, seed):
    """Run `cmd` KILLS times, SIGKILLed after a random delay; after each kill
    call judge(target) -> "old" or "new".  Half the delays are spread over the
    whole run and a bit past it; the other half run paused before the rename,
    start when the run's temporary appears and spread over the write phase
    (as long as it was in a calibration run), so each of them lands inside
    it.  Returns the outcome counts and the calibration times."""
    rng = random.Random(seed)
    put_back(target, old_bytes)
    write_start, full = calibrate(cmd, target)
    counts = {"old": 0, "new": 0, "finished": 0, "mid_write": 0, "paused_mid_write": 0}
    for n in range(KILLS):
        put_back(target, old_bytes)
        before = set(temporaries(target))
        p = subprocess.Popen([MFKV, *map(str, cmd)], env=PAUSED if n % 2 == 0 else ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        if n % 2:
            time.sleep(rng.uniform(0, 1.2 * full))
        else:
            # Wait for this run's temporary, then kill somewhere in the write.
            while p.poll() is None and not set(temporaries(target)) - before:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, full - write_start))
        p.send_signal(signal.SIGKILL)
        if p.wait() == 0:
            counts["finished"] += 1
        # A temporary the killed run left behind: the kill landed mid-write.
        mid_write = bool(set(temporaries(target)) - before)
        counts["mid_write"] += mid_write
        outcome = judge(target)
        counts[outcome] += 1
        if n % 2 == 0:
            assert mid_write and outcome == "old", f"kill {n} (paused) did not land inside the write phase"
            counts["paused_mid_write"] += 1
    return counts, write_start, full


def test_killed_build_leaves_old_or_new_store(tmp_path):
    rng = random.Random(11)
    write_npy_model(tmp_path / "old", 30000, 2000, 16, rng)
    write_npy_model(tmp_path / "new", 30000, 2000, 16, rng)
    target = str(tmp_path / "recs.mfkv")
    build_new = ["build", "--npy", tmp_path / "new", "-o", target, "-k", 20, "-q"]
    run(*build_new)
    new_sha = sha(target)
    run("build", "--npy", tmp_path / "old", "-o", target, "-k", 20, "-q")
    old_sha = sha(target)
    with open(target, "rb") as f:
        old_bytes = f.read()
    assert old_sha != new_sha

    def judge(path):
        verify = subprocess.run([MFKV, "verify", "-q", "-s", path])
        assert verify.returncode == 0, "the store at the target does not verify"
        digest = sha(path)
        assert digest in (old_sha, new_sha), "the target is neither the old nor the new store"
        return "old" if digest == old_sha else "new"

    counts, write_start, full = kill_matrix(build_new, target, old_bytes, judge, seed=1)
    assert counts["paused_mid_write"] == KILLS // 2 and counts["mid_write"] >= KILLS // 2
    left = len(temporaries(target))
    run(*build_new)
    assert sha(target) == new_sha
    assert temporaries(target) == []
    print(f"\nbuild kill matrix: {KILLS} kill points over 0..{1.2 * full:.2f}s "
          f"(write phase from {write_start:.2f}s): "
          f"{counts['old']} old, {counts['new']} new ({counts['finished']} finished first), "
          f"{counts['mid_write']} mid-write, stores lost = 0, "
          f"{left} temporaries left before the next build, 0 after")


def write_ratings(path, users, items, rng):
    with open(path, "w") as f:
        f.write("userId,movieId,rating,timestamp\n")
        for u in range(users):
            for i in rng.sample(range(items), 40):
                f.write(f"{u},{i},{rng.randint(1, 10) / 2},0\n")


def test_killed_train_leaves_old_or_new_model(tmp_path):
    write_ratings(tmp_path / "ratings.csv", 6000, 800, random.Random(3))
    model = str(tmp_path / "m.mfkvm")
    common = [tmp_path / "ratings.csv", "-o", model, "--iterations", 4, "--no-early-stop", "-q"]
    train_new = ["train", *common, "--factors", 8, "--seed", 2]

    def weights(path, out):
        run("weights", path, "--format", "ndjson", "-o", out)
        return sha(out)

    run(*train_new)
    new_weights = weights(model, tmp_path / "new.ndjson")
    run("train", *common, "--factors", 4, "--seed", 1)
    old_weights = weights(model, tmp_path / "old.ndjson")
    with open(model, "rb") as f:
        old_bytes = f.read()
    assert old_weights != new_weights

    def judge(path):
        # Reading it back whole: the model file checksum covers every byte.
        w = weights(path, tmp_path / "check.ndjson")
        assert w in (old_weights, new_weights), "the model is neither the old nor the new one"
        return "old" if w == old_weights else "new"

    counts, write_start, full = kill_matrix(train_new, model, old_bytes, judge, seed=2)
    assert counts["paused_mid_write"] == KILLS // 2 and counts["mid_write"] >= KILLS // 2
    left = len(temporaries(model))
    run(*train_new)
    assert weights(model, tmp_path / "final.ndjson") == new_weights
    assert temporaries(model) == []
    print(f"\ntrain kill matrix: {KILLS} kill points over 0..{1.2 * full:.2f}s "
          f"(write phase from {write_start:.2f}s): "
          f"{counts['old']} old, {counts['new']} new ({counts['finished']} finished first), "
          f"{counts['mid_write']} mid-write, models lost = 0, "
          f"{left} temporaries left before the next run, 0 after")
