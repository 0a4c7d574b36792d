"""``preset.neighbors``: a cutoff chosen from the training data (mean neighbour count)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from potforge.core.errors import ConfigError
from potforge.data import Frame
from potforge.descriptors.presets import cutoff_for_neighbors
from potforge.training.config import training_config
from potforge.training.fit import fit


def _structures(atoms_list):
    return [(a.positions, np.asarray(a.cell), a.pbc) for a in atoms_list]


@pytest.mark.parametrize("neighbors, expected", [(12, 2.6), (13, 3.7), (18, 3.7), (19, 4.5), (42, 4.5),
                                                 (43, 5.1)])
def test_fcc_shells_give_the_radius_past_the_shell_that_completes_the_count(neighbors, expected):
    """fcc a = 3.6 Å: shells of 12, 6, 24, 12 at 2.546, 3.6, 4.409, 5.091 Å (a/√2, a, a√(3/2),
    a√2); the cutoff is the first 0.1 Å step past the distance of the N-th neighbour."""
    cu = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    assert cutoff_for_neighbors(_structures([cu]), neighbors) == pytest.approx(expected, abs=1e-9)


def test_mean_over_structures_and_the_cap():
    """Two crystals of different density: the count is a mean over all their atoms; a count the
    data never reach within r_max gives r_max."""
    dense = bulk("Cu", "fcc", a=3.6, cubic=True)            # 4 atoms, 12 at 2.546 Å
    sparse = bulk("Cu", "fcc", a=4.6, cubic=True)           # 4 atoms, 12 at 3.253 Å
    # 12 neighbours on average: all of the dense atoms' first shell and the sparse ones' too
    assert cutoff_for_neighbors(_structures([dense, sparse]), 12) == pytest.approx(3.3)
    assert cutoff_for_neighbors(_structures([dense]), 5000, r_max=6.0) == 6.0
    molecule = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    assert cutoff_for_neighbors(_structures([molecule]), 1) == pytest.approx(0.8)


@pytest.mark.parametrize("bad", [0, -3, float("nan")])
def test_bad_counts_are_config_errors(bad):
    with pytest.raises(ConfigError, match="neighbors"):
        cutoff_for_neighbors(_structures([bulk("Cu")]), bad)
    with pytest.raises(ConfigError, match=r"model.symmetry_functions.preset.neighbors"):
        training_config({"data": {"train": "x.xyz"},
                         "model": {"symmetry_functions": {"preset": {"neighbors": bad}}}})


def test_training_uses_the_data_cutoff(tmp_path):
    """A model built with preset.neighbors has every symmetry function at the chosen cutoff."""
    from ase.calculators.emt import EMT

    frames = []
    for k in range(6):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
        atoms.rattle(0.05, seed=k)
        atoms.calc = EMT()
        frames.append(Frame(atoms.copy(), energy=atoms.get_potential_energy(), forces=atoms.get_forces()))
    from potforge.data import write_frames
    write_frames(tmp_path / "train.xyz", frames)
    config = training_config({
        "data": {"train": "train.xyz", "validation_fraction": 0.0},
        "model": {"kind": "hdnnp", "symmetry_functions": {"preset": {"neighbors": 18, "cutoff": 6.5, "n_radial": 3,
                                                                     "n_angular": 1}},
                  "network": {"hidden": [3]}},
        "training": {"epochs": 0, "threads": 1}}, base_dir=tmp_path)
    result = fit(config)
    cutoffs = {sf.cutoff_radius for sfs in result.potential.symmetry_functions.functions.values() for sf in sfs}
    expected = cutoff_for_neighbors(_structures([f.atoms for f in frames]), 18)
    assert 3.6 < expected < 4.2     # past the second shell (3.6 Å) of the rattled crystals
    assert len(cutoffs) == 1 and cutoffs.pop() == pytest.approx(expected)
    # the choice is on record (summary.json), and so is the explicit preset.cutoff that it overrode
    assert json.loads(json.dumps(result.summary))["cutoff"] == {"angstrom": pytest.approx(expected), "mean_neighbors": 18,
                                 "chosen_by": "model.symmetry_functions.preset.neighbors",
                                 "ignored_preset_cutoff_angstrom": 6.5}
