"""Properties of the perfect crystal: lattice constant and cohesive energy, equation of state,
elastic constants."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms, units

from ...core.crystals import bulk_crystal, check_lattice, lattice_guess, voigt_strain
from ...core.elements import check_element
from ...core.errors import ConfigError
from .common import potential_energy, relax_atoms, with_calc
from .results import ElasticResult, EOSResult, LatticeResult

__all__ = ["lattice_constant", "isolated_atom_energy", "birch_murnaghan_fit", "equation_of_state",
           "elastic_constants"]


def lattice_constant(calc, element: str, lattice: str, a_guess: float | None = None,
                     c_over_a: float | None = None, *, tolerance: float = 1e-6) -> LatticeResult:
    """Relaxed lattice constant and cohesive energy.

    a0 minimises the energy per atom of the ideal crystal, E(a) (for hcp E(a, c), with the
    two atoms on their symmetry-fixed sites). A scan over 0.8–1.25 ``a_guess`` brackets the
    minimum, then bounded Brent (:func:`scipy.optimize.minimize_scalar`) narrows it to
    ``tolerance`` (Å); hcp minimises over (a, c/a) with Nelder–Mead from the bracketed a.
    The cohesive energy is E_coh = −(E_bulk/N − E_atom), E_atom being one atom alone in a
    non-periodic box with the same calculator.

    Parameters
    ----------
    calc : ASE calculator
    element : str
    lattice : {"fcc", "bcc", "hcp", "diamond", "sc"}
    a_guess : float, Å, optional
        Default: ASE's reference state (``ase.data.reference_states``) at equal volume per
        atom (:func:`potforge.core.crystals.lattice_guess`).
    c_over_a : float, optional
        hcp starting c/a (default: the reference state's or ideal √(8/3)); relaxed.
    """
    from scipy.optimize import minimize, minimize_scalar

    element, lattice = check_element(element), check_lattice(lattice)
    guess_a, guess_ca = lattice_guess(element, lattice)
    a_guess = guess_a if a_guess is None else float(a_guess)
    c_over_a = guess_ca if c_over_a is None else float(c_over_a)
    if not a_guess > 0 or not c_over_a > 0:
        raise ConfigError(f"a_guess: lattice constant and c/a must be positive, got "
                          f"{a_guess} and {c_over_a}")

    atoms = with_calc(bulk_crystal(element, lattice, a_guess, a_guess * c_over_a), calc)
    reference_cell = atoms.cell.copy() / a_guess
    ca_ref = c_over_a

    def energy(a: float, ca: float = c_over_a) -> float:
        cell = reference_cell * a
        if lattice == "hcp":
            cell[2] *= ca / ca_ref
        atoms.set_cell(cell, scale_atoms=True)
        return potential_energy(atoms) / len(atoms)

    grid = a_guess * np.linspace(0.8, 1.25, 19)
    values = np.array([energy(a) for a in grid])
    k = int(np.argmin(values))
    if k in (0, len(grid) - 1):
        raise ConfigError(f"a_guess: the {lattice} {element} energy has no minimum between "
                          f"{grid[0]:.3f} and {grid[-1]:.3f} Å (lowest at {grid[k]:.3f} Å); "
                          "give a better a_guess")
    found = minimize_scalar(energy, bounds=(grid[k - 1], grid[k + 1]), method="bounded",
                            options={"xatol": tolerance})
    a0, c = float(found.x), None
    if lattice == "hcp":
        scale = np.array([a0, c_over_a])
        found2 = minimize(lambda x: energy(*(x * scale)), np.ones(2), method="Nelder-Mead",
                          options={"xatol": tolerance / a0, "fatol": 1e-13, "maxiter": 4000,
                                   "initial_simplex": [[1, 1], [1.01, 1], [1, 1.01]]})
        a0, ca = (float(v) for v in found2.x * scale)
        c = a0 * ca
    e_bulk = energy(a0) if c is None else energy(a0, c / a0)
    e_atom = isolated_atom_energy(calc, element)
    return LatticeResult(element, lattice, a0, c, e_bulk, e_atom, -(e_bulk - e_atom))


def isolated_atom_energy(calc, element: str, box: float = 20.0) -> float:
    """Energy (eV) of one atom in the middle of a ``box`` Å cube without periodicity."""
    atom = Atoms(element, positions=[[box / 2] * 3], cell=[box] * 3, pbc=False)
    atom.calc = calc
    return potential_energy(atom)


def birch_murnaghan_fit(volumes: Sequence[float], energies: Sequence[float]
                        ) -> tuple[float, float, float, float, float]:
    """Third-order Birch–Murnaghan fit; returns (E0 eV, V0 Å³, B0 eV/Å³, B0′, rms eV).

    With y = (V0/V)^(2/3) (Birch, Phys. Rev. 71, 809 (1947)),

        E(V) = E0 + (9 V0 B0 / 16) {(y − 1)³ B0′ + (y − 1)² (6 − 4y)},

    a cubic polynomial p(x) in x = V^(−2/3), so the fit is linear least squares for p. With
    t = x/x0 − 1 the form reads E0 + (9 V0 B0/16) [2t² + (B0′ − 4) t³], hence at the minimum
    x0 (p′(x0) = 0, V0 = x0^(−3/2)): E0 = p(x0), B0 = 4 p″(x0) x0² / (9 V0) and
    B0′ = 4 + 16 p‴(x0) x0³ / (54 V0 B0). The same model as ``ase.eos`` 'birchmurnaghan',
    without its iterative fit.
    """
    v = np.asarray(volumes, dtype=float)
    e = np.asarray(energies, dtype=float)
    if v.shape != e.shape or v.size < 5:
        raise ValueError("need at least 5 (volume, energy) pairs of equal length")
    x = v ** (-2.0 / 3.0)
    p = np.polynomial.Polynomial.fit(x, e, 3).convert()
    dp, d2p, d3p = p.deriv(1), p.deriv(2), p.deriv(3)
    roots = [r.real for r in dp.roots() if abs(r.imag) < 1e-12 and r.real > 0 and d2p(r.real) > 0]
    if not roots:
        raise ValueError("the E(V) data have no minimum (Birch–Murnaghan fit failed)")
    x0 = min(roots, key=lambda r: abs(r - x.mean()))
    v0 = x0 ** -1.5
    b0 = 4.0 * d2p(x0) * x0 ** 2 / (9.0 * v0)
    bp = 4.0 + 16.0 * d3p(x0) * x0 ** 3 / (54.0 * v0 * b0)
    rms = float(np.sqrt(np.mean((p(x) - e) ** 2)))
    return float(p(x0)), float(v0), float(b0), float(bp), rms


def equation_of_state(calc, element: str, lattice: str, a0: float, strain: float = 0.05,
                      n: int = 11, *, c: float | None = None) -> EOSResult:
    """Birch–Murnaghan equation of state from ``n`` energies at lattice constants
    a0 (1 − strain) ... a0 (1 + strain) (isotropic scaling; hcp keeps c/a = c/a0).

    Returns E0 (eV/atom), V0 (Å³/atom), B0 (GPa) and B0′; see :func:`birch_murnaghan_fit`.
    """
    lattice = check_lattice(lattice)
    if not 0 < strain < 0.5 or n < 5:
        raise ConfigError(f"eos: need 0 < strain < 0.5 and n >= 5, got strain={strain}, n={n}")
    atoms = with_calc(bulk_crystal(element, lattice, a0, c), calc)
    cell0 = atoms.cell.copy()
    scales = np.linspace(1 - strain, 1 + strain, n)
    volumes, energies = [], []
    for s in scales:
        atoms.set_cell(cell0 * s, scale_atoms=True)
        volumes.append(atoms.get_volume() / len(atoms))
        energies.append(potential_energy(atoms) / len(atoms))
    try:
        e0, v0, b0, bp, rms = birch_murnaghan_fit(volumes, energies)
    except ValueError as err:
        raise ConfigError(f"equation of state of {element} ({lattice}): {err}; the model may have "
                          "no stable minimum near a0") from None
    return EOSResult(e0, v0, b0 / units.GPa, bp, np.array(volumes), np.array(energies), rms)


def elastic_constants(calc, atoms: Atoms, delta: float = 0.005, *, relax_ions: bool = True,
                      fmax: float = 1e-5, max_steps: int = 500) -> ElasticResult:
    """Elastic constants C_ij = ∂σ_i/∂ε_j by central differences of the stress.

    Each Voigt strain ε_j = ±``delta`` (engineering shear: γ = 2ε_kl) deforms the cell and
    atoms homogeneously, x → (1 + ε) x; with ``relax_ions`` the atoms then relax at fixed cell
    (L-BFGS to ``fmax`` eV/Å; a no-op for Bravais lattices such as fcc and bcc, whose forces
    vanish by symmetry, and needed for diamond and hcp). C_ij = [σ_i(+δ) − σ_i(−δ)] / 2δ with
    ASE's stress (σ = (1/V) ∂E/∂ε, the Cauchy stress of the strained cell).

    At a stress-free reference this is the usual elastic tensor. Under a hydrostatic
    pressure P (= −tr σ/3) it is the stress–strain coefficient B_ij (Wallace, Thermodynamics
    of Crystals, 1972): then (C11 + 2C12)/3 = −V dP/dV exactly, and for central pair
    potentials on a centrosymmetric Bravais lattice C12 − C44 = 2P (the Cauchy relation
    shifted by the prestress; C12 = A + P, C44 = A − P with A the fully symmetric
    pair sum), which the tests check.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic reference structure (ideally relaxed); its Cartesian axes define the Voigt
        frame. Not modified.
    delta : float
        Strain amplitude (dimensionless).
    """
    if not np.all(atoms.pbc):
        raise ConfigError("elastic: the structure must be periodic in all three directions")
    if not 0 < delta < 0.1:
        raise ConfigError(f"elastic: delta must be in (0, 0.1), got {delta}")
    work = with_calc(atoms, calc)
    cell0, pos0 = atoms.cell.array.copy(), atoms.positions.copy()
    cij = np.zeros((6, 6))
    for j in range(6):
        stresses = []
        for sign in (1.0, -1.0):
            deformation = np.eye(3) + voigt_strain(j, sign * delta)
            work.set_cell(cell0 @ deformation.T, scale_atoms=False)
            work.set_positions(pos0 @ deformation.T)
            if relax_ions and len(work) > 1:
                relax_atoms(work, fmax, max_steps)
            stresses.append(work.get_stress(voigt=True))
        cij[:, j] = (stresses[0] - stresses[1]) / (2 * delta)
    cij /= units.GPa
    c11 = float(np.mean(np.diag(cij)[:3]))
    c12 = float(np.mean(cij[:3, :3][~np.eye(3, dtype=bool)]))
    c44 = float(np.mean(np.diag(cij)[3:]))
    bulk_modulus = float(np.sum(cij[:3, :3]) / 9.0)
    return ElasticResult(cij, c11, c12, c44, bulk_modulus, c12 - c44)
