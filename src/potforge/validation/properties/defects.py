"""Defect and interface energies: the relaxed mono-vacancy, low-index surfaces, the fcc
intrinsic stacking fault."""

from __future__ import annotations

import math

import numpy as np
from ase import Atoms

from ...core.crystals import bulk_crystal, check_lattice
from ...core.errors import ConfigError
from .common import J_PER_M2, potential_energy, relax_atoms, with_calc
from .results import StackingFaultResult, SurfaceResult, VacancyResult

__all__ = ["SURFACE_BUILDERS", "vacancy_formation_energy", "surface_energy", "fcc_111_cell",
           "stacking_fault_energy"]

#: Surfaces :func:`surface_energy` builds: (lattice, miller) -> ase.build function name.
SURFACE_BUILDERS = {
    ("fcc", (1, 0, 0)): "fcc100", ("fcc", (1, 1, 0)): "fcc110", ("fcc", (1, 1, 1)): "fcc111",
    ("bcc", (1, 0, 0)): "bcc100", ("bcc", (1, 1, 0)): "bcc110", ("bcc", (1, 1, 1)): "bcc111",
    ("diamond", (1, 0, 0)): "diamond100", ("diamond", (1, 1, 1)): "diamond111",
}


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
    perfect = with_calc(cell.repeat(size), calc)
    n = len(perfect)
    e_perfect = potential_energy(perfect)
    defect = perfect.copy()
    del defect[0]
    defect.calc = calc
    e_unrelaxed = potential_energy(defect)
    converged = True
    if relax:
        converged = relax_atoms(defect, fmax, max_steps)
    e_relaxed = potential_energy(defect)
    scale = (n - 1) / n
    return VacancyResult(e_relaxed - scale * e_perfect, e_unrelaxed - scale * e_perfect, n,
                         relax, converged)


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
    if key not in SURFACE_BUILDERS:
        supported = ", ".join(f"{lat} ({''.join(map(str, m))})" for lat, m in SURFACE_BUILDERS)
        raise ConfigError(f"surfaces: no {lattice} ({''.join(map(str, miller))}) slab builder; "
                          f"supported: {supported}")
    builder = getattr(build, SURFACE_BUILDERS[key])

    def slab_of(n_layers: int) -> Atoms:
        return builder(element, size=(1, 1, n_layers), a=a0, vacuum=vacuum, periodic=True)

    if layers is None:
        layers = 3
        while np.ptp(slab_of(layers).positions[:, 2]) < min_thickness:
            layers += 1
    elif layers < 2:
        raise ConfigError(f"surfaces: need at least 2 layers, got {layers}")
    slab = with_calc(slab_of(layers), calc)
    crystal = with_calc(bulk_crystal(element, lattice, a0), calc)
    e_bulk = potential_energy(crystal) / len(crystal)
    area = float(np.linalg.norm(np.cross(slab.cell[0], slab.cell[1])))
    n = len(slab)
    unrelaxed = (potential_energy(slab) - n * e_bulk) / (2 * area)
    converged = relax_atoms(slab, fmax, max_steps) if relax else True
    gamma = (potential_energy(slab) - n * e_bulk) / (2 * area)
    return SurfaceResult(miller, gamma * J_PER_M2, gamma, unrelaxed * J_PER_M2, area, n,
                         layers, relax, converged)


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

    perfect = with_calc(fcc_111_cell(element, a0, layers), calc)
    e_perfect = potential_energy(perfect)
    ux, uy = (0.0, a0 / math.sqrt(6)) if displacement is None else map(float, displacement)
    faulted = perfect.copy()
    cell = faulted.cell.array.copy()
    cell[2, :2] += (ux, uy)
    faulted.set_cell(cell, scale_atoms=False)
    faulted.calc = calc
    area = float(perfect.cell[0, 0] * perfect.cell[1, 1])
    unrelaxed = (potential_energy(faulted) - e_perfect) / area
    converged = True
    if relax:
        faulted.set_constraint(FixCartesian(range(len(faulted)), mask=(True, True, False)))
        # UnitCellFilter rather than FrechetCellFilter: one strain component needs no matrix
        # exponentials, which cost more than the energies of this small cell
        converged = relax_atoms(UnitCellFilter(faulted, mask=[False, False, True, False, False, False]),
                           fmax, max_steps)
    gamma = (potential_energy(faulted) - e_perfect) / area
    mj = 1e3 * J_PER_M2
    return StackingFaultResult(gamma * mj, gamma, unrelaxed * mj, (ux, uy), area, len(faulted),
                               relax, converged)
