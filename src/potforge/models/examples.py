"""Small structures for the families' contract examples (:class:`~potforge.models.registry.ModelExample`).

Each family registers an ``example`` that builds a small instance of itself with structures
it accepts; the shared contract (``tests/contracts``) checks every registered kind on them:
finite-difference forces and stress, invariances, smoothness at the cutoff, batch against
single predictions, fragments, float32 against float64, saving and loading. These helpers
make such structures reproducibly (seeded).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

__all__ = ["random_cell", "nearest_cluster", "strained_crystal"]


def random_cell(seed: int, symbols: Sequence[str], n_atoms: int, size: float, *,
                min_distance: float = 0.9, periodic: bool = True) -> Atoms:
    """``n_atoms`` atoms (``symbols`` cycled, then shuffled) placed uniformly at random at least
    ``min_distance`` Å apart (periodic images included) in a triclinic cell of edge ~``size``
    Å (periodic) or a cube of that edge (open)."""
    rng = np.random.default_rng(seed)
    cell = np.eye(3) * size
    if periodic:
        cell = cell + rng.uniform(-0.15, 0.15, (3, 3)) * size
    inverse = np.linalg.inv(cell)
    positions: list[np.ndarray] = []
    for _ in range(100_000):
        if len(positions) == n_atoms:
            break
        p = rng.uniform(0, 1, 3) @ cell
        if positions:
            d = np.asarray(positions) - p
            if periodic:
                frac = d @ inverse
                d = (frac - np.round(frac)) @ cell
            if np.min(np.linalg.norm(d, axis=1)) < min_distance:
                continue
        positions.append(p)
    else:
        raise RuntimeError(f"could not place {n_atoms} atoms {min_distance} Å apart in {size} Å")
    names = [symbols[k % len(symbols)] for k in range(n_atoms)]
    rng.shuffle(names)
    return Atoms(symbols=names, positions=np.array(positions), cell=cell if periodic else None,
                 pbc=periodic)


def strained_crystal(atoms: Atoms, seed: int, rattle: float, strain: Sequence[Sequence[float]]) -> Atoms:
    """``atoms`` rattled (Gaussian, ``rattle`` Å) and deformed by ``1 + strain`` (3×3)."""
    out = atoms.copy()
    out.rattle(rattle, seed=seed)
    out.set_cell(np.asarray(out.cell) @ (np.eye(3) + np.asarray(strain, dtype=float)), scale_atoms=True)
    return out


def nearest_cluster(atoms: Atoms, n: int) -> Atoms:
    """The ``n`` atoms nearest the first one (no periodic images), as an open structure."""
    d = np.linalg.norm(atoms.positions - atoms.positions[0], axis=1)
    out = atoms[np.argsort(d)[:n]].copy()
    out.pbc = False
    out.cell = None
    return out
