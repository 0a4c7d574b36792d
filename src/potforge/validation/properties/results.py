"""What the property calculations return (eV, Å, GPa, J/m², mJ/m², THz as the names say)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LatticeResult", "EOSResult", "ElasticResult", "VacancyResult", "SurfaceResult",
           "StackingFaultResult", "PhononResult"]


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
