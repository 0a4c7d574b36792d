"""Robustness of the electrostatics: CG stopping rule, size guards, parameter sanity (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest
from potforge.core.errors import ConfigError, StructureError
from potforge.electrostatics import GaussianCoulomb, ewald_parameters, solve_adjoint, solve_qeq


def _sc_crystal(n: int, a: float = 2.3):
    g = np.arange(n) * a
    pos = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    return pos, np.eye(3) * n * a


@pytest.mark.parametrize("total", [0.0, 3.0])
def test_cg_converges_when_chi_is_uniform_up_to_rounding(total):
    # one element on a (nearly) perfect lattice: χ differs only by rounding, so the residual
    # stalls at rounding level, far above tol × ‖χ - mean χ‖ (reviewer t30: 13³ atoms never converged)
    pos, cell = _sc_crystal(6)
    rng = np.random.default_rng(0)
    pos = pos + 1e-3 * rng.standard_normal(pos.shape)
    n = len(pos)
    c = GaussianCoulomb(pos, cell, True, np.full(n, 1.1), method="ewald")
    chi = 1.3 * (1 + 1e-15 * rng.standard_normal(n))
    q, mu = solve_qeq(c, chi, np.full(n, 8.0), total, solver="cg", max_iter=300)
    q_ref, mu_ref = solve_qeq(c, chi, np.full(n, 8.0), total, solver="dense")
    assert np.allclose(q.numpy(), q_ref.numpy(), rtol=0, atol=1e-11)
    assert float(mu) == pytest.approx(float(mu_ref), abs=1e-9)
    # the adjoint solve (forces) uses the same stopping rule
    lam, _ = solve_adjoint(c, np.full(n, 8.0), chi, solver="cg", max_iter=300)
    lam_ref, _ = solve_adjoint(c, np.full(n, 8.0), chi, solver="dense")
    assert np.allclose(lam.numpy(), lam_ref.numpy(), rtol=0, atol=1e-11)


def test_cg_zero_right_hand_side_returns_zero():
    pos, cell = _sc_crystal(4)
    n = len(pos)
    c = GaussianCoulomb(pos, cell, True, np.full(n, 1.1), method="ewald")
    lam, nu = solve_adjoint(c, np.full(n, 8.0), np.zeros(n), solver="cg", max_iter=1)
    assert float(lam.abs().max()) == 0.0 and float(nu) == 0.0


@pytest.mark.parametrize("prec", [(0.5, 0.36, None), (1e-5, 1e-6, None), (1e-5, 0.36, 0.01)])
def test_meaningless_ewald_parameters_are_refused(prec):
    # ewald_prec 0.5 0.36: η = 160 Å, real cutoff 0.001 Å, no k vectors (Coulomb sum dropped)
    with pytest.raises(ConfigError, match="real-space cutoff") as err:
        ewald_parameters(np.eye(3) * 10.0, 30, precision=prec[0], method=1, max_charge=prec[1],
                         real_cutoff=prec[2], length_unit=0.529177, energy_unit=27.2114)
    assert "\n" not in str(err.value)


def test_huge_kspace_is_refused_before_allocating():
    # ewald_prec 1e-5 0.36 1.0 (Bohr): ~1e6 k vectors × N atoms used to be an OOM kill
    p = ewald_parameters(np.eye(3) * 30.0, 2000, precision=1e-5, method=1, max_charge=0.36,
                         real_cutoff=1.0, length_unit=0.529177, energy_unit=27.2114)
    pos = np.random.default_rng(1).uniform(0, 30, (2000, 3))
    c = GaussianCoulomb(pos, np.eye(3) * 30.0, True, None, ewald=p, method="ewald")
    with pytest.raises(ConfigError, match="k vectors.*GiB") as err:
        c.matvec(np.ones(2000))
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="k-vector search"):
        from potforge.electrostatics import kvectors
        kvectors(np.eye(3) * 30.0, 200.0)


def test_empty_periodic_structure_is_a_structure_error():
    with pytest.raises(StructureError):
        ewald_parameters(np.eye(3) * 10.0, 0, precision=1e-6, method=0)


def test_auto_method_follows_cost_not_atom_count():
    # 2160 atoms in a 150 Å vacuum box: PME's mesh follows the volume (216³ points, 88 s);
    # Ewald needs a few thousand k vectors
    rng = np.random.default_rng(2)
    n = 2160
    pos = rng.uniform(0, 25, (n, 3))
    vacuum = GaussianCoulomb(pos, np.eye(3) * 150.0, True, np.full(n, 1.0))
    assert vacuum.method == "ewald"
    dense = GaussianCoulomb(pos, np.eye(3) * 28.0, True, np.full(n, 1.0))
    assert dense.method == "pme"
    # an explicit PME on a huge mesh is refused with the estimate, not allocated
    huge = GaussianCoulomb(pos, np.eye(3) * 3000.0, True, np.full(n, 1.0), method="pme")
    with pytest.raises(ConfigError, match="PME mesh .* GiB") as err:
        huge.matvec(np.ones(n))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("gaussian", [True, False])
def test_open_direct_sum_in_blocks_matches_dense(monkeypatch, gaussian):
    import torch

    from potforge.electrostatics import Screening, open_boundary

    monkeypatch.setattr(open_boundary, "_BLOCK_BYTES", 80 * 90 * 23)  # 23 rows per block
    if not gaussian:  # CG products by blocks too, not by the cached matrix without graph
        monkeypatch.setattr(open_boundary, "_CACHE_BYTES", 0)
    rng = np.random.default_rng(3)
    n = 90
    pos0 = rng.uniform(0, 12, (n, 3))
    sig = np.full(n, 0.9) + 0.2 * rng.random(n) if gaussian else None
    q0 = rng.normal(size=n)
    scr = Screening(2.0, 5.0) if gaussian else None
    results = []
    for method in ("dense", "ewald"):
        pos = torch.tensor(pos0, requires_grad=True)
        c = GaussianCoulomb(pos, None, False, sig, method=method, screening=scr)
        assert c.method == {"dense": "dense", "ewald": "direct"}[method]
        q = torch.tensor(q0, requires_grad=True)
        e = c.energy(q)
        gp, gq = torch.autograd.grad(e, (pos, q))
        ax = c.matvec(torch.tensor(np.stack([q0, q0 ** 2], 1)))
        qs, _ = solve_qeq(c, np.linspace(-1, 1, n), np.full(n, 20.0), 1.0, solver="cg")
        results.append([float(e.detach()), gp.numpy(), gq.numpy(), ax.detach().numpy(), qs.detach().numpy()])
    for a, b, tol in zip(*results, [1e-10] * 4 + [1e-7]):  # CG charges: to the CG tolerance
        assert np.abs(np.asarray(a) - b).max() <= tol * np.abs(a).max()


def test_open_auto_is_matrix_free_for_many_atoms(monkeypatch):
    from scipy.special import erf

    from potforge.electrostatics import open_boundary
    from potforge.electrostatics.ewald import COULOMB

    monkeypatch.setattr(open_boundary, "OPEN_DENSE_MAX_ATOMS", 1000)  # 4096 by default
    n = 1500
    pos = np.random.default_rng(4).uniform(0, 50, (n, 3))
    c = GaussianCoulomb(pos, None, False, np.full(n, 1.0))
    assert c.method == "direct" and c._dense is None
    x = np.random.default_rng(5).normal(size=n)
    ax = c.matvec(x).numpy()
    assert c._dense is None  # never formed the N × N matrix
    for i in (0, 1234, n - 1):  # rows by hand: k_e [Σ_j erf(r/2)/r x_j + x_i / √π]
        r = np.linalg.norm(pos - pos[i], axis=1)
        r[i] = 1.0
        row = np.where(np.arange(n) == i, 1 / np.sqrt(np.pi), erf(r / 2.0) / r)
        assert ax[i] == pytest.approx(COULOMB * (row @ x), rel=1e-12)
