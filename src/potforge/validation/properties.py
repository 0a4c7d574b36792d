"""Physical properties of a potential through any ASE calculator, and their DFT counterparts.

Every function here takes an ASE calculator (``potforge.calculator(model)``, ASE's ``EMT``,
``LennardJones``, ...) and knows nothing about potforge models. Units: eV, Å, amu inside;
GPa, J/m², mJ/m² and THz only where a name or field says so. Stress follows ASE:
σ = (1/V) ∂E/∂ε, Voigt order xx yy zz yz xz xy, positive in tension.

=========================  ==============================================================
:func:`lattice_constant`   relaxed a0 (and c for hcp), cohesive energy
:func:`equation_of_state`  Birch–Murnaghan E0, V0, B0, B0′ from an E–V scan
:func:`elastic_constants`  6×6 Cij from central stress differences (ions relaxed)
:func:`vacancy_formation_energy`  E_v = E(N−1) − (N−1)/N E(N), relaxed at fixed cell
:func:`surface_energy`     γ = (E_slab − N e_bulk) / 2A for (100), (110), (111)
:func:`stacking_fault_energy`  fcc intrinsic stacking fault, tilted periodic cell
:func:`phonons`            finite-displacement frequencies at high-symmetry points
:func:`property_table`     all of the above as one dict with unit-named keys
:func:`reference_properties`  what a labelled DFT set (mlearn) says about the same numbers
:func:`comparison_table`   Markdown table model | DFT | difference (%)
=========================  ==============================================================

The lattices are ``fcc``, ``bcc``, ``hcp``, ``diamond`` and ``sc``; structures come from
:func:`ase.build.bulk` (primitive cells unless stated), whose Cartesian axes are the cubic
axes for the cubic lattices and a ∥ x, c ∥ z for hcp, so Cij are in the usual crystal frame.
"""

from __future__ import annotations

import difflib
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.build import bulk

from ..core.errors import ConfigError, DataFormatError

__all__ = [
    "LATTICES", "PROPERTY_GROUPS",
    "LatticeResult", "EOSResult", "ElasticResult", "VacancyResult", "SurfaceResult",
    "StackingFaultResult", "PhononResult",
    "check_lattice", "check_element", "bulk_crystal", "fcc_111_cell", "voigt_strain_tensor",
    "lattice_constant", "isolated_atom_energy", "equation_of_state", "birch_murnaghan_fit",
    "elastic_constants", "vacancy_formation_energy", "surface_energy", "stacking_fault_energy",
    "phonons", "property_table", "reference_properties", "comparison_table",
]

#: Lattices the property functions build (names as :func:`ase.build.bulk` spells them).
LATTICES: tuple[str, ...] = ("fcc", "bcc", "hcp", "diamond", "sc")
#: Names accepted by ``property_table(which=...)`` and ``potforge properties --only``.
PROPERTY_GROUPS: tuple[str, ...] = ("lattice", "eos", "elastic", "vacancy", "surfaces",
                                    "stacking_fault", "phonons")

#: Atoms per conventional cubic cell (a0 = (V/N · n)^(1/3)).
_ATOMS_PER_CUBIC_CELL = {"fcc": 4, "bcc": 2, "diamond": 8, "sc": 1}
_IDEAL_C_OVER_A = math.sqrt(8.0 / 3.0)
#: High-symmetry points reported by :func:`phonons`, by ASE Bravais-lattice name.
_PHONON_POINTS = {"FCC": ("G", "X", "L"), "BCC": ("G", "H", "N"), "HEX": ("G", "M", "K", "A"),
                  "CUB": ("G", "X", "M", "R")}
#: Surfaces :func:`surface_energy` builds: (lattice, miller) -> ase.build function name.
_SURFACE_BUILDERS = {
    ("fcc", (1, 0, 0)): "fcc100", ("fcc", (1, 1, 0)): "fcc110", ("fcc", (1, 1, 1)): "fcc111",
    ("bcc", (1, 0, 0)): "bcc100", ("bcc", (1, 1, 0)): "bcc110", ("bcc", (1, 1, 1)): "bcc111",
    ("diamond", (1, 0, 0)): "diamond100", ("diamond", (1, 1, 1)): "diamond111",
}

# unit factors, all from ase.units (core/units.py has no J or m yet)
_J_PER_M2 = units.m ** 2 / units.J          #: 1 eV/Å² in J/m² (16.0218 ...)
_THZ_PER_EV = units._e / units._hplanck / 1e12  #: frequency (THz) of a quantum ħω = 1 eV


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LatticeResult:
    """Relaxed lattice of one element.

    Attributes
    ----------
    a0 : float, Å
        Lattice constant (conventional cubic cell edge; basal a for hcp).
    c : float or None, Å
        hcp c; None for the other lattices.
    energy_per_atom : float, eV
        Bulk energy per atom at (a0, c).
    isolated_atom_energy : float, eV
        One atom in a non-periodic box, same calculator.
    cohesive_energy : float, eV
        E_coh = −(E_bulk/N − E_atom); positive for a bound crystal.
    """

    element: str
    lattice: str
    a0: float
    c: float | None
    energy_per_atom: float
    isolated_atom_energy: float
    cohesive_energy: float


@dataclass(frozen=True)
class EOSResult:
    """Third-order Birch–Murnaghan fit of E(V) per atom.

    Attributes
    ----------
    e0 : float, eV/atom
    v0 : float, Å³/atom
    bulk_modulus : float, GPa
        B0 = V d²E/dV² at V0.
    bulk_modulus_prime : float
        B0′ = dB/dP at V0 (dimensionless).
    volumes, energies : (n,) float, Å³/atom and eV/atom
        The scan that was fitted.
    rms_residual : float, eV/atom
    """

    e0: float
    v0: float
    bulk_modulus: float
    bulk_modulus_prime: float
    volumes: np.ndarray
    energies: np.ndarray
    rms_residual: float


@dataclass(frozen=True)
class ElasticResult:
    """Elastic constants from stress–strain, GPa.

    Attributes
    ----------
    cij : (6, 6) float, GPa
        C_ij = ∂σ_i/∂ε_j in Voigt order xx yy zz yz xz xy, with engineering shear strains
        (ε_4 = γ_yz = 2 ε_yz). Not symmetrised: its asymmetry measures the numerical error.
    c11, c12, c44 : float, GPa
        Cubic averages: mean of C11, C22, C33; of the six C_ij with i ≠ j ≤ 3; of C44, C55, C66.
    bulk_modulus : float, GPa
        Voigt average (C11 + C22 + C33 + 2 (C12 + C13 + C23)) / 9, = (C11 + 2 C12)/3 for cubic.
    cauchy_pressure : float, GPa
        C12 − C44 (cubic averages).
    """

    cij: np.ndarray
    c11: float
    c12: float
    c44: float
    bulk_modulus: float
    cauchy_pressure: float

    def hexagonal(self) -> dict[str, float]:
        """The constants of a hexagonal crystal (c ∥ z), GPa, averaged over their
        symmetry-equivalent entries: c11, c12, c13, c33, c44 and c66 (= (c11 − c12)/2 for a
        converged calculation)."""
        c = 0.5 * (self.cij + self.cij.T)
        return {"c11": float((c[0, 0] + c[1, 1]) / 2), "c12": float(c[0, 1]),
                "c13": float((c[0, 2] + c[1, 2]) / 2), "c33": float(c[2, 2]),
                "c44": float((c[3, 3] + c[4, 4]) / 2), "c66": float(c[5, 5])}


@dataclass(frozen=True)
class VacancyResult:
    """Mono-vacancy formation energy, eV.

    Attributes
    ----------
    formation_energy : float, eV
        Relaxed (if ``relaxed``) E(N−1) − (N−1)/N E(N).
    unrelaxed_formation_energy : float, eV
        The same with the atoms left on their lattice sites.
    n_atoms : int
        Atoms of the perfect supercell N.
    converged : bool
        Whether the relaxation reached ``fmax``.
    """

    formation_energy: float
    unrelaxed_formation_energy: float
    n_atoms: int
    relaxed: bool
    converged: bool


@dataclass(frozen=True)
class SurfaceResult:
    """Surface energy of one facet.

    Attributes
    ----------
    energy_j_per_m2, energy_ev_per_angstrom2 : float
        γ = (E_slab − N e_bulk) / (2A), ions relaxed at fixed cell (if ``relaxed``).
    unrelaxed_j_per_m2 : float
        γ of the bulk-terminated slab.
    area : float, Å²
        Area A of one face of the slab's cell.
    """

    miller: tuple[int, int, int]
    energy_j_per_m2: float
    energy_ev_per_angstrom2: float
    unrelaxed_j_per_m2: float
    area: float
    n_atoms: int
    layers: int
    relaxed: bool
    converged: bool


@dataclass(frozen=True)
class StackingFaultResult:
    """Energy of a planar fault per area in a fcc (111) cell.

    Attributes
    ----------
    energy_mj_per_m2, energy_ev_per_angstrom2 : float
        γ = (E_faulted − E_perfect) / A, relaxed normal to the fault (if ``relaxed``).
    unrelaxed_mj_per_m2 : float
    displacement : (2,) float, Å
        The shift (x ∥ [1-10], y ∥ [11-2]) of the crystal above the fault.
    """

    energy_mj_per_m2: float
    energy_ev_per_angstrom2: float
    unrelaxed_mj_per_m2: float
    displacement: tuple[float, float]
    area: float
    n_atoms: int
    relaxed: bool
    converged: bool


@dataclass(frozen=True)
class PhononResult:
    """Phonon frequencies, THz, ascending per point; imaginary modes are negative.

    Attributes
    ----------
    frequencies : dict point -> list of float, THz
    points : dict point -> (3,) float
        The points in units of the reciprocal vectors of the cell that was given.
    """

    frequencies: dict[str, list[float]]
    points: dict[str, tuple[float, float, float]]
    supercell: tuple[int, int, int]


# -- structures -------------------------------------------------------------------------------
def check_lattice(lattice: str) -> str:
    """The canonical lattice name, or a ConfigError naming the valid ones."""
    name = str(lattice).strip().lower()
    if name not in LATTICES:
        near = difflib.get_close_matches(name, LATTICES, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ConfigError(f"lattice: unknown lattice {lattice!r}{hint}; expected one of "
                          f"{', '.join(LATTICES)}")
    return name


def check_element(element: str) -> str:
    """``element`` if it is a chemical symbol, else a ConfigError."""
    from ase.data import atomic_numbers

    if element not in atomic_numbers or element == "X":
        raise ConfigError(f"element: {element!r} is not a chemical element symbol (e.g. Cu)")
    return element


def bulk_crystal(element: str, lattice: str, a: float, c: float | None = None, *,
                 cubic: bool = False) -> Atoms:
    """The ideal crystal at lattice constant ``a`` (Å; hcp also ``c``, default ideal c/a).

    Primitive cell unless ``cubic`` (conventional cubic cell; orthorhombic 4-atom cell for
    hcp), built by :func:`ase.build.bulk`.
    """
    lattice = check_lattice(lattice)
    if lattice == "hcp":
        c = a * _IDEAL_C_OVER_A if c is None else c
        return bulk(element, "hcp", a=a, c=c, orthorhombic=cubic)
    return bulk(element, lattice, a=a, cubic=cubic)


def _volume_per_atom(lattice: str, a: float, c_over_a: float = _IDEAL_C_OVER_A) -> float:
    if lattice == "hcp":
        return math.sqrt(3.0) / 4.0 * a ** 3 * c_over_a
    return a ** 3 / _ATOMS_PER_CUBIC_CELL[lattice]


def _lattice_guess(element: str, lattice: str) -> tuple[float, float]:
    """(a, c/a) from ASE's reference state, converted to ``lattice`` at equal volume per atom;
    for elements whose ground state is none of ours, from close packing of covalent radii."""
    from ase.data import atomic_numbers, covalent_radii, reference_states

    z = atomic_numbers[element]
    ref = reference_states[z] or {}
    sym = ref.get("symmetry")
    if sym in LATTICES and "a" in ref:
        c_over_a = ref.get("c/a", _IDEAL_C_OVER_A) if sym == "hcp" else _IDEAL_C_OVER_A
        if sym == lattice:
            return float(ref["a"]), float(c_over_a)
        volume = _volume_per_atom(sym, ref["a"], c_over_a)
    else:
        d = 2.0 * covalent_radii[z]          # nearest-neighbour distance of close packing
        volume = d ** 3 / math.sqrt(2.0)
    if lattice == "hcp":
        return (4.0 * volume / (math.sqrt(3.0) * _IDEAL_C_OVER_A)) ** (1 / 3), _IDEAL_C_OVER_A
    return (volume * _ATOMS_PER_CUBIC_CELL[lattice]) ** (1 / 3), _IDEAL_C_OVER_A


def _energy(atoms: Atoms) -> float:
    return float(atoms.get_potential_energy())


def _with_calc(atoms: Atoms, calc) -> Atoms:
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms


def _relax(atoms, fmax: float, steps: int) -> bool:
    """L-BFGS on ``atoms`` (or a filter around them) to max force ``fmax`` (eV/Å); True if
    converged. L-BFGS rather than BFGS: no dense 3N×3N Hessian algebra, which dominated the
    time of 100-atom relaxations."""
    from ase.optimize import LBFGS

    optimizer = LBFGS(atoms, logfile=None)
    return bool(optimizer.run(fmax=fmax, steps=steps))


# -- 1. lattice constant ----------------------------------------------------------------------
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
        Default: ASE's reference state (``ase.data.reference_states``) at equal volume per atom.
    c_over_a : float, optional
        hcp starting c/a (default: the reference state's or ideal √(8/3)); relaxed.
    """
    from scipy.optimize import minimize, minimize_scalar

    element, lattice = check_element(element), check_lattice(lattice)
    guess_a, guess_ca = _lattice_guess(element, lattice)
    a_guess = guess_a if a_guess is None else float(a_guess)
    c_over_a = guess_ca if c_over_a is None else float(c_over_a)
    if not a_guess > 0 or not c_over_a > 0:
        raise ConfigError(f"a_guess: lattice constant and c/a must be positive, got "
                          f"{a_guess} and {c_over_a}")

    atoms = _with_calc(bulk_crystal(element, lattice, a_guess, a_guess * c_over_a), calc)
    reference_cell = atoms.cell.copy() / a_guess
    ca_ref = c_over_a

    def energy(a: float, ca: float = c_over_a) -> float:
        cell = reference_cell * a
        if lattice == "hcp":
            cell[2] *= ca / ca_ref
        atoms.set_cell(cell, scale_atoms=True)
        return _energy(atoms) / len(atoms)

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
    return _energy(atom)


# -- 2. equation of state ---------------------------------------------------------------------
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
    atoms = _with_calc(bulk_crystal(element, lattice, a0, c), calc)
    cell0 = atoms.cell.copy()
    scales = np.linspace(1 - strain, 1 + strain, n)
    volumes, energies = [], []
    for s in scales:
        atoms.set_cell(cell0 * s, scale_atoms=True)
        volumes.append(atoms.get_volume() / len(atoms))
        energies.append(_energy(atoms) / len(atoms))
    try:
        e0, v0, b0, bp, rms = birch_murnaghan_fit(volumes, energies)
    except ValueError as err:
        raise ConfigError(f"equation of state of {element} ({lattice}): {err}; the model may have "
                          "no stable minimum near a0") from None
    return EOSResult(e0, v0, b0 / units.GPa, bp, np.array(volumes), np.array(energies), rms)


# -- 3. elastic constants ---------------------------------------------------------------------
def voigt_strain_tensor(index: int, value: float) -> np.ndarray:
    """Symmetric strain tensor of one Voigt component (xx yy zz yz xz xy) with engineering
    shears: ``voigt_strain_tensor(3, γ)`` has ε_yz = ε_zy = γ/2."""
    pairs = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    i, j = pairs[index]
    eps = np.zeros((3, 3))
    if i == j:
        eps[i, i] = value
    else:
        eps[i, j] = eps[j, i] = value / 2.0
    return eps


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
    work = _with_calc(atoms, calc)
    cell0, pos0 = atoms.cell.array.copy(), atoms.positions.copy()
    cij = np.zeros((6, 6))
    for j in range(6):
        stresses = []
        for sign in (1.0, -1.0):
            deformation = np.eye(3) + voigt_strain_tensor(j, sign * delta)
            work.set_cell(cell0 @ deformation.T, scale_atoms=False)
            work.set_positions(pos0 @ deformation.T)
            if relax_ions and len(work) > 1:
                _relax(work, fmax, max_steps)
            stresses.append(work.get_stress(voigt=True))
        cij[:, j] = (stresses[0] - stresses[1]) / (2 * delta)
    cij /= units.GPa
    c11 = float(np.mean(np.diag(cij)[:3]))
    c12 = float(np.mean(cij[:3, :3][~np.eye(3, dtype=bool)]))
    c44 = float(np.mean(np.diag(cij)[3:]))
    bulk_modulus = float(np.sum(cij[:3, :3]) / 9.0)
    return ElasticResult(cij, c11, c12, c44, bulk_modulus, c12 - c44)


# -- 4. vacancy -------------------------------------------------------------------------------
def _supercell_size(n_cell: int, min_atoms: int) -> tuple[int, int, int]:
    n = 1
    while n ** 3 * n_cell < min_atoms:
        n += 1
    return (n, n, n)


def vacancy_formation_energy(calc, element: str, lattice: str, a0: float, *,
                             c: float | None = None, size: tuple[int, int, int] | None = None,
                             min_atoms: int = 100, relax: bool = True, fmax: float = 1e-3,
                             max_steps: int = 500) -> VacancyResult:
    """Mono-vacancy formation energy E_v = E(N−1) − (N−1)/N · E(N), eV.

    The perfect supercell is the conventional cell (cubic; orthorhombic for hcp) repeated
    ``size`` times (default: the smallest n×n×n with at least ``min_atoms`` atoms, 108 for
    fcc). One atom is removed and the others relax (L-BFGS, ``fmax`` eV/Å) at fixed cell, i.e.
    at the perfect crystal's volume (constant-volume formation energy).
    """
    lattice = check_lattice(lattice)
    cell = bulk_crystal(element, lattice, a0, c, cubic=True)
    size = _supercell_size(len(cell), min_atoms) if size is None else tuple(size)
    perfect = _with_calc(cell.repeat(size), calc)
    n = len(perfect)
    e_perfect = _energy(perfect)
    defect = perfect.copy()
    del defect[0]
    defect.calc = calc
    e_unrelaxed = _energy(defect)
    converged = True
    if relax:
        converged = _relax(defect, fmax, max_steps)
    e_relaxed = _energy(defect)
    scale = (n - 1) / n
    return VacancyResult(e_relaxed - scale * e_perfect, e_unrelaxed - scale * e_perfect, n,
                         relax, converged)


# -- 5. surfaces ------------------------------------------------------------------------------
def _normalise_miller(miller) -> tuple[int, int, int]:
    if isinstance(miller, str):
        digits = miller.strip("()")
        miller = tuple(int(ch) for ch in digits) if len(digits) == 3 and digits.isdigit() else ()
    miller = tuple(int(abs(m)) for m in miller)
    if len(miller) != 3:
        raise ConfigError(f"surfaces: Miller indices must be three integers such as (1, 1, 1), "
                          f"got {miller!r}")
    return tuple(sorted(miller, reverse=True))  # cubic: (001) and (010) are (100)


def surface_energy(calc, element: str, lattice: str, a0: float, miller, *,
                   layers: int | None = None, min_thickness: float = 10.0, vacuum: float = 10.0,
                   relax: bool = True, fmax: float = 1e-3, max_steps: int = 500) -> SurfaceResult:
    """Surface energy γ = (E_slab − N e_bulk) / (2A) of a (100), (110) or (111) facet.

    The slab is ASE's ``fcc111`` etc. with a 1×1 surface cell (no reconstructions),
    ``layers`` atomic planes (default: the fewest giving ``min_thickness`` Å between the
    outer planes) and ``vacuum`` Å of vacuum on each side; it is periodic in all three
    directions (the vacuum separates the images). e_bulk is the energy per atom of the
    perfect crystal at the same a0; both faces are equal, hence the 2A. With ``relax`` the
    atoms relax at fixed cell to ``fmax`` eV/Å.

    Returns γ in J/m² and eV/Å² (1 eV/Å² = 16.02 J/m²).
    """
    from ase import build

    lattice = check_lattice(lattice)
    miller = _normalise_miller(miller)
    key = (lattice, miller)
    if key not in _SURFACE_BUILDERS:
        supported = ", ".join(f"{lat} ({''.join(map(str, m))})" for lat, m in _SURFACE_BUILDERS)
        raise ConfigError(f"surfaces: no {lattice} ({''.join(map(str, miller))}) slab builder; "
                          f"supported: {supported}")
    builder = getattr(build, _SURFACE_BUILDERS[key])

    def slab_of(n_layers: int) -> Atoms:
        return builder(element, size=(1, 1, n_layers), a=a0, vacuum=vacuum, periodic=True)

    if layers is None:
        layers = 3
        while np.ptp(slab_of(layers).positions[:, 2]) < min_thickness:
            layers += 1
    elif layers < 2:
        raise ConfigError(f"surfaces: need at least 2 layers, got {layers}")
    slab = _with_calc(slab_of(layers), calc)
    crystal = _with_calc(bulk_crystal(element, lattice, a0), calc)
    e_bulk = _energy(crystal) / len(crystal)
    area = float(np.linalg.norm(np.cross(slab.cell[0], slab.cell[1])))
    n = len(slab)
    unrelaxed = (_energy(slab) - n * e_bulk) / (2 * area)
    converged = _relax(slab, fmax, max_steps) if relax else True
    gamma = (_energy(slab) - n * e_bulk) / (2 * area)
    return SurfaceResult(miller, gamma * _J_PER_M2, gamma, unrelaxed * _J_PER_M2, area, n,
                         layers, relax, converged)


# -- 6. stacking fault ------------------------------------------------------------------------
def fcc_111_cell(element: str, a0: float, layers: int = 12) -> Atoms:
    """Perfect fcc crystal in an orthogonal cell with x ∥ [1-10], y ∥ [11-2], z ∥ [111].

    The cell is a0/√2 × a0·√(3/2) × ``layers``·a0/√3 with two atoms per (111) plane; plane k
    is shifted by k·a0/√6 along +y, which is the A→B stacking shift (a/6)[11-2]. ``layers``
    must be a multiple of 3 (ABC).
    """
    if layers < 3 or layers % 3:
        raise ConfigError(f"stacking_fault: layers must be a positive multiple of 3, got {layers}")
    lx, ly, dz, shift = a0 / math.sqrt(2), a0 * math.sqrt(1.5), a0 / math.sqrt(3), a0 / math.sqrt(6)
    basis = np.array([[0.0, 0.0], [lx / 2, ly / 2]])
    positions = []
    for k in range(layers):
        for bx, by in basis:
            positions.append([bx, (by + k * shift) % ly, k * dz])
    return Atoms(element * (2 * layers), positions=positions,
                 cell=[[lx, 0, 0], [0, ly, 0], [0, 0, layers * dz]], pbc=True)


def stacking_fault_energy(calc, element: str, a0: float, *, layers: int = 12,
                          displacement: tuple[float, float] | None = None, relax: bool = True,
                          fmax: float = 1e-3, max_steps: int = 500) -> StackingFaultResult:
    """Intrinsic stacking-fault energy of a fcc crystal (or any planar fault energy γ(u)).

    Geometry: the perfect crystal of :func:`fcc_111_cell` (``layers`` (111) planes); the
    third cell vector is tilted by ``displacement`` = (u_x, u_y) Å (x ∥ [1-10], y ∥ [11-2];
    default (0, a0/√6), the Shockley partial (a/6)[11-2]), so the periodic image of the
    bottom plane lands shifted above the top plane: exactly one fault per cell, no vacuum,
    no fixed regions (ABC|BCA for the default). γ = (E_faulted − E_perfect) / A with A the
    (111) cell area. With ``relax`` the atoms relax along z only and the cell along zz only
    (``UnitCellFilter`` mask), i.e. normal to the fault plane.

    A displacement by a lattice vector, e.g. (a0/√2, 0) or (0, 3a0/√6), gives γ = 0.
    """
    from ase.constraints import FixCartesian
    from ase.filters import UnitCellFilter

    perfect = _with_calc(fcc_111_cell(element, a0, layers), calc)
    e_perfect = _energy(perfect)
    ux, uy = (0.0, a0 / math.sqrt(6)) if displacement is None else map(float, displacement)
    faulted = perfect.copy()
    cell = faulted.cell.array.copy()
    cell[2, :2] += (ux, uy)
    faulted.set_cell(cell, scale_atoms=False)
    faulted.calc = calc
    area = float(perfect.cell[0, 0] * perfect.cell[1, 1])
    unrelaxed = (_energy(faulted) - e_perfect) / area
    converged = True
    if relax:
        faulted.set_constraint(FixCartesian(range(len(faulted)), mask=(True, True, False)))
        # UnitCellFilter rather than FrechetCellFilter: one strain component needs no matrix
        # exponentials, which cost more than the energies of this small cell
        converged = _relax(UnitCellFilter(faulted, mask=[False, False, True, False, False, False]),
                           fmax, max_steps)
    gamma = (_energy(faulted) - e_perfect) / area
    mj = 1e3 * _J_PER_M2
    return StackingFaultResult(gamma * mj, gamma, unrelaxed * mj, (ux, uy), area, len(faulted),
                               relax, converged)


# -- 7. phonons -------------------------------------------------------------------------------
def phonons(calc, atoms: Atoms, supercell: tuple[int, int, int] = (5, 5, 5), delta: float = 0.01,
            points: Mapping[str, Sequence[float]] | Sequence[str] | None = None) -> PhononResult:
    """Harmonic phonon frequencies (THz) at high-symmetry points by finite displacements.

    ``ase.phonons.Phonons`` displaces each atom of ``atoms`` (a primitive cell) by ±``delta``
    Å in a ``supercell`` repetition, builds the force constants (acoustic sum rule imposed)
    and diagonalises the dynamical matrix; its cache lives in a temporary directory that is
    removed afterwards. Frequencies f = ω/2π, ascending; imaginary modes come out negative.
    Exact at points commensurate with the supercell if the force constants are shorter-ranged
    than half the supercell. The default supercell is odd on purpose: ASE's Fourier
    interpolation to other points gives each force constant one image, which is ambiguous
    half-way across an even supercell (EMT Cu with 4×4×4 splits the transverse branches near
    Γ by 15 %; with 5×5×5 the sound velocities agree with √(C/ρ) to 0.2 %).

    Parameters
    ----------
    points : names of ASE special points of the cell (``atoms.cell.bandpath()``), or a
        mapping name -> scaled reciprocal coordinates. Default: Γ, X, L (fcc); Γ, H, N (bcc);
        Γ, M, K, A (hexagonal); Γ, X, M, R (simple cubic); all special points otherwise.
    """
    from ase.phonons import Phonons

    if not np.all(atoms.pbc):
        raise ConfigError("phonons: the structure must be periodic in all three directions")
    special = atoms.cell.bandpath(npoints=0).special_points
    if points is None:
        names = _PHONON_POINTS.get(atoms.cell.get_bravais_lattice().name, tuple(special))
        chosen = {n: special[n] for n in names}
    elif isinstance(points, Mapping):
        chosen = {str(k): np.asarray(v, dtype=float) for k, v in points.items()}
    else:
        unknown = [p for p in points if p not in special]
        if unknown:
            raise ConfigError(f"phonons: unknown special point(s) {', '.join(unknown)}; this cell "
                              f"has {', '.join(special)}")
        chosen = {p: special[p] for p in points}
    with tempfile.TemporaryDirectory(prefix="potforge-phonons-") as tmp:
        ph = Phonons(atoms.copy(), calc, supercell=tuple(supercell), delta=delta,
                     name=str(Path(tmp) / "phonon"))
        ph.run()
        ph.read(acoustic=True)
        energies = ph.band_structure(np.array(list(chosen.values())), verbose=False)
    frequencies = {name: sorted(float(e) * _THZ_PER_EV for e in row)
                   for name, row in zip(chosen, energies)}
    return PhononResult(frequencies, {k: tuple(float(x) for x in v) for k, v in chosen.items()},
                        tuple(supercell))


# -- 8. the table -----------------------------------------------------------------------------
def _check_which(which: Iterable[str] | None, lattice: str) -> list[str]:
    defaults = {
        "fcc": PROPERTY_GROUPS,
        "bcc": tuple(g for g in PROPERTY_GROUPS if g != "stacking_fault"),
        "diamond": tuple(g for g in PROPERTY_GROUPS if g != "stacking_fault"),
        "hcp": ("lattice", "eos", "elastic", "vacancy", "phonons"),
        "sc": ("lattice", "eos", "elastic", "vacancy", "phonons"),
    }[lattice]
    if which is None:
        return list(defaults)
    chosen = []
    for name in which:
        name = name.strip()
        if name not in PROPERTY_GROUPS:
            near = difflib.get_close_matches(name, PROPERTY_GROUPS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"only: unknown property {name!r}{hint}; expected some of "
                              f"{', '.join(PROPERTY_GROUPS)}")
        if name not in defaults:
            raise ConfigError(f"only: {name} is not available for {lattice}; available: "
                              f"{', '.join(defaults)}")
        if name not in chosen:
            chosen.append(name)
    return [g for g in PROPERTY_GROUPS if g in chosen]


def property_table(calc, element: str, lattice: str, *, which: Iterable[str] | None = None,
                   a_guess: float | None = None,
                   progress: Callable[[str], None] | None = None) -> dict:
    """The properties of one element in one lattice as a JSON-able dict, keys named with units.

    ``which`` selects groups of :data:`PROPERTY_GROUPS` (default: all that apply to the
    lattice; ``stacking_fault`` is fcc only, ``surfaces`` fcc, bcc and diamond). The lattice
    constant is always computed (everything else needs it) and reported. ``progress`` gets
    one line per property as it is done.

    Keys: ``element``, ``lattice``, ``a0_angstrom``, ``c_angstrom`` (hcp), ``cohesive_energy_ev``;
    eos: ``e0_ev_per_atom``, ``v0_angstrom3_per_atom``, ``bulk_modulus_gpa``, ``bulk_modulus_prime``;
    elastic: ``c11_gpa``, ``c12_gpa``, ``c44_gpa``, ``cauchy_pressure_gpa`` (C12 − C44),
    ``cij_gpa`` (6×6), ``bulk_modulus_voigt_gpa``; hcp instead ``c11_gpa``, ``c12_gpa``,
    ``c13_gpa``, ``c33_gpa``, ``c44_gpa``, ``c66_gpa``, ``cauchy_pressure_13_44_gpa``,
    ``cauchy_pressure_12_66_gpa``;
    vacancy: ``vacancy_formation_ev``; surfaces: ``surface_energy_{100,110,111}_j_per_m2``;
    stacking_fault: ``stacking_fault_mj_per_m2``; phonons: ``phonons_thz`` (point -> THz);
    ``warnings`` (list of str, only if any): mechanical or dynamical instability, relaxations
    that did not converge.
    """
    element, lattice = check_element(element), check_lattice(lattice)
    groups = _check_which(which, lattice)
    say = progress or (lambda line: None)
    out: dict = {"element": element, "lattice": lattice}
    warnings: list[str] = []

    def warn(text: str) -> None:
        warnings.append(text)
        say(f"warning: {text}")

    t0 = time.perf_counter()
    lat = lattice_constant(calc, element, lattice, a_guess)
    out["a0_angstrom"] = lat.a0
    if lat.c is not None:
        out["c_angstrom"] = lat.c
    out["cohesive_energy_ev"] = lat.cohesive_energy
    c_text = f", c = {lat.c:.4f} Å" if lat.c is not None else ""
    say(f"lattice: a0 = {lat.a0:.4f} Å{c_text}, E_coh = {lat.cohesive_energy:.4f} eV "
        f"({time.perf_counter() - t0:.1f} s)")

    if "eos" in groups:
        t0 = time.perf_counter()
        eos = equation_of_state(calc, element, lattice, lat.a0, c=lat.c)
        out.update(e0_ev_per_atom=eos.e0, v0_angstrom3_per_atom=eos.v0,
                   bulk_modulus_gpa=eos.bulk_modulus, bulk_modulus_prime=eos.bulk_modulus_prime)
        say(f"eos: B0 = {eos.bulk_modulus:.2f} GPa, B0' = {eos.bulk_modulus_prime:.3f} "
            f"({time.perf_counter() - t0:.1f} s)")
    if "elastic" in groups:
        t0 = time.perf_counter()
        el = elastic_constants(calc, _with_calc(bulk_crystal(element, lattice, lat.a0, lat.c), calc))
        if lattice == "hcp":   # two Cauchy pressures: C13 − C44 and C12 − C66
            out.update({f"{k}_gpa": v for k, v in el.hexagonal().items()})
            out["cauchy_pressure_13_44_gpa"] = out["c13_gpa"] - out["c44_gpa"]
            out["cauchy_pressure_12_66_gpa"] = out["c12_gpa"] - out["c66_gpa"]
        else:
            out.update(c11_gpa=el.c11, c12_gpa=el.c12, c44_gpa=el.c44,
                       cauchy_pressure_gpa=el.cauchy_pressure)
        out["bulk_modulus_voigt_gpa"] = el.bulk_modulus
        out["cij_gpa"] = el.cij.tolist()
        lowest = float(np.min(np.linalg.eigvalsh(0.5 * (el.cij + el.cij.T))))
        if lowest <= 0:
            warn(f"elastic: {lattice} {element} is mechanically unstable (lowest eigenvalue of "
                 f"Cij {lowest:.2f} GPa <= 0, Born criterion); relaxed defect and surface "
                 "energies of this lattice are not meaningful")
        say(f"elastic: C11 = {out['c11_gpa']:.2f}, C12 = {out['c12_gpa']:.2f}, "
            f"C44 = {out['c44_gpa']:.2f} GPa ({time.perf_counter() - t0:.1f} s)")
    if "vacancy" in groups:
        t0 = time.perf_counter()
        vac = vacancy_formation_energy(calc, element, lattice, lat.a0, c=lat.c)
        out["vacancy_formation_ev"] = vac.formation_energy
        if not vac.converged:
            warn("vacancy: the relaxation did not reach fmax within its step limit")
        say(f"vacancy: E_v = {vac.formation_energy:.4f} eV ({vac.n_atoms} atoms, "
            f"{time.perf_counter() - t0:.1f} s)")
    if "surfaces" in groups:
        for (lat_name, miller) in _SURFACE_BUILDERS:
            if lat_name != lattice:
                continue
            t0 = time.perf_counter()
            surf = surface_energy(calc, element, lattice, lat.a0, miller)
            label = "".join(map(str, miller))
            out[f"surface_energy_{label}_j_per_m2"] = surf.energy_j_per_m2
            if not surf.converged:
                warn(f"surface ({label}): the relaxation did not reach fmax within its step limit")
            say(f"surface ({label}): {surf.energy_j_per_m2:.4f} J/m² ({surf.layers} layers, "
                f"{time.perf_counter() - t0:.1f} s)")
    if "stacking_fault" in groups:
        t0 = time.perf_counter()
        sf = stacking_fault_energy(calc, element, lat.a0)
        out["stacking_fault_mj_per_m2"] = sf.energy_mj_per_m2
        if not sf.converged:
            warn("stacking fault: the relaxation did not reach fmax within its step limit")
        say(f"stacking fault: {sf.energy_mj_per_m2:.2f} mJ/m² ({time.perf_counter() - t0:.1f} s)")
    if "phonons" in groups:
        t0 = time.perf_counter()
        ph = phonons(calc, bulk_crystal(element, lattice, lat.a0, lat.c))
        out["phonons_thz"] = ph.frequencies
        text = ", ".join(f"{k}: {max(v):.3f}" for k, v in ph.frequencies.items())
        say(f"phonons: highest THz {text} ({time.perf_counter() - t0:.1f} s)")
        if any(min(v) < -0.05 for v in ph.frequencies.values()):
            warn("phonons: imaginary frequencies (shown negative): the lattice is dynamically "
                 "unstable")
    if warnings:
        out["warnings"] = warnings
    return out


# -- 9. DFT reference -------------------------------------------------------------------------
def _green_lagrange(cell0: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deformation gradient F (column convention, x' = F x) and the Green–Lagrange strain
    E = ½(FᵀF − I) of ``cell`` relative to ``cell0`` (rows are cell vectors: cell = cell0 Fᵀ)."""
    f = np.linalg.solve(cell0, cell).T
    return f, 0.5 * (f.T @ f - np.eye(3))


def _to_voigt(tensor: np.ndarray, engineering: bool) -> np.ndarray:
    factor = 2.0 if engineering else 1.0
    t = tensor
    return np.array([t[0, 0], t[1, 1], t[2, 2], factor * t[1, 2], factor * t[0, 2], factor * t[0, 1]])


def reference_properties(frames: Sequence[Atoms], element: str, lattice: str, *,
                         max_strain: float = 0.035, degree: int = 2) -> dict:
    """What a labelled DFT data set says about the properties of :func:`property_table`.

    ``frames`` are ``ase.Atoms`` with energies and stresses (calculator results, as
    ``ase.io.read`` gives them) and ``atoms.info["config_type"]`` as in the mlearn data
    (Zuo et al., J. Phys. Chem. A 124, 731 (2020)).

    - Ground state: the ``Elastic`` frame whose ``info["description"]`` starts with
      "Ground state" (mlearn's label), else the ``Elastic`` frame of smallest |σ|. Gives
      ``e0_ev_per_atom``, ``v0_angstrom3_per_atom`` and, for cubic lattices, a0 = (V/N · n)^(1/3)
      with n atoms per conventional cell.
    - Elastic constants: each ``Elastic`` frame with the ground state's atom count is a
      homogeneous strain of it, F = (cell_gs⁻¹ cell)ᵀ; its Green–Lagrange strain
      ε = ½(FᵀF − I) (Voigt, engineering shears) and second Piola–Kirchhoff stress
      S = det F · F⁻¹ σ F⁻ᵀ (σ: the DFT stress, so rigid rotations of a frame cancel) are
      fitted by linear least squares, S = S0 + C ε + Σ_k Σ_{p=2..d_k} D_kp ε_k^p, over the
      frames with max |ε_i| ≤ ``max_strain``; S0 takes the ground state's residual stress and
      the powers (d_k ≤ ``degree``, as many as the values of ε_k allow) the curvature of the
      stress–strain curves, so C is the slope at ε = 0. Defaults: mlearn strains one Voigt
      component at a time by ±1 … ±10 %. Over ±3.5 % with quadratic terms, EMT-labelled
      frames of that design give EMT's own constants to 0.5 % (cubic terms would give 0.1 %,
      but on the noisy mlearn Cu stresses they make the cubic-equivalent C11, C22, C33 differ
      by 10 %, against 2 % with quadratic terms); the full ±10 % is far from polynomial
      (third- and fourth-order constants) and biases C11 by several %. The mlearn Cu
      stresses are noisy (ΔE/(Vσ:Δε) = 0.98, data README): other ranges and degrees move C11
      by about ±10 GPa, C12 by ±5 GPa and C44 by ±2 GPa, the bulk modulus by ±2 %. C is
      symmetrised; the note gives the asymmetry before. Reported as ``cij_gpa``, cubic averages
      ``c11_gpa``, ``c12_gpa``, ``c44_gpa``, ``cauchy_pressure_gpa``, ``bulk_modulus_voigt_gpa``
      and ``bulk_modulus_gpa`` = (C11 + 2C12)/3 (the data hold no hydrostatic E–V scan; at
      zero pressure the two agree exactly). These are the energy-derivative constants C⁰ at
      the ground state; under a pressure P they relate to the stress–strain coefficients B of
      :func:`elastic_constants` by C⁰11 = B11 + P, C⁰12 = B12 − P, C⁰44 = B44 + P (Wallace
      1972), a 0.3 GPa effect at mlearn Cu's residual pressure.
    - Vacancy: mlearn's ``Vacancy`` frames are AIMD snapshots (300 K and above), not relaxed
      structures, so E(N−1) − (N−1) e_gs contains the thermal potential energy of ~N atoms
      (≈ (3/2) N k_B T): it is only an upper bound of the relaxed formation energy.
      The minimum over the frames is reported as ``vacancy_formation_upper_bound_ev``
      (deliberately not ``vacancy_formation_ev``).

    Returns the keys that the data allow plus ``notes`` (list of str) saying what was used.
    """
    lattice = check_lattice(lattice)
    notes: list[str] = []
    out: dict = {"element": element, "lattice": lattice}
    labelled = []
    for k, atoms in enumerate(frames):
        syms = set(atoms.get_chemical_symbols())
        if syms != {element}:
            continue
        labelled.append((k, atoms))
    if not labelled:
        raise DataFormatError(f"no frames of pure {element} in the data")
    elastic = [(k, a) for k, a in labelled if str(a.info.get("config_type", "")).lower() == "elastic"]
    vacancy = [(k, a) for k, a in labelled if str(a.info.get("config_type", "")).lower() == "vacancy"]

    ground = None
    if elastic:
        marked = [(k, a) for k, a in elastic
                  if str(a.info.get("description", "")).lower().startswith("ground state")]
        if marked:
            ground = marked[0]
            notes.append(f"ground state: frame {ground[0]} (description 'Ground state crystal')")
        else:
            ground = min(elastic, key=lambda ka: float(np.linalg.norm(_stress(ka[1], ka[0]))))
            notes.append(f"ground state: frame {ground[0]} (Elastic frame of smallest |stress|; "
                         "no 'Ground state' description)")
    else:
        notes.append("no config_type 'Elastic' frames: no ground state, elastic constants or a0")

    if ground is not None:
        k_gs, gs = ground
        n_gs = len(gs)
        e_gs = _energy_label(gs, k_gs) / n_gs
        v_gs = float(gs.get_volume()) / n_gs
        out["e0_ev_per_atom"] = e_gs
        out["v0_angstrom3_per_atom"] = v_gs
        if lattice in _ATOMS_PER_CUBIC_CELL:
            out["a0_angstrom"] = (v_gs * _ATOMS_PER_CUBIC_CELL[lattice]) ** (1 / 3)
        else:
            notes.append("a0 not derived: hcp needs c/a, which V/N alone does not give")
        p_gs = -float(np.trace(_stress(gs, k_gs, voigt=False))) / 3 / units.GPa
        notes.append(f"ground-state pressure {p_gs:.3f} GPa")

        fitted = _fit_elastic_constants(gs, elastic, max_strain, degree)
        if isinstance(fitted, str):
            notes.append(fitted)
        else:
            c, used, deg, asym = fitted
            c11 = float(np.mean(np.diag(c)[:3]))
            c12 = float(np.mean(c[:3, :3][~np.eye(3, dtype=bool)]))
            c44 = float(np.mean(np.diag(c)[3:]))
            out.update(c11_gpa=c11, c12_gpa=c12, c44_gpa=c44, cauchy_pressure_gpa=c12 - c44,
                       bulk_modulus_voigt_gpa=float(np.sum(c[:3, :3]) / 9),
                       bulk_modulus_gpa=(c11 + 2 * c12) / 3, cij_gpa=c.tolist())
            notes.append(f"elastic constants: PK2 stress fitted by a degree-{deg} polynomial in "
                         f"each Green-Lagrange strain component over {used} Elastic frames with "
                         f"|strain| <= {max_strain} (largest |C_ij - C_ji| before symmetrising "
                         f"{asym:.2f} GPa); bulk modulus = (C11 + 2 C12)/3")

        if vacancy:
            estimates = [_energy_label(a, k) - len(a) * e_gs
                         for k, a in vacancy if len(a) == n_gs - 1]
            if estimates:
                out["vacancy_formation_upper_bound_ev"] = min(estimates)
                notes.append(
                    f"vacancy: {len(estimates)} Vacancy frames are AIMD snapshots, not relaxed; "
                    f"E(N-1) - (N-1) e_gs ranges {min(estimates):.2f} to {max(estimates):.2f} eV "
                    "and includes thermal potential energy, so its minimum is only an upper "
                    "bound of the relaxed vacancy formation energy")
            else:
                notes.append(f"vacancy: no Vacancy frame has {n_gs - 1} atoms (ground state "
                             f"minus one)")
    if not vacancy:
        notes.append("no config_type 'Vacancy' frames")
    notes.append("not in the data: cohesive energy (no isolated atom), surface energies by "
                 "facet (Surface frames carry no Miller labels), stacking fault, phonons")
    out["notes"] = notes
    return out


def _fit_elastic_constants(ground: Atoms, strained: Sequence[tuple[int, Atoms]], max_strain: float,
                           degree: int) -> tuple[np.ndarray, int, int, float] | str:
    """(C GPa symmetrised, frames used, degree, max asymmetry GPa) or the reason for none;
    ``strained`` holds (frame index, atoms) pairs."""
    n_atoms, cell0 = len(ground), ground.cell.array
    strains, stresses = [], []
    for k, atoms in strained:
        if len(atoms) != n_atoms:
            continue
        f, strain = _green_lagrange(cell0, atoms.cell.array)
        e_voigt = _to_voigt(strain, engineering=True)
        if np.max(np.abs(e_voigt)) > max_strain + 1e-12:
            continue
        sigma = _stress(atoms, k, voigt=False)
        pk2 = np.linalg.det(f) * np.linalg.solve(f, np.linalg.solve(f, sigma).T).T
        strains.append(e_voigt)
        stresses.append(_to_voigt(pk2, engineering=False))
    used = len(strains)
    if used == 0:
        return f"elastic constants not fitted: no Elastic frame within |strain| <= {max_strain}"
    eps, sig = np.array(strains).reshape(used, 6), np.array(stresses).reshape(used, 6)
    # per strain component: the highest power (<= degree) that its distinct non-zero values
    # on both sides of zero can determine
    powers = []
    dominant = np.argmax(np.abs(eps), axis=1)
    for k, col in enumerate(eps.T):
        # values of frames that strain mostly this component (a shear frame's ½γ² normal
        # strain does not count)
        values = np.unique(np.round(col[(dominant == k) & (np.abs(col) > 1e-9)], 6))
        if values.size == 0 or not values.min() < 0 < values.max():
            return (f"elastic constants not fitted: the {used} Elastic frames with |strain| <= "
                    f"{max_strain} do not strain Voigt component {k + 1} both ways")
        powers.append(max(1, min(int(degree), values.size - 1)))
    columns = [np.ones(used)] + [eps[:, k] for k in range(6)]
    columns += [eps[:, k] ** p for k in range(6) for p in range(2, powers[k] + 1)]
    design = np.column_stack(columns)
    if used <= design.shape[1] or np.linalg.matrix_rank(design) < design.shape[1]:
        return (f"elastic constants not fitted: {used} Elastic frames with |strain| <= "
                f"{max_strain} cannot determine {design.shape[1]} coefficients per stress component")
    coef, *_ = np.linalg.lstsq(design, sig, rcond=None)
    c_raw = coef[1:7].T / units.GPa          # C[i, j] = dS_i/dε_j at ε = 0
    return (0.5 * (c_raw + c_raw.T), used, max(powers), float(np.max(np.abs(c_raw - c_raw.T))))


def _energy_label(atoms: Atoms, index: int) -> float:
    try:
        return float(atoms.get_potential_energy())
    except Exception as err:  # no energy label
        raise DataFormatError(f"frame {index}: no energy label ({err})") from None


def _stress(atoms: Atoms, index: int, voigt: bool = True) -> np.ndarray:
    try:
        return np.asarray(atoms.get_stress(voigt=voigt), dtype=float)
    except Exception as err:  # no stress label: ASE raises PropertyNotImplementedError/RuntimeError
        raise DataFormatError(f"frame {index}: no stress label ({err})") from None


# -- 10. comparison ---------------------------------------------------------------------------
_TABLE_ORDER = (
    "a0_angstrom", "c_angstrom", "cohesive_energy_ev", "e0_ev_per_atom", "v0_angstrom3_per_atom",
    "bulk_modulus_gpa", "bulk_modulus_prime", "bulk_modulus_voigt_gpa", "c11_gpa", "c12_gpa",
    "c13_gpa", "c33_gpa", "c44_gpa", "c66_gpa", "cauchy_pressure_gpa",
    "cauchy_pressure_13_44_gpa", "cauchy_pressure_12_66_gpa", "vacancy_formation_ev",
    "vacancy_formation_upper_bound_ev", "surface_energy_100_j_per_m2",
    "surface_energy_110_j_per_m2", "surface_energy_111_j_per_m2", "stacking_fault_mj_per_m2",
)


def _scalar(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def comparison_table(model_props: Mapping, dft_props: Mapping) -> str:
    """Markdown table ``property | model | DFT | difference (%)`` over the scalar properties
    either dict has (difference = 100 (model − DFT)/|DFT| where both exist), then phonon
    frequencies per point where both have them, then the DFT ``notes`` as a list."""
    keys = [k for k in _TABLE_ORDER if k in model_props or k in dft_props]
    keys += sorted(k for k in {*model_props, *dft_props} - set(keys)
                   if _scalar(model_props.get(k)) is not None or _scalar(dft_props.get(k)) is not None)
    lines = ["| property | model | DFT | difference (%) |", "|---|---|---|---|"]
    for key in keys:
        m, d = _scalar(model_props.get(key)), _scalar(dft_props.get(key))
        if m is None and d is None:
            continue
        diff = f"{100 * (m - d) / abs(d):+.1f}" if m is not None and d not in (None, 0.0) else "—"
        lines.append(f"| {key} | {_fmt(m)} | {_fmt(d)} | {diff} |")
    pm, pd = model_props.get("phonons_thz") or {}, dft_props.get("phonons_thz") or {}
    for point in (p for p in pm if p in pd):
        lines.append(f"| phonons_thz {point} | {' '.join(_fmt(x) for x in pm[point])} | "
                     f"{' '.join(_fmt(x) for x in pd[point])} | — |")
    notes = list(dft_props.get("notes") or [])
    if notes:
        lines.append("")
        lines.extend(f"- DFT: {note}" for note in notes)
    return "\n".join(lines)

