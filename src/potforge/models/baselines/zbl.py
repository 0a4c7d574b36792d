"""The universal Ziegler–Biersack–Littmark (ZBL) screened nuclear repulsion, switched off
between ``inner`` and ``outer`` exactly as LAMMPS ``pair_style zbl inner outer`` does.

Per pair of atomic numbers Z_i, Z_j at distance r (Ziegler, Biersack, Littmark, *The Stopping
and Range of Ions in Solids*, 1985; LAMMPS doc pair_zbl):

    E(r) = k Z_i Z_j / r · φ(r/a) + S(r),    a = 0.46850 Å / (Z_i^0.23 + Z_j^0.23),
    φ(x) = 0.18175 e^{−3.19980x} + 0.50986 e^{−0.94229x} + 0.28022 e^{−0.40290x} + 0.02817 e^{−0.20162x},

with the switching function of ``pair_style lj/gromacs`` that brings energy, force and
curvature to zero at ``outer`` (r_c) from ``inner`` (r_1) on: with t = r − r_1,

    S(r) = C                                  (r < r_1)
    S(r) = A t³/3 + B t⁴/4 + C                (r_1 ≤ r < r_c),  0 beyond r_c,
    A = (−3E'(r_c) + (r_c−r_1)E''(r_c)) / (r_c−r_1)²,  B = (2E'(r_c) − (r_c−r_1)E''(r_c)) / (r_c−r_1)³,
    C = −E(r_c) + (r_c−r_1)E'(r_c)/2 − (r_c−r_1)²E''(r_c)/12.

Deliberate deviation from potforge's constants: the Coulomb constant k is LAMMPS' metal-unit
``qqr2e`` = 14.399645 eV Å/e² (ASE's is 14.3996454784…, 3e-8 relative away), so that a model
exported with ``pair_style zbl`` gives LAMMPS' numbers to round-off. ZBL's own coefficients have
five digits: the choice changes nothing physical.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from ...core.errors import ConfigError
from ...core.neighbors import check_min_distance, neighbor_list
from ...core.voigt import VOIGT_COLS, VOIGT_ROWS
from ..potential import Potential, Prediction

__all__ = ["ZBL", "zbl_energy", "LAMMPS_COULOMB", "pair_prediction"]

#: LAMMPS' Coulomb constant in metal units (force->qqr2e, src/update.cpp), eV Å / e²
LAMMPS_COULOMB = 14.399645
_SCREENING_LENGTH = 0.46850  # Å
_EXPONENT = 0.23
_C = np.array([0.18175, 0.50986, 0.28022, 0.02817])
_D = np.array([3.19980, 0.94229, 0.40290, 0.20162])
#: elements ZBL describes here: Z = 1 … 118 (ASE's symbols)
ELEMENTS = tuple(chemical_symbols[1:119])


def _screened_coulomb(r: np.ndarray, zi: np.ndarray, zj: np.ndarray) -> tuple[np.ndarray, ...]:
    """The unswitched ZBL pair energy E(r) (eV) and its first two derivatives (eV/Å, eV/Å²)."""
    a = _SCREENING_LENGTH / (zi ** _EXPONENT + zj ** _EXPONENT)
    k = LAMMPS_COULOMB * zi * zj
    rate = _D[None, :] / a[:, None]                     # (n, 4), 1/Å
    terms = _C[None, :] * np.exp(-rate * r[:, None])
    phi = terms.sum(1)
    dphi = -(terms * rate).sum(1)
    d2phi = (terms * rate * rate).sum(1)
    e = k * phi / r
    de = k * (dphi / r - phi / r ** 2)
    d2e = k * (d2phi / r - 2.0 * dphi / r ** 2 + 2.0 * phi / r ** 3)
    return e, de, d2e


def zbl_energy(r: np.ndarray, zi: np.ndarray, zj: np.ndarray, inner: float,
               outer: float) -> tuple[np.ndarray, np.ndarray]:
    """Switched ZBL pair energies (eV) and their derivatives dE/dr (eV/Å) as LAMMPS evaluates
    them (module docstring); ``r`` (n,) Å, ``zi``, ``zj`` (n,) atomic numbers; zero at r ≥ outer."""
    r = np.asarray(r, dtype=np.float64)
    zi = np.asarray(zi, dtype=np.float64)
    zj = np.asarray(zj, dtype=np.float64)
    width = outer - inner
    ec, dec, d2ec = _screened_coulomb(np.full_like(r, outer), zi, zj)
    sa = (-3.0 * dec + width * d2ec) / width ** 2
    sb = (2.0 * dec - width * d2ec) / width ** 3
    sc = -ec + 0.5 * width * dec - width ** 2 * d2ec / 12.0
    e, de, _ = _screened_coulomb(r, zi, zj)
    t = np.maximum(r - inner, 0.0)
    e = e + sc + t ** 3 * (sa / 3.0 + sb / 4.0 * t)
    de = de + t ** 2 * (sa + sb * t)
    inside = r < outer
    return np.where(inside, e, 0.0), np.where(inside, de, 0.0)


def pair_prediction(atoms: Atoms, pair_energy, cutoff: float, min_distance: float, *,
                    forces: bool, stress: bool) -> Prediction:
    """The prediction of a pair potential ``pair_energy(r, zi, zj) -> (e, de/dr)`` over the full
    neighbour list: E_i = ½ Σ_j e(r_ij); forces F_a = Σ_{p: i=a} g_p − Σ_{p: j=a} g_p and
    stress σ = (1/V) Σ_p sym(d_p ⊗ g_p) for g_p = ∂E/∂d_p = ½ e'(r) d_p / r."""
    n = len(atoms)
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, cutoff, min_height=min_distance)
    check_min_distance(nl.distances, nl.centers, nl.neighbors, min_distance)
    z = atoms.numbers.astype(np.float64)
    e, de = pair_energy(nl.distances, z[nl.centers], z[nl.neighbors])
    energies = 0.5 * np.bincount(nl.centers, weights=e, minlength=n)
    out = Prediction(energy=float(energies.sum()), energies=energies)
    g = (0.5 * de / np.where(nl.distances > 0, nl.distances, 1.0))[:, None] * nl.vectors
    if forces:
        f = np.zeros((n, 3))
        for c in range(3):
            f[:, c] = (np.bincount(nl.centers, weights=g[:, c], minlength=n)
                       - np.bincount(nl.neighbors, weights=g[:, c], minlength=n))
        out.forces = f
    if stress and np.all(atoms.pbc):
        full = nl.vectors.T @ g
        out.stress = 0.5 * (full[VOIGT_ROWS, VOIGT_COLS] + full[VOIGT_COLS, VOIGT_ROWS]) / atoms.get_volume()
    return out


class ZBL(Potential):
    """ZBL repulsion of any elements with LAMMPS' ``pair_style zbl inner outer`` switching.

    Parameters
    ----------
    inner : float, Å
        Where the switching function starts (LAMMPS' ``inner``), > 0.
    outer : float, Å
        The cutoff (LAMMPS' ``outer``), > inner.
    key : str
        The dotted config key that errors name.

    Evaluated in NumPy float64 whatever :attr:`dtype` says (the cost is that of the neighbour
    list).
    """

    kind: ClassVar[str] = "zbl"

    def __init__(self, inner: float, outer: float, *, key: str = "zbl") -> None:
        inner, outer = float(inner), float(outer)
        if not (0.0 < inner < outer <= 100.0):
            raise ConfigError(f"{key}: expected 0 < inner < outer <= 100 Å, got inner = {inner:g}, "
                              f"outer = {outer:g}")
        self.inner, self.outer = inner, outer

    @property
    def species(self) -> tuple[str, ...]:
        return ELEMENTS

    @property
    def cutoff(self) -> float:
        return self.outer

    def _pair(self, r, zi, zj):
        return zbl_energy(r, zi, zj, self.inner, self.outer)

    def predict(self, atoms: Atoms, *, forces: bool = True, stress: bool = True) -> Prediction:
        if atoms.numbers.size and not 1 <= atoms.numbers.min() <= atoms.numbers.max() <= len(ELEMENTS):
            raise ConfigError(f"zbl: atomic numbers {sorted(set(atoms.numbers.tolist()))} outside "
                              f"1-{len(ELEMENTS)}")
        return pair_prediction(atoms, self._pair, self.outer, self.min_distance, forces=forces, stress=stress)

    def to_dict(self) -> dict:
        return {"inner": self.inner, "outer": self.outer}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {}

    @classmethod
    def from_saved(cls, description: dict, arrays: dict[str, np.ndarray]) -> "ZBL":
        return cls(description["inner"], description["outer"])
