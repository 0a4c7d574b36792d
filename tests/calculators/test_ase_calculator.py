"""The ASE calculator: properties, conventions, and one-line use."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.calculator import PropertyNotImplementedError

import potforge
from potforge.calculators.ase import PotforgeCalculator
from potforge.data.io import read_frames


@pytest.fixture(scope="module")
def box(water_dir):
    return read_frames(water_dir / "train" / "input.data", length_unit="bohr", energy_unit="hartree")[1].atoms


def test_one_line_use_and_properties(water_dir, water_model, box):
    atoms = box.copy()
    atoms.calc = potforge.calculator(water_dir, length_unit="bohr", energy_unit="hartree")
    p = water_model.predict(box)
    assert atoms.get_potential_energy() == pytest.approx(p.energy, abs=1e-9)
    assert atoms.get_potential_energy(force_consistent=True) == pytest.approx(p.energy, abs=1e-9)
    np.testing.assert_allclose(atoms.get_forces(), p.forces, atol=1e-12)
    np.testing.assert_allclose(atoms.get_stress(), p.stress, atol=1e-14)
    np.testing.assert_allclose(atoms.get_potential_energies(), p.energies, atol=1e-12)
    np.testing.assert_array_equal(atoms.calc.get_extrapolations(), np.zeros(len(atoms), int))
    # ASE's stress convention: a compressed cell has negative (compressive) stress on average
    squeezed = box.copy()
    squeezed.set_cell(box.cell * 0.97, scale_atoms=True)
    squeezed.calc = PotforgeCalculator(water_model)
    assert np.mean(squeezed.get_stress()[:3]) < np.mean(atoms.get_stress()[:3])


def test_results_follow_the_atoms(water_model, box):
    atoms = box.copy()
    atoms.calc = PotforgeCalculator(water_model)
    e0 = atoms.get_potential_energy()
    atoms.positions[0] += [0.05, 0, 0]
    assert atoms.get_potential_energy() != e0


def test_open_structure_has_no_stress(water_model, box):
    cluster = box[:9].copy()
    cluster.pbc = False
    cluster.calc = PotforgeCalculator(water_model)
    assert np.isfinite(cluster.get_potential_energy())
    with pytest.raises(PropertyNotImplementedError):
        cluster.get_stress()


def test_implemented_properties_is_a_class_tuple():
    assert isinstance(PotforgeCalculator.implemented_properties, tuple)
    with pytest.raises(TypeError, match="Potential"):
        PotforgeCalculator("not a model")


def test_a_change_of_the_total_charge_in_info_recalculates():
    """ASE's state check ignores atoms.info: the calculator must notice the total charge."""
    from potforge.models.hdnnp_charges.example import example_4g

    ex = example_4g()
    atoms = ex.cluster.copy()
    atoms.info["total_charge"] = 0.0
    atoms.calc = PotforgeCalculator(ex.potential)
    e0 = atoms.get_potential_energy()
    assert abs(atoms.get_charges().sum()) < 1e-9
    atoms.info["total_charge"] = 1.0
    e1 = atoms.get_potential_energy()
    assert abs(atoms.get_charges().sum() - 1.0) < 1e-9 and e1 != e0
    assert e1 == pytest.approx(ex.potential.predict(atoms).energy, abs=1e-12)
    del atoms.info["total_charge"]  # back to the initial charges (none: neutral)
    assert atoms.get_potential_energy() == pytest.approx(e0, abs=1e-12)
    calls = []
    predict = ex.potential.predict
    ex.potential.predict = lambda *a, **k: calls.append(1) or predict(*a, **k)
    try:
        atoms.get_potential_energy(), atoms.get_forces()  # unchanged: served from the cache
    finally:
        del ex.potential.predict
    assert calls == []
