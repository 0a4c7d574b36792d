"""Electrostatics at scale: the 4G water box (n2p2's H2O_RPBE-D3_4G input.data, 384 atoms)
replicated to 384, 3,072 and 24,576 atoms, one core.

For each size (each in its own process, so the peak memory is that size's): time of building
the Coulomb operator (neighbour pairs, mesh), one QEq solve (CG on Ewald/PME products),
and the electrostatic energy with forces by autograd through the QEq charges (implicit
differentiation: one adjoint CG solve); peak resident memory (ru_maxrss) and the memory of
the process before the work (Python + torch).

Settings: the model's Gaussian widths (fixed_gausswidth) and hardness (hardness.00Z.data),
its Ewald settings (ewald_truncation_error_method 1, ewald_prec 1e-5 0.36) through
ewald_parameters; χ_O = +0.3 eV/e and χ_H = -0.1 eV/e plus N(0, 0.05) noise (the networks'
χ are not part of this benchmark); method "auto" (Ewald below 2,000 atoms, PME above);
QEq solver "auto" (dense below 2,000 atoms, CG tol 1e-10 above); neutral.

    PYTHONPATH=src python bench/bench_electrostatics.py [--sizes 1 2 4] [--repeat 3]

``--model``: the whole 4G model instead (HDNNP4G read from the n2p2 files, Bohr/Hartree):
symmetry functions, χ networks, QEq, short-range networks, electrostatics, energy and forces
(stress off) with one thread; time of ``predict`` and peak resident memory.

    PYTHONPATH=src python bench/bench_electrostatics.py --model [--sizes 1 2 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "n2p2" / "H2O_RPBE-D3_4G"


def run_one(rep: int) -> dict:
    import numpy as np
    import torch

    from potforge.core.units import Bohr, Hartree
    from potforge.data.io import read_frames
    from potforge.electrostatics import GaussianCoulomb, ewald_parameters, solve_qeq

    torch.set_num_threads(1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    atoms = read_frames(DATA / "input.data", length_unit="bohr", energy_unit="hartree")[0].atoms
    atoms = atoms.repeat((rep, rep, rep))
    n = len(atoms)
    oxygen = atoms.numbers == 8
    sig = torch.tensor(np.where(oxygen, 1.2491023848218, 0.5858120110359424) * Bohr)
    hard = torch.tensor(np.where(oxygen, 27.3362, 32.996) * Hartree)
    chi = torch.tensor(np.where(oxygen, 0.3, -0.1) + np.random.default_rng(0).normal(0, 0.05, n))
    cell = np.asarray(atoms.cell)
    ew = ewald_parameters(cell, n, precision=1e-5, method=1, max_charge=0.36, max_sigma=float(sig.max()),
                          length_unit=Bohr, energy_unit=Hartree)
    t0 = time.perf_counter()
    pos = torch.tensor(atoms.positions, requires_grad=True)
    coulomb = GaussianCoulomb(pos, torch.tensor(cell), True, sig, ewald=ew)
    coulomb.matvec(torch.zeros(n, dtype=torch.float64))  # builds pairs, k vectors or mesh
    t1 = time.perf_counter()
    q, _ = solve_qeq(coulomb, chi, hard, 0.0)
    t2 = time.perf_counter()
    energy = coulomb.energy(q) + (chi * q + 0.5 * hard * q * q).sum()
    (grad,) = torch.autograd.grad(energy, pos)
    t3 = time.perf_counter()
    return {"atoms": n, "method": coulomb.method, "build_s": t1 - t0, "qeq_s": t2 - t1,
            "energy_forces_s": t3 - t2, "total_s": t3 - t0,
            "peak_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "base_MB": base,
            "energy_eV": float(energy.detach()), "max_force": float(grad.abs().max())}


def run_model(rep: int) -> dict:
    import numpy as np
    import torch

    from potforge.data.io import read_frames
    from potforge.models.hdnnp_charges.n2p2 import read_n2p2_4g_model

    torch.set_num_threads(1)
    model = read_n2p2_4g_model(DATA, length_unit="bohr", energy_unit="hartree")
    model.n_threads = 1
    atoms = read_frames(DATA / "input.data", length_unit="bohr", energy_unit="hartree")[0].atoms
    model.predict(atoms, forces=True, stress=False)  # warm-up: imports, native kernels
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    atoms = atoms.repeat((rep, rep, rep))
    t0 = time.perf_counter()
    pred = model.predict(atoms, forces=True, stress=False)
    t1 = time.perf_counter()
    return {"atoms": len(atoms), "method": model.electrostatics.solver, "total_s": t1 - t0,
            "peak_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "base_MB": base,
            "energy_eV_per_atom": pred.energy / len(atoms), "max_force": float(np.abs(pred.forces).max()),
            "charge_O": float(pred.charges[atoms.numbers == 8].mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1, 2, 4], help="replications per axis")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", action="store_true", help="time the whole 4G model (predict)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_model(args.one) if args.model else run_one(args.one)))
        return
    if args.model:
        print(f"{'atoms':>7} {'total s':>8} {'peak MB':>8} {'base MB':>8} {'E eV/atom':>12} {'max |F|':>8}")
        for rep in args.sizes:
            cmd = [sys.executable, __file__, "--model", "--one", str(rep)]
            runs = [json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
                    for _ in range(args.repeat)]
            med = {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in runs[0] if k != "method"}
            print(f"{int(med['atoms']):>7} {med['total_s']:8.2f} {med['peak_MB']:8.0f} {med['base_MB']:8.0f} "
                  f"{med['energy_eV_per_atom']:12.6f} {med['max_force']:8.4f}", flush=True)
        return
    print(f"{'atoms':>7} {'method':>6} {'build s':>8} {'QEq s':>8} {'E+F s':>8} {'total s':>8} "
          f"{'peak MB':>8} {'base MB':>8}")
    for rep in args.sizes:
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--one", str(rep)], capture_output=True, text=True,
                                 check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        med = {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in runs[0] if k != "method"}
        print(f"{int(med['atoms']):>7} {runs[0]['method']:>6} {med['build_s']:8.2f} {med['qeq_s']:8.2f} "
              f"{med['energy_forces_s']:8.2f} {med['total_s']:8.2f} {med['peak_MB']:8.0f} {med['base_MB']:8.0f}",
              flush=True)


if __name__ == "__main__":
    main()
