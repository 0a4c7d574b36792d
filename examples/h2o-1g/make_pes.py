"""Compute an ab initio potential-energy surface of the water monomer with PySCF.

Level of theory: all-electron MP2 / aug-cc-pVDZ on an RHF reference (SCF converged to
1e-11 Ha), energies and analytic nuclear gradients. MP2 needs no integration grid, so
energies and forces are smooth and mutually consistent to round-off, which matters when the
fit is meant to reach sub-meV errors; aug-cc-pVDZ costs about 0.6 s per geometry with
gradients on two cores.

Geometries (Å, degrees), each a distinct group:

- ``distorted``: both O–H bond lengths uniform in [0.8, 1.3] Å, the H–O–H angle uniform in
  [80°, 140°] (covers the anharmonic stretch and bend region up to ~3 eV);
- ``near-equilibrium``: bonds 0.958 ± 0.05 Å and angle 104.5° ± 8° (normal, clipped to
  the box above), so that the well is sampled densely.

Every geometry gets a random rotation and a random translation, so the data also exercise
the model's invariances. Energies (Hartree) and gradients (Hartree/Bohr) are converted to eV
and eV/Å and written as extended XYZ with potforge's writer.

Usage::

    OMP_NUM_THREADS=2 python examples/h2o-1g/make_pes.py            # 600 geometries, ~7 min
    python examples/h2o-1g/make_pes.py --n-distorted 20 --n-near 5 --out /tmp/small.xyz
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from scipy.spatial.transform import Rotation

from potforge.core.units import Bohr, Hartree
from potforge.data import Frame
from potforge.data.io import write_frames

HERE = Path(__file__).resolve().parent
R_RANGE = (0.8, 1.3)  # Å
ANGLE_RANGE = (80.0, 140.0)  # degrees
R_EQ, ANGLE_EQ = 0.958, 104.5


def water(r1: float, r2: float, angle_deg: float, rng: np.random.Generator) -> Atoms:
    """O, H, H with the given bond lengths (Å) and angle, randomly rotated and translated."""
    half = np.radians(angle_deg) / 2
    pos = np.array([[0.0, 0.0, 0.0],
                    [r1 * np.sin(half), 0.0, r1 * np.cos(half)],
                    [-r2 * np.sin(half), 0.0, r2 * np.cos(half)]])
    rot = Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()
    pos = pos @ rot.T + rng.uniform(-2.0, 2.0, size=3)
    return Atoms("OH2", positions=pos, pbc=False)


def sample(n_distorted: int, n_near: int, rng: np.random.Generator) -> list[tuple[str, Atoms]]:
    out = []
    for _ in range(n_distorted):
        r1, r2 = rng.uniform(*R_RANGE, size=2)
        out.append(("distorted", water(r1, r2, rng.uniform(*ANGLE_RANGE), rng)))
    for _ in range(n_near):
        r1, r2 = np.clip(rng.normal(R_EQ, 0.05, size=2), *R_RANGE)
        angle = float(np.clip(rng.normal(ANGLE_EQ, 8.0), *ANGLE_RANGE))
        out.append(("near-equilibrium", water(r1, r2, angle, rng)))
    return out


def mp2_energy_forces(atoms: Atoms, basis: str) -> tuple[float, np.ndarray]:
    """MP2 total energy (eV) and forces (eV/Å) of a closed-shell molecule."""
    from pyscf import gto, mp, scf

    mol = gto.M(atom=[(s, p) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions)],
                basis=basis, unit="Angstrom", verbose=0)
    mf = scf.RHF(mol)
    mf.conv_tol = 1e-11
    mf.kernel()
    if not mf.converged:
        raise RuntimeError("SCF did not converge")
    pt = mp.MP2(mf).run()
    gradient = pt.nuc_grad_method().kernel()  # Hartree/Bohr
    return float(pt.e_tot) * Hartree, -np.asarray(gradient) * Hartree / Bohr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-distorted", type=int, default=480)
    parser.add_argument("--n-near", type=int, default=120)
    parser.add_argument("--basis", default="aug-cc-pvdz")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--out", type=Path, default=HERE / "h2o_pes.xyz")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    geometries = sample(args.n_distorted, args.n_near, rng)
    frames = []
    start = time.perf_counter()
    for k, (config_type, atoms) in enumerate(geometries):
        energy, forces = mp2_energy_forces(atoms, args.basis)
        frames.append(Frame(atoms, energy=energy, forces=forces, config_type=config_type,
                            group=f"geometry-{k:04d}",
                            info={"method": f"MP2/{args.basis}"}))
        if (k + 1) % 25 == 0 or k + 1 == len(geometries):
            elapsed = time.perf_counter() - start
            eta = elapsed / (k + 1) * (len(geometries) - k - 1)
            print(f"{k + 1}/{len(geometries)} geometries, {elapsed:.0f} s, ETA {eta:.0f} s", flush=True)
    write_frames(args.out, frames)
    energies = np.array([f.energy for f in frames])
    print(f"wrote {len(frames)} frames to {args.out} ({args.out.stat().st_size / 1e3:.0f} kB); "
          f"MP2/{args.basis}; energy range {energies.max() - energies.min():.3f} eV; "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
