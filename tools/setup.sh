#!/bin/sh
# Install whatever mfkv needs that is missing on a Debian 12 machine: the
# Debian packages below, and a virtual environment at .venv (so the system
# Python is left alone) with the pinned Zig, the test tools and the Python
# package.  It does not build: run `tools/zig build` next (the binary is then
# zig-out/bin/mfkv).  Idempotent: a second run installs nothing.  Run as root
# (or with sudo available).
#
# Opt-in extras, for the commands that need more than building and testing:
#   --fuzz   clang-14 and its libFuzzer/sanitizer runtimes (tools/fuzz.sh)
#   --bench  wrk, nginx, redis-server, hyperfine and the Python peers in
#            tools/requirements-bench.txt (tools/bench_*.py)
set -eu
cd "$(dirname "$0")/.."

EXTRA_APT=""
BENCH=0
for arg in "$@"; do
    case "$arg" in
    --fuzz) EXTRA_APT="$EXTRA_APT clang-14 libclang-rt-14-dev" ;;
    --bench) EXTRA_APT="$EXTRA_APT wrk nginx redis-server hyperfine"; BENCH=1 ;;
    *) echo "usage: tools/setup.sh [--fuzz] [--bench]" >&2; exit 2 ;;
    esac
done

APT_PACKAGES="gcc pkg-config python3 python3-venv python3-pip valgrind
  liblmdb-dev libxxhash-dev libopenblas-dev libjansson-dev libcsv-dev libhttp-parser-dev libcmocka-dev
  chromium ${MFKV_EXTRA_APT:-} $EXTRA_APT
  g++ libsimdjson-dev libfast-float-dev libfmt-dev"
# Java for the Spark job of the Python package (python/mfkv/spark.py); the JRE's
# postinst needs man1, which slim images lack.
APT_PACKAGES="$APT_PACKAGES openjdk-17-jre-headless"
mkdir -p /usr/share/man/man1 2>/dev/null || true

missing=""
for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    python3 -m venv .venv
fi
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -r tools/requirements.txt; then
    echo "setup: pip could not install tools/requirements.txt" >&2
    exit 1
fi
# The Python package (python/) and its Spark job: pinned numpy and pyspark
# (pip downloads nothing when the pins are already installed), then the
# package itself, editable so it finds this checkout's zig-out/lib.
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -r tools/requirements-python.txt; then
    echo "setup: pip could not install tools/requirements-python.txt" >&2
    exit 1
fi
if ! .venv/bin/python -c "import mfkv" 2>/dev/null; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ./python
fi
if [ "$BENCH" -eq 1 ] &&
    ! .venv/bin/python -m pip install -q --disable-pip-version-check -r tools/requirements-bench.txt; then
    echo "setup: pip could not install tools/requirements-bench.txt" >&2
    exit 1
fi
