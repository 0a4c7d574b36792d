"""The one neighbour-list entry point of potforge (periodic, open and mixed boundaries).

Built on vesin (cell lists, any cell shape, cells smaller than the cutoff handled through
multiple periodic images). potforge calls vesin's C library directly from its compiled
module instead of importing vesin's Python package, because that package imports PyTorch
when it is installed, which costs more than a whole prediction of a 1,000-atom box.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import numpy as np

from .errors import StructureError

__all__ = ["NeighborList", "neighbor_list", "check_structure", "check_min_distance",
           "DEFAULT_MIN_DISTANCE"]

#: Atoms closer than this (Å) are treated as overlapping: no interatomic potential is valid there.
DEFAULT_MIN_DISTANCE = 0.3

_loaded = False


def _native():
    """The compiled module with vesin loaded (once per process)."""
    global _loaded
    from .. import _native as native

    if not _loaded:
        spec = importlib.util.find_spec("vesin")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("potforge needs the 'vesin' package (pip install 'vesin>=0.6,<0.7')")
        root = spec.submodule_search_locations[0]
        for name in ("libvesin.so", "libvesin.dylib"):
            path = os.path.join(root, "lib", name)
            if os.path.exists(path):
                native.load_vesin(path)
                break
        else:
            raise ImportError(f"vesin's shared library not found under {root}/lib")
        _loaded = True
    return native


@dataclass(frozen=True)
class NeighborList:
    """A full neighbour list in CSR order (every pair appears as i→j and j→i).

    Attributes
    ----------
    centers, neighbors : (n_pairs,) int64
        Atom indices i and j of each pair, sorted by ``centers``.
    shifts : (n_pairs, 3) int32
        Periodic image of j: ``vectors = positions[j] - positions[i] + shifts @ cell``.
    vectors : (n_pairs, 3) float, Å
        Distance vectors from i to the image of j.
    distances : (n_pairs,) float, Å
        Their lengths; every pair has ``0 < distance < cutoff``.
    offsets : (n_atoms + 1,) int64
        The pairs of atom i are ``offsets[i]:offsets[i + 1]``.
    cutoff : float, Å
    """

    centers: np.ndarray
    neighbors: np.ndarray
    shifts: np.ndarray
    vectors: np.ndarray
    distances: np.ndarray
    offsets: np.ndarray
    cutoff: float

    @property
    def n_pairs(self) -> int:
        return int(self.distances.shape[0])


def check_structure(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray,
                    min_height: float = 0.0) -> None:
    """Raise :class:`StructureError` for NaN/inf coordinates or a degenerate periodic cell.

    The periodic cell vectors must be independent, and every periodic direction must be at
    least ``min_height`` (Å) thick: a thinner cell puts an atom on top of its own image.
    """
    if not np.all(np.isfinite(positions)):
        bad = int(np.argwhere(~np.isfinite(positions))[0, 0])
        raise StructureError(f"atom {bad} has a non-finite coordinate {positions[bad].tolist()}")
    if not np.all(np.isfinite(cell)):
        raise StructureError("the cell has non-finite entries")
    periodic = [a for a in range(3) if pbc[a]]
    if not periodic:
        return
    rows = cell[periodic]
    lengths = np.linalg.norm(rows, axis=1)
    for axis, length in zip(periodic, lengths):
        if length < 1e-8:
            raise StructureError(f"periodic along axis {axis} but cell vector {axis} has zero length")
    # independence of the periodic vectors: Gram determinant relative to the lengths
    gram = rows @ rows.T
    if np.linalg.det(gram) < 1e-12 * float(np.prod(lengths**2)):
        raise StructureError(f"the periodic cell vectors {[cell[a].tolist() for a in periodic]} are "
                             "(nearly) linearly dependent")
    if min_height > 0:
        for k, axis in enumerate(periodic):
            others = np.delete(rows, k, axis=0)
            if len(others) == 0:
                height = lengths[k]
            else:
                # the component of this vector orthogonal to the other periodic vectors
                q, _ = np.linalg.qr(others.T)
                height = float(np.linalg.norm(rows[k] - q @ (q.T @ rows[k])))
            if height < min_height:
                raise StructureError(f"the cell is only {height:.4g} Å thick along periodic axis "
                                     f"{axis}: each atom would overlap its own image (minimum "
                                     f"{min_height} Å)")


def neighbor_list(positions: np.ndarray, cell: np.ndarray, pbc, cutoff: float, *,
                  n_threads: int = 1, min_height: float = 0.0) -> NeighborList:
    """All pairs i, j (including periodic images, including images of i itself) closer than ``cutoff``.

    Parameters
    ----------
    positions : (n_atoms, 3) float, Å
    cell : (3, 3) float, Å
        Cell vectors as rows; rows of non-periodic directions are ignored.
    pbc : bool or (3,) bool
    cutoff : float, Å
        Pairs with distance strictly below the cutoff are kept.
    n_threads : int
        Threads vesin may use (0: all cores).
    min_height : float, Å
        Reject periodic cells thinner than this (see :func:`check_structure`).
    """
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    cell = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3)
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise StructureError(f"positions must have shape (n_atoms, 3), got {positions.shape}")
    if not cutoff > 0.0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    if n_threads < 0:
        raise ValueError(f"n_threads must be >= 0, got {n_threads}")
    check_structure(positions, cell, pbc, min_height)
    if not pbc.all():
        # vesin ignores the non-periodic rows, but they must not make the box singular.
        cell = _complete_cell(cell, pbc)
    i, j, s, v, d, off = _native().neighbor_list(positions, cell, [bool(x) for x in pbc],
                                                 float(cutoff), True, int(n_threads))
    return NeighborList(i, j, s, v, d, off, float(cutoff))


def _complete_cell(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Replace the rows of non-periodic directions by unit vectors orthogonal to the others."""
    cell = cell.copy()
    periodic_rows = [cell[a] for a in range(3) if pbc[a]]
    for a in range(3):
        if pbc[a]:
            continue
        if len(periodic_rows) == 2:
            n = np.cross(periodic_rows[0], periodic_rows[1])
        elif len(periodic_rows) == 1:
            p = periodic_rows[0]
            trial = np.eye(3)[int(np.argmin(np.abs(p)))]
            n = np.cross(p, trial)
        else:
            n = np.eye(3)[a]
        cell[a] = n / np.linalg.norm(n)
        periodic_rows.append(cell[a])
    return cell


def check_min_distance(distances: np.ndarray, centers: np.ndarray, neighbors: np.ndarray,
                       min_distance: float) -> None:
    """StructureError if two atoms (or an atom and an image) are closer than ``min_distance``
    (Å); ``distances``, ``centers``, ``neighbors`` as in :class:`NeighborList`."""
    if distances.size == 0 or min_distance <= 0:
        return
    k = int(np.argmin(distances))
    if distances[k] < min_distance:
        raise StructureError(f"atoms {int(centers[k])} and {int(neighbors[k])} overlap: distance "
                             f"{distances[k]:.4g} Å < {min_distance} Å")
