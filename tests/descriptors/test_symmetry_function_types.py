"""Every symmetry-function type against the published formulas and finite differences.

Values: potforge's kernel vs an independent loop implementation (reference_sf.py) on periodic
cells smaller than the cutoff (several images of each atom), on open clusters, and with
every cutoff type. Derivatives: analytic Jacobian vs central finite differences of the
kernel's own values (h = 1e-5 Å). Kernel builds for each supported instruction set agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from potforge import _native
from potforge.core.neighbors import neighbor_list
from potforge.descriptors.symmetry_functions import SymmetryFunctionSet
from potforge.core.elements import species_indices

from ..helpers import all_types_set, random_structure
from .reference_sf import reference_values


def compute(sfs, atoms, derivatives=False, kernel=None):
    idx, z = species_indices(atoms, sfs.species)
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, sfs.cutoff)
    k = kernel if kernel is not None else sfs.kernel
    values, jac = _native.symmetry_functions(k, idx, z, nl.offsets, nl.neighbors, nl.vectors,
                                             nl.distances, derivatives, 1)
    return values, jac, nl


def dG_dr(jac, nl, n_atoms):
    """(n_atoms, n_max, n_atoms, 3): dG_i / dr_j assembled from the pair Jacobians."""
    n_max = jac.shape[1]
    out = np.zeros((n_atoms, n_max, n_atoms, 3))
    for p, (i, j) in enumerate(zip(nl.centers, nl.neighbors)):
        out[i, :, j] += jac[p]
        out[i, :, i] -= jac[p]
    return out


STRUCTURES = {
    "periodic_small_cell": dict(n_atoms=7, periodic=True, cell_size=3.3),
    "periodic": dict(n_atoms=14, periodic=True, cell_size=4.6),
    "cluster": dict(n_atoms=10, periodic=False, cell_size=4.0),
}


VALUE_CASES = [(s, "tanhu", 0.0) for s in STRUCTURES] + [
    ("periodic_small_cell", c, a) for c, a in [("tanh", 0.0), ("cos", 0.2), ("exp", 0.0),
                                               ("poly1", 0.1), ("poly2", 0.0), ("poly3", 0.3),
                                               ("poly4", 0.0), ("hard", 0.0)]]


@pytest.mark.parametrize("structure,cutoff_type,alpha", VALUE_CASES)
def test_values_match_reference_formulas(structure, cutoff_type, alpha, rng):
    sfs = all_types_set(cutoff_type=cutoff_type, alpha=alpha)
    atoms = random_structure(rng, **STRUCTURES[structure])
    values, _, _ = compute(sfs, atoms)
    expected = reference_values(sfs, atoms)
    assert np.abs(values).max() > 0.1  # the structure actually exercises the functions
    np.testing.assert_allclose(values, expected, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("structure,cutoff_type", [(s, "tanhu") for s in STRUCTURES]
                         + [("periodic_small_cell", c) for c in ("cos", "poly2", "exp")])
def test_jacobian_matches_finite_differences(structure, cutoff_type, rng):
    sfs = all_types_set(cutoff_type=cutoff_type, alpha=0.1 if cutoff_type != "tanhu" else 0.0)
    atoms = random_structure(rng, **STRUCTURES[structure])
    _, jac, nl = compute(sfs, atoms, derivatives=True)
    analytic = dG_dr(jac, nl, len(atoms))
    h = 1e-5
    numeric = np.zeros_like(analytic)
    for j in range(len(atoms)):
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[j, c] += h
            minus.positions[j, c] -= h
            numeric[:, :, j, c] = (compute(sfs, plus)[0] - compute(sfs, minus)[0]) / (2 * h)
    scale = np.abs(analytic).max()
    assert scale > 0.1
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=2e-8 * max(1.0, scale))
    # translation invariance: the derivatives of each G_i sum to zero over all atoms
    assert np.abs(analytic.sum(axis=2)).max() < 1e-12 * max(1.0, scale)


def test_instruction_set_builds_agree(rng):
    sfs = all_types_set()
    atoms = random_structure(rng, n_atoms=14, periodic=True, cell_size=4.6)
    results = {}
    for arch in _native.supported_architectures():
        kernel = _native.make_kernel([sfs.table(e) for e in sfs.species], len(sfs.species),
                                     architecture=arch)
        assert kernel.architecture == arch
        results[arch] = compute(sfs, atoms, derivatives=True, kernel=kernel)
    base_v, base_j, _ = results["baseline"]
    for arch, (v, j, _) in results.items():
        np.testing.assert_allclose(v, base_v, rtol=1e-13, atol=1e-14, err_msg=arch)
        np.testing.assert_allclose(j, base_j, rtol=1e-12, atol=1e-13, err_msg=arch)


def test_unknown_architecture_is_rejected():
    sfs = all_types_set()
    with pytest.raises(ValueError, match="not supported"):
        _native.make_kernel([sfs.table(e) for e in sfs.species], 2, architecture="sparc")


def test_weighted_functions_use_atomic_numbers(rng):
    """Type 12 on a pure-H and a pure-O environment differ exactly by Z = 1 vs 8."""
    from potforge.descriptors.symmetry_functions import SymmetryFunction

    sf = lambda e: SymmetryFunction(12, e, eta=0.1, shift=0.0, cutoff_radius=4.0)  # noqa: E731
    sfs = SymmetryFunctionSet(("H", "O"), {"H": [sf("H")], "O": [sf("O")]})
    atoms = random_structure(rng, symbols=("H",), n_atoms=6, periodic=False)
    g_h, _, _ = compute(sfs, atoms)
    atoms.set_chemical_symbols(["H"] + ["O"] * 5)
    g_o, _, _ = compute(sfs, atoms)
    np.testing.assert_allclose(g_o[0, 0], 8.0 * g_h[0, 0], rtol=1e-14)
