"""Smooth particle-mesh Ewald (SPME) products A x for large periodic cells.

The reciprocal-space part of A x, Σ_j (4π/V) Σ_{k≠0} exp(-η²k²/2)/k² cos(k·r_ij) x_j (the
kernel of n2p2's Ewald sum), is computed on a mesh with cardinal B-splines of order
:data:`PME_ORDER` and the Euler-spline influence function of Essmann et al., J. Chem. Phys.
103, 8577 (1995), eq. 4.4-4.8:

    φ = W · [M · IFFT(G ⊙ FFT(Wᵀ x))],   G(m) = (4π/V) exp(-η²k_m²/2) / k_m² · |b(m)|²,

W the sparse (n_atoms × mesh points) matrix of B-spline weights. W and G are computed once
per geometry (numpy/scipy), so each of the many products of a CG solve is two sparse
products and two real FFTs. Gradients (a custom autograd function): with respect to x the
same operator (A is symmetric); with respect to positions the B-spline derivatives (the
force on atom i is x_i times the mesh field at i); with respect to the cell the derivative of
G at fixed fractional coordinates (torch autograd on G alone) minus Σ_i s_iᵀ ∂/∂r_i.

potforge's own SPME replaced torch-pme's Lagrange-interpolation mesh (7 nodes, spacing
0.3 η): at the same accuracy of A x (~1e-6 relative to the converged Ewald sum) the
B-splines with the influence-function correction need ~5x fewer mesh points, and precomputed
sparse weights avoid recomputing the interpolation in every product (BENCHMARKS.md
section 10: 24,576 atoms, one product 2.0 s → 0.043 s).

The self term, the background and the real-space pairs are potforge's (:mod:`.coulomb`).
PME uses its own splitting (a short real-space cutoff, :func:`pme_parameters`) whatever
n2p2's parameters are: the sum does not depend on η up to the truncation errors, and for
n2p2's convention (no background) the difference of the background terms is added back
exactly.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import ConfigError
from ..core.lazy import torch
from .ewald import COULOMB, EwaldParameters, check_memory

__all__ = ["PME_MIN_ATOMS", "PME_CUTOFF", "PME_ACCURACY", "PME_ORDER", "PME_SPACING",
           "pme_parameters", "pme_matvec", "pme_self_kspace"]

#: "auto" may use PME from this many atoms on, where its estimated cost is lower (Ewald below;
#: measured crossover of dense crystals, BENCHMARKS.md; electrostatics.cost)
PME_MIN_ATOMS = 2000
#: real-space cutoff of PME's splitting, Å
PME_CUTOFF = 8.0
#: relative size of the terms dropped at the cutoffs (erfc(rc/√2η) and exp(-η²k²/2))
PME_ACCURACY = 1e-7
#: B-spline order (even: |b(m)|² has no zeros)
PME_ORDER = 8
#: mesh spacing as a fraction of η (measured relative error of A x in BENCHMARKS.md section 10)
PME_SPACING = 0.5


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


def mesh_size(cell: np.ndarray, spacing: float, order: int = PME_ORDER) -> tuple[int, int, int]:
    """Mesh points per cell vector: the spacing along each vector at most ``spacing`` (Å), at
    least ``order`` points (a B-spline must not wrap onto itself)."""
    lengths = np.linalg.norm(np.asarray(cell, dtype=float), axis=1)
    return tuple(_smooth(max(math.ceil(length / spacing), order)) for length in lengths)


def bspline_weights(frac: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Cardinal B-spline M_p(frac + l) and its derivative, l = 0..p-1 (shape frac.shape + (p,)).

    M_1(t) = 1 on [0, 1); M_n(t) = [t M_{n-1}(t) + (n - t) M_{n-1}(t - 1)] / (n - 1);
    M_n'(t) = M_{n-1}(t) - M_{n-1}(t - 1) (Essmann et al. 1995, eq. 4.1-4.2).
    """
    shape = frac.shape + (order + 1,)
    v = np.zeros(shape)  # v[..., l + 1] = M_n(frac + l); v[..., 0] = M_n(frac - 1) = 0
    v[..., 1] = 1.0
    t = frac[..., None] + np.arange(-1, order)
    deriv = None
    for n in range(2, order + 1):
        if n == order:
            deriv = v[..., 1:] - v[..., :-1]
        v = np.concatenate([np.zeros(frac.shape + (1,)),
                            (t[..., 1:] * v[..., 1:] + (n - t[..., 1:]) * v[..., :-1]) / (n - 1)], -1)
    return v[..., 1:], deriv


def _bspline_modulus(n: int, order: int) -> np.ndarray:
    """|Σ_{k=0}^{p-2} M_p(k+1) exp(2πi m k / n)|² for m = 0..n-1 (the inverse of |b(m)|²)."""
    values, _ = bspline_weights(np.zeros(1), order)
    c = values[0, 1:order]  # M_p(1), ..., M_p(p-1)
    m = np.arange(n)
    s = (c[None, :] * np.exp(2j * math.pi * np.outer(m, np.arange(order - 1)) / n)).sum(1)
    return np.abs(s) ** 2


def _influence(cell, shape, eta: float, order: int):
    """G on the rfft half mesh (torch, differentiable in ``cell``), eV-free (no k_e)."""
    recip = 2 * math.pi * torch.linalg.inv(cell).T
    volume = torch.abs(torch.linalg.det(cell))
    freqs = [np.fft.fftfreq(shape[0], 1.0 / shape[0]), np.fft.fftfreq(shape[1], 1.0 / shape[1]),
             np.fft.rfftfreq(shape[2], 1.0 / shape[2])]
    m = [torch.as_tensor(f) for f in freqs]
    kx = m[0][:, None, None, None] * recip[0] + m[1][None, :, None, None] * recip[1] \
        + m[2][None, None, :, None] * recip[2]
    k2 = (kx * kx).sum(-1)
    k2 = torch.where(k2 > 0, k2, torch.ones_like(k2))
    mod = [torch.as_tensor(_bspline_modulus(n, order)) for n in shape]
    bmod = mod[0][:, None, None] * mod[1][None, :, None] * mod[2][None, None, : len(freqs[2])]
    g = 4 * math.pi / volume * torch.exp(-0.5 * eta * eta * k2) / (k2 * bmod)
    zero = torch.zeros_like(g)
    zero[0, 0, 0] = 1.0
    return torch.where(zero > 0, torch.zeros_like(g), g)


class SPMEMesh:
    """The SPME operator of one geometry (no gradient held): sparse weights W and influence G.

    Parameters
    ----------
    positions : (n_atoms, 3) float array, Å
    cell : (3, 3) float array, Å (rows)
    eta : float, Å — the splitting
    order : int — B-spline order (even)
    spacing : float, Å — largest mesh spacing along a cell vector
    """

    def __init__(self, positions: np.ndarray, cell: np.ndarray, eta: float, order: int = PME_ORDER,
                 spacing: float | None = None) -> None:
        from scipy.sparse import csr_matrix

        self.cell = np.asarray(cell, dtype=float)
        self.eta, self.order = float(eta), int(order)
        self.shape = mesh_size(self.cell, PME_SPACING * eta if spacing is None else spacing, order)
        self.inverse = np.linalg.inv(self.cell)
        self.frac = np.asarray(positions, dtype=float) @ self.inverse  # unwrapped
        u = (self.frac - np.floor(self.frac)) * np.asarray(self.shape)
        base = np.floor(u).astype(np.int64)
        self.weights, self.derivs = bspline_weights(u - base, order)  # (n, 3, p)
        p, (nx, ny, nz) = order, self.shape
        idx = (base[:, :, None] - np.arange(p)) % np.asarray(self.shape)[None, :, None]
        self.columns = ((idx[:, 0, :, None, None] * ny + idx[:, 1, None, :, None]) * nz
                        + idx[:, 2, None, None, :]).reshape(len(u), -1)
        w = self.weights
        values = w[:, 0, :, None, None] * w[:, 1, None, :, None] * w[:, 2, None, None, :]
        values = values.reshape(len(u), -1)
        n_atoms, n_mesh = len(u), nx * ny * nz
        self.W = csr_matrix((values.ravel(), self.columns.ravel(), np.arange(n_atoms + 1) * p ** 3),
                            shape=(n_atoms, n_mesh))
        self.WT = self.W.T.tocsr()
        with torch.no_grad():
            self.G = _influence(torch.as_tensor(self.cell), self.shape, self.eta, order).numpy()

    def mesh_potential(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Φ on the mesh (k, nx, ny, nz), FFT of the spread charges) for x (n_atoms, k)."""
        from scipy import fft

        rho = np.ascontiguousarray((self.WT @ x).T).reshape((x.shape[1],) + self.shape)
        f = fft.rfftn(rho, axes=(1, 2, 3), workers=1)
        m = rho[0].size
        phi = m * fft.irfftn(f * self.G, s=self.shape, axes=(1, 2, 3), workers=1)
        return phi, f

    def product(self, x: np.ndarray) -> np.ndarray:
        """The reciprocal part of A x (n_atoms, k), without k_e."""
        phi, _ = self.mesh_potential(x)
        return np.asarray(self.W @ phi.reshape(len(phi), -1).T)

    def field(self, phi: np.ndarray) -> np.ndarray:
        """∂φ/∂u at every atom (n_atoms, 3) from one mesh potential Φ (nx, ny, nz) (u = mesh
        coordinates n_a s_a)."""
        vals = phi.reshape(-1)[self.columns].reshape((len(self.columns),) + (self.order,) * 3)
        w, d = self.weights, self.derivs
        # contract one axis at a time (a four-operand einsum would loop naively)
        vw = np.einsum("nijk,nk->nij", vals, w[:, 2])
        vd = np.einsum("nijk,nk->nij", vals, d[:, 2])
        vww = np.einsum("nij,nj->ni", vw, w[:, 1])
        return np.stack([np.einsum("ni,ni->n", vww, d[:, 0]),
                         np.einsum("nij,ni,nj->n", vw, w[:, 0], d[:, 1]),
                         np.einsum("nij,ni,nj->n", vd, w[:, 0], w[:, 1])], axis=1)

    def bilinear_gradients(self, g: np.ndarray, x: np.ndarray, want_cell: bool):
        """∂(gᵀ A_rec x)/∂positions (n_atoms, 3) and, optionally, ∂/∂cell at fixed Cartesian
        positions (3, 3); g, x (n_atoms, k); without k_e."""
        phi_x, f_x = self.mesh_potential(x)
        phi_g, f_g = self.mesh_potential(g)
        du = np.zeros((len(x), 3))
        for c in range(x.shape[1]):
            du += g[:, c, None] * self.field(phi_x[c]) + x[:, c, None] * self.field(phi_g[c])
        grad_pos = (du * np.asarray(self.shape)) @ self.inverse.T
        if not want_cell:
            return grad_pos, None
        # B = Σ_m w_m G(m) Re(conj F_g F_x): w_m = 2 for the rfft half's interior planes
        nz = self.shape[2]
        weight = np.full(self.G.shape[2], 2.0)
        weight[0] = 1.0
        if nz % 2 == 0:
            weight[-1] = 1.0
        contract = (np.conj(f_g) * f_x).real.sum(0) * weight
        cell = torch.tensor(self.cell, requires_grad=True)
        with torch.enable_grad():
            b = (_influence(cell, self.shape, self.eta, self.order) * torch.as_tensor(contract)).sum()
            (grad_cell,) = torch.autograd.grad(b, cell)
        return grad_pos, grad_cell.numpy() - self.frac.T @ grad_pos


_RECIPROCAL: list = []


def _reciprocal():
    """The autograd function of the reciprocal part (defined on first use: importing this
    module must not load torch)."""
    if _RECIPROCAL:
        return _RECIPROCAL[0]

    class _Reciprocal(torch.autograd.Function):
        """k_e × the reciprocal part of A x; differentiable in x, positions and cell."""

        @staticmethod
        def forward(ctx, x, positions, cell, mesh):
            ctx.mesh = mesh
            ctx.save_for_backward(x)
            out = mesh.product(x.detach().numpy())
            return torch.as_tensor(COULOMB * out)

        @staticmethod
        def backward(ctx, grad):
            if torch.is_grad_enabled():  # create_graph: numpy inside, the result would lack terms
                raise ConfigError("electrostatics method 'pme': second derivatives (create_graph=True) are "
                                  "not available; use method 'ewald' for them")
            (x,) = ctx.saved_tensors
            mesh = ctx.mesh
            g = grad.detach().numpy()
            gx = gpos = gcell = None
            if ctx.needs_input_grad[0]:
                gx = torch.as_tensor(COULOMB * mesh.product(g))
            if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
                gp, gc = mesh.bilinear_gradients(g, x.detach().numpy(), ctx.needs_input_grad[2])
                gpos = torch.as_tensor(COULOMB * gp)
                gcell = None if gc is None else torch.as_tensor(COULOMB * gc)
            return gx, gpos, gcell, None

    _RECIPROCAL.append(_Reciprocal)
    return _Reciprocal


def _mesh(coulomb) -> SPMEMesh:
    if coulomb._pme is None:
        cell = coulomb.cell.detach().numpy()
        shape = mesh_size(cell, PME_SPACING * coulomb.split.eta, PME_ORDER)
        points = float(np.prod(np.asarray(shape, dtype=float)))
        check_memory(64.0 * points + 16.0 * coulomb.n_atoms * PME_ORDER ** 3,
                     f"the PME mesh {shape[0]}×{shape[1]}×{shape[2]} ({points:.3g} points)",
                     "use method 'ewald' or 'auto', or a smaller cell (less vacuum)")
        coulomb._pme = SPMEMesh(coulomb.positions.detach().numpy(), coulomb.cell.detach().numpy(),
                                coulomb.split.eta, order=PME_ORDER)
    return coulomb._pme


def pme_matvec(coulomb, x):
    """A x with the reciprocal part on a mesh (x (N,) or (N, k))."""
    mesh = _mesh(coulomb)
    x2 = x[:, None] if x.dim() == 1 else x
    rec = _reciprocal().apply(x2, coulomb.positions, coulomb.cell, mesh)
    rec = rec[:, 0] if x.dim() == 1 else rec
    return coulomb._real_and_self(x) + rec + coulomb._background_matvec(x)


def pme_self_kspace(coulomb):
    """The reciprocal part of A_ii, ≈ k_e √(2/π)/η (for the Jacobi preconditioner only)."""
    return COULOMB * math.sqrt(2.0 / math.pi) / coulomb.split.eta
