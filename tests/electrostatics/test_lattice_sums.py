"""Ewald sums against published Madelung constants, direct lattice sums and supercells."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import erf

from potforge.electrostatics import COULOMB, GaussianCoulomb, ewald_parameters

# Madelung constants referred to the nearest-neighbour distance r0 (E per ion pair = -M k_e / r0):
# D. Borwein, J. M. Borwein, K. F. Taylor, J. Math. Phys. 26, 2999 (1985) and OEIS A085469
# (NaCl), A181152 (CsCl), A182566 (zincblende, sphalerite).
NACL = 1.747564594633182190636
CSCL = 1.762674773070988397936
ZINCBLENDE = 1.638055053388789423750

FCC = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]])


def _madelung(pos, charges, cell, r0, n_pairs, scale=3.7):
    cell = np.asarray(cell, float) * scale
    pos = np.asarray(pos, float) @ cell
    ew = ewald_parameters(cell, len(charges), precision=1e-15, method="potforge")
    c = GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), True, None, ewald=ew)
    energy = float(c.energy(torch.tensor(charges, dtype=torch.float64)))
    return -energy / n_pairs * r0 * scale / COULOMB


@pytest.mark.parametrize("name, frac, charges, cell, r0, n_pairs, expected", [
    ("NaCl conventional", np.vstack([FCC, FCC + [.5, 0, 0]]), [1.] * 4 + [-1.] * 4, np.eye(3), .5, 4, NACL),
    ("NaCl primitive", [[0, 0, 0], [.5, .5, .5]], [1., -1.], [[0, .5, .5], [.5, 0, .5], [.5, .5, 0]],
     .5, 1, NACL),
    ("CsCl", [[0, 0, 0], [.5, .5, .5]], [1., -1.], np.eye(3), math.sqrt(3) / 2, 1, CSCL),
    ("zincblende", np.vstack([FCC, FCC + .25]), [1.] * 4 + [-1.] * 4, np.eye(3), math.sqrt(3) / 4, 4,
     ZINCBLENDE),
])
def test_madelung_constants(name, frac, charges, cell, r0, n_pairs, expected):
    # frac: fractional coordinates in the cell's basis (for the cubic cells, of the cube)
    cell = np.asarray(cell, float)
    frac = np.asarray(frac, float)
    if name == "NaCl primitive":  # these coordinates are Cartesian in units of the cube edge
        frac = frac @ np.linalg.inv(cell)
    got = _madelung(frac, np.array(charges), cell, r0, n_pairs)
    assert abs(got - expected) < 1e-10, (name, got, expected)


def test_evjen_direct_sum_converges_to_the_ewald_potential():
    # the potential at an ion of rock salt from Evjen-weighted neutral cubes of ions (a direct
    # lattice sum) converges to the Ewald potential (A q)_i
    a = 5.64
    c = GaussianCoulomb(torch.zeros(1, 3).expand(2, 3) + torch.tensor([[0, 0, 0], [a / 2] * 3]),
                        torch.tensor([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]]),
                        True, None)
    q = torch.tensor([1.0, -1.0])
    ewald_phi = float(c.matvec(q)[0])
    errors = []
    for n in (4, 8, 12):
        m = np.stack(np.meshgrid(*[np.arange(-n, n + 1)] * 3, indexing="ij"), -1).reshape(-1, 3)
        m = m[np.any(m != 0, axis=1)]
        charge = np.where(m.sum(1) % 2 == 0, 1.0, -1.0)
        weight = np.prod(np.where(np.abs(m) == n, 0.5, 1.0), axis=1)
        phi = COULOMB * float((charge * weight / np.linalg.norm(m * a / 2, axis=1)).sum())
        errors.append(abs(phi - ewald_phi))
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < 1e-4 * abs(ewald_phi)


def _cluster_energy(pos, q, sig, cell, n):
    """Energy per cell of the central cell in a cube of (2n+1)³ cells of Gaussian charges."""
    m = np.stack(np.meshgrid(*[np.arange(-n, n + 1)] * 3, indexing="ij"), -1).reshape(-1, 3)
    images = (pos[None] + (m @ cell)[:, None]).reshape(-1, 3)
    qj, sj = np.tile(q, len(m)), np.tile(sig, len(m))
    e = 0.0
    for i in range(len(q)):
        d = np.linalg.norm(images - pos[i], axis=1)
        ok = d > 0
        g = np.sqrt(sig[i] ** 2 + sj[ok] ** 2)
        e += 0.5 * q[i] * (qj[ok] * erf(d[ok] / (math.sqrt(2) * g)) / d[ok]).sum()
    return COULOMB * e


def test_ewald_matches_extrapolated_direct_sums_of_growing_clusters():
    # a triclinic cell of Gaussian charges, neutral and without dipole (inverted copies), so the
    # direct sum over growing cubes of cells converges (as 1/n²) to the Ewald energy
    rng = np.random.default_rng(1)
    cell = np.diag([4.0, 4.5, 5.0]) + rng.normal(0, 0.3, (3, 3))
    h = rng.uniform(0, 1, (3, 3)) @ cell
    pos = np.vstack([h, -h, [[0.0, 0.0, 0.0]]])
    q = np.array([0.5, -0.3, 0.4] * 2 + [-1.2])
    sig = np.array([0.6, 0.8, 1.0] * 2 + [0.7])
    c = GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), True, torch.tensor(sig))
    # ½ qᵀAq without the self terms (the cluster sum leaves them out too)
    ewald = float(0.5 * torch.tensor(q) @ c.matvec(torch.tensor(q))) - COULOMB * float(
        (q * q / (2 * sig * math.sqrt(math.pi))).sum())
    ns = np.array([4.0, 6.0, 8.0, 10.0, 12.0])
    es = np.array([_cluster_energy(pos, q, sig, cell, int(n)) for n in ns])
    assert abs(es[-1] - ewald) > 1e-3  # the raw sums are far off ...
    fit = np.linalg.lstsq(np.stack([ns ** 0, ns ** -2.0, ns ** -3.0], 1), es, rcond=None)[0]
    assert abs(fit[0] - ewald) < 2e-4  # ... their extrapolation is not (measured 4e-5)


@pytest.mark.parametrize("charged", [False, True])
def test_supercell_energy_is_extensive(charged):
    rng = np.random.default_rng(2)
    cell = np.diag([3.1, 3.6, 4.2]) + rng.normal(0, 0.4, (3, 3))
    frac = rng.uniform(0, 1, (5, 3))
    q = rng.normal(0, 0.5, 5)
    if not charged:
        q -= q.mean()
    sig = rng.uniform(0.4, 1.0, 5)
    e1 = GaussianCoulomb(torch.tensor(frac @ cell), torch.tensor(cell), True, torch.tensor(sig)).energy(
        torch.tensor(q))
    reps = (2, 1, 3)
    m = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3)
    big = (frac[None] + m[:, None]).reshape(-1, 3) @ cell
    cell_big = cell * np.array(reps)[:, None]
    n = len(m)
    e2 = GaussianCoulomb(torch.tensor(big), torch.tensor(cell_big), True, torch.tensor(np.tile(sig, n))
                         ).energy(torch.tensor(np.tile(q, n)))
    assert float(e2) == pytest.approx(n * float(e1), rel=1e-9, abs=1e-9)
