"""Particle-mesh Ewald products A x for large periodic cells (torch-pme's mesh kernels).

The reciprocal-space part of A x, Σ_j (4π/V) Σ_{k≠0} exp(-η²k²/2)/k² cos(k·r_ij) x_j, is
computed on a mesh with torch-pme's Lagrange interpolation and its Coulomb k-space filter
(the same kernel as n2p2's Ewald sum, ``CoulombPotential(smearing=η)``); torch-pme's own
self, background and ½ terms are not used: the self term, the background and the
real-space pairs are potforge's (:mod:`.coulomb`). PME uses its own splitting (a short
real-space cutoff, :func:`pme_parameters`) whatever n2p2's parameters are: the sum does not
depend on η up to the truncation errors, and for n2p2's convention (no background) the
difference of the background terms is added back exactly.

Cost O(N log N): pairs within :data:`PME_CUTOFF`, a mesh of spacing about η/2.
"""

from __future__ import annotations

import math

from ..core.lazy import torch
from .ewald import COULOMB, EwaldParameters

__all__ = ["PME_MIN_ATOMS", "PME_CUTOFF", "PME_ACCURACY", "pme_parameters", "pme_matvec",
           "pme_self_kspace"]

#: "auto" uses PME from this many atoms on (dense Ewald below; measured crossover, BENCHMARKS.md)
PME_MIN_ATOMS = 2000
#: real-space cutoff of PME's splitting, Å
PME_CUTOFF = 8.0
#: relative size of the terms dropped at the cutoffs (erfc(rc/√2η) and exp(-η²k²/2))
PME_ACCURACY = 1e-7
#: Lagrange interpolation order (nodes per axis)
PME_NODES = 7
#: mesh spacing as a fraction of η (with 7 nodes: 1.5e-6 relative error of A x, BENCHMARKS.md)
PME_SPACING = 0.3


def pme_parameters(coulomb) -> EwaldParameters:
    """PME's splitting: η from the real-space cutoff and :data:`PME_ACCURACY`, raised to √2 σ_max."""
    x = math.sqrt(-math.log(PME_ACCURACY))  # erfc(x) ~ accuracy
    eta = PME_CUTOFF / (math.sqrt(2) * x)
    if coulomb.sigma is not None:
        eta = max(eta, math.sqrt(2) * float(coulomb.sigma.detach().max()))
    return EwaldParameters(eta=eta, real_cutoff=math.sqrt(2) * x * eta, kspace_cutoff=math.sqrt(2) * x / eta)


def _smooth(n: int) -> int:
    """The smallest m >= n whose prime factors are 2, 3 and 5 (fast FFT sizes)."""
    m = max(int(n), 1)
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def _mesh_size(cell, spacing: float):
    """Mesh points per cell vector: the spacing along each vector at most ``spacing`` (Å)."""
    lengths = torch.linalg.norm(cell, dim=1).tolist()
    return torch.tensor([_smooth(math.ceil(length / spacing)) for length in lengths])


def _mesh(coulomb):
    if coulomb._pme is None:
        from torchpme import CoulombPotential
        from torchpme.lib.kspace_filter import KSpaceFilter
        from torchpme.lib.mesh_interpolator import MeshInterpolator

        with torch.enable_grad():
            cell = coulomb.cell
            ns = _mesh_size(cell.detach(), PME_SPACING * coulomb.split.eta)
            interp = MeshInterpolator(cell=cell, ns_mesh=ns, interpolation_nodes=PME_NODES,
                                      method="Lagrange")
            filt = KSpaceFilter(cell=cell, ns_mesh=ns, kernel=CoulombPotential(smearing=coulomb.split.eta),
                                fft_norm="backward", ifft_norm="forward")
            interp.compute_weights(coulomb.positions)
        coulomb._pme = (interp, filt)
    return coulomb._pme


def pme_matvec(coulomb, x):
    """A x with the reciprocal part on a mesh (x (N,) or (N, k))."""
    interp, filt = _mesh(coulomb)
    x2 = x[:, None] if x.dim() == 1 else x
    mesh = filt.forward(interp.points_to_mesh(x2))
    rec = COULOMB * interp.mesh_to_points(mesh) / coulomb.volume
    rec = rec[:, 0] if x.dim() == 1 else rec
    return coulomb._real_and_self(x) + rec + coulomb._background_matvec(x)


def pme_self_kspace(coulomb):
    """The reciprocal part of A_ii, ≈ k_e √(2/π)/η (for the Jacobi preconditioner only)."""
    return COULOMB * math.sqrt(2.0 / math.pi) / coulomb.split.eta
