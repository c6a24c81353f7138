#!/usr/bin/env python3
"""Download a MovieLens archive from GroupLens, check it, and unpack it.

    python3 tools/fetch_movielens.py ml-latest-small
    python3 tools/fetch_movielens.py ml-1m --sha256 HEX

The archive's SHA-256 must match --sha256, or else the pin for it in
tools/movielens.sha256.  With neither, the MD5 that GroupLens publishes
beside each archive (NAME.zip.md5) is fetched first and the archive held to
it.  When that is missing too, the download is refused unless --record is
given: then this download is trusted and its SHA-256 written to the pin file
(commit it), so every later download is held to it.

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


def published_md5(url):
    """The MD5 in GroupLens's NAME.zip.md5 ("MD5 (NAME.zip) = HEX", or
    md5sum's "HEX  NAME.zip"), or None when there is none."""
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            text = resp.read(4096).decode("ascii", "replace")
    except OSError:
        return None
    for word in reversed(text.replace("=", " ").split()):
        if len(word) == 32 and all(c in "0123456789abcdef" for c in word.lower()):
            return word.lower()
    return None


def download(url, path):
    """Stream @url to @path; return the SHA-256 and MD5 of what was written."""
    h = hashlib.sha256()
    md5 = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(path, "wb") as out:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                md5.update(chunk)
                out.write(chunk)
    except OSError as e:  # URLError and HTTPError are OSErrors
        raise FetchError(f"download of {url} failed: {e}") from e
    return h.hexdigest(), md5.hexdigest()


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


def fetch(name, base_url, dest_root, expected, record_to, expected_md5=None):
    final = os.path.join(dest_root, name)
    created_root = not os.path.isdir(dest_root)
    os.makedirs(dest_root, exist_ok=True)
    # Work next to the destination so the final step is one rename.
    work = tempfile.mkdtemp(prefix=f".{name}-", dir=dest_root)
    done = False
    try:
        archive = os.path.join(work, f"{name}.zip")
        url = f"{base_url.rstrip('/')}/{name}.zip"
        got, got_md5 = download(url, archive)
        if expected is not None and got != expected:
            raise FetchError(f"checksum mismatch for {name}.zip: got {got}, expected {expected}")
        if expected_md5 is not None and got_md5 != expected_md5:
            raise FetchError(f"checksum mismatch for {name}.zip: MD5 {got_md5}, GroupLens publishes {expected_md5}")
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
    md5 = None
    if expected is None and not args.record:
        md5 = published_md5(f"{args.base_url.rstrip('/')}/{args.name}.zip.md5")
        if md5 is None:
            print(f"fetch_movielens: no checksum for {args.name}.zip: none pinned in {args.pins} and "
                  "no published .md5; pass --sha256, or --record to trust this download and pin it",
                  file=sys.stderr)
            return 2
    final = os.path.join(args.dest, args.name)
    if os.path.exists(final) and not args.force:
        print(f"{final} already exists (use --force to replace it)", file=sys.stderr)
        return 0
    try:
        got = fetch(args.name, args.base_url, args.dest, expected,
                    args.pins if expected is None and md5 is None else None, md5)
    except (FetchError, OSError) as e:
        print(f"fetch_movielens: {e}", file=sys.stderr)
        return 1
    print(f"{args.name}: sha256 {got}, unpacked into {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
