"""The 3G and 4G Potentials on their small examples: finite-difference forces and stress for
charged and neutral, open and periodic structures; the total-charge rule; the native
symmetry-function backward pass against the per-pair Jacobian path; adjoint forces against
a dense autograd reference that differentiates through the charge solve."""

from __future__ import annotations

import numpy as np
import pytest

from potforge import _native
from potforge.core.elements import species_indices
from potforge.core.errors import StructureError
from potforge.core.neighbors import neighbor_list
from potforge.models.hdnnp.example import example as example_2g
from potforge.models.hdnnp_charges.base import total_charge
from potforge.models.hdnnp_charges.example import example_3g, example_4g

from ..contracts import contract


@pytest.fixture(scope="module", params=["4g", "3g"])
def case(request):
    return example_4g() if request.param == "4g" else example_3g()


@pytest.mark.parametrize("charge", [0.0, -0.5])
def test_forces_and_stress_match_finite_differences_periodic(case, charge):
    atoms = case.periodic.copy()
    atoms.info["total_charge"] = charge
    p = case.potential.predict(atoms)
    assert abs(p.charges.sum() - charge) < 1e-9
    contract.forces_match_finite_differences(case.potential, atoms, h=1e-4, atoms_to_check=range(2),
                                             rtol=1e-6, atol=1e-7)
    contract.stress_matches_finite_differences(case.potential, atoms, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("charge", [0.0, -2.0])
def test_forces_match_finite_differences_open(case, charge):
    atoms = case.cluster.copy()
    atoms.info["total_charge"] = charge
    p = case.potential.predict(atoms)
    assert abs(p.charges.sum() - charge) < 1e-9 and p.stress is None
    contract.forces_match_finite_differences(case.potential, atoms, h=1e-4, atoms_to_check=(0, 4),
                                             rtol=1e-6, atol=1e-7)


def test_per_atom_energies_sum_to_the_energy(case):
    for atoms in (case.periodic, case.cluster):
        p = case.potential.predict(atoms)
        assert abs(p.energies.sum() - p.energy) < 1e-10 * max(1.0, abs(p.energy))


def test_total_charge_rule():
    atoms = example_2g().cluster.copy()
    assert total_charge(atoms) == 0.0
    atoms.set_initial_charges([0.5] + [0.0] * (len(atoms) - 1))
    assert total_charge(atoms) == 0.5
    atoms.info["total_charge"] = -1.0  # wins over the initial charges
    assert total_charge(atoms) == -1.0
    for bad in (float("nan"), "one", 1e6):
        atoms.info["total_charge"] = bad
        with pytest.raises(StructureError, match="total_charge"):
            total_charge(atoms)


def test_4g_charges_respond_to_a_change_beyond_the_cutoff():
    """Charge equilibration: moving one atom of a far group changes the charges of a group
    that is beyond every cutoff from it (non-local charge transfer)."""
    case = example_4g()
    atoms = case.cluster.copy()
    far = atoms.copy()
    far.positions += [4 * case.potential.cutoff, 0.0, 0.0]
    joint = atoms + far
    moved = joint.copy()
    moved.positions[len(atoms)] += [0.3, 0.0, 0.0]
    q0 = case.potential.predict(joint).charges[:len(atoms)]
    q1 = case.potential.predict(moved).charges[:len(atoms)]
    assert np.abs(q1 - q0).max() > 1e-6


def test_native_backward_equals_the_pair_jacobian_path():
    ex = example_2g()
    sfs = ex.potential.symmetry_functions
    rng = np.random.default_rng(5)
    for atoms in (ex.periodic, ex.cluster):
        idx, z = species_indices(atoms, sfs.species)
        nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, sfs.cutoff)
        g, jac = sfs.compute(idx, z, nl, derivatives=True)
        w = rng.normal(size=g.shape)
        pair = np.einsum("ps,psc->pc", w[nl.centers], jac)
        forces = np.zeros((len(atoms), 3))
        np.add.at(forces, nl.centers, pair)
        np.add.at(forces, nl.neighbors, -pair)
        strain = pair.T @ nl.vectors
        for threads in (1, 2):
            f, s = _native.symmetry_functions_backward(sfs.kernel, idx.astype(np.int32), z.astype(float),
                                                       nl.offsets, nl.neighbors, nl.vectors, nl.distances,
                                                       w, threads)
            np.testing.assert_allclose(f, forces, rtol=0, atol=1e-12)
            np.testing.assert_allclose(s, strain.T, rtol=0, atol=1e-11)


def test_native_backward_refuses_bad_weights():
    ex = example_2g()
    sfs = ex.potential.symmetry_functions
    atoms = ex.cluster
    idx, z = species_indices(atoms, sfs.species)
    nl = neighbor_list(atoms.positions, np.asarray(atoms.cell), atoms.pbc, sfs.cutoff)
    args = (sfs.kernel, idx.astype(np.int32), z.astype(float), nl.offsets, nl.neighbors, nl.vectors,
            nl.distances)
    with pytest.raises(ValueError, match="shape"):
        _native.symmetry_functions_backward(*args, np.zeros((len(atoms), 1)), 1)
    w = np.zeros((len(atoms), sfs.kernel.n_sf_max))
    w[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        _native.symmetry_functions_backward(*args, w, 1)


def test_mixed_periodicity_is_refused():
    case = example_4g()
    atoms = case.periodic.copy()
    atoms.pbc = [True, True, False]
    with pytest.raises(StructureError, match="periodic"):
        case.potential.predict(atoms)


def test_ase_calculator_gives_charges():
    from potforge.calculators.ase import PotforgeCalculator

    case = example_4g()
    atoms = case.cluster.copy()
    atoms.calc = PotforgeCalculator(case.potential)
    charges = atoms.get_charges()
    assert abs(charges.sum() - 1.0) < 1e-9  # the example cluster carries total_charge = 1
    np.testing.assert_array_equal(charges, case.potential.predict(case.cluster).charges)
