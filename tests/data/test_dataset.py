"""Dataset: reading, summaries against direct numpy computations, group-wise splits."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from ase import Atoms
from ase.data import atomic_numbers
from hypothesis import given, settings
from hypothesis import strategies as st

from potforge.data import Dataset, Frame, write_frames

from .test_io_roundtrip import make_frame


def _frames(n, groups):
    """n one-atom frames; groups[k] is the group of frame k (None: no group)."""
    return [Frame(Atoms("H", positions=[[0.0, 0.0, float(k)]]), group=groups[k], energy=float(k))
            for k in range(n)]


def _check_split(frames, parts, fractions):
    n = len(frames)
    assert len(parts) == len(fractions)
    # every frame in exactly one part (identity, not equality)
    seen = Counter(id(f) for part in parts for f in part)
    assert set(seen) == {id(f) for f in frames} and all(c == 1 for c in seen.values())
    # order inside a part follows the data set
    index = {id(f): k for k, f in enumerate(frames)}
    for part in parts:
        ks = [index[id(f)] for f in part]
        assert ks == sorted(ks)
    # no group in two parts; frames without a group are independent
    owner = {}
    for p, part in enumerate(parts):
        for f in part:
            if f.group is not None:
                assert owner.setdefault(f.group, p) == p, f"group {f.group!r} split between parts"
    # sizes: a part never takes a group once it is at its target, and the rest follows
    sizes = Counter(f.group if f.group is not None else id(f) for f in frames)
    biggest = max(sizes.values()) if sizes else 0
    for part, frac in zip(parts, fractions):
        target = frac * n
        if frac == 0:
            assert len(part) == 0
            continue
        assert len(part) < target + biggest + 1e-9
        assert len(part) > target - (len(fractions) - 1) * biggest - 1e-9


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 80), n_groups=st.integers(1, 15), p_none=st.floats(0, 1),
       weights=st.lists(st.integers(0, 10), min_size=1, max_size=4).filter(lambda w: sum(w) > 0),
       seed=st.integers(0, 2**31 - 1), data=st.data())
def test_split_by_group_random(n, n_groups, p_none, weights, seed, data):
    r = np.random.default_rng(seed)
    groups = [None if r.random() < p_none else f"g{r.integers(n_groups)}" for _ in range(n)]
    frames = _frames(n, groups)
    fractions = [w / sum(weights) for w in weights]
    parts = Dataset(frames).split_by_group(fractions, seed=data.draw(st.integers(0, 10**6)))
    assert all(isinstance(p, Dataset) for p in parts)
    _check_split(frames, parts, fractions)


def test_split_by_group_many_seeds(rng):
    groups = [f"traj{rng.integers(12)}" if rng.random() < 0.7 else None for _ in range(150)]
    frames = _frames(150, groups)
    data = Dataset(frames)
    splits = set()
    for seed in range(40):
        parts = data.split_by_group([0.8, 0.1, 0.1], seed=seed)
        _check_split(frames, parts, [0.8, 0.1, 0.1])
        splits.add(tuple(tuple(f.energy for f in p) for p in parts))
        # the same seed gives the same split
        again = data.split_by_group([0.8, 0.1, 0.1], seed=seed)
        assert [[id(f) for f in p] for p in again] == [[id(f) for f in p] for p in parts]
    assert len(splits) > 20  # the seed matters


def test_frames_without_group_are_split_one_by_one():
    frames = _frames(100, [None] * 100)
    firsts = set()
    for seed in range(10):
        a, b = Dataset(frames).split_by_group([0.5, 0.5], seed=seed)
        assert (len(a), len(b)) == (50, 50)
        train, test = Dataset(frames).split_by_group([0.9, 0.1], seed=seed)
        assert (len(train), len(test)) == (90, 10)
        firsts.add(tuple(f.energy for f in test))
    assert len(firsts) == 10


def test_one_big_group_stays_together():
    groups = ["big"] * 30 + [None] * 10
    frames = _frames(40, groups)
    for seed in range(10):
        parts = Dataset(frames).split_by_group([0.5, 0.5], seed=seed)
        _check_split(frames, parts, [0.5, 0.5])
        holder = [p for p in parts if any(f.group == "big" for f in p)]
        assert len(holder) == 1 and sum(f.group == "big" for f in holder[0]) == 30
        other = [p for p in parts if p is not holder[0]][0]
        assert 1 <= len(other) <= 10  # the greedy fill keeps the other part as close as it can


def test_a_group_bigger_than_a_small_part_goes_where_it_fits():
    # the Al example's shape: one 24-frame strain set among 85 frames in 25 groups; a 10 %
    # validation part must not become that strain set (which also leaves training without it)
    sizes = [24, 9, 5, 5, 4, 4, 4, 4, 4, 3, 3, 3, 2, 2] + [1] * 11
    groups = [f"g{k}" for k, n in enumerate(sizes) for _ in range(n)]
    frames = _frames(len(groups), groups)
    for seed in range(30):
        train, validation = Dataset(frames).split_by_group([0.9, 0.1], seed=seed)
        _check_split(frames, [train, validation], [0.9, 0.1])
        assert not any(f.group == "g0" for f in validation)
        assert 4 <= len(validation) <= 1.5 * 0.1 * len(frames)


@pytest.mark.parametrize("fractions", [[0.5, 0.6], [1.2, -0.2], [[0.5, 0.5]], [0.3]])
def test_split_by_group_rejects_bad_fractions(fractions):
    with pytest.raises(ValueError):
        Dataset(_frames(5, [None] * 5)).split_by_group(fractions)


def test_read_real_mlearn_file_and_split(shared_data):
    data = Dataset.read(shared_data / "mlearn" / "Cu" / "test.xyz")
    # README of the data set: 31 structures, 3,178 atoms, 12/13/2/4 per config_type
    assert len(data) == 31 and data.n_atoms == 3178
    counts = data.config_type_counts()
    assert {k: v[0] for k, v in counts.items()} == {"AIMD-NVT": 12, "Elastic": 13, "Surface": 2, "Vacancy": 4}
    assert sum(v[1] for v in counts.values()) == 3178
    assert data.species == ("Cu",) and data.element_counts() == {"Cu": 3178}


# -- summaries ------------------------------------------------------------------------------------

def test_statistics_match_numpy(rng):
    frames = []
    for k in range(40):
        labels = [name for name in ("energy", "forces", "stress") if rng.random() < 0.7]
        frames.append(make_frame(rng, 1 + k % 9, labels, "periodic" if k % 2 else "open", info=None))
    data = Dataset(frames)
    st_ = data.statistics()
    epa = np.array([f.energy / f.n_atoms for f in frames if f.energy is not None])
    forces = np.concatenate([f.forces for f in frames if f.forces is not None])
    stresses = np.array([f.stress for f in frames if f.stress is not None])
    assert st_.n_frames == 40 and st_.n_atoms == sum(f.n_atoms for f in frames)
    assert st_.n_energy == len(epa)
    assert st_.n_forces == sum(f.forces is not None for f in frames)
    assert st_.n_stress == len(stresses)
    np.testing.assert_allclose(st_.energy_per_atom_min, min(epa), rtol=1e-15)
    np.testing.assert_allclose(st_.energy_per_atom_max, max(epa), rtol=1e-15)
    mean = sum(epa) / len(epa)
    np.testing.assert_allclose(st_.energy_per_atom_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(st_.energy_per_atom_std, np.sqrt(sum((epa - mean) ** 2) / len(epa)), rtol=1e-12)
    np.testing.assert_allclose(st_.force_component_rms, np.sqrt((forces**2).sum() / forces.size), rtol=1e-12)
    np.testing.assert_allclose(st_.force_max_norm, max(np.sqrt((forces**2).sum(axis=1))), rtol=1e-14)
    np.testing.assert_allclose(st_.stress_abs_max, np.abs(stresses).max(), rtol=0)


def test_statistics_of_real_water_data(water_dir):
    data = Dataset.read(water_dir / "train" / "input.data", length_unit="bohr", energy_unit="hartree")
    st_ = data.statistics()
    assert st_.n_frames == st_.n_energy == st_.n_forces == 20 and st_.n_stress == 0
    assert st_.stress_abs_max is None
    epa = np.array([f.energy / f.n_atoms for f in data])
    np.testing.assert_allclose([st_.energy_per_atom_min, st_.energy_per_atom_max, st_.energy_per_atom_mean,
                                st_.energy_per_atom_std], [epa.min(), epa.max(), epa.mean(), epa.std()],
                               rtol=1e-12)
    # total (all-electron) energies: about -76.5 Hartree per H2O molecule, i.e. about -2080 eV
    # per molecule once converted (in Hartree it would be about -25.5 per atom)
    assert -2100 < 3 * st_.energy_per_atom_mean < -2050
    assert data.species == ("H", "O")
    counts = data.element_counts()
    assert counts["H"] == 2 * counts["O"]


def test_statistics_without_labels():
    data = Dataset([Frame(Atoms("H2O", positions=np.eye(3)))])
    st_ = data.statistics()
    assert (st_.n_frames, st_.n_atoms, st_.n_energy, st_.n_forces, st_.n_stress) == (1, 3, 0, 0, 0)
    assert st_.energy_per_atom_mean is None and st_.force_component_rms is None
    assert Dataset().statistics().n_frames == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["O", "H", "Cu", "C", "Au", "Li", "Si", "Ni", "Zn"]),
                         min_size=1, max_size=6), max_size=6),
       st.lists(st.one_of(st.none(), st.sampled_from(["bulk", "surface", "md"])), min_size=6, max_size=6))
def test_species_and_counts(symbol_lists, config_types):
    frames = [Frame(Atoms(syms, positions=np.arange(3 * len(syms), dtype=float).reshape(-1, 3)),
                    config_type=config_types[k]) for k, syms in enumerate(symbol_lists)]
    data = Dataset(frames)
    everything = [s for syms in symbol_lists for s in syms]
    assert set(data.species) == set(everything)
    zs = [atomic_numbers[s] for s in data.species]
    assert zs == sorted(zs) and len(set(zs)) == len(zs)
    assert data.element_counts() == dict(Counter(everything)) and list(data.element_counts()) == list(data.species)
    expected = {}
    for k, syms in enumerate(symbol_lists):
        key = config_types[k] if config_types[k] is not None else "(none)"
        frames_, atoms_ = expected.get(key, (0, 0))
        expected[key] = (frames_ + 1, atoms_ + len(syms))
    assert data.config_type_counts() == expected
    assert data.n_atoms == len(everything)


def test_species_order_example():
    frames = [Frame(Atoms("OCu", positions=np.zeros((2, 3)))), Frame(Atoms("AuHC", positions=np.zeros((3, 3))))]
    assert Dataset(frames).species == ("H", "C", "O", "Cu", "Au")


# -- reading several files, sequence protocol -------------------------------------------------------

def test_read_several_files_in_order(tmp_path, rng):
    frames = [make_frame(rng, 1 + k % 4, boundary="periodic" if k % 2 else "open", info="json" if k % 3 else None)
              for k in range(9)]
    for f in frames:  # what all three formats can hold
        f.info = {"k": 1, "note": "x"}
    write_frames(tmp_path / "a.xyz", frames[:3])
    write_frames(tmp_path / "input.data", frames[3:6])
    write_frames(tmp_path / "c.db", frames[6:])
    data = Dataset.read([tmp_path / "a.xyz", str(tmp_path / "input.data"), tmp_path / "c.db"])
    assert len(data) == 9
    for a, b in zip(frames, data):
        assert a.same_as(b)
    assert all(a.same_as(b) for a, b in zip(frames[2:5], data[2:5]))
    assert isinstance(data[2:5], Dataset) and len(data[::2]) == 5
    picked = data[[8, 0, 3]]
    assert [f.energy for f in picked] == [frames[8].energy, frames[0].energy, frames[3].energy]
    picked = data[np.array([1, 1])]
    assert len(picked) == 2 and picked[0] is data[1]
    both = data[:2] + data[7:]
    assert len(both) == 4 and both[3] is data[8]
    assert data[-1] is data[8]
    assert "9 frames" in repr(data)
