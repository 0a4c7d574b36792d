"""Gaussian-charge Coulomb: background, invariances, self energies, screening, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.special import erf

from potforge.core.errors import PotforgeError
from potforge.electrostatics import COULOMB, EwaldParameters, GaussianCoulomb, Screening, ewald_parameters


def _random_box(seed, n=6, charged=False, gaussian=True):
    rng = np.random.default_rng(seed)
    cell = np.diag([4.2, 4.8, 5.1]) + rng.normal(0, 0.4, (3, 3))
    pos = rng.uniform(0, 1, (n, 3)) @ cell
    q = rng.normal(0, 0.5, n)
    q = q - q.mean() + (0.7 if charged else 0.0) / n
    sig = rng.uniform(0.5, 1.1, n) if gaussian else None
    return pos, cell, q, sig


def _energy(pos, cell, q, sig, pbc=True, **kw):
    c = GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), pbc,
                        None if sig is None else torch.tensor(sig), **kw)
    return float(c.energy(torch.tensor(q)))


def _reciprocal_only(pos, cell, q, sig, kmax=60):
    """(2π/V) Σ_{k≠0} |Σ q_i exp(-σ_i²k²/2) exp(ik·r_i)|² / k²: Poisson energy of Gaussian charges
    in a uniform neutralising background (self energies included)."""
    recip = 2 * math.pi * np.linalg.inv(cell).T
    m = np.stack(np.meshgrid(*[np.arange(-kmax, kmax + 1)] * 3, indexing="ij"), -1).reshape(-1, 3)
    m = m[np.any(m != 0, axis=1)]
    k = m @ recip
    k2 = (k * k).sum(1)
    keep = k2 < (12 / sig.min()) ** 2
    k, k2 = k[keep], k2[keep]
    rho = (q[None] * np.exp(-0.5 * k2[:, None] * sig[None] ** 2) * np.exp(1j * k @ pos.T)).sum(1)
    return COULOMB * 2 * math.pi / abs(np.linalg.det(cell)) * float((np.abs(rho) ** 2 / k2).sum())


@pytest.mark.parametrize("charged", [False, True])
def test_periodic_gaussian_energy_equals_the_poisson_energy_with_background(charged):
    pos, cell, q, sig = _random_box(3, charged=charged)
    c = GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), True, torch.tensor(sig))
    half_qaq = float(0.5 * torch.tensor(q) @ c.matrix() @ torch.tensor(q))
    assert half_qaq == pytest.approx(_reciprocal_only(pos, cell, q, sig), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("gaussian", [False, True])
def test_charged_cell_energy_independent_of_eta_and_cutoffs(gaussian):
    pos, cell, q, sig = _random_box(4, charged=True, gaussian=gaussian)
    energies = []
    for eta, prec in [(0.9, 1e-12), (1.3, 1e-13), (2.0, 1e-14)]:
        rc = math.sqrt(-2 * math.log(prec)) * eta
        ew = EwaldParameters(eta=eta, real_cutoff=rc, kspace_cutoff=math.sqrt(-2 * math.log(prec)) / eta)
        energies.append(_energy(pos, cell, q, sig, ewald=ew))
        energies.append(_energy(pos, cell, q, sig, ewald=EwaldParameters(eta, rc * 1.3, ew.kspace_cutoff * 1.3)))
    assert max(energies) - min(energies) < 1e-8
    # n2p2 leaves the background out: its energy moves with eta
    n2p2 = [_energy(pos, cell, q, sig, convention="n2p2",
                    ewald=EwaldParameters(eta, 9 * eta, 9 / eta)) for eta in (0.9, 2.0)]
    assert abs(n2p2[0] - n2p2[1]) > 1e-2


def test_n2p2_convention_equals_physical_for_neutral_cells():
    pos, cell, q, sig = _random_box(5)
    assert _energy(pos, cell, q, sig, convention="n2p2") == pytest.approx(_energy(pos, cell, q, sig), abs=1e-10)


def _rotation(seed):
    a, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return a * np.sign(np.linalg.det(a))


@pytest.mark.parametrize("pbc", [True, False])
def test_translation_rotation_and_image_invariance(pbc):
    pos, cell, q, sig = _random_box(6, charged=True)
    scr = Screening(1.0, 3.5)
    e0 = _energy(pos, cell, q, sig, pbc=pbc, screening=scr)
    rot = _rotation(7)
    shift = np.array([0.3, -1.7, 2.2])
    assert _energy(pos @ rot.T + shift, cell @ rot.T, q, sig, pbc=pbc, screening=scr) == pytest.approx(
        e0, abs=1e-9)
    if pbc:  # another image of an atom, and another basis of the same lattice
        moved = pos.copy()
        moved[2] += cell[0] - 2 * cell[1]
        assert _energy(moved, cell, q, sig, screening=scr) == pytest.approx(e0, abs=1e-9)
        other = np.array([cell[0] + cell[1], cell[1], cell[2] - cell[0]])
        assert _energy(pos, other, q, sig, screening=scr) == pytest.approx(e0, abs=1e-9)


def test_gaussian_self_energy_against_radial_integral():
    sigma, q = 0.73, -1.4

    def integrand(r):  # ½ ∫ ρ φ d³r with ρ the Gaussian and φ its potential q erf(r/√2σ)/r
        rho = q * math.exp(-r * r / (2 * sigma ** 2)) / (2 * math.pi * sigma ** 2) ** 1.5
        return 0.5 * 4 * math.pi * r * r * rho * q * erf(r / (math.sqrt(2) * sigma)) / r

    reference = COULOMB * integrate.quad(integrand, 0, 30 * sigma, epsabs=1e-14)[0]
    c = GaussianCoulomb(torch.zeros(1, 3), torch.zeros(3, 3), False, torch.tensor([sigma], dtype=torch.float64))
    qq = torch.tensor([q], dtype=torch.float64)
    assert float(0.5 * qq @ c.matrix() @ qq) == pytest.approx(reference, rel=1e-10)
    assert float(c.energy(qq)) == pytest.approx(0.0, abs=1e-14)  # n2p2 removes the self energy


def test_two_gaussians_interaction_against_numerical_integral_and_far_limit():
    s1, s2, d = 0.6, 0.9, 1.3

    def phi1(x):
        return erf(x / (math.sqrt(2) * s1)) / x if x > 1e-12 else math.sqrt(2 / math.pi) / s1

    def integrand(u, s):  # charge 2 at distance d: ρ2(s) × φ1 averaged over directions
        x = math.sqrt(s * s + d * d - 2 * s * d * u)
        rho = math.exp(-s * s / (2 * s2 ** 2)) / (2 * math.pi * s2 ** 2) ** 1.5
        return 2 * math.pi * s * s * rho * phi1(x)

    reference = integrate.dblquad(integrand, 0, 12 * s2, -1, 1, epsabs=1e-13)[0]
    c = GaussianCoulomb(torch.tensor([[0.0, 0, 0], [d, 0, 0]], dtype=torch.float64), torch.zeros(3, 3), False,
                        torch.tensor([s1, s2], dtype=torch.float64))
    assert float(c.matrix()[0, 1]) / COULOMB == pytest.approx(reference, rel=1e-8)
    far = GaussianCoulomb(torch.tensor([[0.0, 0, 0], [40.0, 0, 0]]), torch.zeros(3, 3), False,
                          torch.tensor([s1, s2], dtype=torch.float64))
    q = torch.tensor([0.8, -0.5], dtype=torch.float64)
    assert float(far.energy(q)) == pytest.approx(COULOMB * 0.8 * -0.5 / 40.0, rel=1e-12)


@pytest.mark.parametrize("core", ["c", "p1", "p2", "p3", "p4", "e"])
def test_screening_function_matches_n2p2_formulas(core):
    s = Screening(1.5, 4.0, core)
    r = torch.tensor([0.5, 1.5, 2.0, 2.75, 3.9, 4.0, 7.0], dtype=torch.float64)
    x = (r - 1.5) / 2.5
    cores = {"c": lambda x: 0.5 * (np.cos(np.pi * x) + 1), "p1": lambda x: (2 * x - 3) * x * x + 1,
             "p2": lambda x: ((15 - 6 * x) * x - 10) * x ** 3 + 1,
             "p3": lambda x: (x * (x * (20 * x - 70) + 84) - 35) * x ** 4 + 1,
             "p4": lambda x: (x * (x * ((315 - 70 * x) * x - 540) + 420) - 126) * x ** 5 + 1,
             "e": lambda x: np.e * np.exp(1 / (x * x - 1))}
    xm = x.numpy()[2:5]
    expected = np.concatenate([[0, 0], 1 - cores[core](xm), [1, 1]])
    assert np.allclose(s.value(r).numpy(), expected, atol=1e-14)
    rr = torch.linspace(0.1, 5, 200, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(s.value(rr).sum(), rr)
    assert torch.isfinite(g).all()
    with pytest.raises(PotforgeError, match="inner radius"):
        Screening(4.0, 1.0)


def test_screening_self_images_n2p2_counts_twice():
    # a cell shorter than the screening radius: an atom's own images are screened
    cell = np.diag([2.5, 6.0, 6.0])
    pos = np.array([[0.0, 0, 0], [0.0, 3.0, 3.0]])
    q, sig, scr = np.array([0.4, -0.4]), np.array([0.7, 0.7]), Screening(1.0, 4.0)
    phys = _energy(pos, cell, q, sig, screening=scr)
    n2p2 = _energy(pos, cell, q, sig, screening=scr, convention="n2p2")
    self_pairs = sum(qi ** 2 * erf(2.5 / (2 * 0.7)) / 2.5 * (float(scr.value(torch.tensor(2.5))) - 1)
                     for qi in q)  # ±a images: n2p2 counts both fully, physics half each
    assert n2p2 - phys == pytest.approx(COULOMB * self_pairs, rel=1e-10)


def _check_gradients(pos, cell, q, sig, pbc, screening=None):
    ew = None
    if pbc:
        ew = ewald_parameters(cell, len(q), precision=1e-15, method="potforge",
                              max_sigma=0 if sig is None else max(sig))

    def energy(p, c):
        return GaussianCoulomb(p, c, pbc, None if sig is None else torch.tensor(sig), ewald=ew,
                               screening=screening).energy(torch.tensor(q))

    p = torch.tensor(pos, requires_grad=True)
    strain = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    deform = torch.eye(3, dtype=torch.float64) + strain
    e = energy(p @ deform, torch.tensor(cell) @ deform)
    grad_r, grad_s = torch.autograd.grad(e, (p, strain))
    h = 1e-5
    for a in range(len(q)):
        for k in range(3):
            d = np.zeros_like(pos)
            d[a, k] = h
            fd = (float(energy(torch.tensor(pos + d), torch.tensor(cell)))
                  - float(energy(torch.tensor(pos - d), torch.tensor(cell)))) / (2 * h)
            assert float(grad_r[a, k]) == pytest.approx(fd, abs=2e-7)
    if pbc:
        for a, b in [(0, 0), (1, 2), (2, 1), (2, 2)]:
            eps = np.zeros((3, 3))
            eps[a, b] = h
            fd = (float(energy(torch.tensor(pos @ (np.eye(3) + eps)), torch.tensor(cell @ (np.eye(3) + eps))))
                  - float(energy(torch.tensor(pos @ (np.eye(3) - eps)),
                                 torch.tensor(cell @ (np.eye(3) - eps))))) / (2 * h)
            assert float(grad_s[a, b]) == pytest.approx(fd, abs=2e-7)


@pytest.mark.parametrize("pbc", [False, True])
@pytest.mark.parametrize("charged", [False, True])
def test_forces_and_stress_by_autograd_match_finite_differences(pbc, charged):
    pos, cell, q, sig = _random_box(8, n=4, charged=charged)
    _check_gradients(pos, cell, q, sig, pbc, screening=Screening(0.8, 3.0))


def test_point_charge_forces_match_finite_differences():
    pos, cell, q, _ = _random_box(9, n=4, charged=True)
    _check_gradients(pos, cell, q, None, True)


def test_bad_input_raises_one_line_errors():
    pos, cell, q, sig = _random_box(10)
    bad = pos.copy()
    bad[1, 2] = np.nan
    with pytest.raises(PotforgeError, match="positions has non-finite"):
        GaussianCoulomb(torch.tensor(bad), torch.tensor(cell), True, torch.tensor(sig))
    with pytest.raises(PotforgeError, match="all three"):
        GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), [True, True, False], torch.tensor(sig))
    with pytest.raises(PotforgeError, match="sigma must be positive"):
        GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), True, torch.tensor(-sig))
    c = GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), True, torch.tensor(sig))
    with pytest.raises(PotforgeError, match="q has non-finite"):
        c.energy(torch.full((len(q),), float("inf")))
    with pytest.raises(PotforgeError, match="expected"):
        c.energy(torch.zeros(3))
