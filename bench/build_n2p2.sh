#!/usr/bin/env bash
# Build the n2p2 peer (serial, no OpenMP) used to make reference answers and to time n2p2 beside potforge.
# This is potforge's own build recipe; n2p2's code is read from the local bare mirror and never committed.
#   usage: bench/build_n2p2.sh [DEST]      (DEST defaults to /work/n2p2build; binaries end in DEST/bin)
# Needs: g++, libgsl-dev, libeigen3-dev, libblas-dev (Debian: apt-get install -y libgsl-dev libeigen3-dev
# libblas-dev). The tools linked against libnnptrain (nnp-dataset, nnp-norm, nnp-train, ...) are compiled
# with mpic++ (MPICC, default: the one of potforge's virtual environment, mpich from PyPI).
set -euo pipefail
DEST=${1:-/work/n2p2build}
MIRROR=${N2P2_MIRROR:-/work/.mirror/CompPhysVienna+n2p2/repo}
MPICC=${MPICC:-/work/main/.venv/bin/mpic++}
JOBS=${JOBS:-2}
mkdir -p "$DEST"
# Only src/: some example data blobs are absent from the mirror.
git --git-dir="$MIRROR" archive HEAD src | tar x -C "$DEST"
git --git-dir="$MIRROR" log -1 --format=%H > "$DEST/N2P2_COMMIT"
# The makefiles install into ../include, ../lib and ../bin (outside src/, so not in the archive).
mkdir -p "$DEST/include" "$DEST/lib" "$DEST/bin"
cd "$DEST/src"
# Serial build: no OpenMP (makefile.gnu default), Eigen single-threaded (-DEIGEN_DONT_PARALLELIZE, default).
MAKEOPTS=(COMP=gnu MODE=static PROJECT_CC=g++ "PROJECT_MPICC=$MPICC" -j"$JOBS")
make "${MAKEOPTS[@]}" libnnp
make "${MAKEOPTS[@]}" nnp-predict nnp-convert nnp-symfunc
if "$MPICC" --version >/dev/null 2>&1; then
    make "${MAKEOPTS[@]}" libnnptrain
    make "${MAKEOPTS[@]}" nnp-dataset nnp-norm nnp-scaling nnp-train
else
    echo "build_n2p2.sh: no working mpic++ at $MPICC; skipping nnp-dataset/nnp-norm/nnp-scaling/nnp-train" >&2
fi
ls -l "$DEST/bin"
