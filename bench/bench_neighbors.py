"""Time of potforge's neighbour list (the public ``neighbor_list``, one thread) on typical and
odd structures, with vesin's own Python API (the same cell-list algorithm family) beside it
where vesin can run the structure.

Calls alternate between potforge and vesin inside one process, so that the drift of a shared
VM's core speed affects both alike; reports the median of the runs in milliseconds.

    python bench/bench_neighbors.py [--runs 30] [--no-vesin]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POTFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
MODEL = SHARED / "n2p2" / "H2O_RPBE-D3"


def structures():
    """name -> (positions, cell, pbc, cutoff, vesin can run it)."""
    from ase.build import bulk, fcc111, molecule

    from potforge.data.io import read_frames

    water = read_frames(MODEL / "input.data", length_unit="bohr", energy_unit="hartree")[0].atoms
    rc = 12.0 * 0.52917721067  # the water model's cutoff, 12 Bohr
    big = water.repeat((3, 3, 3))
    si = bulk("Si", "diamond", a=5.43)
    slab = fcc111("Cu", size=(6, 6, 4), vacuum=10.0)
    slab.pbc = (True, True, False)
    cluster = water[:96].copy()
    cluster.pbc = False
    mol = molecule("C6H6")
    out = {
        "water 1,080 atoms, periodic": (water.positions, water.cell[:], water.pbc, rc, True),
        "water 29,160 atoms, periodic": (big.positions, big.cell[:], big.pbc, rc, True),
        "Si primitive cell (2 atoms), 6.35 Å": (si.positions, si.cell[:], si.pbc, rc, True),
        "Cu(111) slab 144 atoms, pbc T T F": (slab.positions, slab.cell[:], slab.pbc, rc, True),
        "water cluster 96 atoms, open": (cluster.positions, np.zeros((3, 3)), cluster.pbc, rc, True),
        "benzene, open": (mol.positions, np.zeros((3, 3)), mol.pbc, rc, True),
    }
    far = np.vstack([cluster.positions, cluster.positions + [1e6, 0, 0]])
    out["2 water clusters 1e6 Å apart, open"] = (far, np.zeros((3, 3)), np.zeros(3, bool), rc, False)
    return out


def time_it(fn, runs):
    fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-vesin", action="store_true", help="do not time vesin's Python API")
    args = parser.parse_args()
    from potforge.core.neighbors import neighbor_list

    vesin = None
    if not args.no_vesin:
        import vesin
    print(f"neighbour lists, one thread, median of {args.runs} runs (ms)")
    for name, (pos, cell, pbc, rc, vesin_ok) in structures().items():
        n_pairs = neighbor_list(pos, cell, pbc, rc).n_pairs
        ours = time_it(lambda: neighbor_list(pos, cell, pbc, rc, n_threads=1), args.runs)
        line = f"  {name:<40} {len(pos):6d} atoms {n_pairs:9d} pairs  potforge {ours * 1e3:8.3f}"
        if vesin is not None and vesin_ok:
            calc = vesin.NeighborList(cutoff=rc, full_list=True)
            box = np.asarray(cell, dtype=float) if np.any(pbc) else np.zeros((3, 3))
            periodic = [bool(x) for x in np.broadcast_to(pbc, (3,))]
            theirs = time_it(lambda: calc.compute(pos, box, periodic, quantities="ijSDd"), args.runs)
            line += f"  vesin {theirs * 1e3:8.3f}  ratio {ours / theirs:5.2f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
