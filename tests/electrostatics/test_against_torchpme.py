"""potforge's Ewald and PME energies and forces against an independent program: torch-pme's
Ewald sum (point charges, periodic triclinic cells), with the same Coulomb constant."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchpme = pytest.importorskip("torchpme")

from potforge.core.neighbors import neighbor_list  # noqa: E402
from potforge.electrostatics import COULOMB, EwaldParameters, GaussianCoulomb  # noqa: E402


def _box(seed: int, n: int, charged: bool):
    rng = np.random.default_rng(seed)
    cell = np.array([[9.0, 0.0, 0.0], [1.3, 9.9, 0.0], [-0.7, 0.4, 8.6]])
    positions = rng.uniform(0, 1, (n, 3)) @ cell
    q = rng.normal(size=n)
    q -= q.mean()
    if charged:
        q[0] += 1.0
    return positions, cell, q


def _torchpme(positions, cell, q):
    """Energy and forces from torch-pme's Ewald calculator (full neighbour list, self images
    included); its potential is such that E = Σ q φ (STACK.md: the factor ½ is inside)."""
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    nl = neighbor_list(positions, cell, np.array([True] * 3), 8.0)
    pos = t(positions).requires_grad_(True)
    i, j = torch.tensor(nl.centers), torch.tensor(nl.neighbors)
    image = t(nl.vectors) - (t(positions)[j] - t(positions)[i])  # the periodic image's offset
    distances = (pos[j] - pos[i] + image).norm(dim=1)
    calc = torchpme.EwaldCalculator(torchpme.CoulombPotential(smearing=1.0, prefactor=COULOMB),
                                    lr_wavelength=0.25, full_neighbor_list=True)
    pairs = torch.tensor(np.stack([nl.centers, nl.neighbors], 1))
    phi = calc(t(q)[:, None], t(cell), pos, pairs, distances)
    energy = (t(q)[:, None] * phi).sum()
    (grad,) = torch.autograd.grad(energy, pos)
    return float(energy.detach()), -grad.numpy()


@pytest.mark.parametrize("charged", [False, True])
def test_point_charge_energy_and_forces_match_torchpme(charged):
    positions, cell, q = _box(7, 30, charged)
    e_ref, f_ref = _torchpme(positions, cell, q)
    for method in ("ewald", "pme"):
        pos = torch.tensor(positions, requires_grad=True)
        coulomb = GaussianCoulomb(pos, torch.tensor(cell), True, None, method=method,
                                  ewald=EwaldParameters(eta=1.1, real_cutoff=9.5, kspace_cutoff=7.5))
        energy = coulomb.energy(torch.tensor(q))
        (grad,) = torch.autograd.grad(energy, pos)
        # the Ewald sum agrees to round-off; PME to its mesh accuracy (spline order 8, spacing η/2)
        tol_e, tol_f = (1e-9, 1e-9) if method == "ewald" else (3e-6, 3e-5)
        e = float(energy.detach())
        assert abs(e - e_ref) <= tol_e * abs(e_ref), (method, e, e_ref)
        f_err = np.max(np.abs(-grad.numpy() - f_ref))
        assert f_err <= tol_f * np.abs(f_ref).max(), (method, f_err)
