#!/usr/bin/env python3
"""Download a MovieLens archive from GroupLens, check it, and unpack it.

    python3 tools/fetch_movielens.py ml-latest-small
    python3 tools/fetch_movielens.py ml-1m --sha256 HEX

The archive's SHA-256 must match --sha256, or else the pin for it in
tools/movielens.sha256.  With neither, the download is refused unless
--record is given: then the checksum of this download is trusted and written
to the pin file (commit it), so every later download is held to it.

The files land in data/movielens/NAME/ (git-ignored; MovieLens data must
never be committed).  On any failure (network, checksum, bad archive) nothing
is left behind.  Pure standard library.

Exit codes: 0 done (or already there), 1 download/check/unpack failed,
2 bad command line or no checksum to check against.
"""
import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile

NAMES = ("ml-latest-small", "ml-1m")
DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PINS = os.path.join(HERE, "movielens.sha256")
DEFAULT_DEST = os.path.join(HERE, "..", "data", "movielens")


class FetchError(Exception):
    pass


def read_pins(path):
    pins = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    digest, name = line.split(None, 1)
                    pins[name.lstrip("*")] = digest.lower()
    return pins


def download(url, path):
    """Stream @url to @path; return the SHA-256 of what was written."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(path, "wb") as out:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                out.write(chunk)
    except OSError as e:  # URLError and HTTPError are OSErrors
        raise FetchError(f"download of {url} failed: {e}") from e
    return h.hexdigest()


def extract(archive, into):
    """Unpack @archive under @into, refusing members that would land outside."""
    root = os.path.realpath(into)
    try:
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                target = os.path.realpath(os.path.join(root, member))
                if os.path.commonpath([root, target]) != root:
                    raise FetchError(f"archive member {member!r} points outside the folder")
            z.extractall(root)
    except zipfile.BadZipFile as e:
        raise FetchError(f"not a valid zip archive: {e}") from e


def fetch(name, base_url, dest_root, expected, record_to):
    final = os.path.join(dest_root, name)
    created_root = not os.path.isdir(dest_root)
    os.makedirs(dest_root, exist_ok=True)
    # Work next to the destination so the final step is one rename.
    work = tempfile.mkdtemp(prefix=f".{name}-", dir=dest_root)
    done = False
    try:
        archive = os.path.join(work, f"{name}.zip")
        url = f"{base_url.rstrip('/')}/{name}.zip"
        got = download(url, archive)
        if expected is not None and got != expected:
            raise FetchError(f"checksum mismatch for {name}.zip: got {got}, expected {expected}")
        unpacked = os.path.join(work, "unpacked")
        extract(archive, unpacked)
        # GroupLens archives hold one folder named like the archive.
        inner = os.path.join(unpacked, name)
        if os.path.exists(final):  # --force: the old copy goes only once the new one is good
            os.replace(final, os.path.join(work, "old"))
        os.replace(inner if os.path.isdir(inner) else unpacked, final)
        done = True
        if record_to:
            with open(record_to, "a", encoding="utf-8") as f:
                f.write(f"{got}  {name}.zip\n")
            print(f"recorded sha256 {got} for {name}.zip in {record_to}", file=sys.stderr)
        return got
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if created_root and not done:
            os.rmdir(dest_root)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("name", choices=NAMES)
    ap.add_argument("--base-url", default=DEFAULT_BASE_URL,
                    help="where NAME.zip is fetched from (default: %(default)s)")
    ap.add_argument("--dest", default=DEFAULT_DEST,
                    help="folder that receives NAME/ (default: data/movielens)")
    ap.add_argument("--sha256", help="expected SHA-256 of NAME.zip (overrides the pin)")
    ap.add_argument("--pins", default=DEFAULT_PINS,
                    help="pin file in sha256sum format (default: tools/movielens.sha256)")
    ap.add_argument("--record", action="store_true",
                    help="no pin yet: trust this download and add its checksum to the pin file")
    ap.add_argument("--force", action="store_true", help="replace an existing NAME/ folder")
    args = ap.parse_args(argv)

    pins = read_pins(args.pins)
    expected = (args.sha256 or pins.get(f"{args.name}.zip") or "").lower() or None
    if expected is not None and (len(expected) != 64 or
                                 any(c not in "0123456789abcdef" for c in expected)):
        ap.error(f"--sha256 must be 64 hex digits, not {expected!r}")
    if expected is None and not args.record:
        print(f"fetch_movielens: no checksum for {args.name}.zip in {args.pins}; pass --sha256, "
              "or --record to trust this download and pin it", file=sys.stderr)
        return 2
    final = os.path.join(args.dest, args.name)
    if os.path.exists(final) and not args.force:
        print(f"{final} already exists (use --force to replace it)", file=sys.stderr)
        return 0
    try:
        got = fetch(args.name, args.base_url, args.dest, expected,
                    args.pins if expected is None else None)
    except (FetchError, OSError) as e:
        print(f"fetch_movielens: {e}", file=sys.stderr)
        return 1
    print(f"{args.name}: sha256 {got}, unpacked into {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
