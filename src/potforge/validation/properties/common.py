"""Small helpers of the property calculations: energies through a calculator, relaxations,
unit factors."""

from __future__ import annotations

from ase import Atoms, units

__all__ = ["J_PER_M2", "THZ_PER_EV", "potential_energy", "with_calc", "relax_atoms"]

# unit factors, all from ase.units
J_PER_M2 = units.m ** 2 / units.J          #: 1 eV/Å² in J/m² (16.0218 ...)
THZ_PER_EV = units._e / units._hplanck / 1e12  #: frequency (THz) of a quantum ħω = 1 eV


def potential_energy(atoms: Atoms) -> float:
    return float(atoms.get_potential_energy())


def with_calc(atoms: Atoms, calc) -> Atoms:
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms


def relax_atoms(atoms, fmax: float, steps: int) -> bool:
    """L-BFGS on ``atoms`` (or a filter around them) to max force ``fmax`` (eV/Å); True if
    converged. L-BFGS rather than BFGS: no dense 3N×3N Hessian algebra, which dominated the
    time of 100-atom relaxations."""
    from ase.optimize import LBFGS

    optimizer = LBFGS(atoms, logfile=None)
    return bool(optimizer.run(fmax=fmax, steps=steps))
