"""Farthest-point selection of structures by their descriptor statistics.

Each structure is summarised by one vector: the mean over its atoms of the per-atom features
(e.g. symmetry functions), optionally followed by their standard deviation, which tells a
vacancy or a surface from the perfect crystal even where the mean barely moves. Columns are
standardised over the structures (divided by their spread; constant columns dropped) so no
feature dominates by its units. Greedy farthest-point sampling (Gonzalez 1985) then picks, after
``start``, the structure farthest (Euclidean) from all picked so far; ties go to the lowest index,
so the result is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["structure_vectors", "farthest_point_selection"]


def structure_vectors(features: Sequence[np.ndarray], *, std: bool = True,
                      standardize: bool = True) -> np.ndarray:
    """(n_structures, n_features or 2 n_features) summary vectors of per-atom features.

    Parameters
    ----------
    features : sequence of (n_atoms_k, n_features) float
        Per-atom features of each structure (same columns for all).
    std : bool
        Append the per-structure standard deviation of each feature.
    standardize : bool
        Divide each column by its standard deviation over the structures (zero-spread columns
        are dropped).
    """
    rows = []
    width = None
    for k, f in enumerate(features):
        f = np.asarray(f, dtype=np.float64)
        if f.ndim == 1:
            f = f[None, :]
        if f.ndim != 2 or f.shape[0] == 0:
            raise ValueError(f"features[{k}]: expected a non-empty (n_atoms, n_features) array, "
                             f"got shape {f.shape}")
        if width is None:
            width = f.shape[1]
        elif f.shape[1] != width:
            raise ValueError(f"features[{k}] has {f.shape[1]} columns, features[0] {width}")
        rows.append(np.concatenate([f.mean(axis=0), f.std(axis=0)]) if std else f.mean(axis=0))
    if not rows:
        return np.zeros((0, 0))
    x = np.array(rows)
    if standardize:
        spread = x.std(axis=0)
        keep = spread > 1e-12 * max(1.0, float(np.abs(x).max()))
        x = (x[:, keep] - x[:, keep].mean(axis=0)) / spread[keep]
    return x


def farthest_point_selection(features: Sequence[np.ndarray], n: int, *, start: int = 0,
                             std: bool = True, standardize: bool = True) -> list[int]:
    """Indices of ``n`` structures spread as far apart as possible in descriptor space.

    Parameters
    ----------
    features : sequence of (n_atoms_k, n_features) float
        Per-atom features of each structure.
    n : int
        Number to select (all of them, in selection order, if there are fewer).
    start : int
        The first structure picked.
    std, standardize : bool
        See :func:`structure_vectors`.

    Returns
    -------
    list of int
        Distinct indices in the order picked, ``start`` first.
    """
    x = structure_vectors(features, std=std, standardize=standardize)
    m = len(x)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if m == 0 or n == 0:
        return []
    if not 0 <= start < m:
        raise ValueError(f"start {start} is not an index of the {m} structures")
    picked = [start]
    distance = np.linalg.norm(x - x[start], axis=1)
    distance[start] = -1.0
    while len(picked) < min(n, m):
        k = int(np.argmax(distance))  # first maximum: ties go to the lowest index
        picked.append(k)
        distance = np.minimum(distance, np.linalg.norm(x - x[k], axis=1))
        distance[picked] = -1.0
    return picked
