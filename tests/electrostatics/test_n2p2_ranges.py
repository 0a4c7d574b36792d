"""n2p2's range of the real-space Ewald sum (convention "n2p2"): which radius each atom sums to
(n2p2_real_ranges, the rules of Atom::getStoredMinNumNeighbors) and that GaussianCoulomb sums
exactly the pairs within the radius of the smaller index, without lengthening the cutoff."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.special import erfc

from potforge.core.errors import PotforgeError
from potforge.electrostatics import COULOMB, EwaldParameters, GaussianCoulomb, Screening, n2p2_real_ranges

CUTS = {"H": (6.0, 8.0), "O": (8.0,), "Na": (10.0,)}  # Na: a model element absent from the structure


def test_ranges_follow_n2p2s_stored_cutoffs():
    els = ["O", "H", "H"]
    # rCut beyond every stored radius: it is the neighbour-list radius, stored for all
    assert n2p2_real_ranges(12.0, CUTS, els).tolist() == [12.0] * 3
    # rCut below: the whole neighbour list, out to the largest SF cutoff of any element (10),
    # not the next stored radius (8)
    assert n2p2_real_ranges(7.0, CUTS, els).tolist() == [10.0] * 3
    # rCut equal to a stored radius of H only: H atoms sum to 6, O atoms to the whole list
    assert n2p2_real_ranges(6.0, CUTS, els).tolist() == [10.0, 6.0, 6.0]
    # the screening radius is stored for every element and can set the list radius
    assert n2p2_real_ranges(6.5, CUTS, els, screening_outer=6.5).tolist() == [6.5] * 3
    assert n2p2_real_ranges(7.0, CUTS, els, screening_outer=11.0).tolist() == [11.0] * 3
    with pytest.raises(PotforgeError, match="no symmetry-function cutoffs for element"):
        n2p2_real_ranges(7.0, CUTS, ["C"])


def _box(seed=3, n=5):
    rng = np.random.default_rng(seed)
    cell = np.diag([4.0, 4.5, 5.0]) + rng.normal(0, 0.3, (3, 3))
    return rng.uniform(0, 1, (n, 3)) @ cell, cell, rng.uniform(0.6, 1.2, n)


def _real_terms(pos, cell, sig, i, j, eta, r_low, r_high):
    """Σ over images of the real-space term of the pair (i, j) with r_low < r <= r_high (brute force)."""
    total = 0.0
    for s in itertools.product(range(-6, 7), repeat=3):
        r = np.linalg.norm(pos[j] - pos[i] + np.array(s) @ cell)
        if r_low < r <= r_high and r > 0:
            gamma = math.sqrt(sig[i] ** 2 + sig[j] ** 2)
            total += (erfc(r / (math.sqrt(2) * eta)) - erfc(r / (math.sqrt(2) * gamma))) / r
    return COULOMB * total


def test_pairs_are_summed_within_the_range_of_the_smaller_index():
    pos, cell, sig = _box()
    n = len(pos)
    ew = EwaldParameters(eta=0.7, real_cutoff=4.0, kspace_cutoff=5.0)  # eta < sqrt(2) sigma

    def matrix(ranges):
        return GaussianCoulomb(torch.tensor(pos), torch.tensor(cell), True, torch.tensor(sig), ewald=ew,
                               convention="n2p2", real_ranges=ranges).matrix().numpy()

    short = matrix(np.full(n, 4.0))
    long0 = matrix(np.array([7.0] + [4.0] * (n - 1)))  # atom 0 (every pair's smaller index) to 7 Å
    lastlong = matrix(np.array([4.0] * (n - 1) + [7.0]))  # the last atom: only its self images
    diff = long0 - short
    assert np.abs(diff[1:, 1:]).max() < 1e-14
    for j in range(n):
        assert diff[0, j] == pytest.approx(_real_terms(pos, cell, sig, 0, j, 0.7, 4.0, 7.0), abs=1e-12)
    diff = lastlong - short
    assert np.abs(diff[:-1]).max() < 1e-14 and np.abs(diff[:, :-1]).max() < 1e-14
    assert diff[-1, -1] == pytest.approx(_real_terms(pos, cell, sig, n - 1, n - 1, 0.7, 4.0, 7.0), abs=1e-12)


def test_n2p2_convention_keeps_the_cutoff_physical_lengthens_it():
    pos, cell, sig = _box()
    ew = EwaldParameters(eta=0.7, real_cutoff=4.0, kspace_cutoff=5.0)
    args = (torch.tensor(pos), torch.tensor(cell), True, torch.tensor(sig))
    assert GaussianCoulomb(*args, ewald=ew, convention="n2p2").real_cutoff() == 4.0
    assert GaussianCoulomb(*args, ewald=ew).real_cutoff() == pytest.approx(4.0 * math.sqrt(2) * sig.max() / 0.7)
    # without symmetry functions n2p2's neighbour list reaches the screening radius
    screened = GaussianCoulomb(*args, ewald=ew, convention="n2p2", screening=Screening(1.0, 5.5))
    assert screened.real_cutoff() == 5.5
    with pytest.raises(PotforgeError, match="real_ranges has shape"):
        GaussianCoulomb(*args, ewald=ew, convention="n2p2", real_ranges=[4.0, 4.0])
