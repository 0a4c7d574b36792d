"""Particle-mesh Ewald against the Ewald sum, and CG on PME against the dense solve."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from potforge.core.errors import PotforgeError
from potforge.core.units import Bohr, Hartree
from potforge.electrostatics import COULOMB, GaussianCoulomb, ewald_parameters, solve_qeq


def _water_like(n, seed=0):
    rng = np.random.default_rng(seed)
    cell = np.diag([14.0, 15.0, 16.0]) + rng.normal(0, 0.4, (3, 3))
    pos = rng.uniform(0, 1, (n, 3)) @ cell
    oxygen = np.arange(n) % 3 == 0
    sig = np.where(oxygen, 1.249, 0.586) * Bohr
    chi = np.where(oxygen, 0.3, -0.1) + rng.normal(0, 0.05, n)
    hard = np.where(oxygen, 10.0, 6.0)
    return pos, cell, sig, chi, hard


@pytest.mark.parametrize("convention", ["physical", "n2p2"])
def test_pme_products_match_ewald(convention):
    pos, cell, sig, _, _ = _water_like(300)
    ew = ewald_parameters(cell, 300, precision=1e-5, method=1, max_charge=0.36, max_sigma=1.249 * Bohr,
                          length_unit=Bohr, energy_unit=Hartree)
    x = torch.tensor(np.random.default_rng(1).normal(0, 0.5, (300, 2)))
    x[:, 0] -= 0.01  # charged
    args = (torch.tensor(pos), torch.tensor(cell), True, torch.tensor(sig))
    exact = GaussianCoulomb(*args, method="ewald")  # physical, potforge's 1e-10 splitting
    pme = GaussianCoulomb(*args, convention=convention, method="pme", ewald=ew)
    ref = exact.matvec(x)
    if convention == "n2p2":  # no background, n2p2's eta: A + k_e 2π/V (η² - σ_i² - σ_j²)
        c = COULOMB * 2 * math.pi / abs(np.linalg.det(cell))
        s2 = torch.tensor(sig ** 2)[:, None]
        ref = ref + c * (ew.eta ** 2 * x.sum(0) - s2 * x.sum(0) - (s2 * x).sum(0))
    assert float((pme.matvec(x) - ref).abs().max()) < 1e-6 * float(ref.abs().max())  # measured 2.5e-7


def test_cg_on_pme_matches_the_dense_solve():
    pos, cell, sig, chi, hard = _water_like(240, seed=2)
    args = (torch.tensor(pos), torch.tensor(cell), True, torch.tensor(sig))
    q_dense, _ = solve_qeq(GaussianCoulomb(*args, method="ewald"), torch.tensor(chi), torch.tensor(hard),
                           1.0, solver="dense")
    q_cg, _ = solve_qeq(GaussianCoulomb(*args, method="ewald"), torch.tensor(chi), torch.tensor(hard),
                        1.0, solver="cg", tol=1e-12)
    assert float((q_cg - q_dense).abs().max()) < 1e-10
    q_pme, _ = solve_qeq(GaussianCoulomb(*args, method="pme"), torch.tensor(chi), torch.tensor(hard),
                         1.0, solver="cg", tol=1e-10)
    assert float((q_pme - q_dense).abs().max()) < 1e-6  # PME's discretisation (PME_ACCURACY)
    assert float(q_pme.sum()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("charged", [False, True])
def test_pme_forces_and_stress_match_finite_differences_and_ewald(charged):
    """The analytic SPME gradients (B-spline derivatives; influence function for the cell)
    against central differences of the same PME energy, and against the Ewald sum's."""
    pos, cell, sig, _, _ = _water_like(30, seed=3)
    q = np.random.default_rng(4).normal(0, 0.4, 30)
    q -= q.mean() - (0.3 if charged else 0.0)

    def energy(p, c, method="pme"):
        return GaussianCoulomb(p, c, True, torch.tensor(sig), method=method).energy(torch.tensor(q))

    p = torch.tensor(pos, requires_grad=True)
    strain = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    deform = torch.eye(3, dtype=torch.float64) + strain
    grads = {m: torch.autograd.grad(energy(p @ deform, torch.tensor(cell) @ deform, m), (p, strain))
             for m in ("pme", "ewald")}
    h = 1e-5
    for a, k in [(0, 0), (7, 1), (29, 2)]:
        d = np.zeros_like(pos)
        d[a, k] = h
        fd = (float(energy(torch.tensor(pos + d), torch.tensor(cell)))
              - float(energy(torch.tensor(pos - d), torch.tensor(cell)))) / (2 * h)
        assert float(grads["pme"][0][a, k]) == pytest.approx(fd, abs=2e-7)
    for a, b in [(0, 0), (1, 2), (2, 1), (2, 2)]:
        eps = np.zeros((3, 3))
        eps[a, b] = h
        fd = (float(energy(torch.tensor(pos @ (np.eye(3) + eps)), torch.tensor(cell @ (np.eye(3) + eps))))
              - float(energy(torch.tensor(pos @ (np.eye(3) - eps)),
                             torch.tensor(cell @ (np.eye(3) - eps))))) / (2 * h)
        assert float(grads["pme"][1][a, b]) == pytest.approx(fd, abs=2e-7)
    for g_pme, g_ewald in zip(grads["pme"], grads["ewald"]):
        assert float((g_pme - g_ewald).abs().max()) < 1e-5 * float(g_ewald.abs().max())


def test_pme_products_carry_gradients_to_x_only_where_needed():
    """Without a graph the products use the cached sparse real-space matrix; with one the
    torch path: both give the same A x, and d(pᵀ A x)/dx = A p."""
    pos, cell, sig, _, _ = _water_like(120, seed=5)
    c = GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), True, torch.tensor(sig), method="pme")
    x = torch.tensor(np.random.default_rng(6).normal(0, 0.5, 120), requires_grad=True)
    p = torch.tensor(np.random.default_rng(7).normal(0, 0.5, 120))
    with torch.no_grad():
        fast = c.matvec(x)
        ap = c.matvec(p)
    slow = c.matvec(x)
    assert torch.allclose(fast, slow.detach(), rtol=0, atol=1e-12 * float(fast.abs().max()))
    (gx,) = torch.autograd.grad((p * slow).sum(), x)
    assert torch.allclose(gx, ap, rtol=0, atol=1e-12 * float(ap.abs().max()))


def test_pme_second_derivatives_raise_instead_of_dropping_terms():
    pos, cell, sig, _, _ = _water_like(20, seed=8)
    p = torch.tensor(pos, requires_grad=True)
    c = GaussianCoulomb(p, torch.tensor(cell), True, torch.tensor(sig), method="pme")
    with pytest.raises(PotforgeError, match="second derivatives"):
        torch.autograd.grad(c.energy(torch.full((20,), 0.1)), p, create_graph=True)
