"""How slowly aluminium's total energy converges with k-points, for several smearings.

The primitive fcc cell (a = 4.04 Å, PBE, plane waves 250 eV, SCF to 1e-6 eV/electron) on
Γ-centred n×n×n meshes, with Fermi–Dirac, first-order Methfessel–Paxton and Marzari–Vanderbilt
(cold) smearing. Prints the energy per atom (extrapolated to zero width, as GPAW returns it)
per mesh and smearing, and the spread over the meshes:

    python bench/bench_al_kpoints.py                    # meshes 11 14 17 20 24 30, ~10 min
    python bench/bench_al_kpoints.py --meshes 11 14 17  # quicker

This is what examples/al-gpaw/README.md and BENCHMARKS.md section 6 quote: the mesh-to-mesh
jumps do not shrink with 0.2–0.4 eV of smearing, and only the densest meshes agree within
1 meV/atom.
"""

from __future__ import annotations

import argparse
import sys
import time

SMEARINGS = [("fermi-dirac", 0.2), ("methfessel-paxton", 0.2), ("marzari-vanderbilt", 0.2),
             ("marzari-vanderbilt", 0.4)]


def energy(n: int, name: str, width: float) -> tuple[float, float]:
    from ase.build import bulk
    from gpaw import GPAW, PW

    atoms = bulk("Al", "fcc", 4.04)
    occupations = {"name": name, "width": width}
    if name == "methfessel-paxton":
        occupations["order"] = 1
    atoms.calc = GPAW(mode=PW(250), xc="PBE", kpts={"size": (n, n, n), "gamma": True},
                      occupations=occupations, convergence={"energy": 1e-6, "density": 1e-6}, txt=None)
    t0 = time.perf_counter()
    return atoms.get_potential_energy(), time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meshes", type=int, nargs="+", default=[11, 14, 17, 20, 24, 30])
    args = ap.parse_args(argv)
    print("| smearing | " + " | ".join(f"{n}³" for n in args.meshes) + " | spread (meV/atom) |")
    print("|---|" + "---|" * (len(args.meshes) + 1))
    for name, width in SMEARINGS:
        values = []
        for n in args.meshes:
            e, seconds = energy(n, name, width)
            values.append(e)
            print(f"  {name} {width} eV, {n}³: {e:.5f} eV ({seconds:.1f} s)", file=sys.stderr, flush=True)
        cells = " | ".join(f"{e:.5f}" for e in values)
        print(f"| {name} {width} eV | {cells} | {1000 * (max(values) - min(values)):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
