"""The family-independent training domain (descriptors/domain.py): distances and coordinations
of the training structures.

References: the mlearn Cu training set, against its own test set (inside: same kinds of
structure), a compressed crystal (every atom closer than any training pair), a cluster cut from
the crystal (under-coordinated atoms), an element never seen; a saved and reloaded domain gives
the same answers; potforge train writes one; the MD guard watches a classical model with it."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.md.verlet import VelocityVerlet

from potforge.calculators.guard import ExtrapolationGuard, ExtrapolationStop
from potforge.core.errors import ModelFormatError
from potforge.data.dataset import Dataset
from potforge.descriptors.domain import DOMAIN_FILE, TrainingDomain, load_domain


@pytest.fixture(scope="module")
def cu(shared_data):
    train = [f.atoms for f in Dataset.read(shared_data / "mlearn" / "Cu" / "train.xyz")]
    test = [f.atoms for f in Dataset.read(shared_data / "mlearn" / "Cu" / "test.xyz")]
    return TrainingDomain.from_structures(train, 5.0), train, test


def test_inside_and_outside(cu):
    domain, train, test = cu
    assert all(domain.outside(a).sum() == 0 for a in train)            # its own data: inside
    assert sum(int(domain.outside(a).sum()) for a in test) == 0       # the same kinds of structure
    much = bulk("Cu", "fcc", a=2.4, cubic=True).repeat(3)             # 1.70 Å: closer than any seen
    assert np.all(domain.outside(much) >= 1)
    cluster = bulk("Cu", "fcc", a=3.62, cubic=True).repeat(3)
    cluster.pbc = False
    corner = domain.outside(cluster)
    assert corner.max() >= 1 and corner.min() == 0                    # corners under-coordinated, centre fine
    alloy = bulk("Cu", "fcc", a=3.62, cubic=True).repeat(2)
    alloy[0].symbol = "Ni"
    assert domain.outside(alloy)[0] >= 1                              # an element never seen


def test_round_trip_and_bad_files(cu, tmp_path):
    domain, train, _ = cu
    domain.save(tmp_path / DOMAIN_FILE)
    again = load_domain(tmp_path)
    assert again.to_dict() == domain.to_dict()
    much = bulk("Cu", "fcc", a=2.4, cubic=True).repeat(2)
    assert np.array_equal(again.outside(much), domain.outside(much))
    (tmp_path / "bad.json").write_text('{"radius_angstrom": -1, "min_distance_angstrom": {}, "coordination": {}}')
    with pytest.raises(ModelFormatError, match="radius_angstrom: expected a positive number"):
        load_domain(tmp_path / "bad.json")
    with pytest.raises(ModelFormatError, match="no training domain here"):
        load_domain(tmp_path / "nothing")


def test_guard_watches_a_classical_model_through_its_domain(cu):
    """EAM has no descriptor ranges: the domain stops MD that leaves the training data."""
    from potforge.calculators.ase import PotforgeCalculator
    from potforge.models import family

    domain, _, _ = cu
    atoms = bulk("Cu", "fcc", a=2.4, cubic=True).repeat(2)
    atoms.calc = PotforgeCalculator(family("eam").example().potential)
    assert atoms.calc.get_extrapolations(atoms) is None
    guard = ExtrapolationGuard(atoms, action="stop", domain=domain)
    dyn = VelocityVerlet(atoms, timestep=0.1 * units.fs)
    dyn.attach(guard, interval=1)
    with pytest.raises(ExtrapolationStop, match=f"{len(atoms)} atoms"):
        dyn.run(2)
