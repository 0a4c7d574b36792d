"""The MD-time extrapolation guard (calculators/guard.py) on real MD with ASE.

Reference: the calculator's own per-atom extrapolation counts. A two-element example model is
run with velocity Verlet from a cell compressed beyond its training range (every step
extrapolates) and from one inside it (no step does)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from ase.io import read
from ase.md.verlet import VelocityVerlet

from potforge.calculators.ase import PotforgeCalculator
from potforge.calculators.guard import ExtrapolationGuard, ExtrapolationStop, ExtrapolationWarning
from potforge.core.errors import ConfigError
from potforge.models.hdnnp.example import example


def _atoms(scale: float):
    ex = example()
    atoms = ex.periodic.copy()
    atoms.set_cell(atoms.cell * scale, scale_atoms=True)
    atoms.calc = PotforgeCalculator(ex.potential)
    return atoms


def test_stop_ends_the_run_and_records_the_structure(tmp_path):
    atoms = _atoms(0.93)
    dyn = VelocityVerlet(atoms, timestep=0.2 * units.fs)
    guard = ExtrapolationGuard(atoms, action="stop", path=tmp_path / "x.xyz")
    dyn.attach(guard, interval=1)
    with pytest.raises(ExtrapolationStop, match="outside the training domain .* stopped"):
        dyn.run(5)
    saved = read(tmp_path / "x.xyz", ":")
    assert len(saved) == 1 and saved[0].arrays["extrapolations"].sum() == guard.events[0][2] > 0
    assert np.allclose(saved[0].positions, atoms.positions)


def test_record_appends_every_event_and_warn_counts_them(tmp_path):
    atoms = _atoms(0.93)
    dyn = VelocityVerlet(atoms, timestep=0.2 * units.fs)
    recorder = ExtrapolationGuard(atoms, action="record", path=tmp_path / "r.xyz")
    warner = ExtrapolationGuard(atoms, max_warnings=2)
    dyn.attach(recorder, interval=2)
    dyn.attach(warner, interval=1)
    with pytest.warns(ExtrapolationWarning) as caught:
        dyn.run(6)
    assert len([w for w in caught if issubclass(w.category, ExtrapolationWarning)]) == 2
    assert len(warner.events) == warner.calls == 7          # the call before the first step, then 6
    assert len(read(tmp_path / "r.xyz", ":")) == len(recorder.events) == 4


def test_quiet_inside_the_training_range_and_bad_options():
    atoms = _atoms(1.0)
    counts = atoms.calc.get_extrapolations(atoms)
    assert counts is not None and counts.sum() == 0
    guard = ExtrapolationGuard(atoms, action="stop")
    VelocityVerlet(atoms, timestep=0.1 * units.fs).attach(guard, interval=1)
    guard()
    assert guard.events == []
    with pytest.raises(ConfigError, match="action: expected one of warn, stop, record"):
        ExtrapolationGuard(atoms, action="halt")
    with pytest.raises(ConfigError, match="record needs a path"):
        ExtrapolationGuard(atoms, action="record")


def test_committee_spread_threshold(tmp_path):
    """A committee's calibrated force spread above max_force_std is an event; a model without
    spreads is refused for it."""
    from potforge.models import family

    ex = family("committee").example()
    atoms = ex.periodic.copy()
    atoms.calc = PotforgeCalculator(ex.potential)
    atoms.get_potential_energy()
    spread = atoms.calc.results["force_std"]
    low = ExtrapolationGuard(atoms, action="record", path=tmp_path / "uncertain.xyz", max_force_std=0.5 * spread.max())
    low()
    assert low.events and low.events[0][1] >= np.count_nonzero(spread > 0.5 * spread.max())
    assert len(read(tmp_path / "uncertain.xyz", ":")) == 1
    high = ExtrapolationGuard(atoms, max_force_std=2 * spread.max())
    high()
    assert high.events == []
    plain = _atoms(1.0)
    with pytest.raises(ConfigError, match="max_force_std needs a committee"):
        ExtrapolationGuard(plain, max_force_std=0.1)()
