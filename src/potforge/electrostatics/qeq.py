"""Charge equilibration (QEq) of 4G potentials and its adjoint system.

QEq minimises E(q) = Σ_i χ_i q_i + ½ J_i q_i² + ½ qᵀ A q subject to Σ_i q_i = Q (Ko et al.,
Nat. Commun. 12, 398 (2021), eq. 8-9), i.e. solves the bordered system

    [A + J   -1] [q]   [-χ]
    [ -1ᵀ     0] [μ] = [-Q]

where μ = ∂E/∂q_i (the same for every atom) is the chemical potential. n2p2 solves
[A+J 1; 1ᵀ 0][q; λ] = [-χ; Q], so its λ is -μ.

Two solvers: ``"dense"`` (torch.linalg.solve on the bordered matrix; differentiable in every
input) and ``"cg"`` (preconditioned conjugate gradients on :meth:`GaussianCoulomb.matvec`,
projected onto Σ q = Q with a Jacobi preconditioner; never forms A). The CG charges are
differentiable through implicit differentiation: backward costs one more CG solve (the
adjoint system), nothing is stored per iteration. The CG μ carries no gradient.
"""

from __future__ import annotations

import math

from ..core.errors import ConfigError, StructureError
from ..core.lazy import torch
from .coulomb import GaussianCoulomb

__all__ = ["solve_qeq", "solve_adjoint", "DENSE_MAX_ATOMS"]

#: solver="auto" solves densely up to this many atoms, by CG beyond
DENSE_MAX_ATOMS = 2000
#: CG's residual floor in units of ε √N × (max|χ| + max|(A+J) q₀|) (rounding noise)
_ROUNDING = 256 * 2.0 ** -52


def _vector(x, n: int, name: str):
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)
    t = t.to(torch.float64)
    if t.shape != (n,):
        raise ConfigError(f"QEq: {name} has shape {tuple(t.shape)}, expected ({n},)")
    if not bool(torch.isfinite(t.detach()).all()):
        raise ConfigError(f"QEq: {name} has non-finite entries")
    return t


def solve_qeq(coulomb: GaussianCoulomb, chi, hardness, total_charge: float, *,
              solver: str = "auto", tol: float = 1e-10, max_iter: int = 2000):
    """Charges q (n_atoms,), e, and chemical potential μ (scalar tensor), eV/e.

    Parameters
    ----------
    coulomb : GaussianCoulomb
    chi : (n_atoms,) float, eV/e — electronegativities
    hardness : (n_atoms,) float, eV/e² — J of each atom
    total_charge : float, e
    solver : "auto", "dense" or "cg"
        "auto": dense up to :data:`DENSE_MAX_ATOMS` atoms, CG beyond.
    tol : float
        CG: stop when ‖(A+J)q + χ - μ‖₂ <= tol × ‖χ - mean(χ)‖₂ (or × max(|χ|, 1) when χ is
        uniform), or at the rounding level 256 ε √N (max|χ| + max|(A+J) q₀|) where that is
        larger (q₀ the start, Q/N-like). A zero χ with zero total charge returns q = 0.
    max_iter : int
        CG iteration cap; not converging raises :class:`StructureError`.
    """
    n = coulomb.n_atoms
    chi = _vector(chi, n, "chi")
    hardness = _vector(hardness, n, "hardness")
    q_total = float(total_charge)
    if not math.isfinite(q_total):
        raise ConfigError(f"QEq: total charge must be finite, got {total_charge}")
    if solver == "auto":
        solver = "dense" if n <= DENSE_MAX_ATOMS else "cg"
    if solver == "dense":
        return _dense(coulomb, chi, hardness, q_total)
    if solver == "cg":
        return _cg_differentiable(coulomb, chi, hardness, q_total, tol, max_iter)
    raise ConfigError(f"QEq solver: unknown {solver!r}; expected 'auto', 'dense' or 'cg'")


def solve_adjoint(coulomb: GaussianCoulomb, hardness, rhs, *, solver: str = "auto",
                  tol: float = 1e-10, max_iter: int = 2000):
    """(λ, ν): the bordered QEq system with another right-hand side and zero total.

    Solves (A + J) λ + ν 1 = rhs, Σ λ = 0 (n2p2's layout [A+J 1; 1ᵀ 0][λ; ν] = [rhs; 0]),
    e.g. rhs = ∂E/∂q for forces by one adjoint solve.
    """
    n = coulomb.n_atoms
    rhs = _vector(rhs, n, "rhs")
    lam, mu = solve_qeq(coulomb, -rhs, hardness, 0.0, solver=solver, tol=tol, max_iter=max_iter)
    return lam, -mu


def _dense(coulomb, chi, hardness, q_total):
    n = coulomb.n_atoms
    a = coulomb.matrix() + torch.diag(hardness)
    ones = torch.ones(n, 1, dtype=torch.float64)
    k = torch.cat([torch.cat([a, -ones], 1),
                   torch.cat([-ones.T, torch.zeros(1, 1, dtype=torch.float64)], 1)], 0)
    rhs = torch.cat([-chi, torch.full((1,), -q_total, dtype=torch.float64)])
    sol = torch.linalg.solve(k, rhs)
    if not bool(torch.isfinite(sol.detach()).all()):
        raise StructureError("QEq: the bordered system A + J is singular (check the hardness values)")
    return sol[:n], sol[n]


def _cg(coulomb, chi, hardness, q_total, tol, max_iter):
    """Projected Jacobi-preconditioned CG (no gradient): minimise ½qᵀHq + χᵀq, 1ᵀq = Q."""
    with torch.no_grad():
        chi = chi.detach()
        h = hardness.detach()
        if q_total == 0.0 and not bool((chi != 0).any()):  # zero right-hand side: q = 0
            return torch.zeros_like(chi), torch.zeros((), dtype=torch.float64)
        d = coulomb.matrix_diagonal() + h
        if not bool((d > 0).all()):
            d = torch.where(d > 0, d, torch.ones_like(d) * float(d.abs().max()))
        dinv = 1.0 / d
        sdinv = dinv.sum()

        def project(r):
            mu = (dinv * r).sum() / sdinv
            return dinv * (r - mu), mu

        q = q_total * dinv / sdinv
        r = coulomb.matvec(q) + h * q + chi
        g, mu = project(r)
        p = -g
        # (r - μ)·g equals r·g (1ᵀg = 0) without the cancellation of the large μ part
        rg = ((r - mu) * g).sum()
        goal = _goal(chi, r - chi, tol)
        res = float(torch.linalg.vector_norm(r - mu))
        for _ in range(max_iter):
            if res <= goal:
                return q, mu
            hp = coulomb.matvec(p) + h * p
            alpha = rg / (p * hp).sum()
            q = q + alpha * p
            r = r + alpha * hp
            g, mu = project(r)
            rg_new = ((r - mu) * g).sum()
            p = -g + (rg_new / rg) * p
            rg = rg_new
            res = float(torch.linalg.vector_norm(r - mu))
        if res <= goal:
            return q, mu
    raise StructureError(f"QEq: CG did not converge in {max_iter} iterations (residual {res:.3e} > "
                         f"{goal:.3e}); raise max_iter or use solver='dense'")


def _goal(chi, hq, tol: float) -> float:
    """The residual norm at which CG stops: tol × ‖χ - mean χ‖ (× max(|χ|, 1) for uniform χ),
    but never below the rounding noise of the residual, ~ε √N (max|χ| + max|(A+J) q₀|):
    a single-element crystal has χ uniform up to rounding, and its residual stalls there."""
    spread = float(torch.linalg.vector_norm(chi - chi.mean()))
    scale = spread if spread > 0 else max(float(chi.abs().max()), 1.0)
    magnitude = float(chi.abs().max()) + float(hq.abs().max())
    floor = _ROUNDING * math.sqrt(chi.numel()) * magnitude
    return max(tol * scale, floor)


def _cg_differentiable(coulomb, chi, hardness, q_total, tol, max_iter):
    q, mu = _cg(coulomb, chi, hardness, q_total, tol, max_iter)
    inputs = [chi, hardness, coulomb.positions, coulomb.cell, coulomb.sigma]
    if not torch.is_grad_enabled() or not any(t is not None and t.requires_grad for t in inputs):
        return q, mu
    # implicit function theorem: with r(θ) = (A + J) q* + χ - μ* at the solution,
    # dq = -S dr, S the charge block of the inverse bordered matrix. _adjoint() is zero in
    # the forward pass (r(θ*) = 0 to the tolerance) and applies S in the backward pass.
    r = coulomb.matvec(q) + hardness * q + chi - mu
    return q - _adjoint(coulomb, hardness.detach(), tol, max_iter)(r), mu


def _adjoint(coulomb, hardness, tol, max_iter):
    class ImplicitSolve(torch.autograd.Function):
        @staticmethod
        def forward(ctx, r):
            return torch.zeros_like(r)

        @staticmethod
        def backward(ctx, grad):
            lam, _ = _cg(coulomb, -grad, hardness, 0.0, tol, max_iter)
            return lam

    return ImplicitSolve.apply
