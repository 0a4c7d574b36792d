"""Throughput of the compiled HDNNP kernel alone (energies + forces, in-process, one thread),
for every instruction-set build this CPU supports and both precisions.

Calls alternate between the variants in one process, so that the drift of a shared VM's
core speed affects all of them alike; reports the minimum and median of the runs.

    python bench/bench_kernels.py [--runs 30] [--atoms 1080|29160]
    python bench/bench_kernels.py --against /path/to/old/_native.so [--arch x86-64-v4]

``--against`` times another build of ``potforge._native`` (e.g. one made from an older commit:
``git worktree add /tmp/old REV && (cd /tmp/old && python setup.py build_ext --inplace)``),
loaded under a different module name, against this one, alternating calls, after checking
that the two give the same energies, forces and strain (largest differences printed).
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
    parser.add_argument("--against", type=Path, help="another build of potforge._native to time against")
    parser.add_argument("--arch", default=None, help="with --against: the architecture (default: the best)")
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
    if args.against is not None:
        return against(args, model, atoms, nl, idx, z)
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


def against(args, model, atoms, nl, idx, z) -> int:
    """This build against ``args.against``, same process, alternating calls."""
    import importlib.util

    from potforge import _native as new

    # the build's init function is PyInit__native: load it as the top-level module _native (not
    # potforge._native, which the import system would hand back as this build)
    spec = importlib.util.spec_from_file_location("_native", args.against)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    if old is new:
        sys.exit("--against loaded this build again (give a file of another build)")
    arch = args.arch or new.default_architecture()
    os.environ["POTFORGE_KERNEL_ARCH"] = arch
    tables = [model.symmetry_functions.table(e) for e in model.species]
    nets = [model.networks[s].kernel_spec() for s in model.species]
    scalings = model._scalings()
    variants = {(dtype, name): (mod, mod.make_kernel(tables, len(model.species), nets, scalings, dtype=dtype))
                for dtype in ("float64", "float32") for name, mod in (("other", old), ("this", new))}

    def call(mod, kernel):
        return mod.hdnnp_evaluate(kernel, idx, z, nl.offsets, nl.neighbors, nl.vectors, nl.distances,
                                  1.0, True, 0.0, 1)

    print(f"{len(atoms)} atoms of water, {arch}, energies + forces, one thread; this build vs {args.against}")
    for dtype in ("float64", "float32"):
        a, b = call(*variants[(dtype, "other")]), call(*variants[(dtype, "this")])
        print(f"  {dtype}: |dE|/|E| {abs(a[0].sum() - b[0].sum()) / abs(a[0].sum()):.1e}, max |dF| "
              f"{np.abs(a[1] - b[1]).max():.1e} eV/Å (max |F| {np.abs(a[1]).max():.1f}), max |d strain| "
              f"{np.abs(np.asarray(a[2]) - np.asarray(b[2])).max():.1e}, extrapolations equal "
              f"{np.array_equal(a[3], b[3])}")
    times = {key: [] for key in variants}
    for _ in range(args.runs):
        for key, (mod, kernel) in variants.items():
            t = time.perf_counter()
            call(mod, kernel)
            times[key].append(time.perf_counter() - t)
    for dtype in ("float64", "float32"):
        o, n = times[(dtype, "other")], times[(dtype, "this")]
        print(f"  {dtype}: other min {min(o) * 1e3:.1f} / median {statistics.median(o) * 1e3:.1f} ms, this "
              f"min {min(n) * 1e3:.1f} / median {statistics.median(n) * 1e3:.1f} ms: "
              f"{min(o) / min(n):.2f}x (min), {statistics.median(o) / statistics.median(n):.2f}x (median), "
              f"{len(atoms) / statistics.median(n):,.0f} atoms/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
