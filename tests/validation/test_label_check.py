"""potforge data check: label consistency on data sets with exact labels (ASE's EMT) and with
known faults put in (a hydrostatic stress offset, a duplicate with another energy, a shifted
energy, a per-element shift of one source), and on the mlearn sets."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from potforge.core.units import GPa
from potforge.data.dataset import Dataset
from potforge.data.frame import Frame
from potforge.validation.label_check import check_labels, fit_stress_offset, strain_series
from potforge.validation.label_duplicates import find_duplicates
from potforge.validation.label_pairs import integrable_pairs, pair_sets, pair_work, strain_pairs


def _labelled(atoms, offset_gpa: float = 0.0, config_type: str = "x") -> Frame:
    atoms = atoms.copy()
    atoms.calc = EMT()
    stress = None
    if atoms.pbc.all():
        stress = atoms.get_stress().copy()
        stress[:3] += offset_gpa * GPa
    return Frame(atoms.copy(), atoms.get_potential_energy(), atoms.get_forces().copy(), stress,
                 config_type=config_type)


def _strained(base, mode: int, strain: float):
    e = np.zeros(6)
    e[mode] = strain
    eps = np.array([[e[0], e[5] / 2, e[4] / 2], [e[5] / 2, e[1], e[3] / 2], [e[4] / 2, e[3] / 2, e[2]]])
    atoms = base.copy()
    atoms.set_cell(np.asarray(base.cell) @ (np.eye(3) + eps), scale_atoms=True)
    return atoms


def emt_set(offset_gpa: float = 0.0, seed: int = 0) -> list[Frame]:
    """Strain series (six modes, ±2 %) of a 32-atom Cu cell, some with relaxed-looking internal
    displacements, and displaced snapshots of the unstrained cell: exact EMT labels."""
    rng = np.random.default_rng(seed)
    base = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    frames = []
    for mode in range(6):
        for strain in (-0.02, -0.01, 0.01, 0.02):
            atoms = _strained(base, mode, strain)
            if mode == 3:  # internal coordinates a little off the affine positions
                atoms.positions += rng.normal(scale=0.003, size=atoms.positions.shape)
            frames.append(_labelled(atoms, offset_gpa, "Elastic"))
    frames.append(_labelled(base, offset_gpa, "Elastic"))
    for _ in range(6):
        atoms = base.copy()
        atoms.positions += rng.normal(scale=0.02, size=atoms.positions.shape)
        frames.append(_labelled(atoms, offset_gpa, "Displaced"))
    return frames


@pytest.fixture(scope="module")
def exact():
    return emt_set()


def test_pair_work_matches_the_energy_difference_of_exact_labels(exact):
    pairs = integrable_pairs(exact)
    assert len(pairs) == len(exact) - 1  # one series: a spanning tree
    for a, b in pairs:
        w = pair_work(exact, a, b)
        assert abs(w.mismatch) / w.n_atoms <= 3 * w.integration_error / w.n_atoms + 2e-6
        # the left and right rules alone are visibly worse than the trapezoid on strained pairs
        if w.strain > 0.005:
            assert abs(w.delta_energy - w.work_left) > 5 * abs(w.mismatch)


def test_exact_labels_give_no_offset_and_no_findings(exact):
    report = check_labels(exact)
    s, err = report["stress_offset_gpa"], report["stress_offset_uncertainty_gpa"]
    assert abs(s) <= 3 * err and err < 0.2
    assert report["stress_offset_significant"] is False
    mismatch = report["energy_stress_mismatch_mev_per_atom"]
    assert mismatch["before"] < 0.05 and mismatch["after"] < 0.05
    assert report["strain_series"]["n_series"] == 1
    assert report["energy_force_pairs"]["n_inconsistent"] == 0
    assert report["energy_force_pairs"]["n_displacement_pairs"] >= 1
    assert report["duplicates"]["n_with_different_labels"] == 0
    assert report["reference_energies"]["n_outliers"] == 0


@pytest.mark.parametrize("label_offset", [-2.0, 1.5])
def test_a_hydrostatic_offset_in_the_stress_labels_is_found_with_its_sign(label_offset):
    """Issue 15's sign: stress_offset_gpa is what must be ADDED to the labels, so labels that
    carry ``label_offset`` give ``−label_offset``."""
    report = check_labels(emt_set(label_offset))
    assert report["stress_offset_significant"] is True
    assert report["stress_offset_gpa"] == pytest.approx(-label_offset, abs=0.05)
    assert report["stress_offset_uncertainty_gpa"] < 0.1
    mismatch = report["energy_stress_mismatch_mev_per_atom"]
    assert mismatch["before"] > 0.3 and mismatch["after"] < 0.05
    # once the offset is taken out, no pair is inconsistent
    assert report["energy_force_pairs"]["n_inconsistent"] == 0


def test_offset_fit_recovers_a_known_line():
    rng = np.random.default_rng(1)
    c = rng.uniform(-0.3, 0.3, 40)
    r = -0.01 * c + rng.normal(scale=1e-5, size=40)   # mismatch − s·c = 0 at s = −0.01
    s, err = fit_stress_offset(r, c, np.full(40, 1e-6))
    assert abs(s + 0.01) < 3 * err and err < 1e-4


def test_offset_fit_ignores_pairs_of_a_mislabelled_frame():
    """A frame with a wrong label spoils every pair it is in; the robust fit gives those pairs
    no weight, where least squares is pulled far off."""
    rng = np.random.default_rng(5)
    n_frames = 12
    pair_frames = np.array([(i, j) for i in range(n_frames) for j in range(i + 1, n_frames)])
    c = rng.uniform(-0.3, 0.3, len(pair_frames))
    r = 0.01 * c + rng.normal(scale=1e-5, size=len(c))
    bad = (pair_frames == 3).any(axis=1)
    r[bad] += 5e-3 * np.sign(c[bad])   # frame 3's energy off along its strain
    s, err = fit_stress_offset(r, c, np.full(len(c), 1e-6), pair_frames)
    assert abs(s - 0.01) < 1e-4 and abs(s - 0.01) < 3 * err
    w = 1 / (1e-12 + 1e-12)   # plain least squares, for contrast
    assert abs(np.sum(w * r * c) / np.sum(w * c * c) - 0.01) > 10 * abs(s - 0.01)


def test_a_mislabelled_strained_frame_does_not_move_the_offset():
    frames = emt_set(2.0)
    clean = check_labels(frames)["stress_offset_gpa"]
    faulty = frames[1]   # -1 % along xx: energy 0.5 meV/atom low, stress made hydrostatic
    faulty.energy -= 0.5e-3 * faulty.n_atoms
    faulty.stress[:3] = np.mean(faulty.stress[:3])
    report = check_labels(frames)
    assert clean == pytest.approx(-2.0, abs=0.05)
    # (weighted least squares over the same pairs moves by 0.055 GPa)
    assert report["stress_offset_gpa"] == pytest.approx(clean, abs=0.01)


def test_strain_pairs_are_every_pair_of_different_cells_within_the_limit(exact):
    tree, strained = pair_sets(exact)
    assert tree == integrable_pairs(exact) and strained == strain_pairs(exact)
    # 25 cells (six modes at ±1, ±2 %, and the unstrained one), all within 5 % of each other
    assert len(strained) == 25 * 24 // 2 + 6 * 24   # + the displaced snapshots with the strained cells
    assert all(pair_work(exact, a, b).strain > 1e-6 for a, b in strained)


def test_duplicate_with_another_energy_is_found_under_permutation_and_translation(exact):
    frames = list(exact)
    source = frames[-1]
    order = np.random.default_rng(2).permutation(source.n_atoms)
    atoms = source.atoms[order]
    atoms.positions += np.array([0.7, -1.1, 2.3])
    atoms.wrap()
    frames.append(Frame(atoms, source.energy + 0.003 * source.n_atoms, source.forces[order].copy(),
                        source.stress.copy(), config_type="Displaced"))
    # (symmetry-equivalent strained cells, e.g. +1 % along x and along y, are duplicates too)
    found = [d for d in find_duplicates(frames) if d.b == len(frames) - 1]
    assert [(d.a, d.b) for d in found] == [(len(frames) - 2, len(frames) - 1)]
    assert found[0].energy_difference == pytest.approx(0.003, abs=1e-9)
    assert found[0].force_difference < 1e-12
    report = check_labels(frames, [f"f{k}" for k in range(len(frames))])
    row = report["duplicates"]["pairs"][0]
    assert row["differs_in"] == ["energy"] and row["b"] == f"f{len(frames) - 1}"


def test_rotated_duplicate_compares_forces_and_stress_in_one_frame():
    base = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    base.positions += np.random.default_rng(3).normal(scale=0.03, size=base.positions.shape)
    a = _labelled(_strained(base, 0, 0.01))
    rotated = a.atoms.copy()
    rotated.rotate(90, "z", rotate_cell=True)
    b = _labelled(rotated)
    [pair] = find_duplicates([a, b])
    assert pair.energy_difference < 1e-9
    assert pair.force_difference < 1e-9 and pair.stress_difference < 1e-9
    # the same structure with the stress labels of a (unrotated) differs in stress
    b_wrong = Frame(b.atoms, b.energy, b.forces, a.stress)
    [pair] = find_duplicates([a, b_wrong])
    assert pair.stress_difference > 1e-3


def test_shifted_energies_are_named(exact):
    frames = [f.copy() for f in exact]
    shifted = len(frames) - 3  # a displaced snapshot: in an energy/force pair
    frames[shifted].energy += 0.004 * frames[shifted].n_atoms
    far = 5
    frames[far].energy += 0.3 * frames[far].n_atoms
    names = [f"frame {k}" for k in range(len(frames))]
    report = check_labels(frames, names)
    worst = {row[k] for row in report["energy_force_pairs"]["worst"] for k in ("a", "b")}
    assert names[shifted] in worst and names[far] in worst
    assert [row["frame"] for row in report["reference_energies"]["outliers"]] == [names[far]]


def test_no_strain_series_gives_null_offset():
    frames = emt_set()[-6:]  # displaced snapshots of one cell only
    report = check_labels(frames)
    assert report["stress_offset_gpa"] is None
    assert report["energy_stress_mismatch_mev_per_atom"] == {"before": None, "after": None}
    assert "no strain series" in report["strain_series"]["note"]


def test_per_element_shift_of_one_source_is_found():
    rng = np.random.default_rng(4)
    frames, sources = [], []
    for k in range(16):
        atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 1, 1))
        gold = rng.choice(len(atoms), size=1 + k % 5, replace=False)
        atoms.numbers[gold] = 79
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        frame = _labelled(atoms)
        source = "b.xyz" if k % 2 else "a.xyz"
        if source == "b.xyz":
            frame.energy += 1.0 * len(gold)  # another Au reference energy
        frames.append(frame)
        sources.append(source)
    report = check_labels(frames, sources=sources)
    shifts = {row["subset"]: row for row in report["reference_energies"]["subset_shifts"]}
    assert "file b.xyz" in shifts
    # against the global fit each file carries half the difference, with opposite signs
    b, a = shifts["file b.xyz"]["shift_ev"], shifts["file a.xyz"]["shift_ev"]
    assert (b["Au"] - b["Cu"]) - (a["Au"] - a["Cu"]) == pytest.approx(1.0, abs=0.1)
    # the same set without the shift: nothing to explain
    for frame, source in zip(frames, sources):
        if source == "b.xyz":
            frame.energy -= 1.0 * frame.symbols.count("Au")
    assert check_labels(frames, sources=sources)["reference_energies"]["subset_shifts"] == []


@pytest.mark.parametrize("element, low, high", [("Cu", -2.6, -2.15), ("Ni", -3.05, -2.55), ("Li", None, None),
                                                ("Si", None, None)])
def test_mlearn_stress_offsets(shared_data, element, low, high):
    """Cu and Ni labels carry a tensile (ASE sign) hydrostatic stress, Pulay stress: the offset
    to add is negative, as the issue states it (about −2.3 and −2.8 GPa); Li and Si none.
    Only the strain-series part runs, on the Elastic frames (where the series live)."""
    frames = [f for f in Dataset.read(shared_data / "mlearn" / element / "train.xyz")
              if f.config_type == "Elastic"]
    report = strain_series([pair_work(frames, a, b) for a, b in strain_pairs(frames)],
                           [str(k) for k in range(len(frames))])
    s = report["stress_offset_gpa"]
    if low is None:
        assert report["stress_offset_significant"] is False
    else:
        assert report["stress_offset_significant"] is True and low < s < high
        mismatch = report["energy_stress_mismatch_mev_per_atom"]
        assert mismatch["before"] > 1.0 and mismatch["after"] < 0.5 * mismatch["before"]


def test_open_frames_rigidly_moved_are_duplicates_with_rotated_forces():
    from ase.build import molecule

    frames = []
    for angle in (0.0, 37.0):
        atoms = molecule("CH3CH2OH")
        atoms.rotate(angle, "x")
        atoms.translate([1.0, -2.0, 0.5])
        frames.append(_labelled(atoms))
    [pair] = find_duplicates(frames)
    assert pair.displacement < 1e-9 and pair.energy_difference < 1e-9
    assert pair.force_difference < 1e-9  # compared after the rotation
    swapped = Frame(frames[1].atoms, frames[1].energy, frames[0].forces)  # unrotated forces
    [pair] = find_duplicates([frames[0], swapped])
    assert pair.force_difference > 0.1
