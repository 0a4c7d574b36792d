"""Throughput of the compiled HDNNP kernel alone (energies + forces, in-process, one thread),
for every instruction-set build this CPU supports and both precisions.

Calls alternate between the variants in one process, so that the drift of a shared VM's
core speed affects all of them alike; reports the minimum and median of the runs.

    python bench/bench_kernels.py [--runs 30] [--atoms 1080|29160]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POTFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
MODEL = SHARED / "n2p2" / "H2O_RPBE-D3"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--atoms", type=int, choices=(1080, 29160), default=1080)
    args = parser.parse_args()
    from potforge import _native
    from potforge.core.neighbors import neighbor_list
    from potforge.data.io import read_frames
    from potforge.models.hdnnp.n2p2 import read_n2p2_model
    from potforge.core.elements import species_indices

    model = read_n2p2_model(MODEL, length_unit="bohr", energy_unit="hartree")
    atoms = read_frames(MODEL / "input.data", length_unit="bohr", energy_unit="hartree")[0].atoms
    if args.atoms == 29160:
        atoms = atoms.repeat((3, 3, 3))
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, model.cutoff, n_threads=1)
    idx, z = species_indices(atoms, model.species)
    variants = {}
    for arch in _native.supported_architectures():
        for dtype in ("float64", "float32"):
            os.environ["POTFORGE_KERNEL_ARCH"] = arch
            model.dtype = dtype
            model._kernel = None
            variants[(arch, dtype)] = model.kernel
    times = {key: [] for key in variants}
    for r in range(args.runs):
        for key, kernel in variants.items():
            t = time.perf_counter()
            _native.hdnnp_evaluate(kernel, idx, z, nl.offsets, nl.neighbors, nl.vectors, nl.distances,
                                   1.0, True, 0.0, 1)
            times[key].append(time.perf_counter() - t)
    print(f"HDNNP kernel, {len(atoms)} atoms of water, energies + forces, one thread, {args.runs} runs")
    for (arch, dtype), ts in times.items():
        med = statistics.median(ts)
        print(f"  {arch:<10} {dtype}: min {min(ts) * 1e3:7.1f} ms, median {med * 1e3:7.1f} ms "
              f"= {len(atoms) / med:,.0f} atoms/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
