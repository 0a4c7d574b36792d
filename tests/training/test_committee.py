"""Committees (``potforge train --committee N``, models/committee): trained end to end on a
small Cu set, saved as one model, loaded and used through the ASE calculator.

References: the committee's energy, forces and stress are the mean of its members' (each
loaded from its own directory); the spreads are the members' sample standard deviations times
the calibration factors, which make the mean squared error equal the mean squared spread on
the validation set they were fitted on; a killed committee run resumes to the same members."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from potforge.calculators.ase import PotforgeCalculator
from potforge.cli.main import main
from potforge.core.errors import ConfigError
from potforge.models.committee.potential import Committee, calibration_factors
from potforge.models.registry import load_potential
from potforge.training.config import load_config
from potforge.training.data import load_data

from .conftest import cu_config


@pytest.fixture(scope="module")
def committee_run(tmp_path_factory, cu_frames):
    from potforge.data.io import write_frames

    tmp = tmp_path_factory.mktemp("committee")
    write_frames(tmp / "train.xyz", cu_frames[::2] + cu_frames[1::4])   # as the cu_files fixture
    write_frames(tmp / "test.xyz", cu_frames[3::4])
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(cu_config("train.xyz", "test.xyz")))
    out = tmp / "committee"
    assert main(["train", str(path), "-o", str(out), "--committee", "3", "--set", "training.epochs=2"]) == 0
    return path, out


def test_committee_is_the_mean_of_its_members_with_calibrated_spread(committee_run, cu_frames):
    _, out = committee_run
    committee = load_potential(out)
    assert isinstance(committee, Committee) and len(committee.members) == 3
    members = [load_potential(out / f"member-{k}") for k in range(3)]
    record = json.loads((out / "committee.json").read_text())
    assert record["seeds"] == [3, 4, 5] and set(record["calibration"]) >= {"energy", "forces"}
    atoms = cu_frames[-1].atoms
    p = committee.predict(atoms)
    ps = [m.predict(atoms) for m in members]
    assert p.energy == pytest.approx(np.mean([q.energy for q in ps]), rel=1e-14)
    np.testing.assert_allclose(p.forces, np.mean([q.forces for q in ps], axis=0), rtol=0, atol=1e-13)
    np.testing.assert_allclose(p.stress, np.mean([q.stress for q in ps], axis=0), rtol=0, atol=1e-15)
    spread = np.std([q.forces for q in ps], axis=0, ddof=1) * record["calibration"]["forces"]
    np.testing.assert_allclose(p.extras["forces_std"], spread, rtol=1e-12)
    assert p.extras["energy_std_per_atom"] == pytest.approx(
        np.std([q.energy for q in ps], ddof=1) * record["calibration"]["energy"] / len(atoms), rel=1e-12)
    from potforge.descriptors.domain import load_domain

    domain = load_domain(out)                       # written by training, copied for the committee
    assert domain.coordination["Cu"][0] >= 1 and domain.to_dict() == load_domain(out / "member-1").to_dict()
    assert (out / "calibration.png").stat().st_size > 10_000 and record["test"]["committee"]["energy_rmse_mev_per_atom"] > 0


def test_calibration_makes_the_spread_predict_the_error(committee_run):
    path, out = committee_run
    committee = load_potential(out)
    _, validation, _ = load_data(load_config(path))
    again = calibration_factors(committee, validation)
    for q in ("energy", "forces"):   # fitted on the same data: the stored factors
        assert again["factors"][q] == pytest.approx(committee.calibration[q], rel=1e-12)
    errors, spreads = [], []
    for f in validation:             # with them, mean squared error = mean squared spread
        p = committee.predict(f.atoms)
        errors.append((p.forces - f.forces).ravel())
        spreads.append(p.extras["forces_std"].ravel())
    errors, spreads = np.concatenate(errors), np.concatenate(spreads)
    assert np.mean(errors ** 2) == pytest.approx(np.mean(spreads ** 2), rel=1e-10)


def test_ase_calculator_carries_the_spreads(committee_run, cu_frames):
    _, out = committee_run
    atoms = cu_frames[0].atoms.copy()
    atoms.calc = PotforgeCalculator(load_potential(out))
    atoms.get_potential_energy()
    for name in ("energy_std", "energy_std_per_atom", "forces_std", "force_std", "stress_std"):
        assert name in atoms.calc.results
    assert atoms.calc.results["force_std"].shape == (len(atoms),)


def test_resume_reads_finished_members_and_bad_sizes_are_refused(committee_run, capsys):
    path, out = committee_run
    assert main(["train", str(path), "-o", str(out), "--committee", "3", "--resume",
                 "--set", "training.epochs=2"]) == 0
    assert capsys.readouterr().out.count("finished before, read from") == 3
    assert main(["train", str(path), "-o", str(out.parent / "x"), "--committee", "1"]) == 2
    # the same directory without --resume, or with another config, is refused (no mixed committee)
    assert main(["train", str(path), "-o", str(out), "--committee", "3", "--set", "training.epochs=2"]) == 2
    assert main(["train", str(path), "-o", str(out), "--committee", "3", "--resume",
                 "--set", "training.epochs=3"]) == 2
    assert "the config differs from the one this run started with" in capsys.readouterr().err
    assert main(["train", str(path), "-o", str(out), "--set", "training.epochs=2"]) == 2   # plain train
    with pytest.raises(ConfigError, match="at least two members"):
        Committee([load_potential(out / "member-0")])


def test_predict_cli_writes_the_spreads(committee_run, cu_frames, tmp_path):
    from potforge.data.io import read_frames, write_frames

    _, out = committee_run
    write_frames(tmp_path / "in.xyz", cu_frames[:2])
    assert main(["predict", str(out), str(tmp_path / "in.xyz"), "-o", str(tmp_path / "out.xyz")]) == 0
    frames = read_frames(tmp_path / "out.xyz")
    direct = load_potential(out).predict(cu_frames[0].atoms)
    assert frames[0].info["energy_std"] == pytest.approx(direct.extras["energy_std"], rel=1e-12)
    np.testing.assert_allclose(frames[0].atoms.arrays["force_std"], direct.extras["force_std"], rtol=1e-12)
    assert frames[0].atoms.arrays["forces_std"].shape == (len(cu_frames[0].atoms), 3)
