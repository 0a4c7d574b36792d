"""Matrix-free Coulomb products for open boundaries: a direct erf sum in row blocks.

A x = Σ_j A_ij x_j with A_ij = k_e erf(r_ij/√2γ_ij)/r_ij (1/r_ij for point charges) and the self
terms on the diagonal, computed for blocks of rows so that memory is O(N × block), not the
O(N²) of the dense matrix (6144 atoms: 0.3 GB per N² table, ~2 GB with its graph), at the same
O(N²) work. Products that carry gradients recompute each block in the backward pass
(torch.utils.checkpoint) instead of storing N² intermediates. Products without gradients (the
many of a CG solve) multiply by the matrix without a graph where it takes at most
:data:`_CACHE_BYTES` (8192 atoms; built block by block, once), by blocks beyond.
"""

from __future__ import annotations

import math

from ..core.errors import StructureError
from ..core.lazy import torch
from .ewald import COULOMB

__all__ = ["OPEN_DENSE_MAX_ATOMS", "OPEN_MAX_ATOMS", "open_matvec", "open_screening_pairs", "block_rows"]

#: "auto" builds the dense matrix of an open cluster up to this many atoms (~0.8 GB with its
#: graph, and faster than recomputing the pair terms in every CG product), direct sums beyond
OPEN_DENSE_MAX_ATOMS = 4096
#: beyond this many atoms one O(N²) product takes minutes: refused (use a periodic cell and PME)
OPEN_MAX_ATOMS = 200_000
#: bytes of the temporaries of one row block (≈ 10 float64 tables of block × N)
_BLOCK_BYTES = 2 ** 27
#: products without gradients (CG iterations) reuse the matrix without its graph up to this size
_CACHE_BYTES = 2 ** 29
_SQRT2 = math.sqrt(2.0)


def block_rows(n: int) -> int:
    """Rows per block: ~:data:`_BLOCK_BYTES` of temporaries."""
    return max(1, min(n, _BLOCK_BYTES // (80 * max(n, 1))))


def _r2(positions, start: int, stop: int):
    """Squared distances of rows start..stop-1 to all atoms (block, N), component by component
    (a sum over a trailing axis of length 3 is several times slower)."""
    r2 = None
    for a in range(3):
        d = positions[start:stop, a, None] - positions[None, :, a]
        r2 = d * d if r2 is None else r2 + d * d
    return r2


def _block(start: int, stop: int, positions, sigma, x):
    """Off-diagonal rows start..stop-1 of A x without k_e (x (N, k))."""
    return _pair_block(start, stop, positions, sigma) @ x


def _pair_block(start: int, stop: int, positions, sigma):
    """Off-diagonal rows start..stop-1 of A without k_e (block, N)."""
    r2 = _r2(positions, start, stop)
    rows = torch.arange(start, stop)
    own = torch.zeros_like(r2, dtype=torch.bool)
    own[torch.arange(stop - start), rows] = True
    r = torch.sqrt(torch.where(own, torch.ones_like(r2), r2))
    if sigma is None:
        pair = 1.0 / r
    else:
        s2 = sigma * sigma
        pair = torch.erf(r / (_SQRT2 * torch.sqrt(s2[start:stop, None] + s2[None, :]))) / r
    return torch.where(own, torch.zeros_like(pair), pair)


def _check_distinct(positions) -> None:
    with torch.no_grad():
        n = positions.shape[0]
        step = block_rows(n)
        for start in range(0, n, step):
            stop = min(n, start + step)
            r2 = _r2(positions, start, stop)
            r2[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
            if bool((r2 == 0).any()):
                k = int(torch.nonzero(r2 == 0)[0, 0]) + start
                raise StructureError(f"electrostatics: atom {k} coincides with another atom")


def open_matvec(coulomb, x):
    """A x for open boundaries, x (N,) or (N, k), differentiable in x, positions and sigma."""
    n = coulomb.n_atoms
    if n > OPEN_MAX_ATOMS:
        raise StructureError(f"electrostatics: {n} atoms with open boundaries need ~{n * n:.3g} pair terms "
                             f"per product (limit {OPEN_MAX_ATOMS} atoms); use a periodic cell (PME)")
    if not getattr(coulomb, "_distinct_checked", False):
        _check_distinct(coulomb.positions.detach())
        coulomb._distinct_checked = True
    x2 = x[:, None] if x.dim() == 1 else x
    step = block_rows(n)
    pos, sigma = coulomb.positions, coulomb.sigma
    graph = coulomb._needs_graph(x)
    if not graph and 8.0 * n * n <= _CACHE_BYTES:  # CG products: the matrix without a graph, once
        if getattr(coulomb, "_open_cache", None) is None:
            with torch.no_grad():
                sig = None if sigma is None else sigma.detach()
                coulomb._open_cache = torch.empty(n, n, dtype=torch.float64)
                for s in range(0, n, step):
                    coulomb._open_cache[s:s + step] = _pair_block(s, min(n, s + step), pos.detach(), sig)
        out = COULOMB * (coulomb._open_cache @ x2.detach())
        out = out + coulomb.diagonal().detach()[:, None] * x2.detach()
        return out[:, 0] if x.dim() == 1 else out
    parts = []
    for start in range(0, n, step):
        stop = min(n, start + step)
        if graph:
            from torch.utils.checkpoint import checkpoint

            parts.append(checkpoint(_block, start, stop, pos, sigma, x2, use_reentrant=False))
        else:
            with torch.no_grad():
                parts.append(_block(start, stop, pos.detach(), None if sigma is None else sigma.detach(),
                                    x2.detach()))
    out = COULOMB * torch.cat(parts, 0)
    out = out + coulomb.diagonal()[:, None] * x2
    return out[:, 0] if x.dim() == 1 else out


def open_screening_pairs(positions, outer: float):
    """(i, j) index tensors of the pairs i < j closer than ``outer``, found block by block."""
    n = positions.shape[0]
    step = block_rows(n)
    found_i, found_j = [], []
    with torch.no_grad():
        pos = positions.detach()
        for start in range(0, n, step):
            stop = min(n, start + step)
            r2 = _r2(pos, start, stop)
            rows = torch.arange(start, stop)[:, None]
            keep = (r2 < outer * outer) & (torch.arange(n)[None, :] > rows)
            bi, bj = torch.nonzero(keep, as_tuple=True)
            found_i.append(bi + start)
            found_j.append(bj)
    return torch.cat(found_i), torch.cat(found_j)
