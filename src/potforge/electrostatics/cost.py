"""Cost and memory estimates of the electrostatic products, and the choice of method.

``method="auto"`` for periodic cells uses Ewald below
:data:`~potforge.electrostatics.pme.PME_MIN_ATOMS` atoms (where it fits in memory) and from
there on Ewald (real-space pairs + k vectors) or PME (real-space pairs + mesh), whichever
product A x is estimated to cost less, not PME by the atom count alone: the mesh follows the
volume, so a few thousand atoms in a mostly empty box need far fewer k vectors than mesh points.
Where the cheapest method does not fit
:data:`~potforge.electrostatics.ewald.MEMORY_LIMIT`, one line says so with the estimates.
The estimates are rough (a factor of a few); they only decide between orders of magnitude.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import StructureError
from .ewald import MEMORY_LIMIT, kvector_count

__all__ = ["ewald_estimate", "pme_estimate", "choose_periodic_method"]

#: work of one mesh point per product relative to one atom-k-vector term (two real FFTs,
#: influence function; measured crossover ~2000 atoms of a dense crystal, BENCHMARKS.md)
_MESH_WEIGHT = 10.0
#: bytes per real-space pair (indices, shifts, distances, weights and their graph)
_PAIR_BYTES = 100.0


def _pairs(n: int, volume: float, cutoff: float) -> float:
    """Estimated real-space pairs within ``cutoff`` (uniform density), at most all of the images."""
    return n * (n * 4 * math.pi / 3 * cutoff ** 3 / volume + 1)


def ewald_estimate(n: int, cell, volume: float, split, real_cutoff: float) -> tuple[float, float]:
    """(work, bytes) of one matrix-free Ewald product with the splitting ``split``."""
    n_k = kvector_count(cell, split.kspace_cutoff)
    pairs = _pairs(n, volume, real_cutoff)
    return 4.0 * n * n_k + 2.0 * pairs, 32.0 * n * n_k + _PAIR_BYTES * pairs


def pme_estimate(n: int, cell, volume: float, split, real_cutoff: float) -> tuple[float, float, tuple]:
    """(work, bytes, mesh shape) of one PME product with PME's splitting ``split``."""
    from .pme import PME_ORDER, PME_SPACING, mesh_size

    shape = mesh_size(np.asarray(cell, dtype=float), PME_SPACING * split.eta, PME_ORDER)
    points = float(np.prod(np.asarray(shape, dtype=float)))
    pairs = _pairs(n, volume, real_cutoff)
    work = _MESH_WEIGHT * points * math.log2(max(points, 2.0)) + 2.0 * n * PME_ORDER ** 3 + 2.0 * pairs
    nbytes = 64.0 * points + 16.0 * n * PME_ORDER ** 3 + _PAIR_BYTES * pairs
    return work, nbytes, shape


def choose_periodic_method(coulomb) -> str:
    """"ewald" or "pme": the cheaper estimate that fits in memory; one line where neither fits."""
    from .pme import PME_MIN_ATOMS, pme_parameters

    cell = coulomb.cell.detach().cpu().numpy()
    volume = float(coulomb.volume.detach())
    n = coulomb.n_atoms
    stretch = 1.0 if coulomb.sigma is None else float(coulomb.sigma.detach().max()) * math.sqrt(2)
    ew = coulomb.ewald
    e_work, e_bytes = ewald_estimate(n, cell, volume, ew, ew.real_cutoff * max(1.0, stretch / ew.eta))
    pp = pme_parameters(coulomb)
    p_work, p_bytes, shape = pme_estimate(n, cell, volume, pp, pp.real_cutoff)
    fits = {"ewald": e_bytes <= MEMORY_LIMIT, "pme": p_bytes <= MEMORY_LIMIT}
    if not any(fits.values()):
        raise StructureError(
            f"electrostatics: {n} atoms in a cell of {volume:.4g} Å³ need ~{e_bytes / 2 ** 30:.3g} GiB "
            f"by Ewald ({kvector_count(cell, ew.kspace_cutoff):.3g} k vectors) and ~{p_bytes / 2 ** 30:.3g} "
            f"GiB by PME (mesh {shape[0]}×{shape[1]}×{shape[2]}), limit {MEMORY_LIMIT / 2 ** 30:.3g} GiB; "
            f"use a smaller cell (less vacuum) or open boundaries for a cluster")
    # below PME_MIN_ATOMS Ewald as before (n2p2's own splitting, exact to its truncation)
    small = n < PME_MIN_ATOMS
    if fits["ewald"] and (small or not fits["pme"] or e_work <= p_work):
        return "ewald"
    return "pme"
