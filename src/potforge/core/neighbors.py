"""The one neighbour-list entry point of potforge (periodic, open and mixed boundaries).

A cell list of potforge's own, in the compiled module (``_csrc/neighbors.hpp``): atoms are
binned in fractional coordinates along periodic directions and in Å along open ones, and only
occupied bins are kept, so time and memory grow with the number of atoms and pairs, never with
the extent of the structure (an atom evaporated 1e6 Å away costs nothing). Cells thinner than
the cutoff are handled through as many periodic images as needed; badly skewed cells are
first reduced to a short, nearly orthogonal basis of the same lattice.

Every input that cannot give a list (non-finite numbers, a singular cell, a cutoff that is not
a finite positive length, a list larger than the memory) raises a one-line
:class:`~potforge.core.errors.PotforgeError`.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, StructureError

__all__ = ["NeighborList", "neighbor_list", "check_structure", "check_min_distance",
           "DEFAULT_MIN_DISTANCE", "MAX_CUTOFF", "MAX_COORDINATE"]

#: Atoms closer than this (Å) are treated as overlapping: no interatomic potential is valid there.
DEFAULT_MIN_DISTANCE = 0.3

#: The largest cutoff (Å) a neighbour list accepts. No interatomic potential reaches 1 µm; a
#: larger value is a unit mistake or a corrupted model file.
MAX_CUTOFF = 1e4

#: The largest |coordinate| and periodic cell length (Å). float64 numbers are 1.2e-4 Å apart at
#: 1e12 Å; beyond that, interatomic distances could not be resolved and results would be noise.
MAX_COORDINATE = 1e12

# Largest dense cell grid (cells); -1: the compiled default (8 per atom, at least 65,536). Beyond
# it, only occupied cells are kept (hash map). Tests set 0 to check the hashed grid everywhere.
_DENSE_CELLS = -1

# bytes per pair of the full list: centre, neighbour (int64), shift (3 int32), vector, distance
_BYTES_PER_PAIR = 8 + 8 + 12 + 24 + 8


def _native():
    """The compiled module (imported on first use: ``import potforge`` stays cheap)."""
    from .. import _native as native

    return native


@functools.lru_cache(maxsize=1)
def _memory_bytes() -> int:
    """Memory this process may use: physical memory, or the cgroup limit when smaller."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 16 * 2**30
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return int(total)


def max_pairs() -> int:
    """The largest neighbour list built: its arrays may take a quarter of the memory."""
    return max(1, _memory_bytes() // (4 * _BYTES_PER_PAIR))


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
        Their lengths; every pair has ``distance < cutoff`` (0 only for atoms on one point).
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
    """Raise :class:`StructureError` for NaN/inf or huge coordinates or a degenerate periodic cell.

    Coordinates and periodic cell vectors must be finite and below :data:`MAX_COORDINATE`;
    the periodic cell vectors must be independent, and every periodic direction must be at
    least ``min_height`` (Å) thick: a thinner cell puts an atom on top of its own image.
    """
    _check_positions(positions)
    _periodic_gram(cell, pbc, min_height)


def _check_positions(positions: np.ndarray) -> None:
    if positions.size == 0:
        return
    largest = float(np.abs(positions).max())
    if largest <= MAX_COORDINATE:  # also False for NaN
        return
    if not np.all(np.isfinite(positions)):
        bad = int(np.argwhere(~np.isfinite(positions))[0, 0])
        raise StructureError(f"atom {bad} has a non-finite coordinate {positions[bad].tolist()}")
    bad = int(np.argmax(np.abs(positions).max(axis=1)))
    raise StructureError(f"atom {bad} lies at {positions[bad].tolist()} Å: coordinates beyond "
                         f"{MAX_COORDINATE:.0e} Å cannot resolve interatomic distances in float64")


def _periodic_gram(cell: np.ndarray, pbc: np.ndarray, min_height: float) -> list[list[float]]:
    """The Gram matrix of the periodic cell vectors (floats), after checking them.

    Plain float arithmetic on at most 3 vectors: numpy's per-call overhead would cost more
    than the rest of a small structure's neighbour list.
    """
    rows = cell.tolist()
    if not all(math.isfinite(x) for row in rows for x in row):
        raise StructureError("the cell has non-finite entries")
    periodic = [a for a in range(3) if pbc[a]]
    vectors = [rows[a] for a in periodic]
    gram = [[u[0] * v[0] + u[1] * v[1] + u[2] * v[2] for v in vectors] for u in vectors]
    lengths = [math.sqrt(gram[k][k]) for k in range(len(vectors))]
    for axis, length in zip(periodic, lengths):
        if length < 1e-8:
            raise StructureError(f"periodic along axis {axis} but cell vector {axis} has zero length")
        if length > MAX_COORDINATE:
            raise StructureError(f"periodic cell vector {axis} is {length:.4g} Å long (at most "
                                 f"{MAX_COORDINATE:.0e} Å)")
    if not vectors:
        return gram
    # independence of the periodic vectors: Gram determinant relative to the lengths
    det = _det(gram)
    if det < 1e-12 * math.prod(x * x for x in lengths):
        raise StructureError(f"the periodic cell vectors {vectors} are (nearly) linearly dependent, or "
                             "so skewed that their volume is below 1e-6 of the product of their "
                             "lengths (give a reduced cell, e.g. ase.build.niggli_reduce)")
    if min_height > 0:
        for k, axis in enumerate(periodic):
            # the component of vector k orthogonal to the other periodic vectors
            minor = [[gram[a][b] for b in range(len(gram)) if b != k] for a in range(len(gram)) if a != k]
            height = math.sqrt(det / _det(minor))
            if height < min_height:
                raise StructureError(f"the cell is only {height:.4g} Å thick along periodic axis "
                                     f"{axis}: each atom would overlap its own image (minimum "
                                     f"{min_height} Å)")
    return gram


def _det(m: list[list[float]]) -> float:
    """Determinant of a 0x0 to 3x3 matrix."""
    if len(m) == 0:
        return 1.0
    if len(m) == 1:
        return m[0][0]
    if len(m) == 2:
        return m[0][0] * m[1][1] - m[0][1] * m[1][0]
    return (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))


def check_cutoff(cutoff: object) -> float:
    """The cutoff as a float, or :class:`ConfigError` unless it is a finite length in
    (0, :data:`MAX_CUTOFF`] Å."""
    try:
        value = float(cutoff)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"the neighbour-list cutoff must be a number of Å, got {cutoff!r}") from None
    if not (math.isfinite(value) and 0.0 < value <= MAX_CUTOFF):
        raise ConfigError(f"the neighbour-list cutoff must be a finite length in (0, {MAX_CUTOFF:g}] Å, "
                          f"got {value!r}")
    return value


def neighbor_list(positions: np.ndarray, cell: np.ndarray, pbc, cutoff: float, *,
                  n_threads: int = 1, min_height: float = 0.0) -> NeighborList:
    """All pairs i, j (including periodic images, including images of i itself) closer than ``cutoff``.

    Parameters
    ----------
    positions : (n_atoms, 3) float, Å
        At most :data:`MAX_COORDINATE` in magnitude; atoms may lie outside the cell.
    cell : (3, 3) float, Å
        Cell vectors as rows; rows of non-periodic directions are ignored.
    pbc : bool or (3,) bool
    cutoff : float, Å
        Pairs with distance strictly below the cutoff are kept; a finite value in
        (0, :data:`MAX_CUTOFF`].
    n_threads : int
        Threads to use (0: all cores). The list is the same, in the same order, for any count.
    min_height : float, Å
        Reject periodic cells thinner than this (see :func:`check_structure`).

    Raises
    ------
    ConfigError
        The cutoff is not a finite length in (0, MAX_CUTOFF].
    StructureError
        Non-finite or huge coordinates, a singular or too thin periodic cell, atoms more than
        2**28 cell lengths outside a periodic cell, or a list that would not fit in memory
        (:func:`max_pairs`).
    """
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    cell = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3)
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise StructureError(f"positions must have shape (n_atoms, 3), got {positions.shape}")
    cutoff = check_cutoff(cutoff)
    if n_threads < 0:
        raise ValueError(f"n_threads must be >= 0, got {n_threads}")
    _check_positions(positions)
    gram = _periodic_gram(cell, pbc, min_height)
    # the rows of open directions become unit vectors orthogonal to everything else, which the
    # compiled cell list needs; skewed periodic rows become a reduced basis of the same lattice
    cell = _complete_cell(cell, pbc)
    work, to_cell = _reduced_cell(cell, pbc, gram)
    try:
        i, j, s, v, d, off = _native().neighbor_list(positions, work, [bool(x) for x in pbc],
                                                     cutoff, int(n_threads), max_pairs(), _DENSE_CELLS)
    except MemoryError:
        raise StructureError(f"not enough memory for the neighbour list of {len(positions)} atoms with "
                             f"a cutoff of {cutoff:g} Å") from None
    except ValueError as exc:  # _native.NeighborListError: one line, for the user
        raise StructureError(str(exc)) from None
    if to_cell is not None and len(s):
        s = _shifts_in_cell_basis(s, to_cell, pbc)
    return NeighborList(i, j, s, v, d, off, cutoff)


def _complete_cell(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Replace the rows of non-periodic directions by unit vectors orthogonal to the others."""
    if pbc.all():
        return cell
    if not pbc.any():
        return np.eye(3)
    rows = cell.tolist()  # 3-vector arithmetic in floats: numpy's overhead would dominate here
    periodic_rows = [rows[a] for a in range(3) if pbc[a]]
    for a in range(3):
        if pbc[a]:
            continue
        if len(periodic_rows) == 2:
            n = _cross(periodic_rows[0], periodic_rows[1])
        else:
            p = periodic_rows[0]
            smallest = min(range(3), key=lambda c: abs(p[c]))
            n = _cross(p, [float(c == smallest) for c in range(3)])
        length = math.sqrt(n[0] ** 2 + n[1] ** 2 + n[2] ** 2)
        rows[a] = [x / length for x in n]
        periodic_rows.append(rows[a])
    return np.array(rows)


def _cross(a: list[float], b: list[float]) -> list[float]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def _reduced_cell(cell: np.ndarray, pbc: np.ndarray,
                  gram: list[list[float]]) -> tuple[np.ndarray, np.ndarray | None]:
    """A cell whose periodic rows are a short basis of the same lattice, and the integer matrix
    M with ``reduced_rows = M @ periodic_rows`` (None when the rows are kept as they are);
    ``gram``: the Gram matrix of the periodic rows.

    A skewed basis (say a = (3, 0, 0), b = (3000, 3, 0)) has cell heights far below its lattice
    spacing, which would make the cell list search thousands of images for nothing. Bases whose
    orthogonality defect (product of lengths / volume) is at most 2 are kept: every reduced
    basis of a 3D lattice has a defect below √2.
    """
    if len(gram) < 2 or math.prod(gram[k][k] for k in range(len(gram))) <= 4.0 * _det(gram):
        return cell, None
    periodic = np.flatnonzero(pbc)
    reduced, m = _greedy_reduction(cell[periodic])
    if np.array_equal(m, np.eye(len(m), dtype=np.int64)):
        return cell, None
    out = cell.copy()
    out[periodic] = reduced
    return out, m


def _greedy_reduction(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy lattice reduction of 2 or 3 basis vectors (Nguyen & Stehlé, "Low-dimensional
    lattice basis reduction revisited", 2009): sort by length, then shorten each vector by the
    integer combination of the shorter ones nearest to it, until nothing changes."""
    basis = rows.astype(np.float64).copy()
    m = np.eye(len(rows), dtype=np.int64)
    for _ in range(200):
        order = np.argsort(np.linalg.norm(basis, axis=1), kind="stable")
        basis, m = basis[order], m[order]
        changed = False
        for i in range(1, len(basis)):
            shorter = basis[:i]
            x = np.linalg.lstsq(shorter.T, basis[i], rcond=None)[0]
            best, best_norm, best_c = basis[i], float(np.linalg.norm(basis[i])), None
            for c in itertools.product(*[(math.floor(v), math.ceil(v)) for v in x]):
                candidate = basis[i] - np.asarray(c, dtype=np.float64) @ shorter
                norm = float(np.linalg.norm(candidate))
                if norm < best_norm * (1.0 - 1e-12):
                    best, best_norm, best_c = candidate, norm, np.asarray(c, dtype=np.int64)
            if best_c is not None:
                basis[i] = best
                m[i] -= best_c @ m[:i]
                changed = True
        if not changed:
            break
    return basis, m


def _shifts_in_cell_basis(shifts: np.ndarray, m: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Shifts on the reduced rows -> shifts on the caller's rows (translation = S_red @ M @ rows)."""
    periodic = np.flatnonzero(pbc)
    out = np.zeros(shifts.shape, dtype=np.int64)
    out[:, periodic] = shifts[:, periodic].astype(np.int64) @ m
    limit = np.iinfo(np.int32).max
    if np.abs(out).max() > limit:
        raise StructureError("the periodic cell is so skewed that image shifts exceed 2**31 cell "
                             "vectors; give a reduced cell")
    return out.astype(np.int32)


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
