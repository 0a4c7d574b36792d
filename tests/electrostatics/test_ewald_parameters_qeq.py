"""n2p2's Ewald parameters (against its logs) and charge equilibration."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from potforge.core.errors import PotforgeError
from potforge.core.units import Bohr, Hartree
from potforge.electrostatics import GaussianCoulomb, ewald_parameters, kvectors, solve_adjoint, solve_qeq


def _n2p2_case(folder):
    """Cell (Å), atom count, and the input.nn settings of a shipped 4G model (Bohr/Hartree)."""
    text = (folder / "input.data").read_text().splitlines()
    cell = np.array([[float(x) for x in line.split()[1:4]] for line in text if line.startswith("lattice")])
    n = sum(line.startswith("atom") for line in text)
    nn = (folder / "input.nn").read_text()
    prec = re.search(r"^\s*ewald_prec\s+(.*)$", nn, re.M).group(1).split("#")[0].split()
    method = int(re.search(r"^\s*ewald_truncation_error_method\s+(\d)", nn, re.M).group(1))
    widths = [float(m) for m in re.findall(r"^\s*fixed_gausswidth\s+\w+\s+(\S+)", nn, re.M)]
    return cell * Bohr, n, [float(x) for x in prec], method, max(widths)


def _logged(folder):
    log = (folder / "reference" / "nnp-predict.screen.txt").read_text()
    get = [float(re.search(rf"{key}:\s+(\S+)", log).group(1))
           for key in ("Real space cutoff", "Reciprocal space cutoff", "Ewald screening parameter")]
    return get  # Bohr, 1/Bohr, Bohr


@pytest.mark.parametrize("model", ["H2O_RPBE-D3_4G", "AlAuMgO_4G"])
def test_ewald_parameters_match_n2p2_logs(shared_data, model):
    folder = shared_data / "n2p2" / model
    cell, n, prec, method, smax = _n2p2_case(folder)
    p = ewald_parameters(cell, n, precision=prec[0], method=method, max_charge=prec[1],
                         max_sigma=smax * Bohr, length_unit=Bohr, energy_unit=Hartree)
    rc, kc, eta = _logged(folder)
    assert p.real_cutoff / Bohr == pytest.approx(rc, rel=1e-8)
    assert p.kspace_cutoff * Bohr == pytest.approx(kc, rel=1e-8)
    assert p.eta / Bohr == pytest.approx(eta, rel=1e-8)


def test_other_truncation_methods_follow_their_formulas():
    cell = np.diag([10.0, 11.0, 12.0])
    v = 1320.0
    p = ewald_parameters(cell, 50, precision=1e-6, method=0)
    assert p.eta == pytest.approx(v ** (1 / 3) / math.sqrt(2 * math.pi))
    assert p.real_cutoff == pytest.approx(math.sqrt(-2 * math.log(1e-6)) * p.eta)
    # Kolafa-Perram with a fixed real-space cutoff: the truncation-error estimates equal prec
    q, prec, rc = 0.5, 1e-5, 9.0
    p = ewald_parameters(cell, 50, precision=prec, method=1, max_charge=q, real_cutoff=rc)
    c = 2 * q * q * math.sqrt(50 / v) * Hartree * Bohr  # n2p2's C with 4πε₀ in eV Å units
    assert c / math.sqrt(rc / 2) * math.exp(-rc * rc / (2 * p.eta ** 2)) == pytest.approx(prec, rel=1e-8)
    kc = p.kspace_cutoff
    assert c * math.sqrt(2) / p.eta / math.sqrt(kc) * math.exp(-(kc * p.eta) ** 2 / 2) == pytest.approx(
        prec, rel=1e-8)
    for kwargs, match in [(dict(method=1), "maximum charge"), (dict(method=0, precision=2.0), "< 1"),
                          (dict(method=7), "unknown method")]:
        with pytest.raises(PotforgeError, match=match):
            ewald_parameters(cell, 50, **{"precision": 1e-5, **kwargs})


def test_kvectors_are_n2p2s_half_sphere():
    cell = np.array([[5.0, 0.3, 0.0], [0.4, 6.0, 0.2], [0.0, -0.5, 7.0]])
    m = kvectors(cell, 3.0)
    recip = 2 * math.pi * np.linalg.inv(cell).T
    full = np.stack(np.meshgrid(*[np.arange(-8, 9)] * 3, indexing="ij"), -1).reshape(-1, 3)
    full = full[np.any(full != 0, 1)]
    inside = full[np.linalg.norm(full @ recip, axis=1) < 3.0]
    assert 2 * len(m) == len(inside)
    assert {tuple(x) for x in m} | {tuple(-x) for x in m} == {tuple(x) for x in inside}


def _box(seed, n, total):
    rng = np.random.default_rng(seed)
    cell = np.diag([6.0, 6.5, 7.0]) + rng.normal(0, 0.3, (3, 3))
    pos = rng.uniform(0, 1, (n, 3)) @ cell
    sig = np.where(np.arange(n) % 3 == 0, 1.25, 0.59) * Bohr
    chi = np.where(np.arange(n) % 3 == 0, 0.3, -0.1) + rng.normal(0, 0.05, n)
    hard = np.where(np.arange(n) % 3 == 0, 10.0, 6.0)
    return pos, cell, sig, chi, hard, total


@pytest.mark.parametrize("pbc", [False, True])
@pytest.mark.parametrize("total", [0.0, -1.0])
def test_qeq_matches_numpy_bordered_solve_and_conserves_charge(pbc, total):
    pos, cell, sig, chi, hard, total = _box(1, 12, total)
    c = GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), pbc, torch.tensor(sig))
    a = c.matrix().detach().numpy()
    n = len(chi)
    k = np.zeros((n + 1, n + 1))
    k[:n, :n] = a + np.diag(hard)
    k[:n, n] = k[n, :n] = 1.0
    ref = np.linalg.solve(k, np.concatenate([-chi, [total]]))  # n2p2's layout: last entry λ = -μ
    q, mu = solve_qeq(c, torch.tensor(chi), torch.tensor(hard), total, solver="dense")
    assert np.allclose(q.numpy(), ref[:n], atol=1e-12)
    assert float(mu) == pytest.approx(-ref[n], abs=1e-12)
    assert float(q.sum()) == pytest.approx(total, abs=1e-12)
    qc, muc = solve_qeq(c, torch.tensor(chi), torch.tensor(hard), total, solver="cg", tol=1e-12)
    assert np.abs(qc.numpy() - ref[:n]).max() < 1e-10
    assert float(qc.sum()) == pytest.approx(total, abs=1e-12)
    lam, nu = solve_adjoint(c, torch.tensor(hard), torch.tensor(chi), solver="dense")
    sol = np.linalg.solve(k, np.concatenate([chi, [0.0]]))
    assert np.allclose(lam.numpy(), sol[:n], atol=1e-12) and float(nu) == pytest.approx(sol[n], abs=1e-12)


def test_cg_charges_are_differentiable_like_the_dense_solve():
    pos, cell, sig, chi, hard, total = _box(2, 9, -1.0)
    grads = {}
    for solver in ("dense", "cg"):
        p = torch.tensor(pos, requires_grad=True)
        x = torch.tensor(chi, requires_grad=True)
        c = GaussianCoulomb(p, torch.tensor(cell), True, torch.tensor(sig))
        q, _ = solve_qeq(c, x, torch.tensor(hard), total, solver=solver, tol=1e-13)
        w = torch.linspace(-1, 2, len(chi), dtype=torch.float64)
        grads[solver] = torch.autograd.grad((w * q).sum() + c.energy(q), (p, x))
    for a, b in zip(grads["dense"], grads["cg"]):
        assert torch.allclose(a, b, atol=1e-9)


def test_qeq_errors():
    pos, cell, sig, chi, hard, total = _box(3, 6, 0.0)
    c = GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), True, torch.tensor(sig))
    with pytest.raises(PotforgeError, match="chi has non-finite"):
        solve_qeq(c, torch.full((6,), float("nan"), dtype=torch.float64), torch.tensor(hard), 0.0)
    with pytest.raises(PotforgeError, match="did not converge"):
        solve_qeq(c, torch.tensor(chi), torch.tensor(hard), 0.0, solver="cg", max_iter=1, tol=1e-15)
    with pytest.raises(PotforgeError, match="unknown"):
        solve_qeq(c, torch.tensor(chi), torch.tensor(hard), 0.0, solver="lu")
