"""What every generator shares: tagging a structure with its config_type and group, the
minimum allowed distance, and the check every structure passes before it is returned."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from ase import Atoms

from ..core.crystals import bulk_crystal as _crystal, lattice_constants, nearest_neighbor_distance
from ..core.errors import ConfigError, StructureError
from ..core.neighbors import check_structure, neighbor_list

__all__ = ["Progress", "tag", "group_name", "parent_crystal", "supercell_reps", "min_allowed_distance",
           "check_structure_valid", "closest_pair", "too_close_atoms"]

Progress = Callable[[str], None]


def tag(atoms: Atoms, config_type: str, group: str, **info: Any) -> Atoms:
    atoms.info = {**atoms.info, **info, "config_type": config_type, "group": group}
    return atoms


def parent_crystal(element: str, phase: str, *, a: float | None = None, c: float | None = None,
                 supercell: Sequence[int] = (1, 1, 1), cubic: bool = False) -> Atoms:
    """A perfect crystal (``ase.build.bulk``) repeated by ``supercell``; untagged.

    ``cubic`` gives the conventional cubic cell (fcc, bcc, diamond, sc) or the orthorhombic
    hcp cell instead of the primitive one.
    """
    a, c = lattice_constants(element, phase, a, c)
    atoms = _crystal(element, phase, a, c, cubic=cubic).repeat(supercell_reps(supercell))
    atoms.info = {"phase": phase, "lattice_constant": a}
    if c is not None:
        atoms.info["lattice_constant_c"] = c
    return atoms


def supercell_reps(supercell: Sequence[int]) -> tuple[int, int, int]:
    reps = tuple(int(n) for n in supercell)
    if len(reps) != 3 or any(n < 1 for n in reps):
        raise ConfigError(f"supercell: expected three positive integers, got {list(supercell)}")
    return reps  # type: ignore[return-value]


def min_allowed_distance(atoms: Atoms, fraction: float) -> float:
    info = atoms.info
    return fraction * nearest_neighbor_distance(info["phase"], info["lattice_constant"],
                                                info.get("lattice_constant_c"))


def check_structure_valid(atoms: Atoms, min_distance: float, what: str = "structure") -> None:
    """Raise StructureError for non-finite coordinates, a degenerate cell, or two atoms closer
    than ``min_distance`` (Å, periodic images included)."""
    try:
        check_structure(atoms.positions, np.asarray(atoms.cell), atoms.pbc, min_height=min_distance)
    except StructureError as err:
        raise StructureError(f"{what}: {err.reason}") from None
    d = closest_pair(atoms, min_distance)
    if d is not None:
        raise StructureError(f"{what}: atoms {d[1]} and {d[2]} are {d[0]:.3f} Å apart, closer than "
                             f"the minimum {min_distance:.3f} Å")


def closest_pair(atoms: Atoms, cutoff: float) -> tuple[float, int, int] | None:
    if cutoff <= 0 or len(atoms) == 0:
        return None
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, cutoff)
    if nl.n_pairs == 0:
        return None
    k = int(np.argmin(nl.distances))
    return float(nl.distances[k]), int(nl.centers[k]), int(nl.neighbors[k])


def too_close_atoms(atoms: Atoms, cutoff: float) -> np.ndarray:
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, cutoff)
    return np.unique(np.concatenate([nl.centers, nl.neighbors]))


def group_name(kind: str, *parts: Any) -> str:
    return "-".join([kind, *(str(p) for p in parts if p not in (None, ""))])
